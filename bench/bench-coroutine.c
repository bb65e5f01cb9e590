/* bench-coroutine.c: how fast the coroutine backend of this build switches
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures. Only one backend is compiled into a build, so
 * compare by running it from two build folders:
 *
 *   meson setup _build -Dcoroutine=ucontext
 *   meson setup _build-gthread -Dcoroutine=gthread
 *   _build/bench/bench-coroutine; _build-gthread/bench/bench-coroutine
 *
 * Each figure is measured for about --seconds (default 1) of wall time.
 */

#include "qvm-coroutine-private.h"

typedef struct {
  gboolean stop;
  guint64  yields;
} PingPong;

static void
yield_loop (gpointer data)
{
  PingPong *pp = data;

  while (!pp->stop)
    {
      pp->yields++;
      qvm_coroutine_yield ();
    }
}

static void
noop (gpointer data)
{
}

typedef struct {
  GMainContext *context;
  gint64        deadline;
  guint64       sleeps;
  gboolean      done;
} Sleeper;

static void
sleep_loop (gpointer data)
{
  Sleeper *sleeper = data;

  while (g_get_monotonic_time () < sleeper->deadline)
    {
      qvm_coroutine_sleep (0, NULL, NULL);
      sleeper->sleeps++;
    }
  sleeper->done = TRUE;
}

int
main (int argc, char *argv[])
{
  double seconds = 1.0;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Time per figure", "S" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- coroutine switch rate");
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint64 usec, start;
  PingPong pp = { FALSE, 0 };
  QvmCoroutine *co;
  Sleeper sleeper = { context, 0, 0, FALSE };
  guint64 spawned = 0;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  usec = (gint64) (seconds * G_USEC_PER_SEC);
  g_main_context_push_thread_default (context);

  g_print ("backend: %s (stack %" G_GSIZE_FORMAT " KiB)\n",
           qvm_coroutine_get_backend_name (), qvm_coroutine_get_default_stack_size () / 1024);

  /* Enter + yield: two switches per round. */
  co = qvm_coroutine_new (yield_loop, &pp, 0);
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < usec)
    for (int i = 0; i < 1000; i++)
      qvm_coroutine_enter (co);
  usec = g_get_monotonic_time () - start;
  pp.stop = TRUE;
  qvm_coroutine_enter (co);
  g_print ("switches/second: %.0f (%.1f ns per switch)\n",
           2.0 * pp.yields * G_USEC_PER_SEC / usec, usec * 1000.0 / (2.0 * pp.yields));

  /* Create, run to the end, free. */
  usec = (gint64) (seconds * G_USEC_PER_SEC);
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < usec)
    for (int i = 0; i < 100; i++, spawned++)
      qvm_coroutine_spawn (noop, NULL);
  usec = g_get_monotonic_time () - start;
  g_print ("spawns/second: %.0f (%.2f us per spawn)\n",
           (double) spawned * G_USEC_PER_SEC / usec, (double) usec / spawned);

  /* A zero-length sleep: source attach, main-loop iteration, dispatch. */
  usec = (gint64) (seconds * G_USEC_PER_SEC);
  start = g_get_monotonic_time ();
  sleeper.deadline = start + usec;
  qvm_coroutine_spawn (sleep_loop, &sleeper);
  while (!sleeper.done)
    g_main_context_iteration (context, TRUE);
  usec = g_get_monotonic_time () - start;
  g_print ("main-loop waits/second (sleep 0): %.0f\n",
           (double) sleeper.sleeps * G_USEC_PER_SEC / usec);

  g_main_context_pop_thread_default (context);
  return 0;
}
