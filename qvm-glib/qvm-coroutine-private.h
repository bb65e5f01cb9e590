/* qvm-coroutine-private.h: coroutines on the GLib main loop (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Protocol code (QMP, the VM lifecycle) is written as sequential functions
 * that run in coroutines. A coroutine runs on the thread that owns the
 * GMainContext it was bound to when it was created, one at a time; it gives
 * control back to the main loop only in qvm_coroutine_yield(), which every
 * wait below calls, and is resumed from a GSource callback in that context.
 *
 * Two backends implement this header, picked at configure time with
 * -Dcoroutine=auto|ucontext|gthread: ucontext (makecontext/swapcontext on an
 * mmap'd stack with a guard page) and gthread (one GThread per coroutine,
 * handing a baton back and forth; slower, but what sanitizers and valgrind
 * understand best). Both give the same guarantees:
 *
 *  - coroutine code never runs concurrently with the main loop or with
 *    another coroutine of the same context;
 *  - user callbacks and signals are never run on a coroutine stack: use
 *    qvm_coroutine_invoke_later() and the qvm_task_return_*() helpers;
 *  - GIO _async functions must be started through qvm_coroutine_await(),
 *    which starts them on the main stack with the coroutine's context as
 *    thread-default, so their callbacks land in the right context on both
 *    backends (a gthread coroutine cannot make the context its own
 *    thread-default while the main thread owns it).
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _QvmCoroutine QvmCoroutine;

/* The body of a coroutine. When it returns, the coroutine is finished and
 * freed; control goes back to whoever entered it last. */
typedef void (*QvmCoroutineFunc) (gpointer user_data);

/* The stack size used when 0 is given: small, since protocol code keeps its
 * buffers on the heap. QVM_COROUTINE_STACK_SIZE (bytes) overrides it. */
#define QVM_COROUTINE_DEFAULT_STACK_SIZE (256 * 1024)

/* The stack size a coroutine gets when 0 is given: the default, or
 * QVM_COROUTINE_STACK_SIZE when it holds a valid size (read once). */
gsize qvm_coroutine_get_default_stack_size (void);

/* The backend compiled in: "ucontext" or "gthread". */
const char *qvm_coroutine_get_backend_name (void);

/* Creates a coroutine that will run @func (@user_data), bound to the
 * thread-default main context of the caller (g_main_context_ref_thread_default()),
 * never to the global default unless that is the thread-default. It does not
 * run until qvm_coroutine_enter(). @stack_size 0 means the default. */
QvmCoroutine *qvm_coroutine_new (QvmCoroutineFunc func,
                                 gpointer         user_data,
                                 gsize            stack_size);

/* Creates a coroutine and enters it at once: it runs until its first wait
 * or until it returns. */
void qvm_coroutine_spawn (QvmCoroutineFunc func,
                          gpointer         user_data);

/* Switches into @co until it yields or returns. Called on the thread that
 * owns @co's context, from the main stack or from another coroutine (which
 * then gets control back when @co yields: nesting). Entering a running
 * coroutine, or one that is not waiting, is a programmer error. */
void qvm_coroutine_enter (QvmCoroutine *co);

/* Gives control back to whoever entered the current coroutine. Only the
 * waits below and the runtime itself should need to call this. */
void qvm_coroutine_yield (void);

/* The coroutine the caller runs in, or NULL on the main stack. */
QvmCoroutine *qvm_coroutine_self (void);

/* The context @co is bound to (transfer none). */
GMainContext *qvm_coroutine_get_context (QvmCoroutine *co);

/* Waits, each usable only inside a coroutine. Each attaches a GSource to the
 * coroutine's context, yields, and returns once the thing happened (TRUE),
 * or once @cancellable was cancelled (FALSE, G_IO_ERROR_CANCELLED), without
 * leaving a source or a handler behind either way. */

/* Waits until @fd shows one of @condition (G_IO_HUP and G_IO_ERR are always
 * reported); the conditions seen are stored in @out_condition. */
gboolean qvm_coroutine_wait_fd (int            fd,
                                GIOCondition   condition,
                                GCancellable  *cancellable,
                                GIOCondition  *out_condition,
                                GError       **error);

/* The same for a GSocket (uses g_socket_create_source()). */
gboolean qvm_coroutine_wait_socket (GSocket       *socket,
                                    GIOCondition   condition,
                                    GCancellable  *cancellable,
                                    GError       **error);

/* Sleeps for @msec milliseconds. */
gboolean qvm_coroutine_sleep (guint          msec,
                              GCancellable  *cancellable,
                              GError       **error);

/* A queue of coroutines waiting for something another party makes happen:
 * the one primitive behind every "wait until X" of the library (a lock, a
 * reader that finished, a machine that is done). The waiter checks its
 * condition, waits, and checks again when woken, as with a condition
 * variable; there is no concurrency to guard against, only the main loop.
 *
 *   while (!self->done)
 *     if (!qvm_wait_queue_wait (&self->done_queue, -1, cancellable, error))
 *       return FALSE;
 *
 * Waiters are woken in the order they came. A woken waiter resumes from the
 * main loop, not inside the wake call. A queue belongs to one main context:
 * wait and wake from code running in it (a coroutine or its main stack). */
typedef struct {
  GQueue waiters;   /* of the waiters' stack records, oldest first */
} QvmWaitQueue;

#define QVM_WAIT_QUEUE_INIT { G_QUEUE_INIT }

void     qvm_wait_queue_init     (QvmWaitQueue *queue);
/* Checks that nobody waits any more (a programmer error otherwise). */
void     qvm_wait_queue_clear    (QvmWaitQueue *queue);
gboolean qvm_wait_queue_is_empty (QvmWaitQueue *queue);

/* Waits until woken (TRUE), @timeout_ms passed (FALSE, G_IO_ERROR_TIMED_OUT;
 * -1 waits for ever) or @cancellable was cancelled (FALSE,
 * G_IO_ERROR_CANCELLED). A wake that reached this waiter wins over a
 * timeout or a cancellation that fired meanwhile. Only inside a coroutine. */
gboolean qvm_wait_queue_wait     (QvmWaitQueue  *queue,
                                  int            timeout_ms,
                                  GCancellable  *cancellable,
                                  GError       **error);

/* Wakes the oldest waiter; FALSE if nobody waited. */
gboolean qvm_wait_queue_wake_one (QvmWaitQueue *queue);
/* Wakes every waiter; returns how many there were. */
guint    qvm_wait_queue_wake_all (QvmWaitQueue *queue);

/* A lock held across waits, e.g. around a QMP exchange that must not
 * interleave with another. Handed to waiters first come, first served.
 * Locking is not cancellable: hold it for short exchanges only. */
typedef struct {
  gboolean     locked;
  QvmWaitQueue waiters;
} QvmCoroutineMutex;

#define QVM_COROUTINE_MUTEX_INIT { FALSE, QVM_WAIT_QUEUE_INIT }

void qvm_coroutine_mutex_init   (QvmCoroutineMutex *mutex);
void qvm_coroutine_mutex_clear  (QvmCoroutineMutex *mutex);
/* Only inside a coroutine. */
void qvm_coroutine_mutex_lock   (QvmCoroutineMutex *mutex);
void qvm_coroutine_mutex_unlock (QvmCoroutineMutex *mutex);

/* The building block of the typed awaits (qvm-coroutine-gio-private.h):
 * use those, and write a typed await next to them (or next to the
 * operation, for the library's own classes) rather than calling this from
 * protocol code.
 *
 * Starts a GIO-style asynchronous operation and waits for its result.
 * @start is called on the main stack with the coroutine's context pushed as
 * thread-default; it must start exactly one operation that calls
 * @callback (source, result, @callback_data) once. Returns the
 * GAsyncResult (transfer full) to pass to the operation's _finish(). The
 * operation's own GCancellable does the cancelling. */
typedef void (*QvmCoroutineStartFunc) (gpointer            start_data,
                                       GAsyncReadyCallback callback,
                                       gpointer            callback_data);

GAsyncResult *qvm_coroutine_await (QvmCoroutineStartFunc start,
                                   gpointer              start_data);

/* Runs @func (@data) later from an idle source in @context, on the main
 * stack; calls in one context run in the order they were made. Use it to
 * emit signals and call user callbacks from coroutine code. */
void qvm_coroutine_invoke_later (GMainContext  *context,
                                 GSourceFunc    func,
                                 gpointer       data,
                                 GDestroyNotify notify);

/* Runs @func in a new coroutine bound to @task's context, holding a
 * reference on @task until @func returns. @func returns its result with the
 * qvm_task_return_*() helpers below. This is how every public foo_async()
 * is written: create the GTask, then qvm_coroutine_run_task().
 *
 * The body starts at once, running up to its first wait before this
 * returns, when the calling thread can acquire the task's context (the
 * usual case: foo_async() called from the thread that runs it); otherwise
 * it starts from an idle in that context. Either way the task's callback
 * runs later, from the main loop, since the returns are deferred. */
typedef void (*QvmCoroutineTaskFunc) (GTask        *task,
                                      gpointer      source_object,
                                      gpointer      task_data,
                                      GCancellable *cancellable);

void qvm_coroutine_run_task (GTask               *task,
                             QvmCoroutineTaskFunc func);

/* Like g_task_return_*(), but when called on a coroutine stack the return
 * (and so the task's callback) is deferred to the main stack with
 * qvm_coroutine_invoke_later(); elsewhere they return at once. */
void qvm_task_return_pointer (GTask          *task,
                              gpointer        result,
                              GDestroyNotify  result_destroy);
void qvm_task_return_boolean (GTask    *task,
                              gboolean  result);
void qvm_task_return_int     (GTask  *task,
                              gssize  result);
void qvm_task_return_error   (GTask  *task,
                              GError *error);

G_END_DECLS
