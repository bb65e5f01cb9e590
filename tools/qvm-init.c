/* qvm-init.c: qvm as the init of a PID namespace
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Orphans are reparented to the PID namespace's init. libslirp starts one
 * metadata helper per guest connection with a double fork, so each helper
 * is such an orphan; when qvm itself is that init, a GLib program that
 * reaps only its own GSubprocesses, every request would leave a zombie.
 * Reaping everything with waitpid(-1) inside qvm would steal the exit
 * status of the children GLib watches, so qvm splits in two, as tini and
 * `docker run --init` do: a tiny init that only reaps and forwards
 * signals, and qvm proper as its one child.
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qvm-init.h"

static const int waited_signals[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Init ignores a signal left at its default action; with a handler, even
 * an empty one, the kernel delivers it. sigwaitinfo() takes it first. */
static void
ignore_signal (int signum)
{
}

static void
block_signals (sigset_t *waited,
               sigset_t *previous)
{
  sigemptyset (waited);
  for (gsize i = 0; i < G_N_ELEMENTS (waited_signals); i++)
    {
      struct sigaction action = { .sa_handler = ignore_signal };

      sigaddset (waited, waited_signals[i]);
      sigaction (waited_signals[i], &action, NULL);
    }
  sigprocmask (SIG_BLOCK, waited, previous);
}

/* What the shell reports for @wait_status: the exit code, or 128 plus the
 * signal that killed the child. */
static int
status_of (int wait_status)
{
  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  return 128 + WTERMSIG (wait_status);
}

/* Reaps every child that has ended; TRUE when @child was among them. */
static gboolean
reap_all (pid_t  child,
          int   *status)
{
  gboolean child_ended = FALSE;
  int wait_status;
  pid_t pid;

  while ((pid = waitpid (-1, &wait_status, WNOHANG)) > 0)
    {
      if (pid == child)
        {
          *status = status_of (wait_status);
          child_ended = TRUE;
        }
    }
  return child_ended;
}

static int
supervise (pid_t           child,
           const sigset_t *waited)
{
  int status = EXIT_FAILURE;

  for (;;)
    {
      siginfo_t info;
      int signum = sigwaitinfo (waited, &info);

      if (signum < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("qvm: init: sigwaitinfo");
          kill (child, SIGKILL);
          signum = SIGCHLD;
        }
      if (signum != SIGCHLD)
        kill (child, signum);
      else if (reap_all (child, &status))
        return status;
    }
}

gboolean
qvm_init_supervise_if_pid1 (int *status)
{
  sigset_t waited, previous;
  pid_t child;

  if (getpid () != 1)
    return FALSE;

  /* Blocked before the fork, so that no SIGCHLD is lost in between. */
  block_signals (&waited, &previous);
  child = fork ();
  if (child < 0)
    {
      perror ("qvm: init: fork");
      sigprocmask (SIG_SETMASK, &previous, NULL);
      return FALSE; /* go on as qvm, with zombies rather than not at all */
    }
  if (child == 0)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (waited_signals); i++)
        signal (waited_signals[i], SIG_DFL);
      sigprocmask (SIG_SETMASK, &previous, NULL);
      return FALSE;
    }

  *status = supervise (child, &waited);
  return TRUE;
}
