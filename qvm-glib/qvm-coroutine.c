/* qvm-coroutine.c: coroutines on the GLib main loop, backend-independent part
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Who entered whom, the current coroutine, the waits, await, GTask glue.
 * The switching itself lives in qvm-coroutine-{ucontext,gthread}.c.
 *
 * "Main stack" below means code that does not run in any coroutine: the
 * main loop's own dispatch, or a plain function call from it. Work that must
 * not run on a coroutine stack (await's start function, dropping a task's
 * last reference) is queued on the coroutine (co->deferred) and run by the
 * qvm_coroutine_enter() that gets control back once the coroutine has
 * switched out; if that enter() was itself called from a coroutine, the
 * queue moves up to it, until it reaches a main stack.
 */

#include "config.h"

#include <unistd.h>

#include <glib-unix.h>

#include "qvm-coroutine-backend-private.h"
#include "qvm-i18n-private.h"

/* The smallest stack we hand out: below that even GLib's own calls (a
 * g_debug, a GSource attach) can overflow. */
#define QVM_COROUTINE_MIN_STACK_SIZE (G_GUINT64_CONSTANT (16) * 1024)
#define QVM_COROUTINE_MAX_STACK_SIZE (G_GUINT64_CONSTANT (1) << 30)

typedef void (*QvmDeferredFunc) (gpointer data);

typedef struct {
  QvmDeferredFunc func;
  gpointer        data;
} QvmCoroutineDeferred;

/* The coroutine running on this thread; NULL on a main stack. With the
 * gthread backend each coroutine thread sees itself here.
 *
 * Only reached through the two functions below, which are never inlined:
 * with ucontext a coroutine suspended on one thread may be resumed on
 * another (a context changes owner), and the compiler must not keep this
 * thread-local's address across the switch. */
static __thread QvmCoroutine *current_coroutine_tls;

static __attribute__((noinline)) QvmCoroutine *
get_current (void)
{
  QvmCoroutine *co = current_coroutine_tls;

  __asm__ __volatile__ ("" ::: "memory");
  return co;
}

static __attribute__((noinline)) void
set_current (QvmCoroutine *co)
{
  __asm__ __volatile__ ("" ::: "memory");
  current_coroutine_tls = co;
}

QvmCoroutine *
qvm_coroutine_self (void)
{
  return get_current ();
}

/* Named so that a failed precondition reads "assertion 'inside_coroutine ()'". */
static gboolean
inside_coroutine (void)
{
  return get_current () != NULL;
}

const char *
qvm_coroutine_get_backend_name (void)
{
  return qvm_coroutine_backend_name ();
}

static gsize
round_up_to_page (gsize size)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  return (size + page - 1) / page * page;
}

static gsize
clamp_stack_size (guint64 size)
{
  return round_up_to_page (CLAMP (size, QVM_COROUTINE_MIN_STACK_SIZE,
                                  QVM_COROUTINE_MAX_STACK_SIZE));
}

gsize
qvm_coroutine_get_default_stack_size (void)
{
  static gsize default_size;

  if (g_once_init_enter (&default_size))
    {
      guint64 size = QVM_COROUTINE_DEFAULT_STACK_SIZE;
      const char *env = g_getenv ("QVM_COROUTINE_STACK_SIZE");

      if (env != NULL)
        {
          g_autoptr(GError) error = NULL;
          guint64 parsed;

          /* A bad value is the user's, not a bug: say so, keep the default. */
          if (g_ascii_string_to_unsigned (env, 10, QVM_COROUTINE_MIN_STACK_SIZE,
                                          QVM_COROUTINE_MAX_STACK_SIZE, &parsed, &error))
            size = parsed;
          else
            g_message ("QVM_COROUTINE_STACK_SIZE=%s ignored: %s", env, error->message);
        }

      g_once_init_leave (&default_size, clamp_stack_size (size));
    }

  return default_size;
}

/* Queues @func (@data) to run on the main stack once @co has switched out. */
static void
defer_to_main_stack (QvmCoroutine   *co,
                     QvmDeferredFunc func,
                     gpointer        data)
{
  QvmCoroutineDeferred *deferred = g_new (QvmCoroutineDeferred, 1);

  deferred->func = func;
  deferred->data = data;
  g_queue_push_tail (&co->deferred, deferred);
}

static QvmCoroutine *
coroutine_new_in_context (GMainContext    *context,
                          QvmCoroutineFunc func,
                          gpointer         user_data,
                          gsize            stack_size)
{
  gsize size = stack_size == 0 ? qvm_coroutine_get_default_stack_size ()
                               : clamp_stack_size (stack_size);
  QvmCoroutine *co = qvm_coroutine_backend_new (size);

  co->func = func;
  co->user_data = user_data;
  co->context = g_main_context_ref (context);
  co->stack_size = size;
  co->caller = NULL;
  co->state = QVM_COROUTINE_STATE_NEW;
  g_queue_init (&co->deferred);

  return co;
}

QvmCoroutine *
qvm_coroutine_new (QvmCoroutineFunc func,
                   gpointer         user_data,
                   gsize            stack_size)
{
  QvmCoroutine *self = get_current ();
  g_autoptr(GMainContext) context = NULL;

  g_return_val_if_fail (func != NULL, NULL);

  /* Inside a coroutine, "the caller's thread-default" is the coroutine's
   * context: that is what the ucontext backend sees while the main loop
   * dispatches it, and the thread of a gthread coroutine has none of its
   * own. */
  if (self != NULL)
    context = g_main_context_ref (self->context);
  else
    context = g_main_context_ref_thread_default ();

  return coroutine_new_in_context (context, func, user_data, stack_size);
}

void
qvm_coroutine_run_body (QvmCoroutine *co)
{
  set_current (co);
  co->func (co->user_data);
  co->state = QVM_COROUTINE_STATE_FINISHED;
}

static void
coroutine_free (QvmCoroutine *co)
{
  g_assert (g_queue_is_empty (&co->deferred));
  g_clear_pointer (&co->context, g_main_context_unref);
  qvm_coroutine_backend_free (co);
}

/* Runs or forwards what @co queued, now that it has switched back to @self
 * (NULL: we are on a main stack). */
static void
handle_switch_back (QvmCoroutine *self,
                    QvmCoroutine *co)
{
  GQueue deferred = co->deferred;
  QvmCoroutineDeferred *item;

  g_queue_init (&co->deferred);

  if (co->state == QVM_COROUTINE_STATE_FINISHED)
    coroutine_free (co);

  if (self != NULL)
    {
      while ((item = g_queue_pop_head (&deferred)) != NULL)
        g_queue_push_tail (&self->deferred, item);
      return;
    }

  while ((item = g_queue_pop_head (&deferred)) != NULL)
    {
      QvmDeferredFunc func = item->func;
      gpointer data = item->data;

      g_free (item);
      func (data);
    }
}

void
qvm_coroutine_enter (QvmCoroutine *co)
{
  QvmCoroutine *self = get_current ();

  g_return_if_fail (co != NULL);
  g_return_if_fail (co->state == QVM_COROUTINE_STATE_NEW ||
                    co->state == QVM_COROUTINE_STATE_SUSPENDED);

  co->caller = self;
  co->state = QVM_COROUTINE_STATE_RUNNING;
  qvm_coroutine_backend_switch (self, co, QVM_COROUTINE_SWITCH_ENTER);
  set_current (self);

  handle_switch_back (self, co);
}

void
qvm_coroutine_spawn (QvmCoroutineFunc func,
                     gpointer         user_data)
{
  qvm_coroutine_enter (qvm_coroutine_new (func, user_data, 0));
}

void
qvm_coroutine_yield (void)
{
  QvmCoroutine *co = get_current ();

  g_return_if_fail (inside_coroutine ());

  co->state = QVM_COROUTINE_STATE_SUSPENDED;
  set_current (co->caller);
  qvm_coroutine_backend_switch (co, co->caller, QVM_COROUTINE_SWITCH_YIELD);
  /* Entered again; with the gthread backend this is our own thread, whose
   * current coroutine enter() did not touch. */
  set_current (co);
}

GMainContext *
qvm_coroutine_get_context (QvmCoroutine *co)
{
  g_return_val_if_fail (co != NULL, NULL);

  return co->context;
}

/* ---- Waits on a GSource ------------------------------------------------ */

typedef struct {
  QvmCoroutine *co;
  gboolean      woken;
  gboolean      cancelled;
  gboolean      timed_out;
  GIOCondition  condition;
} QvmWait;

#define QVM_WAIT_INIT(co) { (co), FALSE, FALSE, FALSE, 0 }

static void
wait_wake (QvmWait *wait)
{
  wait->woken = TRUE;
  /* The coroutine destroys both sources before it can yield again, so this
   * runs once per wait; the state check only guards against a context
   * iterated from inside the coroutine, which is not allowed anyway. */
  if (wait->co->state == QVM_COROUTINE_STATE_SUSPENDED)
    qvm_coroutine_enter (wait->co);
}

/* The source that wakes a cancelled wait: dispatched once its ready time
 * is set, which any thread may do. */
static gboolean
wake_source_dispatch (GSource    *source,
                      GSourceFunc callback,
                      gpointer    data)
{
  g_source_set_ready_time (source, -1);
  return callback != NULL ? callback (data) : G_SOURCE_REMOVE;
}

static GSourceFuncs wake_source_funcs = {
  .dispatch = wake_source_dispatch,
};

/* Runs in the cancelling thread, maybe during the wait's own yield. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  g_source_set_ready_time (data, 0);
}

static gboolean
on_wait_cancelled (gpointer data)
{
  QvmWait *wait = data;

  wait->cancelled = TRUE;
  wait_wake (wait);
  return G_SOURCE_REMOVE;
}

static void
set_cancelled_error (GCancellable *cancellable,
                     GError      **error)
{
  /* Only g_cancellable_reset() between the wake and here could make the
   * first call fail. */
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         _("Operation was cancelled"));
}

/* Attaches @sources (whose callbacks wake @wait) to the coroutine's
 * context, arms a source that wakes it on cancellation, yields until one of
 * them fires, and removes them all. */
static gboolean
wait_for_sources (QvmWait      *wait,
                  GSource     **sources,
                  guint         n_sources,
                  GCancellable *cancellable,
                  GError      **error)
{
  QvmCoroutine *co = wait->co;
  g_autoptr(GSource) cancel_source = NULL;
  gulong handler = 0;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* Not a GCancellableSource: GLib 2.74 leaks one disposed while another
   * thread is still inside g_cancellable_cancel(). Our handler only makes
   * our own source ready, so g_cancellable_disconnect() below, which waits
   * for a handler running in another thread, cannot deadlock, and once it
   * returned nothing can touch the source any more. */
  if (cancellable != NULL)
    {
      cancel_source = g_source_new (&wake_source_funcs, sizeof (GSource));
      g_source_set_callback (cancel_source, on_wait_cancelled, wait, NULL);
      g_source_set_static_name (cancel_source, "[qvm] coroutine wait cancelled");
      g_source_attach (cancel_source, co->context);
      handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                       cancel_source, NULL);
    }
  for (guint i = 0; i < n_sources; i++)
    g_source_attach (sources[i], co->context);

  while (!wait->woken)
    qvm_coroutine_yield ();

  for (guint i = 0; i < n_sources; i++)
    g_source_destroy (sources[i]);
  if (cancel_source != NULL)
    {
      g_cancellable_disconnect (cancellable, handler);
      g_source_destroy (cancel_source);
    }

  if (wait->cancelled)
    {
      set_cancelled_error (cancellable, error);
      return FALSE;
    }

  return TRUE;
}

static gboolean
wait_for_source (QvmWait      *wait,
                 GSource      *source,
                 GCancellable *cancellable,
                 GError      **error)
{
  return wait_for_sources (wait, &source, 1, cancellable, error);
}

static gboolean
on_fd_ready (int          fd,
             GIOCondition condition,
             gpointer     data)
{
  QvmWait *wait = data;

  wait->condition = condition;
  wait_wake (wait);
  return G_SOURCE_REMOVE;
}

gboolean
qvm_coroutine_wait_fd (int            fd,
                       GIOCondition   condition,
                       GCancellable  *cancellable,
                       GIOCondition  *out_condition,
                       GError       **error)
{
  QvmWait wait = QVM_WAIT_INIT (get_current ());
  g_autoptr(GSource) source = NULL;
  gboolean ok;

  g_return_val_if_fail (inside_coroutine (), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  source = g_unix_fd_source_new (fd, condition | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (source, G_SOURCE_FUNC (on_fd_ready), &wait, NULL);
  g_source_set_static_name (source, "[qvm] coroutine wait fd");

  ok = wait_for_source (&wait, source, cancellable, error);
  if (out_condition != NULL)
    *out_condition = ok ? wait.condition : 0;
  return ok;
}

static gboolean
on_socket_ready (GSocket     *socket,
                 GIOCondition condition,
                 gpointer     data)
{
  QvmWait *wait = data;

  wait->condition = condition;
  wait_wake (wait);
  return G_SOURCE_REMOVE;
}

gboolean
qvm_coroutine_wait_socket (GSocket       *socket,
                           GIOCondition   condition,
                           GCancellable  *cancellable,
                           GError       **error)
{
  QvmWait wait = QVM_WAIT_INIT (get_current ());
  g_autoptr(GSource) source = NULL;

  g_return_val_if_fail (inside_coroutine (), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  source = g_socket_create_source (socket, condition, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (on_socket_ready), &wait, NULL);
  g_source_set_static_name (source, "[qvm] coroutine wait socket");

  return wait_for_source (&wait, source, cancellable, error);
}

static gboolean
on_sleep_done (gpointer data)
{
  wait_wake (data);
  return G_SOURCE_REMOVE;
}

gboolean
qvm_coroutine_sleep (guint          msec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  QvmWait wait = QVM_WAIT_INIT (get_current ());
  g_autoptr(GSource) source = NULL;

  g_return_val_if_fail (inside_coroutine (), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  source = g_timeout_source_new (msec);
  g_source_set_callback (source, on_sleep_done, &wait, NULL);
  g_source_set_static_name (source, "[qvm] coroutine sleep");

  return wait_for_source (&wait, source, cancellable, error);
}

/* ---- Wait queues ------------------------------------------------------- */

/* One coroutine waiting in a QvmWaitQueue; lives on that coroutine's stack. */
typedef struct {
  QvmWait  wait;
  GSource *wake_source;   /* made ready by the queue's wake */
  gboolean signalled;     /* taken off the queue by a wake: that wake counts */
  GList    link;          /* in queue->waiters while queued */
} QvmWaitQueueWaiter;

void
qvm_wait_queue_init (QvmWaitQueue *queue)
{
  g_return_if_fail (queue != NULL);

  g_queue_init (&queue->waiters);
}

void
qvm_wait_queue_clear (QvmWaitQueue *queue)
{
  g_return_if_fail (queue != NULL);
  /* A waiter left behind would wait on freed memory. */
  g_return_if_fail (g_queue_is_empty (&queue->waiters));
}

gboolean
qvm_wait_queue_is_empty (QvmWaitQueue *queue)
{
  g_return_val_if_fail (queue != NULL, TRUE);

  return g_queue_is_empty (&queue->waiters);
}

static gboolean
on_wait_queue_woken (gpointer data)
{
  wait_wake (data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_wait_timed_out (gpointer data)
{
  QvmWait *wait = data;

  wait->timed_out = TRUE;
  wait_wake (wait);
  return G_SOURCE_REMOVE;
}

gboolean
qvm_wait_queue_wait (QvmWaitQueue  *queue,
                     int            timeout_ms,
                     GCancellable  *cancellable,
                     GError       **error)
{
  QvmWaitQueueWaiter waiter = { QVM_WAIT_INIT (get_current ()), NULL, FALSE, { NULL, NULL, NULL } };
  g_autoptr(GSource) wake_source = NULL;
  g_autoptr(GSource) timeout_source = NULL;
  g_autoptr(GError) wait_error = NULL;
  GSource *sources[2];
  guint n_sources = 0;
  gboolean ok;

  g_return_val_if_fail (inside_coroutine (), FALSE);
  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  wake_source = g_source_new (&wake_source_funcs, sizeof (GSource));
  g_source_set_callback (wake_source, on_wait_queue_woken, &waiter.wait, NULL);
  g_source_set_static_name (wake_source, "[qvm] wait queue wake");
  sources[n_sources++] = wake_source;
  if (timeout_ms >= 0)
    {
      timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (timeout_source, on_wait_timed_out, &waiter.wait, NULL);
      g_source_set_static_name (timeout_source, "[qvm] wait queue timeout");
      sources[n_sources++] = timeout_source;
    }

  waiter.wake_source = wake_source;
  waiter.link.data = &waiter;
  g_queue_push_tail_link (&queue->waiters, &waiter.link);

  ok = wait_for_sources (&waiter.wait, sources, n_sources, cancellable, &wait_error);

  /* A wake that took us off the queue counts even when a timeout or a
   * cancellation got there first: otherwise a wake_one() (a lock handed
   * over) would be lost. */
  if (waiter.signalled)
    return TRUE;

  g_queue_unlink (&queue->waiters, &waiter.link);
  if (!ok)
    {
      g_propagate_error (error, g_steal_pointer (&wait_error));
      return FALSE;
    }
  g_assert (waiter.wait.timed_out);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Timed out"));
  return FALSE;
}

static gboolean
wait_queue_wake_head (QvmWaitQueue *queue)
{
  GList *link = g_queue_pop_head_link (&queue->waiters);
  QvmWaitQueueWaiter *waiter;

  if (link == NULL)
    return FALSE;

  waiter = link->data;
  waiter->signalled = TRUE;
  /* Resumed from the main loop, never from inside this call, so a waker
   * keeps running until it yields itself. */
  g_source_set_ready_time (waiter->wake_source, 0);
  return TRUE;
}

gboolean
qvm_wait_queue_wake_one (QvmWaitQueue *queue)
{
  g_return_val_if_fail (queue != NULL, FALSE);

  return wait_queue_wake_head (queue);
}

guint
qvm_wait_queue_wake_all (QvmWaitQueue *queue)
{
  guint n_woken = 0;

  g_return_val_if_fail (queue != NULL, 0);

  while (wait_queue_wake_head (queue))
    n_woken++;
  return n_woken;
}

/* ---- Mutex ------------------------------------------------------------- */

void
qvm_coroutine_mutex_init (QvmCoroutineMutex *mutex)
{
  g_return_if_fail (mutex != NULL);

  mutex->locked = FALSE;
  qvm_wait_queue_init (&mutex->waiters);
}

void
qvm_coroutine_mutex_clear (QvmCoroutineMutex *mutex)
{
  g_return_if_fail (mutex != NULL);
  g_return_if_fail (!mutex->locked);

  qvm_wait_queue_clear (&mutex->waiters);
}

void
qvm_coroutine_mutex_lock (QvmCoroutineMutex *mutex)
{
  g_return_if_fail (inside_coroutine ());
  g_return_if_fail (mutex != NULL);

  if (!mutex->locked)
    {
      mutex->locked = TRUE;
      return;
    }

  /* Without a timeout or a cancellable the wait only ends by a wake, and
   * the unlock that woke us handed the lock over. */
  qvm_wait_queue_wait (&mutex->waiters, -1, NULL, NULL);
}

void
qvm_coroutine_mutex_unlock (QvmCoroutineMutex *mutex)
{
  g_return_if_fail (mutex != NULL);
  g_return_if_fail (mutex->locked);

  /* First come, first served: the lock passes to the oldest waiter while
   * still locked, so nobody can take it in between. */
  if (!qvm_wait_queue_wake_one (&mutex->waiters))
    mutex->locked = FALSE;
}

/* ---- Await ------------------------------------------------------------- */

typedef struct {
  QvmCoroutine          *co;
  QvmCoroutineStartFunc  start;
  gpointer               start_data;
  GAsyncResult          *result;
  gboolean               started;
} QvmAwait;

static void
on_await_done (GObject      *source_object,
               GAsyncResult *result,
               gpointer      data)
{
  QvmAwait *await = data;

  g_return_if_fail (await->result == NULL);

  await->result = g_object_ref (result);
  /* We run on the main stack (GIO calls back from its context) or, if the
   * operation called back at once, inside start on the main stack: either
   * way the coroutine is suspended, never the one we run on. */
  if (await->co->state == QVM_COROUTINE_STATE_SUSPENDED)
    qvm_coroutine_enter (await->co);
}

/* Deferred: runs on the main stack after the awaiting coroutine yielded. */
static void
await_start (gpointer data)
{
  QvmAwait *await = data;
  GMainContext *context = await->co->context;

  await->started = TRUE;
  g_main_context_push_thread_default (context);
  await->start (await->start_data, on_await_done, await);
  g_main_context_pop_thread_default (context);
}

GAsyncResult *
qvm_coroutine_await (QvmCoroutineStartFunc start,
                     gpointer              start_data)
{
  QvmAwait await = { get_current (), start, start_data, NULL, FALSE };

  g_return_val_if_fail (inside_coroutine (), NULL);
  g_return_val_if_fail (start != NULL, NULL);

  defer_to_main_stack (await.co, await_start, &await);
  while (await.result == NULL)
    qvm_coroutine_yield ();

  return await.result;
}

/* ---- Main-loop glue ---------------------------------------------------- */

void
qvm_coroutine_invoke_later (GMainContext  *context,
                            GSourceFunc    func,
                            gpointer       data,
                            GDestroyNotify notify)
{
  g_autoptr(GSource) source = NULL;

  g_return_if_fail (context != NULL);
  g_return_if_fail (func != NULL);

  /* Idle sources of one priority in one context are dispatched in the order
   * they were attached, which gives the ordering promise. The default
   * priority, like GTask's own completion idles. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[qvm] coroutine invoke_later");
  g_source_attach (source, context);
}

typedef struct {
  GTask               *task;
  QvmCoroutineTaskFunc func;
} QvmTaskBody;

static void
task_body (gpointer data)
{
  QvmTaskBody *body = data;
  GTask *task = body->task;

  body->func (task, g_task_get_source_object (task), g_task_get_task_data (task),
              g_task_get_cancellable (task));
  g_free (body);

  /* The last reference may finalize the task, its source object and its
   * data: that must not happen on a coroutine stack. */
  defer_to_main_stack (get_current (), g_object_unref, task);
}

static gboolean
enter_from_idle (gpointer data)
{
  qvm_coroutine_enter (data);
  return G_SOURCE_REMOVE;
}

void
qvm_coroutine_run_task (GTask               *task,
                        QvmCoroutineTaskFunc func)
{
  GMainContext *context;
  QvmTaskBody *body;
  QvmCoroutine *co;

  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (func != NULL);

  context = g_task_get_context (task);
  body = g_new (QvmTaskBody, 1);
  body->task = g_object_ref (task);
  body->func = func;
  co = coroutine_new_in_context (context, task_body, body, 0);

  /* The body starts at once (runs up to its first wait inside foo_async())
   * when this thread may run the task's context, the usual case; from a
   * thread that may not, it starts from an idle in that context. The task's
   * callback is deferred either way by the qvm_task_return_*() helpers. */
  if (g_main_context_acquire (context))
    {
      qvm_coroutine_enter (co);
      g_main_context_release (context);
    }
  else
    {
      qvm_coroutine_invoke_later (context, enter_from_idle, co, NULL);
    }
}

typedef enum {
  QVM_TASK_RETURN_POINTER,
  QVM_TASK_RETURN_BOOLEAN,
  QVM_TASK_RETURN_INT,
  QVM_TASK_RETURN_ERROR,
} QvmTaskReturnKind;

typedef struct {
  GTask            *task;
  QvmTaskReturnKind kind;
  gpointer          pointer;
  GDestroyNotify    pointer_destroy;
  gssize            value;
  GError           *error;
} QvmTaskReturn;

static gboolean
task_return_now (gpointer data)
{
  QvmTaskReturn *ret = data;

  switch (ret->kind)
    {
    case QVM_TASK_RETURN_POINTER:
      g_task_return_pointer (ret->task, g_steal_pointer (&ret->pointer), ret->pointer_destroy);
      break;
    case QVM_TASK_RETURN_BOOLEAN:
      g_task_return_boolean (ret->task, ret->value != 0);
      break;
    case QVM_TASK_RETURN_INT:
      g_task_return_int (ret->task, ret->value);
      break;
    case QVM_TASK_RETURN_ERROR:
      g_task_return_error (ret->task, g_steal_pointer (&ret->error));
      break;
    default:
      g_assert_not_reached ();
    }

  return G_SOURCE_REMOVE;
}

/* Also frees a result that never got returned (the context went away). */
static void
task_return_free (gpointer data)
{
  QvmTaskReturn *ret = data;

  if (ret->pointer != NULL && ret->pointer_destroy != NULL)
    ret->pointer_destroy (ret->pointer);
  g_clear_error (&ret->error);
  g_object_unref (ret->task);
  g_free (ret);
}

/* TRUE if the return was deferred to the main stack. */
static gboolean
task_return_later (GTask            *task,
                   QvmTaskReturnKind kind,
                   gpointer          pointer,
                   GDestroyNotify    pointer_destroy,
                   gssize            value,
                   GError           *error)
{
  QvmTaskReturn *ret;

  if (get_current () == NULL)
    return FALSE;

  ret = g_new0 (QvmTaskReturn, 1);
  ret->task = g_object_ref (task);
  ret->kind = kind;
  ret->pointer = pointer;
  ret->pointer_destroy = pointer_destroy;
  ret->value = value;
  ret->error = error;
  qvm_coroutine_invoke_later (g_task_get_context (task), task_return_now, ret, task_return_free);
  return TRUE;
}

void
qvm_task_return_pointer (GTask          *task,
                         gpointer        result,
                         GDestroyNotify  result_destroy)
{
  g_return_if_fail (G_IS_TASK (task));

  if (!task_return_later (task, QVM_TASK_RETURN_POINTER, result, result_destroy, 0, NULL))
    g_task_return_pointer (task, result, result_destroy);
}

void
qvm_task_return_boolean (GTask    *task,
                         gboolean  result)
{
  g_return_if_fail (G_IS_TASK (task));

  if (!task_return_later (task, QVM_TASK_RETURN_BOOLEAN, NULL, NULL, result, NULL))
    g_task_return_boolean (task, result);
}

void
qvm_task_return_int (GTask  *task,
                     gssize  result)
{
  g_return_if_fail (G_IS_TASK (task));

  if (!task_return_later (task, QVM_TASK_RETURN_INT, NULL, NULL, result, NULL))
    g_task_return_int (task, result);
}

void
qvm_task_return_error (GTask  *task,
                       GError *error)
{
  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (error != NULL);

  if (!task_return_later (task, QVM_TASK_RETURN_ERROR, NULL, NULL, 0, error))
    g_task_return_error (task, error);
}
