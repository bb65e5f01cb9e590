/* qvm-vm-stop.c: how a QvmVirtualMachine ends
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Whoever ends the machine first (the caller's kill, a start failure, a
 * guest failure seen over QMP, a shutdown that timed out) records why with
 * qvm_vm_end(), which kills QEMU; QEMU exiting by itself is explained by
 * teardown_co from its exit status, the last SHUTDOWN event and the phase
 * it exited in. teardown_co waits for QEMU to exit and for its last
 * output, decides the outcome, closes QMP, and finish_done() releases the
 * network, the image and the socket folder and emits "done" from the main
 * stack, in that order. Pause, resume, kill and
 * shutdown are here too: they change where the guest is going.
 */

#define _GNU_SOURCE
#include "config.h"

#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "qvm-console-private.h"
#include "qvm-coroutine-gio-private.h"
#include "qvm-coroutine-private.h"
#include "qvm-enum-types.h"
#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-vm-private.h"

/* After QEMU exited, how long its output may take to drain. Helpers it
 * started (a network's guestfwd commands) could keep the pipes open. */
#define OUTPUT_GRACE_MS 1000

/* A dying process closes its descriptors (QMP's socket) before it becomes
 * a zombie: in between, the kernel marks it PF_EXITING. */
#define QVM_PF_EXITING 0x00000004

static gboolean
qemu_is_exiting (const char *pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *stat = NULL;
  const char *field;
  guint64 flags;

  if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
    return TRUE;   /* gone */
  /* The fields after the command's name: state ppid pgrp session tty_nr
   * tpgid flags. */
  field = strrchr (stat, ')');
  if (field == NULL)
    return FALSE;
  for (int i = 0; i < 7 && field != NULL; i++)
    field = strchr (field + 1, ' ');
  if (field == NULL)
    return FALSE;
  flags = g_ascii_strtoull (field + 1, NULL, 10);
  return (flags & QVM_PF_EXITING) != 0;
}

/* Whether @qemu has exited, reaped or not: looked at without reaping it,
 * so that GSubprocess still sees its exit status. */
static gboolean
qemu_has_died (GSubprocess *qemu)
{
  const char *identifier = g_subprocess_get_identifier (qemu);
  siginfo_t info;

  if (identifier == NULL)
    return TRUE;
  memset (&info, 0, sizeof info);
  if (waitid (P_PID, (id_t) atoi (identifier), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return TRUE;   /* already reaped */
  if (info.si_pid != 0)
    return TRUE;
  return qemu_is_exiting (identifier);
}

/* Records why the machine ends (the first caller wins) and makes it end:
 * QEMU is killed, or, when it never ran, the teardown starts at once.
 * Takes @error (nullable). */
void
qvm_vm_end (QvmVirtualMachine *self,
            QvmVmDoneReason    reason,
            GError            *error)
{
  QvmVmPhase before = self->phase;

  if (self->end_reason == QVM_VM_DONE_REASON_NONE)
    {
      self->end_reason = reason;
      self->end_error = error;
      g_debug ("%s: ending (%s%s%s)", self->id,
               g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_DONE_REASON), reason)->value_nick,
               error ? ": " : "", error ? error->message : "");
    }
  else
    {
      g_clear_error (&error);
    }

  if (before == QVM_VM_PHASE_RELEASING || before == QVM_VM_PHASE_DONE)
    return;

  if (!qvm_vm_phase_is_ending (before))
    qvm_vm_set_phase (self, QVM_VM_PHASE_STOPPING);
  if (qvm_vm_qemu_running (self))
    {
      /* A QEMU that already died (its exit not seen yet) was not killed
       * by this SIGKILL: its own exit explains the end. */
      if (self->phase == QVM_VM_PHASE_STOPPING && !qemu_has_died (self->qemu))
        qvm_vm_set_phase (self, QVM_VM_PHASE_KILLING);
      g_subprocess_force_exit (self->qemu);
    }
  else if (before == QVM_VM_PHASE_CREATED)
    {
      /* Never started: nothing to wait for. A start in progress
       * (SPAWNING) notices the end once its spawn returns. */
      qvm_vm_begin_teardown (self);
    }
}

static char *
describe_exit (GSubprocess *qemu)
{
  if (g_subprocess_get_if_signaled (qemu))
    {
      int signum = g_subprocess_get_term_sig (qemu);
      return g_strdup_printf (_("was killed by signal %d (%s)"), signum, g_strsignal (signum));
    }
  return g_strdup_printf (_("exited with status %d"), g_subprocess_get_exit_status (qemu));
}

/* Appends QEMU's last stderr lines to @error's message, if there are any. */
static void
append_stderr_tail (QvmVirtualMachine *self,
                    GError            *error)
{
  g_autoptr(GString) message = NULL;

  if (g_queue_is_empty (&self->stderr_tail))
    return;

  message = g_string_new (error->message);
  g_string_append (message, _("\nLast lines QEMU printed:"));
  for (GList *l = self->stderr_tail.head; l != NULL; l = l->next)
    {
      g_string_append (message, "\n  ");
      g_string_append (message, l->data);
    }

  g_free (error->message);
  error->message = g_string_free (g_steal_pointer (&message), FALSE);
}

/* Once QEMU is gone (or never ran): the reason and error the caller sees. */
static void
decide_outcome (QvmVirtualMachine  *self,
                QvmVmPhase          exit_phase,
                QvmVmDoneReason    *out_reason,
                GError            **out_error)
{
  const char *shutdown_reason = NULL;
  gboolean shutdown_by_guest = FALSE;
  g_autofree char *exit_text = NULL;
  gboolean exited_by_itself;
  gboolean clean_exit;
  GError *error = NULL;

  if (self->qemu == NULL)
    {
      /* Killed, shut down or failed before QEMU was spawned. */
      *out_reason = self->end_reason;
      *out_error = g_steal_pointer (&self->end_error);
      return;
    }

  exit_text = describe_exit (self->qemu);
  exited_by_itself = !(exit_phase == QVM_VM_PHASE_KILLING && g_subprocess_get_if_signaled (self->qemu) &&
                       g_subprocess_get_term_sig (self->qemu) == SIGKILL);
  clean_exit = g_subprocess_get_if_exited (self->qemu) &&
               g_subprocess_get_exit_status (self->qemu) == 0;

  if (self->shutdown_event != NULL)
    {
      shutdown_reason = json_object_get_string_member_with_default (self->shutdown_event,
                                                                    "reason", NULL);
      shutdown_by_guest = json_object_get_boolean_member_with_default (self->shutdown_event,
                                                                       "guest", FALSE);
    }

  if (self->end_reason == QVM_VM_DONE_REASON_FAILED && exited_by_itself && !clean_exit)
    {
      /* The start failed because QEMU went away: its exit explains more
       * than the broken QMP connection. */
      g_clear_error (&self->end_error);
      self->end_error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                                     _("QEMU %s before the virtual machine started"), exit_text);
    }

  if (self->end_reason != QVM_VM_DONE_REASON_NONE)
    {
      *out_reason = self->end_reason;
      error = g_steal_pointer (&self->end_error);
    }
  else if (clean_exit && self->shutdown_event != NULL &&
           (shutdown_by_guest || g_strcmp0 (shutdown_reason, "host-qmp-quit") == 0))
    {
      /* The guest powered off, or the caller said "quit" over QMP. */
      if (exit_phase == QVM_VM_PHASE_SHUTTING_DOWN ||
          g_strcmp0 (shutdown_reason, "host-qmp-quit") == 0)
        *out_reason = QVM_VM_DONE_REASON_SHUTDOWN;
      else
        *out_reason = QVM_VM_DONE_REASON_POWEROFF;
    }
  else if (!qvm_vm_phase_has_guest (exit_phase))
    {
      *out_reason = QVM_VM_DONE_REASON_FAILED;
      error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU %s before the virtual machine started"), exit_text);
    }
  else if (clean_exit && self->shutdown_event != NULL)
    {
      *out_reason = QVM_VM_DONE_REASON_CRASHED;
      error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU was stopped from outside (%s)"),
                           shutdown_reason ? shutdown_reason : "?");
    }
  else
    {
      *out_reason = QVM_VM_DONE_REASON_CRASHED;
      error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU %s unexpectedly"), exit_text);
    }

  if (error != NULL && (error->domain == QVM_ERROR &&
                        (error->code == QVM_ERROR_QEMU_FAILED ||
                         error->code == QVM_ERROR_GUEST_FAILED)))
    append_stderr_tail (self, error);

  *out_error = error;
}

/* Ends the use of the image and the network, which the machine owns from
 * CREATED on: called once, on the way to DONE. */
void
qvm_vm_release_resources (QvmVirtualMachine *self)
{
  if (self->phase == QVM_VM_PHASE_NEW || self->phase == QVM_VM_PHASE_DONE)
    return;

  qvm_network_release (self->network);
  /* An image another user holds stays theirs. */
  if (self->image_use != QVM_VM_IMAGE_REFUSED)
    qvm_image_release (self->image);
}

typedef struct {
  QvmVirtualMachine *vm;
  QvmVmDoneReason    reason;
  GError            *error;
} DoneData;

static void
done_data_free (gpointer data)
{
  DoneData *done = data;

  g_clear_error (&done->error);
  g_object_unref (done->vm);
  g_free (done);
}

/* The end, on the main stack: network, image, folder, then "done". */
static gboolean
finish_done (gpointer data)
{
  DoneData *done = data;
  QvmVirtualMachine *self = done->vm;
  g_autoptr(GObject) keep_alive = g_object_ref (G_OBJECT (self));

  g_assert (self->phase == QVM_VM_PHASE_RELEASING);

  g_cancellable_cancel (self->qmp_watch_cancellable);
  qvm_vm_release_resources (self);

  /* Only QEMU's sockets live there. Someone may have removed it under the
   * running machine: then there is nothing left to do. */
  if (self->socket_folder != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!qvm_fs_remove_tree (self->socket_folder, &error))
        g_warning ("%s: %s", self->id, error->message);
    }
  /* Only once the folder is gone: a sweeper may take an unlocked one. */
  if (self->socket_folder_lock >= 0)
    {
      close (self->socket_folder_lock);
      self->socket_folder_lock = -1;
    }

  g_object_freeze_notify (G_OBJECT (self));

  qvm_vm_set_phase (self, QVM_VM_PHASE_DONE);
  self->done_reason = done->reason;
  self->error = g_steal_pointer (&done->error);
  self->state = QVM_VM_STATE_DONE;

  if (self->qmp != NULL)
    {
      g_clear_signal_handler (&self->qmp_event_handler, self->qmp);
      g_clear_signal_handler (&self->qmp_closed_handler, self->qmp);
      g_clear_object (&self->qmp);
      g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_QMP_CLIENT]);
    }
  if (self->vnc_socket != NULL)
    {
      g_clear_pointer (&self->vnc_socket, g_free);
      g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_VNC_SOCKET]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_DONE_REASON]);

  g_object_thaw_notify (G_OBJECT (self));

  /* Its readers and waits end before "done" is heard. */
  if (self->console != NULL)
    qvm_console_end (self->console, self->error);

  if (self->error != NULL)
    g_debug ("%s: done (%s)", self->id, self->error->message);
  else
    g_debug ("%s: done", self->id);

  g_signal_emit (self, qvm_vm_signals[QVM_VM_SIGNAL_DONE],
                 g_quark_from_static_string (g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_DONE_REASON),
                                                               self->done_reason)->value_nick));
  /* QvmVmState's promise: DONE is notified once "done" has been emitted
   * (its handlers already read DONE). */
  g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_STATE]);

  if (self->start_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->start_task);

      if (self->start_cancel_source != NULL)
        {
          g_source_destroy (self->start_cancel_source);
          g_clear_pointer (&self->start_cancel_source, g_source_unref);
        }
      if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 _("Starting the virtual machine was cancelled"));
      else if (self->error != NULL)
        g_task_return_error (task, g_error_copy (self->error));
      else
        g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_CLOSED,
                                 _("The virtual machine shut down before it started"));
    }

  qvm_wait_queue_wake_all (&self->done_queue);

  return G_SOURCE_REMOVE;
}

/* ---- Waiting for things, from coroutines ----------------------------------- */

/* Waits until "done" was emitted (TRUE) or @timeout_ms passed (FALSE);
 * 0 waits as long as it takes. */
static gboolean
wait_done (QvmVirtualMachine *self,
           guint              timeout_ms)
{
  while (self->phase != QVM_VM_PHASE_DONE)
    if (!qvm_wait_queue_wait (&self->done_queue, timeout_ms > 0 ? (int) timeout_ms : -1,
                              NULL, NULL))
      return FALSE;
  return TRUE;
}

void
qvm_vm_readers_finished (QvmVirtualMachine *self)
{
  qvm_wait_queue_wake_all (&self->readers_queue);
}

/* Waits until QEMU's stdout and stderr reached their end; after
 * OUTPUT_GRACE_MS whatever is still unread is lost: the readers stop. */
static void
wait_readers (QvmVirtualMachine *self)
{
  int timeout_ms = OUTPUT_GRACE_MS;

  while (self->readers_open > 0)
    if (!qvm_wait_queue_wait (&self->readers_queue, timeout_ms, NULL, NULL))
      {
        g_cancellable_cancel (self->readers_cancellable);
        timeout_ms = -1;
      }
}

/* QEMU's last QMP events (its SHUTDOWN) explain its exit, and the reader
 * dispatches them before the end of the connection: wait for that end, at
 * most OUTPUT_GRACE_MS. */
static void
wait_qmp_closed (QvmVirtualMachine *self)
{
  while (self->qmp != NULL && self->qmp_closed_handler != 0)
    if (!qvm_wait_queue_wait (&self->qmp_closed_queue, OUTPUT_GRACE_MS, NULL, NULL))
      break;
}

/* ---- Teardown ---------------------------------------------------------------- */

/* Started once: right after QEMU is spawned, or when the machine ends
 * before that (qvm_vm_end() from CREATED, start_co otherwise). */
static void
teardown_co (gpointer data)
{
  QvmVirtualMachine *self = data;
  DoneData *done = g_new0 (DoneData, 1);
  QvmVmPhase exit_phase = self->phase;

  if (self->qemu != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *exit_text = NULL;

      if (!qvm_await_subprocess_wait (self->qemu, NULL, &error))
        g_warning ("%s: waiting for QEMU: %s", self->id, error->message);
      exit_text = describe_exit (self->qemu);
      g_debug ("%s: QEMU %s", self->id, exit_text);
      exit_phase = self->phase;
      if (!qvm_vm_phase_is_ending (self->phase))
        qvm_vm_set_phase (self, QVM_VM_PHASE_STOPPING);
      wait_readers (self);
      wait_qmp_closed (self);
    }

  decide_outcome (self, exit_phase, &done->reason, &done->error);

  if (self->qmp != NULL)
    qvm_qmp_client_await_close (self->qmp, NULL, NULL);
  if (self->qmp_connection != NULL)
    {
      g_io_stream_close (G_IO_STREAM (self->qmp_connection), NULL, NULL);
      g_clear_object (&self->qmp_connection);
    }

  /* The rest calls into the network and image implementations and emits
   * signals: the main stack's job. */
  qvm_vm_set_phase (self, QVM_VM_PHASE_RELEASING);
  done->vm = self;   /* takes the coroutine's reference */
  qvm_coroutine_invoke_later (self->context, finish_done, done, done_data_free);
}

void
qvm_vm_begin_teardown (QvmVirtualMachine *self)
{
  qvm_coroutine_spawn (teardown_co, g_object_ref (self));
}

static void
pause_co (GTask        *task,
          gpointer      source_object,
          gpointer      task_data,
          GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  gboolean pause = GPOINTER_TO_INT (task_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = NULL;

  if (!qvm_vm_check_running (self, &error))
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  answer = qvm_vm_execute (self, pause ? "stop" : "cont", NULL, cancellable, &error);
  if (answer == NULL)
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* A machine being shut down stays in that phase, paused or not. */
  if (self->phase == QVM_VM_PHASE_RUNNING || self->phase == QVM_VM_PHASE_PAUSED)
    qvm_vm_set_phase (self, pause ? QVM_VM_PHASE_PAUSED : QVM_VM_PHASE_RUNNING);
  qvm_task_return_boolean (task, TRUE);
}

/* Runs pause_co for pause_async (@pause) or resume_async. */
static void
run_pause_task (QvmVirtualMachine   *vm,
                gboolean             pause,
                gpointer             source_tag,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  qvm_vm_run_task (vm, source_tag, GINT_TO_POINTER (pause), pause_co,
                   cancellable, callback, user_data);
}

/* The _finish of an operation that returns a boolean, its tag checked. */
static gboolean
finish_boolean (QvmVirtualMachine  *vm,
                GAsyncResult       *result,
                gpointer            source_tag,
                GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qvm_virtual_machine_pause_async:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the guest is paused
 * @user_data: data for @callback
 *
 * Pauses the guest (QMP `stop`): its CPUs stop, QEMU and VNC keep running.
 * Fails with %QVM_ERROR_INVALID_STATE unless the machine runs or is
 * paused.
 */
void
qvm_virtual_machine_pause_async (QvmVirtualMachine   *vm,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  run_pause_task (vm, TRUE, qvm_virtual_machine_pause_async, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_pause_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.pause_async].
 *
 * Returns: %TRUE once the guest is paused
 */
gboolean
qvm_virtual_machine_pause_finish (QvmVirtualMachine  *vm,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  return finish_boolean (vm, result, qvm_virtual_machine_pause_async, error);
}

/**
 * qvm_virtual_machine_resume_async:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the guest runs again
 * @user_data: data for @callback
 *
 * Lets a paused guest run again (QMP `cont`). Fails with
 * %QVM_ERROR_INVALID_STATE unless the machine runs or is paused.
 */
void
qvm_virtual_machine_resume_async (QvmVirtualMachine   *vm,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  run_pause_task (vm, FALSE, qvm_virtual_machine_resume_async, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_resume_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.resume_async].
 *
 * Returns: %TRUE once the guest runs again
 */
gboolean
qvm_virtual_machine_resume_finish (QvmVirtualMachine  *vm,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  return finish_boolean (vm, result, qvm_virtual_machine_resume_async, error);
}

/**
 * qvm_virtual_machine_kill:
 * @vm: a virtual machine
 *
 * Kills QEMU (SIGKILL) and ends the machine: [signal@Qvm.VirtualMachine::done]
 * follows, with %QVM_ERROR_KILLED unless the machine had already ended for
 * another reason. Safe in every state and more than once; before the start
 * no QEMU is spawned, and "done" is still emitted once (from the main
 * loop, never from inside this call).
 */
void
qvm_virtual_machine_kill (QvmVirtualMachine *vm)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  /* One whose construction failed never lived: nothing to end. */
  if (vm->phase == QVM_VM_PHASE_DONE || vm->phase == QVM_VM_PHASE_NEW)
    return;

  qvm_vm_end (vm, QVM_VM_DONE_REASON_KILLED,
          g_error_new (QVM_ERROR, QVM_ERROR_KILLED, _("The virtual machine was killed")));
}

/* Returns the outcome of a shutdown once the machine is done: TRUE only
 * when the guest powered itself off (or never ran). */
static void
return_shutdown_outcome (QvmVirtualMachine *self,
                         GTask             *task)
{
  if (self->done_reason == QVM_VM_DONE_REASON_SHUTDOWN)
    qvm_task_return_boolean (task, TRUE);
  else if (self->error != NULL)
    g_task_return_error (task, g_error_copy (self->error));
  else
    g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_FAILED,
                             _("The virtual machine ended before it could shut down"));
}

/* Asks the guest to power off and waits up to @timeout_ms; kills it then.
 * Cancelled meanwhile, the machine goes back to the phase it was in (the
 * guest may still act on the power button) and the task is not returned:
 * FALSE. */
static gboolean
power_down (QvmVirtualMachine *self,
            guint              timeout_ms,
            GCancellable      *cancellable,
            GError           **error)
{
  QvmVmPhase before = self->phase;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) answer = NULL;

  qvm_vm_set_phase (self, QVM_VM_PHASE_SHUTTING_DOWN);
  answer = qvm_vm_execute (self, "system_powerdown", NULL, NULL, &local_error);
  if (answer == NULL)
    g_debug ("%s: system_powerdown: %s", self->id, local_error->message);
  g_clear_error (&local_error);

  while (self->phase != QVM_VM_PHASE_DONE)
    {
      if (qvm_wait_queue_wait (&self->done_queue, MAX (timeout_ms, 1), cancellable, &local_error))
        continue;
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (self->phase == QVM_VM_PHASE_SHUTTING_DOWN)
            qvm_vm_set_phase (self, before);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("%s: no shutdown after %u ms, killing", self->id, timeout_ms);
      qvm_vm_end (self, QVM_VM_DONE_REASON_KILLED,
                  g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                               _("The virtual machine did not shut down within %u ms and was killed"),
                               timeout_ms));
      break;
    }
  return TRUE;
}

static void
shutdown_co (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  guint timeout_ms = GPOINTER_TO_UINT (task_data);
  GError *error = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->phase == QVM_VM_PHASE_CREATED)
    {
      /* Nothing runs: ending it is the whole shutdown. */
      qvm_vm_end (self, QVM_VM_DONE_REASON_SHUTDOWN, NULL);
    }
  else if (!qvm_vm_phase_is_ending (self->phase) && !qvm_vm_check_running (self, NULL))
    {
      /* Still starting: there is no guest to ask yet. */
      qvm_vm_end (self, QVM_VM_DONE_REASON_KILLED,
                  g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                               _("The virtual machine was killed: shut down before it ran")));
    }
  else if (!qvm_vm_phase_is_ending (self->phase) &&
           !power_down (self, timeout_ms, cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  wait_done (self, 0);
  return_shutdown_outcome (self, task);
}

/**
 * qvm_virtual_machine_shutdown_async:
 * @vm: a virtual machine
 * @timeout_ms: how long the guest may take to power off, in milliseconds
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the machine is done
 * @user_data: data for @callback
 *
 * Asks the guest to power off (an ACPI power button press, QMP
 * `system_powerdown`) and waits up to @timeout_ms for it; a guest that
 * ignores it is then killed. The callback runs after
 * [signal@Qvm.VirtualMachine::done], and the result says how it went:
 * success only when the guest powered itself off; otherwise the machine's
 * error ([method@Qvm.VirtualMachine.get_error]), %QVM_ERROR_KILLED when it
 * was killed after @timeout_ms. A machine that never started is simply
 * released (a success); one that is still starting is killed. On a
 * machine that is done already, the result tells how it ended.
 *
 * Cancelling @cancellable before the guest powered off ends the call with
 * %G_IO_ERROR_CANCELLED and leaves the machine as it was: it is not
 * killed, and the guest may still act on the power button it was sent.
 */
void
qvm_virtual_machine_shutdown_async (QvmVirtualMachine   *vm,
                                    guint                timeout_ms,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  qvm_vm_run_task (vm, qvm_virtual_machine_shutdown_async, GUINT_TO_POINTER (timeout_ms),
                   shutdown_co, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_shutdown_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.shutdown_async].
 *
 * Returns: %TRUE when the guest powered off; %FALSE with @error set when it
 *   was killed, failed, or the call was cancelled
 */
gboolean
qvm_virtual_machine_shutdown_finish (QvmVirtualMachine  *vm,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  return finish_boolean (vm, result, qvm_virtual_machine_shutdown_async, error);
}


static void
wait_co (GTask        *task,
         gpointer      source_object,
         gpointer      task_data,
         GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  guint timeout_ms = GPOINTER_TO_UINT (task_data);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (self->phase != QVM_VM_PHASE_DONE)
    {
      g_autoptr(GError) error = NULL;
      int left_ms = -1;

      if (timeout_ms > 0)
        left_ms = (int) MAX ((deadline - g_get_monotonic_time ()) / 1000, 0);
      if (qvm_wait_queue_wait (&self->done_queue, left_ms, cancellable, &error))
        continue;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_TIMED_OUT,
                                 _("The virtual machine %s was not done within %u ms"),
                                 self->id, timeout_ms);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_wait_async:
 * @vm: a virtual machine
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the machine is done, or the wait
 *   failed
 * @user_data: data for @callback
 *
 * Waits until @vm is done: its [signal@Qvm.VirtualMachine::done] was
 * emitted (the callback runs after it). On a machine that is done
 * already, the callback runs at once (from the main loop). Waiting does
 * nothing to the machine: a wait that times out (%QVM_ERROR_TIMED_OUT) or
 * is cancelled (%G_IO_ERROR_CANCELLED) leaves it running. How the machine
 * ended is [method@Qvm.VirtualMachine.get_done_reason] and
 * [method@Qvm.VirtualMachine.get_error].
 */
void
qvm_virtual_machine_wait_async (QvmVirtualMachine   *vm,
                                guint                timeout_ms,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  qvm_vm_run_task (vm, qvm_virtual_machine_wait_async, GUINT_TO_POINTER (timeout_ms),
                   wait_co, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_wait_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.wait_async].
 *
 * Returns: %TRUE once the machine is done, however it ended; %FALSE with
 *   @error set when the wait timed out or was cancelled
 */
gboolean
qvm_virtual_machine_wait_finish (QvmVirtualMachine  *vm,
                                 GAsyncResult       *result,
                                 GError            **error)
{
  return finish_boolean (vm, result, qvm_virtual_machine_wait_async, error);
}
