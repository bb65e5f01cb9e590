/* qvm-coroutine-gthread.c: the one-thread-per-coroutine backend
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each coroutine runs on a thread of its own, and a baton makes it behave
 * like a coroutine: every party (a thread's main stack, each coroutine) has
 * a "may run" flag guarded by one lock, and a switch sets the other party's
 * flag, clears its own and sleeps until it is set again. So exactly one of
 * the parties of a chain runs at any time. Slower than ucontext, but every
 * tool understands threads.
 *
 * The threads are created with pthread directly because GThread cannot set a
 * stack size: with glibc's default (ulimit -s, often 8 MiB) ten thousand
 * coroutines would reserve 80 GiB of address space.
 */

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "qvm-coroutine-backend-private.h"

/* glibc carves the thread descriptor and the static TLS blocks out of the
 * stack size it is given; this keeps the size the caller asked for usable
 * by the coroutine's own frames. */
#define THREAD_OVERHEAD (64 * 1024)

typedef struct {
  GCond    cond;
  gboolean may_run;
} QvmBaton;

typedef struct {
  QvmCoroutine  base;
  QvmBaton      baton;
  QvmBaton     *caller_baton;   /* the party that entered it last */
  pthread_t     thread;
  gboolean      thread_started;
} QvmCoroutineThread;

static GMutex baton_lock;

/* The baton of a thread's main stack. */
static __thread QvmBaton leader_baton;

const char *
qvm_coroutine_backend_name (void)
{
  return "gthread";
}

QvmCoroutine *
qvm_coroutine_backend_new (gsize stack_size)
{
  QvmCoroutineThread *co = g_new0 (QvmCoroutineThread, 1);

  g_cond_init (&co->baton.cond);
  return &co->base;
}

static void *
coroutine_thread (void *data)
{
  QvmCoroutineThread *co = data;

  g_mutex_lock (&baton_lock);
  while (!co->baton.may_run)
    g_cond_wait (&co->baton.cond, &baton_lock);
  g_mutex_unlock (&baton_lock);

  qvm_coroutine_run_body (&co->base);
  qvm_coroutine_backend_switch (&co->base, co->base.caller, QVM_COROUTINE_SWITCH_TERMINATE);
  return NULL;
}

/* Called with baton_lock held. */
static void
start_thread (QvmCoroutineThread *co)
{
  pthread_attr_t attr;
  sigset_t all, saved;
  int err;

  /* Asynchronous signals belong to the application's threads, not to
   * coroutine threads; faults still kill (or reach ASan) as usual. */
  sigfillset (&all);
  sigdelset (&all, SIGSEGV);
  sigdelset (&all, SIGBUS);
  sigdelset (&all, SIGFPE);
  sigdelset (&all, SIGILL);
  sigdelset (&all, SIGTRAP);
  sigdelset (&all, SIGABRT);

  pthread_attr_init (&attr);
  err = pthread_attr_setstacksize (&attr, co->base.stack_size + THREAD_OVERHEAD);
  if (err == 0)
    {
      pthread_sigmask (SIG_SETMASK, &all, &saved);
      err = pthread_create (&co->thread, &attr, coroutine_thread, co);
      pthread_sigmask (SIG_SETMASK, &saved, NULL);
    }
  pthread_attr_destroy (&attr);

  if (err != 0)
    g_error ("qvm-coroutine: cannot create a coroutine thread: %s", g_strerror (err));
  co->thread_started = TRUE;
}

void
qvm_coroutine_backend_switch (QvmCoroutine       *from,
                              QvmCoroutine       *to,
                              QvmCoroutineSwitch  action)
{
  QvmCoroutineThread *tfrom = (QvmCoroutineThread *) from;
  QvmCoroutineThread *tto = (QvmCoroutineThread *) to;
  QvmBaton *mine = tfrom != NULL ? &tfrom->baton : &leader_baton;
  QvmBaton *next;

  /* A yield goes back to the party that entered us, which may be another
   * thread's main stack: remember its baton when it enters. */
  if (action == QVM_COROUTINE_SWITCH_ENTER)
    {
      tto->caller_baton = mine;
      next = &tto->baton;
    }
  else
    {
      next = tfrom->caller_baton;
    }

  g_mutex_lock (&baton_lock);
  mine->may_run = FALSE;
  next->may_run = TRUE;
  if (action == QVM_COROUTINE_SWITCH_ENTER && !tto->thread_started)
    start_thread (tto);
  else
    g_cond_signal (&next->cond);

  /* A finished coroutine's thread just ends; the enterer joins it. */
  if (action != QVM_COROUTINE_SWITCH_TERMINATE)
    {
      while (!mine->may_run)
        g_cond_wait (&mine->cond, &baton_lock);
    }
  g_mutex_unlock (&baton_lock);
}

void
qvm_coroutine_backend_free (QvmCoroutine *base)
{
  QvmCoroutineThread *co = (QvmCoroutineThread *) base;

  if (co->thread_started)
    {
      int err = pthread_join (co->thread, NULL);

      if (err != 0)
        g_error ("qvm-coroutine: cannot join a coroutine thread: %s", g_strerror (err));
    }
  g_cond_clear (&co->baton.cond);
  g_free (co);
}
