/* qemu-watchdog.c: runs QEMU for a test, and kills it if the test dies
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   qemu-watchdog QEMU-ARGUMENTS...
 *
 * Tests give this program to QvmVirtualMachine as its QEMU binary. It
 * becomes qemu-system-x86_64 ($QVM_TEST_REAL_QEMU if set) with exec, so the
 * library sees, signals and reaps QEMU itself, with every descriptor it
 * passed. Before that it forks a watchdog that has closed every descriptor
 * (so it holds no pipe or QMP socket open) and kills QEMU once the test
 * process is gone: a test that crashes or aborts leaves no QEMU behind.
 * The watchdog dies with QEMU (PR_SET_PDEATHSIG on its parent, which is
 * QEMU after the exec).
 *
 * PR_SET_PDEATHSIG on QEMU itself would follow the thread that spawned it,
 * which with the library's GThread coroutine backend may end long before
 * the test does.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void
watch (pid_t test, pid_t qemu)
{
  syscall (SYS_close_range, 0U, ~0U, 0U);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* QEMU may have failed to start before the line above. */
  if (getppid () != qemu)
    _exit (0);

  for (;;)
    {
      if (kill (test, 0) != 0 && errno == ESRCH)
        {
          kill (qemu, SIGKILL);
          _exit (0);
        }
      sleep (1);
    }
}

int
main (int argc, char *argv[])
{
  const char *qemu = getenv ("QVM_TEST_REAL_QEMU");
  pid_t test = getppid ();
  pid_t self = getpid ();
  pid_t watchdog;

  if (qemu == NULL || *qemu == '\0')
    qemu = "qemu-system-x86_64";

  watchdog = fork ();
  if (watchdog == 0)
    watch (test, self);
  if (watchdog < 0)
    {
      fprintf (stderr, "qemu-watchdog: fork: %s\n", strerror (errno));
      return 1;
    }

  argv[0] = (char *) qemu;
  execvp (qemu, argv);
  fprintf (stderr, "qemu-watchdog: %s: %s\n", qemu, strerror (errno));
  return 127;
}
