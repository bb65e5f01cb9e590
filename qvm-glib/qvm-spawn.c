/* qvm-spawn.c: child processes that die with the library's process
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * PR_SET_PDEATHSIG sends a signal to the child when its parent *thread*
 * ends. Spawning from whatever thread asked (a coroutine's thread under
 * the gthread backend, a thread running its own main context) could kill
 * QEMU long before its owner ends, so every spawn is done by one thread
 * that is never joined: it ends only with the process.
 */

#define _GNU_SOURCE
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "qvm-spawn-private.h"

typedef struct {
  GSubprocessLauncher *launcher;
  char               **argv;
} SpawnRequest;

static void
spawn_request_free (gpointer data)
{
  SpawnRequest *request = data;

  g_object_unref (request->launcher);
  g_strfreev (request->argv);
  g_free (request);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void
die_with_owner (gpointer data)
{
  pid_t owner = GPOINTER_TO_INT (data);

  sigset_t none;

  /* The spawning thread blocks every signal (it must never take one meant
   * for the process); QEMU must start with none blocked, or it would
   * ignore SIGTERM. */
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* A process group of its own: a Ctrl-C on the owner's terminal is the
   * owner's to handle (a shutdown, say), not a SIGINT that kills QEMU. */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The owner died before the line above took effect: nobody would
   * ever send the signal. */
  if (getppid () != owner)
    _exit (127);
}

static gpointer
spawner_main (gpointer data)
{
  GAsyncQueue *queue = data;
  sigset_t all;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, NULL);
  for (;;)
    {
      g_autoptr(GTask) task = g_async_queue_pop (queue);
      SpawnRequest *request = g_task_get_task_data (task);
      GError *error = NULL;
      GSubprocess *process;

      process = g_subprocess_launcher_spawnv (request->launcher,
                                              (const char * const *) request->argv, &error);
      if (process != NULL)
        g_task_return_pointer (task, process, g_object_unref);
      else
        g_task_return_error (task, error);
    }
  return NULL;
}

static GAsyncQueue *
get_spawner_queue (void)
{
  static GAsyncQueue *queue;

  if (g_once_init_enter (&queue))
    {
      GAsyncQueue *new_queue = g_async_queue_new ();

      /* Never joined: the thread must live as long as the process. */
      g_thread_unref (g_thread_new ("qvm-spawner", spawner_main, new_queue));
      g_once_init_leave (&queue, new_queue);
    }
  return queue;
}

void
qvm_spawn_tied_async (GSubprocessLauncher  *launcher,
                      const char * const   *argv,
                      GAsyncReadyCallback   callback,
                      gpointer              user_data)
{
  GTask *task;
  SpawnRequest *request;

  g_return_if_fail (G_IS_SUBPROCESS_LAUNCHER (launcher));
  g_return_if_fail (argv != NULL && argv[0] != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, qvm_spawn_tied_async);
  request = g_new0 (SpawnRequest, 1);
  request->launcher = g_object_ref (launcher);
  request->argv = g_strdupv ((char **) argv);
  g_task_set_task_data (task, request, spawn_request_free);

  g_subprocess_launcher_set_child_setup (launcher, die_with_owner, GINT_TO_POINTER (getpid ()), NULL);
  g_async_queue_push (get_spawner_queue (), task);
}

GSubprocess *
qvm_spawn_tied_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == qvm_spawn_tied_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
