/* test-coroutine.c: the coroutine runtime, on whichever backend was built
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test runs with a fresh GMainContext pushed as thread-default, and
 * checks at the end that nothing landed in the global default context.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
# include <valgrind/valgrind.h>
#else
# define RUNNING_ON_VALGRIND 0
#endif

#include "qvm-coroutine-backend-private.h"
#include "qvm-coroutine-gio-private.h"

/* ---- Fixture: a private context, pushed for the test's duration ------- */

typedef struct {
  GMainContext *context;
} Fixture;

static void
fixture_set_up (Fixture      *fixture,
                gconstpointer data)
{
  fixture->context = g_main_context_new ();
  g_main_context_push_thread_default (fixture->context);
}

static void
fixture_tear_down (Fixture      *fixture,
                   gconstpointer data)
{
  g_main_context_pop_thread_default (fixture->context);
  g_main_context_unref (fixture->context);
  /* A coroutine is never bound to the global default unless asked to. */
  g_assert_false (g_main_context_pending (NULL));
}

static gboolean
on_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates @context until *@flag is set; fails instead of hanging if that
 * takes more than a minute (a tick source bounds each blocking iteration). */
static void
iterate_until (GMainContext   *context,
               const gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  g_autoptr(GSource) tick = g_timeout_source_new (100);

  g_source_set_callback (tick, on_tick, NULL, NULL);
  g_source_attach (tick, context);
  while (!*flag)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (tick);
}

/* Dispatches whatever is ready, and says whether anything was. */
static gboolean
dispatch_pending (GMainContext *context)
{
  gboolean any = FALSE;

  while (g_main_context_iteration (context, FALSE))
    any = TRUE;
  return any;
}

/* ---- Basics ------------------------------------------------------------ */

typedef struct {
  QvmCoroutine *co;
  int           steps;
} Basic;

static void
basic_body (gpointer data)
{
  Basic *basic = data;

  g_assert_true (qvm_coroutine_self () == basic->co);
  basic->steps++;
  qvm_coroutine_yield ();
  g_assert_true (qvm_coroutine_self () == basic->co);
  basic->steps++;
}

static void
test_basic (Fixture      *fixture,
            gconstpointer data)
{
  Basic basic = { NULL, 0 };

  g_assert_null (qvm_coroutine_self ());
  basic.co = qvm_coroutine_new (basic_body, &basic, 0);
  g_assert_true (qvm_coroutine_get_context (basic.co) == fixture->context);
  g_assert_cmpint (basic.co->stack_size, ==, qvm_coroutine_get_default_stack_size ());
  g_assert_cmpint (basic.steps, ==, 0);

  qvm_coroutine_enter (basic.co);
  g_assert_cmpint (basic.steps, ==, 1);
  g_assert_null (qvm_coroutine_self ());

  qvm_coroutine_enter (basic.co);  /* finishes and frees it */
  g_assert_cmpint (basic.steps, ==, 2);
  g_assert_null (qvm_coroutine_self ());
}

static void
test_stack_size_rounding (Fixture      *fixture,
                          gconstpointer data)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  Basic basic = { NULL, 0 };

  basic.co = qvm_coroutine_new (basic_body, &basic, 64 * 1024 + 1);
  g_assert_cmpint (basic.co->stack_size, ==, 64 * 1024 + page);
  qvm_coroutine_enter (basic.co);
  qvm_coroutine_enter (basic.co);
  g_assert_cmpint (basic.steps, ==, 2);

  /* Tiny sizes get the minimum instead of a stack nothing fits in. */
  basic.steps = 0;
  basic.co = qvm_coroutine_new (basic_body, &basic, 100);
  g_assert_cmpint (basic.co->stack_size, ==, 16 * 1024);
  qvm_coroutine_enter (basic.co);
  qvm_coroutine_enter (basic.co);
  g_assert_cmpint (basic.steps, ==, 2);
}

static void
test_stack_size_env (void)
{
  g_autofree char *default_size = NULL;

  if (g_test_subprocess ())
    {
      const char *expected = g_getenv ("TEST_EXPECTED_STACK_SIZE");

      g_assert_nonnull (expected);
      g_assert_cmpint (qvm_coroutine_get_default_stack_size (), ==,
                       g_ascii_strtoull (expected, NULL, 10));
      return;
    }

  g_setenv ("QVM_COROUTINE_STACK_SIZE", "131072", TRUE);
  g_setenv ("TEST_EXPECTED_STACK_SIZE", "131072", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();

  /* A value that is not a size is reported and ignored. */
  g_setenv ("QVM_COROUTINE_STACK_SIZE", "12abc", TRUE);
  default_size = g_strdup_printf ("%d", QVM_COROUTINE_DEFAULT_STACK_SIZE);
  g_setenv ("TEST_EXPECTED_STACK_SIZE", default_size, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*QVM_COROUTINE_STACK_SIZE=12abc ignored*");

  g_unsetenv ("QVM_COROUTINE_STACK_SIZE");
  g_unsetenv ("TEST_EXPECTED_STACK_SIZE");
}

/* A coroutine created inside another binds to the creator's context, not
 * to whatever the entering thread has pushed. */
typedef struct {
  GMainContext *expected;
  gboolean      inner_ran;
} Inherit;

static void
inherit_inner (gpointer data)
{
  Inherit *inherit = data;

  inherit->inner_ran = qvm_coroutine_get_context (qvm_coroutine_self ()) == inherit->expected;
}

static void
inherit_outer (gpointer data)
{
  qvm_coroutine_enter (qvm_coroutine_new (inherit_inner, data, 0));
}

static void
test_inherit_context (Fixture      *fixture,
                      gconstpointer data)
{
  g_autoptr(GMainContext) other = g_main_context_new ();
  Inherit inherit = { other, FALSE };
  QvmCoroutine *co;

  g_main_context_push_thread_default (other);
  co = qvm_coroutine_new (inherit_outer, &inherit, 0);
  g_main_context_pop_thread_default (other);

  qvm_coroutine_enter (co);
  g_assert_true (inherit.inner_ran);
}

static void
self_enter_body (gpointer data)
{
  g_autoptr(GError) error = NULL;

  /* Entering oneself is refused, not a crash. */
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*assertion*state*failed*");
  qvm_coroutine_enter (qvm_coroutine_self ());
  g_test_assert_expected_messages ();
  *(gboolean *) data = TRUE;
}

static void
test_misuse (Fixture      *fixture,
             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean ran = FALSE;

  /* Waits outside a coroutine are programmer errors: refused. */
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*inside_coroutine ()*");
  g_assert_false (qvm_coroutine_sleep (1, NULL, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*inside_coroutine ()*");
  qvm_coroutine_yield ();
  g_test_assert_expected_messages ();

  qvm_coroutine_spawn (self_enter_body, &ran);
  g_assert_true (ran);
}

/* ---- Ping-pong: two coroutines hand control back and forth ------------- */

#define PING_PONG_ROUNDS 1000

typedef struct {
  QvmCoroutine *ping;
  QvmCoroutine *pong;
  int           turn;
  gboolean      pong_done;
  gboolean      ping_done;
} PingPong;

static void
pong_body (gpointer data)
{
  PingPong *pp = data;

  for (int i = 0; i < PING_PONG_ROUNDS; i++)
    {
      g_assert_true (qvm_coroutine_self () == pp->pong);
      g_assert_cmpint (pp->turn, ==, 2 * i + 1);
      pp->turn++;
      qvm_coroutine_yield ();
    }
  pp->pong_done = TRUE;
}

static void
ping_body (gpointer data)
{
  PingPong *pp = data;

  pp->pong = qvm_coroutine_new (pong_body, pp, 0);
  for (int i = 0; i < PING_PONG_ROUNDS; i++)
    {
      g_assert_cmpint (pp->turn, ==, 2 * i);
      pp->turn++;
      qvm_coroutine_enter (pp->pong);
      g_assert_true (qvm_coroutine_self () == pp->ping);
      g_assert_cmpint (pp->turn, ==, 2 * i + 2);
    }
  g_assert_false (pp->pong_done);
  qvm_coroutine_enter (pp->pong);
  g_assert_true (pp->pong_done);
  pp->ping_done = TRUE;
}

static void
test_ping_pong (Fixture      *fixture,
                gconstpointer data)
{
  PingPong pp = { NULL, NULL, 0, FALSE, FALSE };

  pp.ping = qvm_coroutine_new (ping_body, &pp, 0);
  qvm_coroutine_enter (pp.ping);
  g_assert_true (pp.ping_done);
  g_assert_cmpint (pp.turn, ==, 2 * PING_PONG_ROUNDS);
}

/* ---- Nesting: a coroutine entering another that then waits ------------- */

typedef struct {
  GMainContext *context;
  QvmCoroutine *outer;
  QvmCoroutine *inner;
  gboolean      start_ran_on_main_stack;
  gboolean      start_saw_context;
  gboolean      inner_done;
  gboolean      outer_done;
  GString      *log;
} Nesting;

static void
nested_start (gpointer            start_data,
              GAsyncReadyCallback callback,
              gpointer            callback_data)
{
  Nesting *nesting = start_data;
  g_autoptr(GTask) task = NULL;

  nesting->start_ran_on_main_stack = qvm_coroutine_self () == NULL;
  nesting->start_saw_context = g_main_context_get_thread_default () == nesting->context;
  g_string_append (nesting->log, "start ");

  task = g_task_new (NULL, NULL, callback, callback_data);
  g_task_return_int (task, 42);
}

static void
inner_body (gpointer data)
{
  Nesting *nesting = data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (qvm_coroutine_self () == nesting->inner);
  g_assert_true (nesting->inner->caller == nesting->outer);
  g_string_append (nesting->log, "inner ");

  /* Yields to the outer coroutine; the start function must still run on
   * the main stack, after the outer one switched out too. */
  result = qvm_coroutine_await (nested_start, nesting);
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), &error), ==, 42);
  g_assert_no_error (error);
  g_string_append (nesting->log, "awaited ");

  g_assert_true (qvm_coroutine_sleep (10, NULL, &error));
  g_assert_no_error (error);
  g_string_append (nesting->log, "inner-done ");
  nesting->inner_done = TRUE;
}

static void
outer_body (gpointer data)
{
  Nesting *nesting = data;
  g_autoptr(GError) error = NULL;

  g_string_append (nesting->log, "outer ");
  nesting->inner = qvm_coroutine_new (inner_body, nesting, 0);
  qvm_coroutine_enter (nesting->inner);
  g_assert_true (qvm_coroutine_self () == nesting->outer);
  g_assert_false (nesting->inner_done);
  g_string_append (nesting->log, "back ");

  while (!nesting->inner_done)
    g_assert_true (qvm_coroutine_sleep (5, NULL, &error));
  g_assert_no_error (error);
  g_string_append (nesting->log, "outer-done");
  nesting->outer_done = TRUE;
}

static void
test_nesting (Fixture      *fixture,
              gconstpointer data)
{
  Nesting nesting = { fixture->context, NULL, NULL, FALSE, FALSE, FALSE, FALSE, g_string_new (NULL) };

  nesting.outer = qvm_coroutine_new (outer_body, &nesting, 0);
  qvm_coroutine_enter (nesting.outer);
  /* Both are suspended now, and the start function ran once both were. */
  g_assert_cmpstr (nesting.log->str, ==, "outer inner back start ");
  g_assert_true (nesting.start_ran_on_main_stack);
  g_assert_true (nesting.start_saw_context);

  iterate_until (fixture->context, &nesting.outer_done);
  g_assert_cmpstr (nesting.log->str, ==, "outer inner back start awaited inner-done outer-done");
  g_string_free (nesting.log, TRUE);
}

/* ---- Many live coroutines ---------------------------------------------- */

typedef struct {
  guint    started;
  guint    finished;
  guint    total;
  gboolean all_done;
} Many;

static void
many_body (gpointer data)
{
  Many *many = data;
  g_autoptr(GError) error = NULL;
  guint index = many->started++;

  /* All of them are alive at once: each sleeps until every one started. */
  g_assert_true (qvm_coroutine_sleep (50 + index % 50, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (many->started, ==, many->total);
  if (++many->finished == many->total)
    many->all_done = TRUE;
}

static void
test_many (Fixture      *fixture,
           gconstpointer data)
{
  Many many = { 0, 0, 10000, FALSE };

  /* Valgrind serialises threads and refuses more than --max-threads (500 by
   * default), so the thread-per-coroutine backend under valgrind runs fewer;
   * every other combination runs all ten thousand. */
  if (RUNNING_ON_VALGRIND && g_str_equal (qvm_coroutine_get_backend_name (), "gthread"))
    many.total = 400;

  for (guint i = 0; i < many.total; i++)
    qvm_coroutine_spawn (many_body, &many);
  g_assert_cmpuint (many.started, ==, many.total);
  g_assert_cmpuint (many.finished, ==, 0);

  iterate_until (fixture->context, &many.all_done);
  g_assert_cmpuint (many.finished, ==, many.total);
}

/* ---- Waits and their cancellation -------------------------------------- */

typedef enum {
  WAIT_FD,
  WAIT_SOCKET,
  WAIT_SLEEP,
  WAIT_SUBPROCESS,
  WAIT_AWAIT,
  WAIT_QUEUE,
  WAIT_SOCKET_WATCH,
} WaitKind;

typedef enum {
  CANCEL_BEFORE,       /* cancelled before the wait starts */
  CANCEL_DURING,       /* cancelled from the main stack while it waits */
  CANCEL_FROM_THREAD,  /* cancelled from another thread while it waits */
} CancelWhen;

typedef struct {
  WaitKind    kind;
  CancelWhen  when;
} CancelCase;

typedef struct {
  const CancelCase *test_case;
  GCancellable     *cancellable;
  int               pipe_fds[2];
  GSocket          *sockets[2];
  GSubprocess      *subprocess;
  GInputStream     *stream;
  QvmWaitQueue      queue;
  gboolean          waiting;
  gboolean          done;
  gboolean          result;
  GError           *error;
} CancelTest;

static void
read_bytes_start (gpointer            start_data,
                  GAsyncReadyCallback callback,
                  gpointer            callback_data)
{
  CancelTest *test = start_data;

  g_input_stream_read_bytes_async (test->stream, 16, G_PRIORITY_DEFAULT,
                                   test->cancellable, callback, callback_data);
}

static void
cancel_wait_body (gpointer data)
{
  CancelTest *test = data;

  test->waiting = TRUE;
  switch (test->test_case->kind)
    {
    case WAIT_FD:
      {
        GIOCondition seen = G_IO_IN;

        test->result = qvm_coroutine_wait_fd (test->pipe_fds[0], G_IO_IN, test->cancellable,
                                              &seen, &test->error);
        g_assert_cmpint (seen, ==, 0);
        break;
      }
    case WAIT_SOCKET:
      test->result = qvm_coroutine_wait_socket (test->sockets[0], G_IO_IN, test->cancellable,
                                                &test->error);
      break;
    case WAIT_SLEEP:
      test->result = qvm_coroutine_sleep (60 * 1000, test->cancellable, &test->error);
      break;
    case WAIT_SUBPROCESS:
      test->result = qvm_await_subprocess_wait (test->subprocess, test->cancellable,
                                                    &test->error);
      break;
    case WAIT_AWAIT:
      {
        g_autoptr(GAsyncResult) result = qvm_coroutine_await (read_bytes_start, test);
        g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (test->stream, result,
                                                                    &test->error);

        test->result = bytes != NULL;
        break;
      }
    case WAIT_QUEUE:
      test->result = qvm_wait_queue_wait (&test->queue, -1, test->cancellable, &test->error);
      break;
    case WAIT_SOCKET_WATCH:
      {
        /* Freed at once: it keeps its cancellable connected until then. */
        QvmSocketWatch *watch = qvm_socket_watch_new (test->sockets[0]);
        char byte;

        test->result = qvm_socket_watch_receive (watch, &byte, 1, test->cancellable,
                                                 &test->error) >= 0;
        qvm_socket_watch_free (watch);
        break;
      }
    default:
      g_assert_not_reached ();
    }
  test->done = TRUE;
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (20 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static gboolean
cancellable_has_handlers (GCancellable *cancellable)
{
  return g_signal_has_handler_pending (cancellable, g_signal_lookup ("cancelled", G_TYPE_CANCELLABLE),
                                       0, TRUE);
}

static void
test_cancel (Fixture      *fixture,
             gconstpointer data)
{
  const CancelCase *test_case = data;
  CancelTest test = { test_case, g_cancellable_new (), { -1, -1 }, { NULL, NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) thread = NULL;
  int socket_fds[2];

  g_assert_true (g_unix_open_pipe (test.pipe_fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      test.sockets[i] = g_socket_new_from_fd (socket_fds[i], &error);
      g_assert_no_error (error);
    }
  test.stream = g_unix_input_stream_new (test.pipe_fds[0], FALSE);
  qvm_wait_queue_init (&test.queue);
  if (test_case->kind == WAIT_SUBPROCESS)
    {
      test.subprocess = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "60", NULL);
      g_assert_no_error (error);
    }

  if (test_case->when == CANCEL_BEFORE)
    g_cancellable_cancel (test.cancellable);

  qvm_coroutine_spawn (cancel_wait_body, &test);
  g_assert_true (test.waiting);

  if (test_case->when == CANCEL_BEFORE && test_case->kind == WAIT_AWAIT)
    {
      /* The operation itself reports the cancellation, from an idle. */
      g_assert_false (test.done);
      iterate_until (fixture->context, &test.done);
    }
  else if (test_case->when == CANCEL_BEFORE)
    {
      /* Returns at once, without ever yielding to the main loop. */
      g_assert_true (test.done);
    }
  else
    {
      g_assert_false (test.done);
      /* Let the wait settle in (e.g. await's start function ran). */
      dispatch_pending (fixture->context);
      g_assert_false (test.done);
      if (test_case->when == CANCEL_DURING)
        g_cancellable_cancel (test.cancellable);
      else
        thread = g_thread_new ("cancel", cancel_thread, test.cancellable);

      /* GIO's own operations (await, the child-process wait) cancel through
       * a GCancellableSource, which GLib 2.74 leaks when it is disposed
       * while another thread is still inside g_cancellable_cancel(): for
       * those, let the cancelling thread finish before we dispatch. Our
       * own waits race with it on purpose. */
      if (thread != NULL && (test_case->kind == WAIT_AWAIT || test_case->kind == WAIT_SUBPROCESS))
        g_thread_join (g_steal_pointer (&thread));
      iterate_until (fixture->context, &test.done);
    }

  g_assert_false (test.result);
  g_assert_error (test.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&test.error);

  /* The other thread may still be inside g_cancellable_cancel(), with the
   * handlers it runs not yet disconnected. */
  if (thread != NULL)
    g_thread_join (g_steal_pointer (&thread));
  dispatch_pending (fixture->context);

  /* Nothing left behind: making the awaited things ready dispatches
   * nothing, and no handler stays on the cancellable. */
  g_assert_cmpint (write (test.pipe_fds[1], "x", 1), ==, 1);
  g_assert_cmpint (g_socket_send (test.sockets[1], "x", 1, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_false (dispatch_pending (fixture->context));
  g_assert_false (cancellable_has_handlers (test.cancellable));
  /* A cancelled waiter left its queue: waking it finds nobody. */
  g_assert_false (qvm_wait_queue_wake_one (&test.queue));
  qvm_wait_queue_clear (&test.queue);

  if (test.subprocess != NULL)
    {
      /* Cancelling the wait does not kill the process. */
      const char *pid = g_subprocess_get_identifier (test.subprocess);

      g_assert_nonnull (pid);
      g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), 0), ==, 0);
      g_subprocess_force_exit (test.subprocess);
      g_assert_true (g_subprocess_wait (test.subprocess, NULL, &error));
      g_assert_no_error (error);
      g_clear_object (&test.subprocess);
    }

  g_object_unref (test.stream);
  g_object_unref (test.sockets[0]);
  g_object_unref (test.sockets[1]);
  close (test.pipe_fds[0]);
  close (test.pipe_fds[1]);
  g_object_unref (test.cancellable);
  dispatch_pending (fixture->context);
}

/* ---- Wait queues and the mutex ----------------------------------------- */

typedef struct {
  QvmWaitQueue  queue;
  GString      *order;      /* who woke, in order */
  guint         finished;
  GCancellable *cancellable;
  int           timeout_ms;
} Queue;

typedef struct {
  Queue   *queue;
  char     name;
  gboolean result;
  GError  *error;
} QueueWaiter;

static void
queue_waiter_body (gpointer data)
{
  QueueWaiter *waiter = data;
  Queue *queue = waiter->queue;

  waiter->result = qvm_wait_queue_wait (&queue->queue, queue->timeout_ms, queue->cancellable,
                                        &waiter->error);
  g_string_append_c (queue->order, waiter->name);
  queue->finished++;
}

static void
queue_set_up (Queue *queue)
{
  qvm_wait_queue_init (&queue->queue);
  queue->order = g_string_new (NULL);
  queue->finished = 0;
  queue->cancellable = NULL;
  queue->timeout_ms = -1;
}

static void
queue_tear_down (Queue *queue)
{
  qvm_wait_queue_clear (&queue->queue);
  g_string_free (queue->order, TRUE);
  g_clear_object (&queue->cancellable);
}

static void
iterate_until_count (GMainContext *context,
                     const guint  *count,
                     guint         wanted)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (*count < wanted)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
}

static void
test_wait_queue_order (Fixture      *fixture,
                       gconstpointer data)
{
  Queue queue;
  QueueWaiter waiters[3] = { { &queue, 'a' }, { &queue, 'b' }, { &queue, 'c' } };

  queue_set_up (&queue);
  g_assert_true (qvm_wait_queue_is_empty (&queue.queue));
  g_assert_false (qvm_wait_queue_wake_one (&queue.queue));

  for (guint i = 0; i < G_N_ELEMENTS (waiters); i++)
    qvm_coroutine_spawn (queue_waiter_body, &waiters[i]);
  g_assert_false (qvm_wait_queue_is_empty (&queue.queue));
  g_assert_false (dispatch_pending (fixture->context));

  /* One wake, one waiter, the oldest; it resumes from the main loop, not
   * inside the wake. */
  g_assert_true (qvm_wait_queue_wake_one (&queue.queue));
  g_assert_cmpuint (queue.finished, ==, 0);
  iterate_until_count (fixture->context, &queue.finished, 1);
  g_assert_false (dispatch_pending (fixture->context));
  g_assert_cmpstr (queue.order->str, ==, "a");

  /* Then everybody else, in the order they came. */
  g_assert_cmpuint (qvm_wait_queue_wake_all (&queue.queue), ==, 2);
  g_assert_cmpuint (qvm_wait_queue_wake_all (&queue.queue), ==, 0);
  iterate_until_count (fixture->context, &queue.finished, 3);
  g_assert_cmpstr (queue.order->str, ==, "abc");
  for (guint i = 0; i < G_N_ELEMENTS (waiters); i++)
    {
      g_assert_true (waiters[i].result);
      g_assert_no_error (waiters[i].error);
    }
  g_assert_true (qvm_wait_queue_is_empty (&queue.queue));
  queue_tear_down (&queue);
}

static void
test_wait_queue_timeout (Fixture      *fixture,
                         gconstpointer data)
{
  Queue queue;
  QueueWaiter waiter = { &queue, 't' };

  queue_set_up (&queue);
  queue.timeout_ms = 20;
  qvm_coroutine_spawn (queue_waiter_body, &waiter);
  iterate_until_count (fixture->context, &queue.finished, 1);

  g_assert_false (waiter.result);
  g_assert_error (waiter.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&waiter.error);
  /* It left the queue and its sources. */
  g_assert_true (qvm_wait_queue_is_empty (&queue.queue));
  g_assert_false (qvm_wait_queue_wake_one (&queue.queue));
  g_assert_false (dispatch_pending (fixture->context));
  queue_tear_down (&queue);
}

/* A wake that reached a waiter wins over a cancellation (or a timeout)
 * that fired before the waiter ran: a handed-over lock is never lost. */
static void
test_wait_queue_wake_beats_cancel (Fixture      *fixture,
                                   gconstpointer data)
{
  Queue queue;
  QueueWaiter waiter = { &queue, 'w' };

  queue_set_up (&queue);
  queue.cancellable = g_cancellable_new ();
  queue.timeout_ms = 0;   /* the timeout is ready at once, too */
  qvm_coroutine_spawn (queue_waiter_body, &waiter);

  g_assert_true (qvm_wait_queue_wake_one (&queue.queue));
  g_cancellable_cancel (queue.cancellable);
  iterate_until_count (fixture->context, &queue.finished, 1);

  g_assert_true (waiter.result);
  g_assert_no_error (waiter.error);
  g_assert_false (dispatch_pending (fixture->context));
  queue_tear_down (&queue);
}

typedef struct {
  QvmCoroutineMutex  mutex;
  GString           *log;
  guint              inside;
  guint              finished;
} Locking;

typedef struct {
  Locking *locking;
  char     name;
} Locker;

static void
locker_body (gpointer data)
{
  Locker *locker = data;
  Locking *locking = locker->locking;

  qvm_coroutine_mutex_lock (&locking->mutex);
  g_assert_cmpuint (locking->inside++, ==, 0);
  g_string_append_c (locking->log, locker->name);
  /* Hold the lock across a wait: the others must stay out meanwhile. */
  g_assert_true (qvm_coroutine_sleep (5, NULL, NULL));
  g_string_append_c (locking->log, g_ascii_toupper (locker->name));
  locking->inside--;
  qvm_coroutine_mutex_unlock (&locking->mutex);
  locking->finished++;
}

static void
test_mutex (Fixture      *fixture,
            gconstpointer data)
{
  Locking locking = { QVM_COROUTINE_MUTEX_INIT, g_string_new (NULL), 0, 0 };
  Locker lockers[3] = { { &locking, 'a' }, { &locking, 'b' }, { &locking, 'c' } };

  for (guint i = 0; i < G_N_ELEMENTS (lockers); i++)
    qvm_coroutine_spawn (locker_body, &lockers[i]);
  iterate_until_count (fixture->context, &locking.finished, 3);

  /* One at a time, first come, first served. */
  g_assert_cmpstr (locking.log->str, ==, "aAbBcC");
  g_assert_false (locking.mutex.locked);
  qvm_coroutine_mutex_clear (&locking.mutex);
  g_string_free (locking.log, TRUE);
}

/* ---- Typed awaits (qvm-coroutine-gio-private.h) -------------------------- */

typedef struct {
  GIOStream *streams[2];
  char      *socket_path;
  GSocketConnection *accepted;
  gboolean   done;
} Gio;

static void
gio_streams_body (gpointer data)
{
  Gio *gio = data;
  g_autoptr(GError) error = NULL;
  char buffer[16] = { 0 };
  gsize written = 0;

  g_assert_true (qvm_await_output_stream_write_all (g_io_stream_get_output_stream (gio->streams[0]),
                                                    "hello", 5, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, 5);
  g_assert_cmpint (qvm_await_output_stream_write (g_io_stream_get_output_stream (gio->streams[0]),
                                                  "!", 1, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (qvm_await_io_stream_close (gio->streams[0], NULL, &error));
  g_assert_no_error (error);

  /* What was written, then the end of the stream. */
  for (gsize got = 0; got < 6; )
    {
      gssize n = qvm_await_input_stream_read (g_io_stream_get_input_stream (gio->streams[1]),
                                              buffer + got, sizeof buffer - 1 - got, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += n;
    }
  g_assert_cmpstr (buffer, ==, "hello!");
  g_assert_cmpint (qvm_await_input_stream_read (g_io_stream_get_input_stream (gio->streams[1]),
                                                buffer, sizeof buffer, NULL, &error), ==, 0);
  g_assert_no_error (error);

  /* A write to a closed stream fails with GIO's own error. */
  g_assert_cmpint (qvm_await_output_stream_write (g_io_stream_get_output_stream (gio->streams[0]),
                                                  "x", 1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  gio->done = TRUE;
}

static GIOStream *
socket_stream (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static void
test_await_streams (Fixture      *fixture,
                    gconstpointer data)
{
  Gio gio = { { NULL, NULL } };
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  gio.streams[0] = socket_stream (fds[0]);
  gio.streams[1] = socket_stream (fds[1]);

  qvm_coroutine_spawn (gio_streams_body, &gio);
  iterate_until (fixture->context, &gio.done);

  g_object_unref (gio.streams[0]);
  g_object_unref (gio.streams[1]);
  dispatch_pending (fixture->context);
}

static void
gio_spawn_body (gpointer data)
{
  Gio *gio = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  const char *exits[] = { "sh", "-c", "exit 3", NULL };
  const char *missing[] = { "/nonexistent/qvm-no-such-program", NULL };
  g_autoptr(GSubprocess) child = NULL;
  GSubprocess *none;

  child = qvm_await_subprocess_spawnv (launcher, exits, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_await_subprocess_wait (child, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 3);

  none = qvm_await_subprocess_spawnv (launcher, missing, &error);
  g_assert_null (none);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
  gio->done = TRUE;
}

static void
test_await_spawn (Fixture      *fixture,
                  gconstpointer data)
{
  Gio gio = { { NULL, NULL } };

  qvm_coroutine_spawn (gio_spawn_body, &gio);
  iterate_until (fixture->context, &gio.done);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           data)
{
  Gio *gio = data;

  gio->accepted = g_object_ref (connection);
  return TRUE;
}

static void
gio_connect_body (gpointer data)
{
  Gio *gio = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (gio->socket_path);
  g_autofree char *missing_path = g_strconcat (gio->socket_path, "-missing", NULL);
  g_autoptr(GSocketAddress) missing = g_unix_socket_address_new (missing_path);
  g_autoptr(GSocketConnection) connection = NULL;
  GSocketConnection *none;

  connection = qvm_await_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_SOCKET_CONNECTION (connection));

  none = qvm_await_socket_client_connect (client, G_SOCKET_CONNECTABLE (missing), NULL, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  gio->done = TRUE;
}

static void
test_await_connect (Fixture      *fixture,
                    gconstpointer data)
{
  Gio gio = { { NULL, NULL } };
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("qvm-test-coroutine-XXXXXX", &error);
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketAddress) address = NULL;

  g_assert_no_error (error);
  gio.socket_path = g_build_filename (folder, "socket", NULL);
  address = g_unix_socket_address_new (gio.socket_path);
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                                NULL, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), &gio);

  qvm_coroutine_spawn (gio_connect_body, &gio);
  iterate_until (fixture->context, &gio.done);
  while (gio.accepted == NULL)
    g_main_context_iteration (fixture->context, TRUE);

  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_clear_object (&gio.accepted);
  g_assert_cmpint (g_unlink (gio.socket_path), ==, 0);
  g_assert_cmpint (g_rmdir (folder), ==, 0);
  g_free (gio.socket_path);
  dispatch_pending (fixture->context);
}

/* qvm_await_socket_receive() and qvm_socket_watch_receive() (when the
 * test data is TRUE): what is there at once, then what comes while it
 * waits, the end of the stream, and a cancellation (before and during the
 * wait). */
typedef struct {
  GSocket        *sockets[2];
  QvmSocketWatch *watch;       /* NULL: qvm_await_socket_receive() */
  GCancellable   *cancellable;
  int             step;
  gboolean        done;
} Receive;

static gssize
receive_some (Receive      *receive,
              char         *buffer,
              gsize         size,
              GCancellable *cancellable,
              GError      **error)
{
  gssize n = receive->watch != NULL
    ? qvm_socket_watch_receive (receive->watch, buffer, size - 1, cancellable, error)
    : qvm_await_socket_receive (receive->sockets[0], buffer, size - 1, cancellable, error);

  buffer[MAX (n, 0)] = '\0';
  return n;
}

static void
gio_receive_body (gpointer data)
{
  Receive *receive = data;
  g_autoptr(GError) error = NULL;
  char buffer[16];

  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpstr (buffer, ==, "now");

  /* Nothing there: waits until the main stack sends. */
  receive->step = 1;
  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, NULL, &error), ==, 5);
  g_assert_no_error (error);
  g_assert_cmpstr (buffer, ==, "later");

  /* Cancelled while it waits. */
  receive->step = 2;
  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, receive->cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Already cancelled: refused even with bytes waiting, as GIO does. */
  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, receive->cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, NULL, &error), ==, 4);
  g_assert_cmpstr (buffer, ==, "kept");

  /* The peer shuts down: the end of the stream. */
  receive->step = 3;
  g_assert_cmpint (receive_some (receive, buffer, sizeof buffer, NULL, &error), ==, 0);
  g_assert_no_error (error);
  receive->done = TRUE;
}

static void
send_text (GSocket    *socket,
           const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, text, strlen (text), NULL, &error), ==, strlen (text));
  g_assert_no_error (error);
}

static void
test_await_socket_receive (Fixture      *fixture,
                           gconstpointer data)
{
  Receive receive = { { NULL, NULL }, NULL, g_cancellable_new (), 0, FALSE };
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      receive.sockets[i] = g_socket_new_from_fd (fds[i], &error);
      g_assert_no_error (error);
    }
  if (GPOINTER_TO_INT (data))
    receive.watch = qvm_socket_watch_new (receive.sockets[0]);

  send_text (receive.sockets[1], "now");
  qvm_coroutine_spawn (gio_receive_body, &receive);
  g_assert_cmpint (receive.step, ==, 1);
  /* It waits, and nothing is ready meanwhile. */
  dispatch_pending (fixture->context);
  g_assert_cmpint (receive.step, ==, 1);
  send_text (receive.sockets[1], "later");
  while (receive.step < 2)
    g_main_context_iteration (fixture->context, TRUE);

  dispatch_pending (fixture->context);
  g_assert_cmpint (receive.step, ==, 2);
  send_text (receive.sockets[1], "kept");
  /* The bytes are there before the wait wakes, but the cancel counts. */
  g_cancellable_cancel (receive.cancellable);
  while (receive.step < 3)
    g_main_context_iteration (fixture->context, TRUE);

  g_assert_true (g_socket_shutdown (receive.sockets[1], FALSE, TRUE, &error));
  g_assert_no_error (error);
  iterate_until (fixture->context, &receive.done);

  if (receive.watch != NULL)
    {
      /* Nobody waits on a socket that stays readable (at its end): the
       * watch stops polling it rather than wake every iteration. */
      for (int i = 0; i < 2; i++)
        g_main_context_iteration (fixture->context, FALSE);
      g_assert_false (g_main_context_iteration (fixture->context, FALSE));
      qvm_socket_watch_free (receive.watch);
    }
  g_object_unref (receive.sockets[0]);
  g_object_unref (receive.sockets[1]);
  g_object_unref (receive.cancellable);
  dispatch_pending (fixture->context);
}

/* ---- Waits that complete ----------------------------------------------- */

typedef struct {
  int          pipe_fds[2];
  GSocket     *sockets[2];
  GIOCondition seen_first;
  GIOCondition seen_hup;
  gint64       slept_usec;
  int          exit_status;
  gboolean     done;
} Waits;

static void
waits_body (gpointer data)
{
  Waits *waits = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) subprocess = NULL;
  gint64 before;

  /* The fd becomes readable from a write done by the main stack. */
  g_assert_true (qvm_coroutine_wait_fd (waits->pipe_fds[0], G_IO_IN, NULL, &waits->seen_first, &error));
  g_assert_no_error (error);

  /* Then the writer closes: HUP is reported though not asked for. */
  g_assert_true (qvm_coroutine_wait_fd (waits->pipe_fds[0], G_IO_PRI, NULL, &waits->seen_hup, &error));
  g_assert_no_error (error);

  g_assert_true (qvm_coroutine_wait_socket (waits->sockets[0], G_IO_IN, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_get_available_bytes (waits->sockets[0]), ==, 3);

  before = g_get_monotonic_time ();
  g_assert_true (qvm_coroutine_sleep (30, NULL, &error));
  g_assert_no_error (error);
  waits->slept_usec = g_get_monotonic_time () - before;

  subprocess = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sh", "-c", "exit 3", NULL);
  g_assert_no_error (error);
  g_assert_true (qvm_await_subprocess_wait (subprocess, NULL, &error));
  g_assert_no_error (error);
  waits->exit_status = g_subprocess_get_exit_status (subprocess);

  waits->done = TRUE;
}

static void
test_waits (Fixture      *fixture,
            gconstpointer data)
{
  Waits waits = { { -1, -1 }, { NULL, NULL }, 0, 0, 0, -1, FALSE };
  g_autoptr(GError) error = NULL;
  int socket_fds[2];
  char buffer[1];

  g_assert_true (g_unix_open_pipe (waits.pipe_fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      waits.sockets[i] = g_socket_new_from_fd (socket_fds[i], &error);
      g_assert_no_error (error);
    }

  qvm_coroutine_spawn (waits_body, &waits);
  g_assert_false (waits.done);
  g_assert_false (dispatch_pending (fixture->context));

  g_assert_cmpint (write (waits.pipe_fds[1], "a", 1), ==, 1);
  g_assert_true (dispatch_pending (fixture->context));
  g_assert_cmpint (waits.seen_first, ==, G_IO_IN);
  g_assert_cmpint (read (waits.pipe_fds[0], buffer, 1), ==, 1);

  close (waits.pipe_fds[1]);
  g_assert_true (dispatch_pending (fixture->context));
  g_assert_true (waits.seen_hup & G_IO_HUP);

  g_assert_cmpint (g_socket_send (waits.sockets[1], "abc", 3, NULL, &error), ==, 3);
  g_assert_no_error (error);

  iterate_until (fixture->context, &waits.done);
  g_assert_cmpint (waits.slept_usec, >=, 30 * 1000);
  g_assert_cmpint (waits.exit_status, ==, 3);

  close (waits.pipe_fds[0]);
  g_object_unref (waits.sockets[0]);
  g_object_unref (waits.sockets[1]);
}

/* ---- invoke_later ------------------------------------------------------ */

typedef struct {
  GMainContext *context;
  GArray       *order;
  guint         freed;
  gboolean      all_on_main_stack;
  gboolean      done;
} Later;

typedef struct {
  Later *later;
  int    index;
} LaterCall;

static gboolean
later_call (gpointer data)
{
  LaterCall *call = data;

  if (qvm_coroutine_self () != NULL ||
      g_main_context_get_thread_default () != call->later->context)
    call->later->all_on_main_stack = FALSE;
  g_array_append_val (call->later->order, call->index);
  return G_SOURCE_REMOVE;
}

static void
later_call_free (gpointer data)
{
  LaterCall *call = data;

  call->later->freed++;
  g_free (call);
}

static void
later_body (gpointer data)
{
  Later *later = data;

  for (int i = 0; i < 100; i++)
    {
      LaterCall *call = g_new (LaterCall, 1);

      call->later = later;
      call->index = i;
      qvm_coroutine_invoke_later (later->context, later_call, call, later_call_free);
      if (i == 50)
        g_assert_true (qvm_coroutine_sleep (0, NULL, NULL));
    }
  later->done = TRUE;
}

static void
test_invoke_later (Fixture      *fixture,
                   gconstpointer data)
{
  Later later = { fixture->context, g_array_new (FALSE, FALSE, sizeof (int)), 0, TRUE, FALSE };

  qvm_coroutine_spawn (later_body, &later);
  g_assert_cmpuint (later.order->len, ==, 0);
  iterate_until (fixture->context, &later.done);
  dispatch_pending (fixture->context);

  g_assert_cmpuint (later.order->len, ==, 100);
  for (guint i = 0; i < later.order->len; i++)
    g_assert_cmpint (g_array_index (later.order, int, i), ==, i);
  g_assert_cmpuint (later.freed, ==, 100);
  g_assert_true (later.all_on_main_stack);
  g_array_unref (later.order);
}

/* ---- GTask bodies in coroutines ---------------------------------------- */

typedef enum {
  RETURN_POINTER,
  RETURN_BOOLEAN,
  RETURN_INT,
  RETURN_ERROR,
} ReturnKind;

typedef struct {
  ReturnKind kind;
  gboolean   wait_first;   /* sleep before returning, or return at once */
} TaskCase;

typedef struct {
  GMainContext   *context;
  const TaskCase *test_case;
  gboolean        async_returned;
  gboolean        body_ran_in_coroutine;
  gboolean        callback_done;
  gboolean        data_freed;
  gboolean        data_freed_on_main_stack;
  gboolean        result_freed_on_main_stack;
} TaskTest;

static void
task_data_free (gpointer data)
{
  TaskTest *test = data;

  test->data_freed = TRUE;
  test->data_freed_on_main_stack = qvm_coroutine_self () == NULL;
}

static void
result_free (gpointer data)
{
  TaskTest *test = *(TaskTest **) data;

  test->result_freed_on_main_stack = qvm_coroutine_self () == NULL;
  g_free (data);
}

static void
task_body_func (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  TaskTest *test = task_data;
  TaskTest **boxed;

  test->body_ran_in_coroutine = qvm_coroutine_self () != NULL &&
                                qvm_coroutine_get_context (qvm_coroutine_self ()) == test->context;
  if (test->test_case->wait_first)
    g_assert_true (qvm_coroutine_sleep (5, cancellable, NULL));

  switch (test->test_case->kind)
    {
    case RETURN_POINTER:
      boxed = g_new (TaskTest *, 1);
      *boxed = test;
      qvm_task_return_pointer (task, boxed, result_free);
      break;
    case RETURN_BOOLEAN:
      qvm_task_return_boolean (task, TRUE);
      break;
    case RETURN_INT:
      qvm_task_return_int (task, 1234);
      break;
    case RETURN_ERROR:
      qvm_task_return_error (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                                                "refused by %s", "test"));
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
task_callback (GObject      *source_object,
               GAsyncResult *result,
               gpointer      data)
{
  TaskTest *test = data;
  g_autoptr(GError) error = NULL;

  /* Never on a coroutine stack, never before foo_async() returned, always
   * in the task's context. */
  g_assert_null (qvm_coroutine_self ());
  g_assert_true (test->async_returned);
  g_assert_true (g_main_context_get_thread_default () == test->context);

  switch (test->test_case->kind)
    {
    case RETURN_POINTER:
      {
        TaskTest **boxed = g_task_propagate_pointer (G_TASK (result), &error);

        g_assert_no_error (error);
        g_assert_true (*boxed == test);
        result_free (boxed);
        break;
      }
    case RETURN_BOOLEAN:
      g_assert_true (g_task_propagate_boolean (G_TASK (result), &error));
      g_assert_no_error (error);
      break;
    case RETURN_INT:
      g_assert_cmpint (g_task_propagate_int (G_TASK (result), &error), ==, 1234);
      g_assert_no_error (error);
      break;
    case RETURN_ERROR:
      g_assert_false (g_task_propagate_boolean (G_TASK (result), &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
      g_assert_cmpstr (error->message, ==, "refused by test");
      break;
    default:
      g_assert_not_reached ();
    }
  test->callback_done = TRUE;
}

/* What every public foo_async() looks like. */
static void
foo_async (TaskTest *test)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, task_callback, test);

  g_task_set_task_data (task, test, task_data_free);
  qvm_coroutine_run_task (task, task_body_func);
}

static void
test_task (Fixture      *fixture,
           gconstpointer data)
{
  TaskTest test = { fixture->context, data };

  foo_async (&test);
  test.async_returned = TRUE;
  g_assert_true (test.body_ran_in_coroutine);
  g_assert_false (test.callback_done);

  iterate_until (fixture->context, &test.callback_done);
  dispatch_pending (fixture->context);
  g_assert_true (test.data_freed);
  g_assert_true (test.data_freed_on_main_stack);
  if (test.test_case->kind == RETURN_POINTER)
    g_assert_true (test.result_freed_on_main_stack);
}

static void
int_task_done (GObject      *source_object,
               GAsyncResult *result,
               gpointer      data)
{
  gssize *value = data;

  g_assert_null (qvm_coroutine_self ());
  *value = g_task_propagate_int (G_TASK (result), NULL);
}

static void
test_task_return_on_main_stack (Fixture      *fixture,
                                gconstpointer data)
{
  gssize value = 0;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, int_task_done, &value);

  /* Outside a coroutine the helpers are plain g_task_return_*(). */
  qvm_task_return_int (task, 77);
  g_clear_object (&task);
  while (value == 0)
    g_main_context_iteration (fixture->context, TRUE);
  g_assert_cmpint (value, ==, 77);
}

typedef struct {
  GMutex        lock;
  GCond         cond;
  GMainContext *context;
  GThread      *thread;
  GTask        *task;           /* handed from the owner thread to us */
  gboolean      body_ok;
  gboolean      callback_ok;
  gboolean      done;
} OtherThreadTask;

static void
other_thread_body (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  OtherThreadTask *test = task_data;

  /* With gthread the body has a thread of its own, so only the context
   * says where it was started from. */
  test->body_ok = qvm_coroutine_get_context (qvm_coroutine_self ()) == test->context &&
                  (g_str_equal (qvm_coroutine_get_backend_name (), "gthread") ||
                   g_thread_self () == test->thread);
  g_assert_true (qvm_coroutine_sleep (1, NULL, NULL));
  qvm_task_return_boolean (task, TRUE);
}

static void
other_thread_done (GObject      *source_object,
                   GAsyncResult *result,
                   gpointer      data)
{
  OtherThreadTask *test = data;

  test->callback_ok = g_thread_self () == test->thread &&
                      qvm_coroutine_self () == NULL &&
                      g_task_propagate_boolean (G_TASK (result), NULL);
  test->done = TRUE;
}

static gpointer
task_owner_thread (gpointer data)
{
  OtherThreadTask *test = data;

  /* This thread owns the context from the push on, so the main thread
   * cannot acquire it and run_task() must go through an idle. */
  g_main_context_push_thread_default (test->context);
  g_mutex_lock (&test->lock);
  test->task = g_task_new (NULL, NULL, other_thread_done, test);
  g_task_set_task_data (test->task, test, NULL);
  g_cond_signal (&test->cond);
  g_mutex_unlock (&test->lock);

  iterate_until (test->context, &test->done);
  g_main_context_pop_thread_default (test->context);
  return NULL;
}

static void
test_task_from_other_thread (Fixture      *fixture,
                             gconstpointer data)
{
  OtherThreadTask test = { 0 };

  g_mutex_init (&test.lock);
  g_cond_init (&test.cond);
  test.context = g_main_context_new ();

  g_mutex_lock (&test.lock);
  test.thread = g_thread_new ("task-owner", task_owner_thread, &test);
  while (test.task == NULL)
    g_cond_wait (&test.cond, &test.lock);
  g_mutex_unlock (&test.lock);

  qvm_coroutine_run_task (test.task, other_thread_body);
  g_clear_object (&test.task);
  g_thread_join (test.thread);

  g_assert_true (test.body_ok);
  g_assert_true (test.callback_ok);
  g_main_context_unref (test.context);
  g_mutex_clear (&test.lock);
  g_cond_clear (&test.cond);
}

/* ---- Custom contexts, on this thread and on another one ----------------- */

typedef struct {
  GMainContext *context;
  GThread      *thread;
  char         *path;
  GFile        *file;
  GAsyncReadyCallback callback;
  gpointer      callback_data;
  gboolean      start_ok;
  gboolean      gio_callback_ok;
  gboolean      task_callback_ok;
  gboolean      task_done;
  char         *contents;
  gboolean      done;
} ContextTest;

static void
on_contents_loaded (GObject      *source_object,
                    GAsyncResult *result,
                    gpointer      data)
{
  ContextTest *test = data;

  /* GIO calls back in the coroutine's context, on its thread. */
  test->gio_callback_ok = g_main_context_get_thread_default () == test->context &&
                          g_main_context_is_owner (test->context) &&
                          g_thread_self () == test->thread &&
                          qvm_coroutine_self () == NULL;
  test->callback (source_object, result, test->callback_data);
}

static void
load_contents_start (gpointer            start_data,
                     GAsyncReadyCallback callback,
                     gpointer            callback_data)
{
  ContextTest *test = start_data;

  test->start_ok = g_main_context_get_thread_default () == test->context &&
                   g_thread_self () == test->thread &&
                   qvm_coroutine_self () == NULL;
  test->callback = callback;
  test->callback_data = callback_data;
  g_file_load_contents_async (test->file, NULL, on_contents_loaded, test);
}

static void
context_task_body (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  g_assert_true (qvm_coroutine_sleep (1, NULL, NULL));
  qvm_task_return_boolean (task, TRUE);
}

static void
context_task_done (GObject      *source_object,
                   GAsyncResult *result,
                   gpointer      data)
{
  ContextTest *test = data;

  test->task_callback_ok = g_main_context_get_thread_default () == test->context &&
                           g_thread_self () == test->thread &&
                           qvm_coroutine_self () == NULL &&
                           g_task_propagate_boolean (G_TASK (result), NULL);
  test->task_done = TRUE;
}

static void
context_body (gpointer data)
{
  ContextTest *test = data;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  g_assert_true (qvm_coroutine_get_context (qvm_coroutine_self ()) == test->context);
  g_assert_true (qvm_coroutine_sleep (5, NULL, &error));
  g_assert_no_error (error);

  result = qvm_coroutine_await (load_contents_start, test);
  g_assert_true (g_file_load_contents_finish (test->file, result, &test->contents, &length,
                                              NULL, &error));
  g_assert_no_error (error);

  test->done = TRUE;
}

static void
run_context_test (ContextTest *test)
{
  test->thread = g_thread_self ();
  g_main_context_push_thread_default (test->context);

  qvm_coroutine_spawn (context_body, test);
  iterate_until (test->context, &test->done);

  /* And a task body started from this thread lands in this context. */
  {
    g_autoptr(GTask) task = g_task_new (NULL, NULL, context_task_done, test);

    qvm_coroutine_run_task (task, context_task_body);
  }
  iterate_until (test->context, &test->task_done);

  g_main_context_pop_thread_default (test->context);
}

static gpointer
context_thread (gpointer data)
{
  run_context_test (data);
  return NULL;
}

static void
context_test_init (ContextTest *test)
{
  g_autoptr(GError) error = NULL;
  int fd = g_file_open_tmp ("test-coroutine-XXXXXX", &test->path, &error);

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (test->path, "contents of a real file", -1, &error));
  g_assert_no_error (error);
  close (fd);
  test->file = g_file_new_for_path (test->path);
  test->context = g_main_context_new ();
}

static void
context_test_check_and_clear (ContextTest *test)
{
  g_assert_true (test->start_ok);
  g_assert_true (test->gio_callback_ok);
  g_assert_true (test->task_callback_ok);
  g_assert_cmpstr (test->contents, ==, "contents of a real file");

  g_unlink (test->path);
  g_free (test->path);
  g_free (test->contents);
  g_object_unref (test->file);
  g_main_context_unref (test->context);
}

static void
test_context_main_thread (Fixture      *fixture,
                          gconstpointer data)
{
  ContextTest test = { NULL };

  context_test_init (&test);
  run_context_test (&test);
  context_test_check_and_clear (&test);
}

static void
test_context_other_thread (Fixture      *fixture,
                           gconstpointer data)
{
  ContextTest test = { NULL };
  GThread *thread;

  context_test_init (&test);
  /* Nobody iterates this thread's contexts meanwhile: anything that landed
   * in the wrong one would hang (and time out) instead of passing. */
  thread = g_thread_new ("custom-context", context_thread, &test);
  g_thread_join (thread);
  context_test_check_and_clear (&test);
}

/* ---- Stack use ---------------------------------------------------------- */

typedef struct {
  const guint8 *top;       /* an address near the top of the stack */
  gsize         target;    /* how deep to go, in bytes */
  gsize         reached;
  gboolean      done;
} StackUse;

static __attribute__((noinline)) gsize
recurse (StackUse *use,
         guint     depth)
{
  volatile guint8 frame[512];
  gsize used = (gsize) (use->top - (const guint8 *) frame);

  frame[0] = (guint8) depth;
  frame[sizeof frame - 1] = (guint8) depth;
  if (used >= use->target)
    {
      use->reached = used;
      return frame[0];
    }
  return recurse (use, depth + 1) + frame[sizeof frame - 1];
}

static void
stack_use_body (gpointer data)
{
  StackUse *use = data;
  guint8 marker;
  g_autoptr(GError) error = NULL;

  use->top = &marker;
  recurse (use, 0);
  /* Still a working coroutine afterwards. */
  g_assert_true (qvm_coroutine_sleep (1, NULL, &error));
  g_assert_no_error (error);
  use->done = TRUE;
}

static void
test_stack_near_limit (Fixture      *fixture,
                       gconstpointer data)
{
  const gsize stack_size = 64 * 1024;
  StackUse use = { NULL, stack_size * 8 / 10, 0, FALSE };

  qvm_coroutine_enter (qvm_coroutine_new (stack_use_body, &use, stack_size));
  iterate_until (fixture->context, &use.done);
  g_assert_cmpuint (use.reached, >=, stack_size * 8 / 10);
  g_assert_cmpuint (use.reached, <, stack_size);
}

/* Whether @address lies in a PROT_NONE mapping: a guard page. Reads
 * /proc/self/maps with plain system calls, from a signal handler. */
static gboolean
is_guard_page (guintptr address)
{
  static char maps[512 * 1024];
  gsize total = 0;
  gssize n;
  int fd = open ("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  const char *p = maps;

  if (fd < 0)
    return FALSE;
  while (total < sizeof maps - 1 && (n = read (fd, maps + total, sizeof maps - 1 - total)) > 0)
    total += (gsize) n;
  close (fd);
  maps[total] = '\0';

  /* Lines look like "7f12a000-7f12b000 ---p 00000000 00:00 0 ...". */
  while (*p != '\0')
    {
      guintptr start = 0, end = 0;

      for (; g_ascii_isxdigit (*p); p++)
        start = start * 16 + (guintptr) g_ascii_xdigit_value (*p);
      if (*p == '-')
        p++;
      for (; g_ascii_isxdigit (*p); p++)
        end = end * 16 + (guintptr) g_ascii_xdigit_value (*p);
      if (*p == ' ')
        p++;
      if (address >= start && address < end)
        return p[0] == '-' && p[1] == '-' && p[2] == '-';
      while (*p != '\0' && *p != '\n')
        p++;
      if (*p == '\n')
        p++;
    }
  return FALSE;
}

/* The overflowing child: the top of its coroutine's stack. */
static const guint8 *overflow_top;

static void
on_overflow_fault (int        signum,
                   siginfo_t *info,
                   void      *context)
{
  const guint8 *address = info->si_addr;
  /* A PROT_NONE page just below the stack, not far away in other memory. */
  gboolean at_guard = address < overflow_top &&
                      (gsize) (overflow_top - address) <= 256 * 1024 &&
                      is_guard_page ((guintptr) address);
  static const char hit[] = "stack overflow hit the guard page\n";
  static const char elsewhere[] = "fault outside a guard page\n";

  if (at_guard)
    (void) !write (STDERR_FILENO, hit, sizeof hit - 1);
  else
    (void) !write (STDERR_FILENO, elsewhere, sizeof elsewhere - 1);
  _exit (3);
}

static void
overflow_body (gpointer data)
{
  StackUse *use = data;
  static guint8 alt_stack[64 * 1024];
  stack_t alt = { .ss_sp = alt_stack, .ss_size = sizeof alt_stack };
  struct sigaction action = { .sa_sigaction = on_overflow_fault,
                              .sa_flags = SA_SIGINFO | SA_ONSTACK };
  guint8 marker;

  /* The handler cannot run on the overflowed stack: give this thread (the
   * coroutine's own with gthread) an alternate one. */
  g_assert_cmpint (sigaltstack (&alt, NULL), ==, 0);
  g_assert_cmpint (sigaction (SIGSEGV, &action, NULL), ==, 0);

  overflow_top = use->top = &marker;
  recurse (use, 0);
}

static void
test_stack_overflow (void)
{
  if (g_test_subprocess ())
    {
      /* Unbounded recursion: must fault on the guard page below the stack
       * rather than write over whatever lies there. */
      StackUse use = { NULL, G_MAXSIZE, 0, FALSE };

      qvm_coroutine_enter (qvm_coroutine_new (overflow_body, &use, 64 * 1024));
      g_assert_not_reached ();
    }

  /* A fresh process (not under valgrind even when we are), so the fault is
   * the kernel's and the handler sees it. */
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*stack overflow hit the guard page*");
}

int
main (int argc, char *argv[])
{
  static const CancelCase cancel_cases[] = {
    { WAIT_FD, CANCEL_BEFORE }, { WAIT_FD, CANCEL_DURING }, { WAIT_FD, CANCEL_FROM_THREAD },
    { WAIT_SOCKET, CANCEL_BEFORE }, { WAIT_SOCKET, CANCEL_DURING }, { WAIT_SOCKET, CANCEL_FROM_THREAD },
    { WAIT_SLEEP, CANCEL_BEFORE }, { WAIT_SLEEP, CANCEL_DURING }, { WAIT_SLEEP, CANCEL_FROM_THREAD },
    { WAIT_SUBPROCESS, CANCEL_BEFORE }, { WAIT_SUBPROCESS, CANCEL_DURING }, { WAIT_SUBPROCESS, CANCEL_FROM_THREAD },
    { WAIT_AWAIT, CANCEL_BEFORE }, { WAIT_AWAIT, CANCEL_DURING }, { WAIT_AWAIT, CANCEL_FROM_THREAD },
    { WAIT_QUEUE, CANCEL_BEFORE }, { WAIT_QUEUE, CANCEL_DURING }, { WAIT_QUEUE, CANCEL_FROM_THREAD },
    { WAIT_SOCKET_WATCH, CANCEL_BEFORE }, { WAIT_SOCKET_WATCH, CANCEL_DURING },
    { WAIT_SOCKET_WATCH, CANCEL_FROM_THREAD },
  };
  /* Not "subprocess": GTest skips such paths outside g_test_trap_subprocess(). */
  static const char *kind_names[] = { "fd", "socket", "sleep", "child-process", "await",
                                      "wait-queue", "socket-watch" };
  static const char *when_names[] = { "before", "during", "from-thread" };
  static const TaskCase task_cases[] = {
    { RETURN_POINTER, FALSE }, { RETURN_POINTER, TRUE },
    { RETURN_BOOLEAN, FALSE }, { RETURN_BOOLEAN, TRUE },
    { RETURN_INT, FALSE }, { RETURN_INT, TRUE },
    { RETURN_ERROR, FALSE }, { RETURN_ERROR, TRUE },
  };
  static const char *return_names[] = { "pointer", "boolean", "int", "error" };

  g_test_init (&argc, &argv, NULL);
  g_test_message ("coroutine backend: %s", qvm_coroutine_get_backend_name ());

#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)

  ADD ("/coroutine/basic", test_basic, NULL);
  ADD ("/coroutine/stack-size/rounding", test_stack_size_rounding, NULL);
  g_test_add_func ("/coroutine/stack-size/env", test_stack_size_env);
  ADD ("/coroutine/inherit-context", test_inherit_context, NULL);
  ADD ("/coroutine/misuse", test_misuse, NULL);
  ADD ("/coroutine/ping-pong", test_ping_pong, NULL);
  ADD ("/coroutine/nesting", test_nesting, NULL);
  ADD ("/coroutine/many", test_many, NULL);
  ADD ("/coroutine/waits", test_waits, NULL);
  ADD ("/coroutine/invoke-later", test_invoke_later, NULL);
  ADD ("/coroutine/wait-queue/order", test_wait_queue_order, NULL);
  ADD ("/coroutine/wait-queue/timeout", test_wait_queue_timeout, NULL);
  ADD ("/coroutine/wait-queue/wake-beats-cancel", test_wait_queue_wake_beats_cancel, NULL);
  ADD ("/coroutine/mutex", test_mutex, NULL);
  ADD ("/coroutine/await/streams", test_await_streams, NULL);
  ADD ("/coroutine/await/spawn", test_await_spawn, NULL);
  ADD ("/coroutine/await/connect", test_await_connect, NULL);
  ADD ("/coroutine/await/socket-receive", test_await_socket_receive, GINT_TO_POINTER (FALSE));
  ADD ("/coroutine/await/socket-watch-receive", test_await_socket_receive, GINT_TO_POINTER (TRUE));
  for (gsize i = 0; i < G_N_ELEMENTS (cancel_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/coroutine/cancel/%s/%s",
                                               kind_names[cancel_cases[i].kind],
                                               when_names[cancel_cases[i].when]);
      ADD (path, test_cancel, &cancel_cases[i]);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (task_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/coroutine/task/%s/%s",
                                               return_names[task_cases[i].kind],
                                               task_cases[i].wait_first ? "after-wait" : "at-once");
      ADD (path, test_task, &task_cases[i]);
    }
  ADD ("/coroutine/task/return-on-main-stack", test_task_return_on_main_stack, NULL);
  ADD ("/coroutine/task/from-other-thread", test_task_from_other_thread, NULL);
  ADD ("/coroutine/context/main-thread", test_context_main_thread, NULL);
  ADD ("/coroutine/context/other-thread", test_context_other_thread, NULL);
  ADD ("/coroutine/stack/near-limit", test_stack_near_limit, NULL);
  g_test_add_func ("/coroutine/stack/overflow-hits-guard", test_stack_overflow);

#undef ADD

  return g_test_run ();
}
