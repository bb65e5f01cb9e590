/* qvm-coroutine-ucontext.c: the ucontext coroutine backend
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each coroutine gets an mmap'd stack with a PROT_NONE guard page below it,
 * so an overflow faults instead of corrupting the neighbouring memory.
 * makecontext()/setcontext() are used once, to start the trampoline on the
 * new stack; every later switch is a sigsetjmp()/siglongjmp() pair that does
 * not save the signal mask, which spares swapcontext()'s sigprocmask system
 * call on every switch.
 *
 * Finished coroutines of the default stack size go to a small pool with
 * their trampoline still waiting in its loop, so spawning one is a few
 * stores and a jump.
 */

/* glibc's fortified longjmp refuses to jump "up" to a frame it believes
 * uninitialised, which is exactly what a jump to another stack looks like. */
#undef _FORTIFY_SOURCE

#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
# include <valgrind/valgrind.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
# define QVM_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define QVM_ASAN 1
# endif
#endif

#ifdef QVM_ASAN
# ifndef HAVE_SANITIZER_COMMON_INTERFACE_DEFS_H
#  error "AddressSanitizer build without <sanitizer/common_interface_defs.h>: use -Dcoroutine=gthread"
# endif
# include <sanitizer/asan_interface.h>
# include <sanitizer/common_interface_defs.h>
#endif

#include "qvm-coroutine-backend-private.h"

/* How many finished default-size coroutines are kept for reuse. */
#define POOL_MAX 64

typedef struct {
  QvmCoroutine  base;
  sigjmp_buf    env;               /* where to resume it */
  void         *fake_stack;        /* ASan's fake stack while switched out */
  guint8       *mapping;           /* guard page, then the stack */
  gsize         mapping_size;
  guint8       *stack;             /* lowest usable address */
  gsize         stack_size;
  const void   *caller_stack;      /* ASan: bounds of the stack that entered it */
  size_t        caller_stack_size;
  unsigned int  valgrind_stack_id;
  sigjmp_buf   *creator_env;       /* only while it is being created */
} QvmCoroutineUcontext;

/* A thread's main stack, the other end of a switch to or from NULL. */
typedef struct {
  sigjmp_buf  env;
  void       *fake_stack;
} QvmLeader;

static __thread QvmLeader leader;

G_LOCK_DEFINE_STATIC (pool);
static GSList *pool;
static guint pool_length;

const char *
qvm_coroutine_backend_name (void)
{
  return "ucontext";
}

static inline void
asan_start_switch (void      **fake_stack_save,
                   const void *bottom,
                   size_t      size)
{
#ifdef QVM_ASAN
  __sanitizer_start_switch_fiber (fake_stack_save, bottom, size);
#endif
}

static inline void
asan_finish_switch (void        *fake_stack_save,
                    const void **bottom_old,
                    size_t      *size_old)
{
#ifdef QVM_ASAN
  __sanitizer_finish_switch_fiber (fake_stack_save, bottom_old, size_old);
#endif
}

/* Saves where we are in @from_env and jumps to @to_env. Returns when
 * something jumps back to @from_env: this frame stays alive on the stack we
 * leave, so the second return of sigsetjmp() is valid. Kept out of line
 * so that no caller's variable lives across the sigsetjmp(). */
static __attribute__((noinline)) void
jump (sigjmp_buf *from_env,
      void      **fake_stack_save,
      const void *to_stack,
      size_t      to_stack_size,
      sigjmp_buf *to_env)
{
  if (sigsetjmp (*from_env, 0) == 0)
    {
      asan_start_switch (fake_stack_save, to_stack, to_stack_size);
      siglongjmp (*to_env, 1);
    }
}

void
qvm_coroutine_backend_switch (QvmCoroutine       *from,
                              QvmCoroutine       *to,
                              QvmCoroutineSwitch  action)
{
  QvmCoroutineUcontext *ufrom = (QvmCoroutineUcontext *) from;
  QvmCoroutineUcontext *uto = (QvmCoroutineUcontext *) to;
  sigjmp_buf *from_env = ufrom != NULL ? &ufrom->env : &leader.env;
  void **from_fake_stack = ufrom != NULL ? &ufrom->fake_stack : &leader.fake_stack;
  sigjmp_buf *to_env = uto != NULL ? &uto->env : &leader.env;

  if (action == QVM_COROUTINE_SWITCH_ENTER)
    {
      jump (from_env, from_fake_stack, uto->stack, uto->stack_size, to_env);
      /* Back because @to yielded or finished. */
      asan_finish_switch (*from_fake_stack, NULL, NULL);
    }
  else
    {
      /* A terminating coroutine's fake stack is dropped (NULL): if the pool
       * reuses the coroutine, it starts afresh. */
      if (action == QVM_COROUTINE_SWITCH_TERMINATE)
        *from_fake_stack = NULL;
      jump (from_env, action == QVM_COROUTINE_SWITCH_TERMINATE ? NULL : from_fake_stack,
            ufrom->caller_stack, ufrom->caller_stack_size, to_env);
      /* Entered again: note which stack entered us this time, the one the
       * next yield goes back to. */
      asan_finish_switch (*from_fake_stack, &ufrom->caller_stack, &ufrom->caller_stack_size);
    }
}

/* The first function on a new stack. makecontext() passes int arguments
 * only, so the pointer comes in two halves. */
static void
trampoline (unsigned int low,
            unsigned int high)
{
  QvmCoroutineUcontext *co = (QvmCoroutineUcontext *) (uintptr_t) (((guint64) high << 32) | low);
  sigjmp_buf *creator_env = co->creator_env;

  asan_finish_switch (NULL, &co->caller_stack, &co->caller_stack_size);

  /* Park here and go back to the creator; the first enter() resumes us. */
  if (sigsetjmp (co->env, 0) == 0)
    {
      asan_start_switch (&co->fake_stack, co->caller_stack, co->caller_stack_size);
      siglongjmp (*creator_env, 1);
    }
  asan_finish_switch (co->fake_stack, &co->caller_stack, &co->caller_stack_size);

  /* Each turn runs one body; a pooled coroutine comes back out of the
   * TERMINATE switch to run the next one. */
  for (;;)
    {
      qvm_coroutine_run_body (&co->base);
      qvm_coroutine_backend_switch (&co->base, co->base.caller, QVM_COROUTINE_SWITCH_TERMINATE);
    }
}

static void
start_trampoline (QvmCoroutineUcontext *co)
{
  ucontext_t uc;
  sigjmp_buf creator_env;
  guint64 address = (uintptr_t) co;
  void *fake_stack = NULL;

  if (getcontext (&uc) != 0)
    g_error ("qvm-coroutine: getcontext() failed: %s", g_strerror (errno));
  uc.uc_link = NULL;
  uc.uc_stack.ss_sp = co->stack;
  uc.uc_stack.ss_size = co->stack_size;
  uc.uc_stack.ss_flags = 0;
  makecontext (&uc, (void (*) (void)) trampoline, 2,
               (unsigned int) (address & 0xffffffffu), (unsigned int) (address >> 32));

  /* setcontext(), not swapcontext(): the trampoline comes back with a
   * siglongjmp(), and ASan warns about (and does not need) the latter. */
  co->creator_env = &creator_env;
  if (sigsetjmp (creator_env, 0) == 0)
    {
      asan_start_switch (&fake_stack, co->stack, co->stack_size);
      setcontext (&uc);
      g_error ("qvm-coroutine: setcontext() failed: %s", g_strerror (errno));
    }
  asan_finish_switch (fake_stack, NULL, NULL);
  co->creator_env = NULL;
}

static QvmCoroutineUcontext *
pool_take (gsize stack_size)
{
  QvmCoroutineUcontext *co = NULL;

  if (stack_size != qvm_coroutine_get_default_stack_size ())
    return NULL;

  G_LOCK (pool);
  if (pool != NULL)
    {
      co = pool->data;
      pool = g_slist_delete_link (pool, pool);
      pool_length--;
    }
  G_UNLOCK (pool);

  return co;
}

static gboolean
pool_put (QvmCoroutineUcontext *co)
{
  gboolean kept = FALSE;

  if (co->stack_size != qvm_coroutine_get_default_stack_size ())
    return FALSE;

  G_LOCK (pool);
  if (pool_length < POOL_MAX)
    {
      pool = g_slist_prepend (pool, co);
      pool_length++;
      kept = TRUE;
    }
  G_UNLOCK (pool);

  return kept;
}

QvmCoroutine *
qvm_coroutine_backend_new (gsize stack_size)
{
  QvmCoroutineUcontext *co = pool_take (stack_size);
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  if (co != NULL)
    {
      memset (&co->base, 0, sizeof co->base);
      return &co->base;
    }

  co = g_new0 (QvmCoroutineUcontext, 1);
  co->stack_size = stack_size;
  co->mapping_size = stack_size + page;
  co->mapping = mmap (NULL, co->mapping_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (co->mapping == MAP_FAILED)
    g_error ("qvm-coroutine: cannot map a stack of %" G_GSIZE_FORMAT " bytes: %s",
             co->mapping_size, g_strerror (errno));

  /* Stacks grow down on every architecture we build for: the guard page
   * goes below. */
  if (mprotect (co->mapping, page, PROT_NONE) != 0)
    g_error ("qvm-coroutine: cannot protect a stack guard page: %s", g_strerror (errno));
  co->stack = co->mapping + page;
#ifdef QVM_ASAN
  /* The address may have held an earlier stack whose shadow is stale. */
  ASAN_UNPOISON_MEMORY_REGION (co->stack, co->stack_size);
#endif

#ifdef HAVE_VALGRIND_VALGRIND_H
  co->valgrind_stack_id = VALGRIND_STACK_REGISTER (co->stack, co->stack + co->stack_size);
#endif

  start_trampoline (co);
  return &co->base;
}

void
qvm_coroutine_backend_free (QvmCoroutine *base)
{
  QvmCoroutineUcontext *co = (QvmCoroutineUcontext *) base;

  if (pool_put (co))
    return;

#ifdef HAVE_VALGRIND_VALGRIND_H
  VALGRIND_STACK_DEREGISTER (co->valgrind_stack_id);
#endif
  munmap (co->mapping, co->mapping_size);
  g_free (co);
}
