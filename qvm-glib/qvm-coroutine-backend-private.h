/* qvm-coroutine-backend-private.h: what a coroutine backend implements
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qvm-coroutine.c owns the semantics (who entered whom, the current
 * coroutine, waits, deferred work); a backend only owns the execution
 * context: it allocates a coroutine with room for its own state after the
 * common part, switches between two parties, and frees. Exactly one backend
 * is compiled in (config.h defines QVM_COROUTINE_BACKEND_UCONTEXT or
 * QVM_COROUTINE_BACKEND_GTHREAD).
 */

#pragma once

#include "qvm-coroutine-private.h"

G_BEGIN_DECLS

typedef enum {
  QVM_COROUTINE_STATE_NEW,        /* created, never entered */
  QVM_COROUTINE_STATE_RUNNING,    /* between enter and yield */
  QVM_COROUTINE_STATE_SUSPENDED,  /* yielded, waiting to be entered */
  QVM_COROUTINE_STATE_FINISHED,   /* its function returned */
} QvmCoroutineState;

/* Why a backend switch happens: ENTER goes from the current party into a
 * coroutine, YIELD from a coroutine back to whoever entered it, TERMINATE is
 * a YIELD after which the coroutine never runs its current body again. */
typedef enum {
  QVM_COROUTINE_SWITCH_ENTER,
  QVM_COROUTINE_SWITCH_YIELD,
  QVM_COROUTINE_SWITCH_TERMINATE,
} QvmCoroutineSwitch;

/* The part of a coroutine every backend shares; a backend's own struct
 * starts with it. */
struct _QvmCoroutine {
  QvmCoroutineFunc   func;
  gpointer           user_data;
  GMainContext      *context;     /* owned */
  gsize              stack_size;  /* what the caller asked for, rounded up */
  QvmCoroutine      *caller;      /* who entered it last; NULL: a main stack */
  QvmCoroutineState  state;
  /* Work queued to run on the main stack once this coroutine has switched
   * out (await's start function, a task's last unref): a queue of
   * QvmCoroutineDeferred, run by the enter() that gets control back. */
  GQueue             deferred;
};

/* Allocates a coroutine whose stack holds at least @stack_size bytes (not 0:
 * the caller resolved the default), zero-filled apart from the backend's own
 * state. Aborts like g_malloc() when memory, mappings or threads run out. */
QvmCoroutine *qvm_coroutine_backend_new (gsize stack_size);

/* Switches from @from (NULL: the calling thread's main stack) to @to (NULL:
 * the main stack of the thread that entered @from). Returns when something
 * switches back to @from; for TERMINATE, only if the backend reuses the
 * coroutine for another body (the ucontext stack pool does). */
void qvm_coroutine_backend_switch (QvmCoroutine       *from,
                                   QvmCoroutine       *to,
                                   QvmCoroutineSwitch  action);

/* Frees a FINISHED (or never entered) coroutine. Called on a main stack or
 * from another coroutine, never from @co itself. */
void qvm_coroutine_backend_free (QvmCoroutine *co);

/* The backend's name, "ucontext" or "gthread". */
const char *qvm_coroutine_backend_name (void);

/* For backends: the body of a coroutine, to call on its own stack (or
 * thread) the first time it is entered. Makes @co the current coroutine,
 * runs co->func, marks it FINISHED; the backend then switches away with
 * TERMINATE. */
void qvm_coroutine_run_body (QvmCoroutine *co);

G_END_DECLS
