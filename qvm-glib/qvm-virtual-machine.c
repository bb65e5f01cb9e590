/* qvm-virtual-machine.c: one QEMU process and the resources it holds
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The life cycle is coroutine code (qvm-coroutine-private.h):
 *
 *  - start_co: makes the socket folder, spawns QEMU (QMP on an inherited
 *    socketpair, so there is nothing to wait for), connects QMP, says
 *    "cont" and reports the guest running;
 *  - teardown_co: started as soon as QEMU is spawned (or at once when the
 *    virtual machine ends before that), waits for QEMU to exit and for its
 *    last output, decides why the machine ended, closes QMP, and then
 *    releases the network, the image and the socket folder and emits
 *    "done" from the main stack, in that order (the seed's order);
 *  - one reader coroutine per QEMU output stream: each line becomes a
 *    structured log record tagged with the machine's id, and the last
 *    lines of stderr are kept for error messages;
 *  - pause, resume, shutdown and screenshot are GTask bodies.
 *
 * Whoever ends the machine first (the caller's kill, a start failure, a
 * guest failure seen over QMP, a shutdown that timed out) records why with
 * vm_end(), which kills QEMU; QEMU exiting by itself is explained by
 * teardown_co from its exit status and the last SHUTDOWN event. Public
 * state changes go through one queue (vm_schedule_state()) so that
 * "notify::state" always reports them in the order they happened, on the
 * main stack.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-coroutine-gio-private.h"
#include "qvm-enum-types.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-ppm-private.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-util-private.h"
#include "qvm-virtual-machine.h"

/* How many lines of QEMU's stderr are kept for error messages. */
#define STDERR_TAIL_LINES 50

/* After QEMU exited, how long its output may take to drain. Helpers it
 * started (a network's guestfwd commands) could keep the pipes open. */
#define OUTPUT_GRACE_MS 1000

/* How long QEMU may run on after its QMP connection ended before it is
 * killed: it normally exits right after closing it. */
#define QMP_CLOSED_GRACE_MS 2000

/* The descriptor number QEMU gets its end of the QMP socketpair on. */
#define QMP_CHILD_FD 3

/* sizeof (struct sockaddr_un.sun_path) on Linux, terminating NUL included. */
#define UNIX_PATH_MAX 108

/**
 * QvmVirtualMachine:
 *
 * One QEMU process and the resources it holds: a [iface@Qvm.Image] to boot
 * from, a [iface@Qvm.Network], and a private folder for QEMU's sockets
 * (the seed's `VirtualMachine`).
 *
 * Make it with [ctor@Qvm.VirtualMachine.new], start it with
 * [method@Qvm.VirtualMachine.start_async], and wait for
 * [signal@Qvm.VirtualMachine::done], which is emitted exactly once, after
 * QEMU has exited, the QMP connection is closed, the network and the
 * image are released and the socket folder is removed.
 * [method@Qvm.VirtualMachine.get_error] then tells why it ended.
 *
 * While it runs: [method@Qvm.VirtualMachine.screenshot_async],
 * [method@Qvm.VirtualMachine.get_vnc_socket] for a VNC client,
 * [method@Qvm.VirtualMachine.pause_async] and
 * [method@Qvm.VirtualMachine.resume_async], QMP events through
 * [signal@Qvm.VirtualMachine::qmp-event] and any other command through
 * [method@Qvm.VirtualMachine.get_qmp_client]. It ends with
 * [method@Qvm.VirtualMachine.kill] or
 * [method@Qvm.VirtualMachine.shutdown_async], or by itself.
 *
 * Signals, notifications and callbacks run in the thread-default main
 * context of the thread that made the machine. A started machine keeps
 * itself alive until it is done: dropping the last reference does not
 * stop QEMU, [method@Qvm.VirtualMachine.kill] does.
 */
struct _QvmVirtualMachine
{
  GObject            parent_instance;

  char              *id;
  GMainContext      *context;

  /* Given at construction. The machine is the image's, with the options'
   * defaults applied. */
  QvmMachineOptions *options;
  QvmImage          *image;
  QvmNetwork        *network;
  char              *socket_parent;
  char              *cdrom1;
  char              *cdrom2;
  QvmMachine        *machine;
  gboolean           owns_resources;   /* construction succeeded */
  gboolean           resources_released;

  char              *qemu_binary;
  char              *accel;

  /* What the caller sees, changed on the main stack only. */
  QvmVmState         state;
  QvmVmDoneReason    done_reason;
  GError            *error;
  char              *vnc_socket;
  gboolean           done;

  /* The life cycle. */
  gboolean           start_requested;
  gboolean           start_cancelled;
  GTask             *start_task;        /* until running, or until done */
  GSource           *start_cancel_source;
  gboolean           guest_started;     /* "cont" succeeded */
  gboolean           shutdown_requested;
  guint              shutdown_timeout_ms;
  gboolean           teardown_started;

  QvmVmDoneReason    end_reason;        /* set once, by vm_end() */
  GError            *end_error;

  char              *socket_folder;     /* the machine's own, under socket_parent */
  GSubprocess       *qemu;
  gboolean           qemu_exited;
  gboolean           sigkill_sent;
  GSocketConnection *qmp_connection;
  QvmQmpClient      *qmp;
  gulong             qmp_event_handler;
  gulong             qmp_closed_handler;
  GCancellable      *qmp_watch_cancellable;

  gboolean           shutdown_event_seen;
  gboolean           shutdown_by_guest;
  char              *shutdown_event_reason;

  GQueue             stderr_tail;       /* of char * */
  guint              readers_open;
  GCancellable      *readers_cancellable;
  GTask             *readers_waiter;

  GList             *done_waiters;      /* of GTask *, for wait_done() */
};

enum {
  PROP_0,
  PROP_ID,
  PROP_OPTIONS,
  PROP_IMAGE,
  PROP_NETWORK,
  PROP_SOCKET_FOLDER,
  PROP_CDROM1,
  PROP_CDROM2,
  PROP_MACHINE,
  PROP_QEMU_BINARY,
  PROP_ACCEL,
  PROP_STATE,
  PROP_DONE_REASON,
  PROP_VNC_SOCKET,
  PROP_QMP_CLIENT,
  N_PROPS
};

enum {
  SIGNAL_DONE,
  SIGNAL_QMP_EVENT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmVirtualMachine, qvm_virtual_machine, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

static void vm_begin_teardown (QvmVirtualMachine *self);

/* ---- Logging ------------------------------------------------------------ */

static void
vm_log (QvmVirtualMachine *self,
        GLogLevelFlags     level,
        const char        *stream,
        const char        *line)
{
  g_autofree char *valid = g_utf8_make_valid (line, -1);

  g_log_structured (G_LOG_DOMAIN, level,
                    QVM_VM_ID_FIELD, self->id,
                    "QVM_QEMU_STREAM", stream,
                    "QVM_QEMU_LINE", valid,
                    "MESSAGE", "%s: %s: %s", self->id, stream, valid);
}

/* ---- Public state: one ordered queue of changes --------------------------- */

typedef struct {
  QvmVirtualMachine *vm;
  QvmVmState         state;
} StateChange;

static void
state_change_free (gpointer data)
{
  StateChange *change = data;

  g_object_unref (change->vm);
  g_free (change);
}

static gboolean
apply_state (gpointer data)
{
  StateChange *change = data;
  QvmVirtualMachine *self = change->vm;

  /* Running and paused may follow each other; nothing goes back from
   * stopping or done. */
  if (self->state == change->state ||
      (self->state >= QVM_VM_STATE_STOPPING && change->state < QVM_VM_STATE_STOPPING))
    return G_SOURCE_REMOVE;
  if (self->state == QVM_VM_STATE_DONE)
    return G_SOURCE_REMOVE;

  g_debug ("%s: state %s -> %s", self->id,
           g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_STATE), self->state)->value_nick,
           g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_STATE), change->state)->value_nick);

  self->state = change->state;
  if (self->state == QVM_VM_STATE_RUNNING && self->vnc_socket == NULL && !self->done &&
      self->socket_folder != NULL)
    {
      /* QEMU made its VNC socket before it answered on QMP. */
      self->vnc_socket = g_build_filename (self->socket_folder, QVM_QEMU_VNC_SOCKET_NAME, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VNC_SOCKET]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  return G_SOURCE_REMOVE;
}

static void
vm_schedule_state (QvmVirtualMachine *self,
                   QvmVmState         state)
{
  StateChange *change = g_new (StateChange, 1);

  change->vm = g_object_ref (self);
  change->state = state;
  qvm_coroutine_invoke_later (self->context, apply_state, change, state_change_free);
}

/* ---- Ending ------------------------------------------------------------- */

static gboolean
qemu_running (QvmVirtualMachine *self)
{
  return self->qemu != NULL && !self->qemu_exited;
}

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
static void
vm_end (QvmVirtualMachine *self,
        QvmVmDoneReason    reason,
        GError            *error)
{
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

  if (self->done)
    return;

  vm_schedule_state (self, QVM_VM_STATE_STOPPING);

  if (qemu_running (self))
    {
      /* A QEMU that already died (its exit not seen yet) was not killed
       * by this SIGKILL: its own exit explains the end. */
      self->sigkill_sent = !qemu_has_died (self->qemu);
      g_subprocess_force_exit (self->qemu);
    }
  else if (self->qemu == NULL && !self->teardown_started)
    {
      /* Never spawned: nothing to wait for. A start in progress notices
       * the end once its spawn returns. */
      if (!self->start_requested || self->start_task == NULL)
        vm_begin_teardown (self);
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
                QvmVmDoneReason    *out_reason,
                GError            **out_error)
{
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
  exited_by_itself = !(self->sigkill_sent && g_subprocess_get_if_signaled (self->qemu) &&
                       g_subprocess_get_term_sig (self->qemu) == SIGKILL);
  clean_exit = g_subprocess_get_if_exited (self->qemu) &&
               g_subprocess_get_exit_status (self->qemu) == 0;

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
  else if (clean_exit && self->shutdown_event_seen &&
           (self->shutdown_by_guest ||
            g_strcmp0 (self->shutdown_event_reason, "host-qmp-quit") == 0))
    {
      /* The guest powered off, or the caller said "quit" over QMP. */
      if (self->shutdown_requested ||
          g_strcmp0 (self->shutdown_event_reason, "host-qmp-quit") == 0)
        *out_reason = QVM_VM_DONE_REASON_SHUTDOWN;
      else
        *out_reason = QVM_VM_DONE_REASON_POWEROFF;
    }
  else if (!self->guest_started)
    {
      *out_reason = QVM_VM_DONE_REASON_FAILED;
      error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU %s before the virtual machine started"), exit_text);
    }
  else if (clean_exit && self->shutdown_event_seen)
    {
      *out_reason = QVM_VM_DONE_REASON_CRASHED;
      error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU was stopped from outside (%s)"),
                           self->shutdown_event_reason ? self->shutdown_event_reason : "?");
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

static gboolean
remove_folder (const char  *path,
               GError     **error)
{
  g_autoptr(GError) open_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &open_error);
  const char *name;

  /* Someone removed it under the running machine: nothing left to do. */
  if (dir == NULL && g_error_matches (open_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return TRUE;
  if (dir == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&open_error));
      return FALSE;
    }

  /* Only QEMU's sockets live there: no sub-folders to walk. */
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_unlink (child) != 0 && errno != ENOENT)
        {
          int saved_errno = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       _("Cannot remove “%s”: %s"), child, g_strerror (saved_errno));
          return FALSE;
        }
    }

  if (g_rmdir (path) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot remove “%s”: %s"), path, g_strerror (saved_errno));
      return FALSE;
    }

  return TRUE;
}

static void
release_resources (QvmVirtualMachine *self)
{
  if (!self->owns_resources || self->resources_released)
    return;

  self->resources_released = TRUE;
  qvm_network_release (self->network);
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
  GList *waiters;

  g_assert (!self->done);

  g_cancellable_cancel (self->qmp_watch_cancellable);
  release_resources (self);

  if (self->socket_folder != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!remove_folder (self->socket_folder, &error))
        g_warning ("%s: %s", self->id, error->message);
    }

  g_object_freeze_notify (G_OBJECT (self));

  self->done = TRUE;
  self->done_reason = done->reason;
  self->error = g_steal_pointer (&done->error);
  self->state = QVM_VM_STATE_DONE;

  if (self->qmp != NULL)
    {
      g_clear_signal_handler (&self->qmp_event_handler, self->qmp);
      g_clear_signal_handler (&self->qmp_closed_handler, self->qmp);
      g_clear_object (&self->qmp);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QMP_CLIENT]);
    }
  if (self->vnc_socket != NULL)
    {
      g_clear_pointer (&self->vnc_socket, g_free);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VNC_SOCKET]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DONE_REASON]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);

  g_object_thaw_notify (G_OBJECT (self));

  if (self->error != NULL)
    g_debug ("%s: done (%s)", self->id, self->error->message);
  else
    g_debug ("%s: done", self->id);

  g_signal_emit (self, signals[SIGNAL_DONE],
                 g_quark_from_static_string (g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_DONE_REASON),
                                                               self->done_reason)->value_nick));

  if (self->start_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->start_task);

      if (self->start_cancel_source != NULL)
        {
          g_source_destroy (self->start_cancel_source);
          g_clear_pointer (&self->start_cancel_source, g_source_unref);
        }
      if (self->start_cancelled)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 _("Starting the virtual machine was cancelled"));
      else if (self->error != NULL)
        g_task_return_error (task, g_error_copy (self->error));
      else
        g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_CLOSED,
                                 _("The virtual machine shut down before it started"));
    }

  waiters = g_steal_pointer (&self->done_waiters);
  for (GList *l = waiters; l != NULL; l = l->next)
    {
      g_autoptr(GTask) task = l->data;
      GSource *timeout = g_task_get_task_data (task);

      if (timeout != NULL)
        g_source_destroy (timeout);
      g_task_return_boolean (task, TRUE);
    }
  g_list_free (waiters);

  return G_SOURCE_REMOVE;
}

/* ---- Waiting for things, from coroutines ----------------------------------- */

typedef struct {
  QvmVirtualMachine *vm;
  guint              timeout_ms;
} WaitDone;

static gboolean
wait_done_timed_out (gpointer data)
{
  GTask *task = data;
  QvmVirtualMachine *self = g_task_get_source_object (task);
  GList *link = g_list_find (self->done_waiters, task);

  if (link != NULL)
    {
      self->done_waiters = g_list_delete_link (self->done_waiters, link);
      g_task_return_boolean (task, FALSE);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static void
wait_done_start (gpointer            start_data,
                 GAsyncReadyCallback callback,
                 gpointer            callback_data)
{
  WaitDone *wait = start_data;
  g_autoptr(GTask) task = g_task_new (wait->vm, NULL, callback, callback_data);

  if (wait->vm->done)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (wait->timeout_ms > 0)
    {
      g_autoptr(GSource) timeout = g_timeout_source_new (wait->timeout_ms);

      g_source_set_callback (timeout, wait_done_timed_out, task, NULL);
      g_source_set_static_name (timeout, "[qvm] virtual machine shutdown timeout");
      g_source_attach (timeout, g_task_get_context (task));
      g_task_set_task_data (task, g_source_ref (timeout), (GDestroyNotify) g_source_unref);
    }

  wait->vm->done_waiters = g_list_prepend (wait->vm->done_waiters, g_steal_pointer (&task));
}

/* Waits until "done" was emitted (TRUE) or @timeout_ms passed (FALSE);
 * 0 waits as long as it takes. */
static gboolean
wait_done (QvmVirtualMachine *self,
           guint              timeout_ms)
{
  WaitDone wait = { self, timeout_ms };
  g_autoptr(GAsyncResult) result = qvm_coroutine_await (wait_done_start, &wait);

  return g_task_propagate_boolean (G_TASK (result), NULL);
}

static gboolean
readers_grace_over (gpointer data)
{
  QvmVirtualMachine *self = data;

  /* Whatever is still unread is lost; the readers stop. */
  g_cancellable_cancel (self->readers_cancellable);
  return G_SOURCE_REMOVE;
}

static void
wait_readers_start (gpointer            start_data,
                    GAsyncReadyCallback callback,
                    gpointer            callback_data)
{
  QvmVirtualMachine *self = start_data;
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, callback_data);

  if (self->readers_open == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  self->readers_waiter = g_steal_pointer (&task);
}

static void
readers_finished (QvmVirtualMachine *self)
{
  if (self->readers_waiter != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->readers_waiter);
      qvm_task_return_boolean (task, TRUE);
    }
}

/* Waits until QEMU's stdout and stderr reached their end, at most
 * OUTPUT_GRACE_MS. */
static void
wait_readers (QvmVirtualMachine *self)
{
  g_autoptr(GSource) grace = g_timeout_source_new (OUTPUT_GRACE_MS);
  g_autoptr(GAsyncResult) result = NULL;

  g_source_set_callback (grace, readers_grace_over, self, NULL);
  g_source_attach (grace, self->context);
  result = qvm_coroutine_await (wait_readers_start, self);
  g_source_destroy (grace);
}

/* ---- QMP from coroutines ------------------------------------------------- */

/* Runs a QMP command and waits for its answer (transfer full). */
static JsonNode *
vm_execute (QvmVirtualMachine  *self,
            const char         *command,
            JsonObject         *arguments,
            GCancellable       *cancellable,
            GError            **error)
{
  g_autoptr(QvmQmpClient) client = NULL;

  if (self->qmp == NULL)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The virtual machine is not running"));
      return NULL;
    }

  client = g_object_ref (self->qmp);
  return qvm_qmp_client_await_execute (client, command, arguments, cancellable, error);
}

/* The operations that talk to a running guest need QMP and no end. */
static gboolean
check_running (QvmVirtualMachine  *self,
               GError            **error)
{
  if (self->qmp == NULL || !self->guest_started ||
      self->end_reason != QVM_VM_DONE_REASON_NONE || self->qemu_exited)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The virtual machine is not running"));
      return FALSE;
    }
  return TRUE;
}

/* ---- QEMU's output --------------------------------------------------------- */

/* QEMU's stdout carries the guest's serial console, which a hostile guest
 * controls: lines are cut at this many bytes so a guest that never sends a
 * newline cannot make the library buffer without bound. */
#define OUTPUT_LINE_MAX 4096

/* How much of QEMU's output one read takes. */
#define OUTPUT_CHUNK_SIZE 16384

typedef struct {
  QvmVirtualMachine *vm;
  GInputStream      *input;
  gboolean           is_stderr;
  GString           *line;       /* the line read so far, < OUTPUT_LINE_MAX */
} Reader;

/* Logs one complete (or cut) line and keeps stderr's last lines. */
static void
reader_take_line (Reader *reader)
{
  QvmVirtualMachine *self = reader->vm;
  const char *stream = reader->is_stderr ? "stderr" : "stdout";

  /* A NUL inside the line would end it early in every consumer. */
  for (gsize i = 0; i < reader->line->len; i++)
    if (reader->line->str[i] == '\0')
      reader->line->str[i] = ' ';
  if (reader->line->len > 0 && reader->line->str[reader->line->len - 1] == '\r')
    g_string_truncate (reader->line, reader->line->len - 1);

  vm_log (self, reader->is_stderr ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG, stream,
          reader->line->str);
  if (reader->is_stderr)
    {
      g_queue_push_tail (&self->stderr_tail, g_utf8_make_valid (reader->line->str, -1));
      if (self->stderr_tail.length > STDERR_TAIL_LINES)
        g_free (g_queue_pop_head (&self->stderr_tail));
    }
  g_string_truncate (reader->line, 0);
}

/* Splits a chunk of output into lines, cutting those that grow too long. */
static void
reader_feed (Reader     *reader,
             const char *data,
             gsize       length)
{
  while (length > 0)
    {
      const char *newline = memchr (data, '\n', length);
      gsize room = OUTPUT_LINE_MAX - reader->line->len;
      gsize take = newline != NULL ? (gsize) (newline - data) : length;

      if (take >= room)
        {
          g_string_append_len (reader->line, data, room);
          reader_take_line (reader);
          data += room;
          length -= room;
          continue;
        }

      g_string_append_len (reader->line, data, take);
      data += take;
      length -= take;
      if (newline != NULL)
        {
          reader_take_line (reader);
          data++;
          length--;
        }
    }
}

static void
reader_co (gpointer data)
{
  Reader *reader = data;
  QvmVirtualMachine *self = reader->vm;
  g_autofree char *buffer = g_malloc (OUTPUT_CHUNK_SIZE);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n_read = qvm_await_input_stream_read (reader->input, buffer, OUTPUT_CHUNK_SIZE,
                                                   self->readers_cancellable, &error);

      if (n_read <= 0)
        {
          if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_debug ("%s: reading QEMU's %s: %s", self->id,
                     reader->is_stderr ? "stderr" : "stdout", error->message);
          break;
        }
      reader_feed (reader, buffer, n_read);
    }

  if (reader->line->len > 0)
    reader_take_line (reader);

  if (--self->readers_open == 0)
    readers_finished (self);

  g_string_free (reader->line, TRUE);
  g_object_unref (reader->input);
  g_object_unref (reader->vm);
  g_free (reader);
}

static void
start_reader (QvmVirtualMachine *self,
              GInputStream      *pipe,
              gboolean           is_stderr)
{
  Reader *reader = g_new0 (Reader, 1);

  reader->vm = g_object_ref (self);
  reader->input = g_object_ref (pipe);
  reader->line = g_string_new (NULL);
  reader->is_stderr = is_stderr;
  self->readers_open++;
  qvm_coroutine_spawn (reader_co, reader);
}

/* ---- Teardown ---------------------------------------------------------------- */

static void
teardown_co (gpointer data)
{
  QvmVirtualMachine *self = data;
  DoneData *done = g_new0 (DoneData, 1);

  if (self->qemu != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!qvm_await_subprocess_wait (self->qemu, NULL, &error))
        g_warning ("%s: waiting for QEMU: %s", self->id, error->message);
      self->qemu_exited = TRUE;
      {
        g_autofree char *exit_text = describe_exit (self->qemu);
        g_debug ("%s: QEMU %s", self->id, exit_text);
      }
      vm_schedule_state (self, QVM_VM_STATE_STOPPING);
      wait_readers (self);
    }

  decide_outcome (self, &done->reason, &done->error);

  if (self->qmp != NULL)
    qvm_qmp_client_await_close (self->qmp, NULL, NULL);
  if (self->qmp_connection != NULL)
    {
      g_io_stream_close (G_IO_STREAM (self->qmp_connection), NULL, NULL);
      g_clear_object (&self->qmp_connection);
    }

  /* The rest calls into the network and image implementations and emits
   * signals: the main stack's job. */
  done->vm = self;   /* takes the coroutine's reference */
  qvm_coroutine_invoke_later (self->context, finish_done, done, done_data_free);
}

static void
vm_begin_teardown (QvmVirtualMachine *self)
{
  if (self->teardown_started)
    return;

  self->teardown_started = TRUE;
  qvm_coroutine_spawn (teardown_co, g_object_ref (self));
}

/* ---- Start ------------------------------------------------------------------ */

static gboolean
make_socket_folder (QvmVirtualMachine  *self,
                    GError            **error)
{
  g_autofree char *template = g_build_filename (self->socket_parent, "qvm-XXXXXX", NULL);

  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot make a socket folder in “%s”: %s"),
                   self->socket_parent, g_strerror (saved_errno));
      return FALSE;
    }

  self->socket_folder = g_steal_pointer (&template);
  return TRUE;
}

static char *
find_qemu (const char  *qemu_binary,
           GError     **error)
{
  char *path;

  if (strchr (qemu_binary, '/') != NULL)
    {
      if (g_file_test (qemu_binary, G_FILE_TEST_IS_EXECUTABLE) &&
          !g_file_test (qemu_binary, G_FILE_TEST_IS_DIR))
        return g_strdup (qemu_binary);
      g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND,
                   _("QEMU binary “%s” does not exist or is not executable"), qemu_binary);
      return NULL;
    }

  path = g_find_program_in_path (qemu_binary);
  if (path == NULL)
    g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND,
                 _("QEMU binary “%s” not found on PATH (set QVM_QEMU or the qemu-binary property)"),
                 qemu_binary);
  return path;
}

static QvmQemuArgvConfig
argv_config (QvmVirtualMachine *self,
             const char        *qemu_path,
             const char        *accel,
             const char        *netdev)
{
  QvmMachine *machine = self->machine;
  QvmQemuArgvConfig config = {
    .machine = {
      .uuid = qvm_machine_get_uuid (machine),
      .memory_mib = qvm_machine_get_memory (machine),
      .nic_device = qvm_machine_get_network_device (machine),
      .mac_address = qvm_machine_get_mac_address (machine),
      .keyboard_layout = qvm_machine_get_keyboard_layout (machine),
      .sound_device = qvm_machine_get_sound_device (machine),
      .sound_controller = qvm_machine_get_sound_controller (machine),
      .threads = qvm_machine_get_threads (machine),
      .cores = qvm_machine_get_cores (machine),
      .sockets = qvm_machine_get_sockets (machine),
    },
    .qemu_binary = qemu_path,
    .accel = accel,
    .disk_file = qvm_image_get_disk_file (self->image),
    .disk_format = qvm_image_get_format (self->image),
    .netdev = netdev,
    .cdrom1 = self->cdrom1,
    .cdrom2 = self->cdrom2,
    .socket_folder = self->socket_folder,
    .qmp_fd = QMP_CHILD_FD,
  };

  return config;
}

/* Everything up to a spawned QEMU. On failure nothing is left running. */
static gboolean
spawn_qemu (QvmVirtualMachine  *self,
            GError            **error)
{
  g_autofree char *qemu_path = NULL;
  g_autofree char *netdev = NULL;
  g_autofree char *disk_file = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *command_line = NULL;
  QvmQemuArgvConfig config;
  const char *accel;
  int fds[2];

  /* In use from here; release_resources() ends the use, whatever happens. */
  if (!qvm_image_acquire (self->image, error))
    return FALSE;

  accel = qvm_qemu_resolve_accel (self->accel, "/dev/kvm", "/proc/cpuinfo", error);
  if (accel == NULL)
    return FALSE;

  qemu_path = find_qemu (self->qemu_binary, error);
  if (qemu_path == NULL)
    return FALSE;

  netdev = qvm_network_get_netdev (self->network, QVM_QEMU_NETDEV_ID, error);
  if (netdev == NULL)
    return FALSE;

  if (!make_socket_folder (self, error))
    return FALSE;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot make the QMP socket pair: %s"), g_strerror (saved_errno));
      return FALSE;
    }

  socket = g_socket_new_from_fd (fds[0], error);
  if (socket == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return FALSE;
    }
  self->qmp_connection = g_socket_connection_factory_create_connection (socket);

  config = argv_config (self, qemu_path, accel, netdev);
  /* A relative disk path with a colon would read as a protocol prefix. */
  disk_file = g_canonicalize_filename (config.disk_file, NULL);
  config.disk_file = disk_file;
  argv = qvm_qemu_argv_build (&config);

  command_line = g_strjoinv (" ", argv);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    QVM_VM_ID_FIELD, self->id,
                    "MESSAGE", "%s: starting %s", self->id, command_line);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  g_subprocess_launcher_take_fd (launcher, fds[1], QMP_CHILD_FD);

  self->qemu = qvm_await_subprocess_spawnv (launcher, (const char * const *) argv, error);
  if (self->qemu == NULL)
    {
      /* The launcher closes its end when it goes. */
      if (error != NULL && *error != NULL && (*error)->domain == G_SPAWN_ERROR)
        {
          GError *spawn_error = *error;
          *error = g_error_new (QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND,
                                _("Cannot run QEMU “%s”: %s"), qemu_path, spawn_error->message);
          g_error_free (spawn_error);
        }
      return FALSE;
    }

  g_debug ("%s: QEMU runs as process %s", self->id, g_subprocess_get_identifier (self->qemu));
  start_reader (self, g_subprocess_get_stdout_pipe (self->qemu), FALSE);
  start_reader (self, g_subprocess_get_stderr_pipe (self->qemu), TRUE);
  return TRUE;
}

static void
on_qmp_event (QvmQmpClient *client,
              const char   *name,
              JsonObject   *data,
              gint64        timestamp,
              gpointer      user_data);
static void
on_qmp_closed (QvmQmpClient *client,
               const GError *reason,
               gpointer      user_data);

/* QMP handshake and "cont". */
static gboolean
connect_and_run (QvmVirtualMachine  *self,
                 GError            **error)
{
  g_autoptr(JsonNode) answer = NULL;
  QvmQmpClient *client;

  client = qvm_qmp_client_await_new (G_IO_STREAM (self->qmp_connection), NULL, error);
  if (client == NULL)
    return FALSE;

  self->qmp = client;
  self->qmp_event_handler = g_signal_connect (client, "event", G_CALLBACK (on_qmp_event), self);
  self->qmp_closed_handler = g_signal_connect (client, "closed", G_CALLBACK (on_qmp_closed), self);
  /* The client owns the connection now. */
  g_clear_object (&self->qmp_connection);

  if (self->end_reason != QVM_VM_DONE_REASON_NONE)
    return TRUE;

  answer = vm_execute (self, "cont", NULL, NULL, error);
  if (answer == NULL)
    return FALSE;

  self->guest_started = TRUE;
  return TRUE;
}

static void
start_co (GTask        *task,
          gpointer      source_object,
          gpointer      task_data,
          GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  g_autoptr(GError) error = NULL;

  if (self->end_reason != QVM_VM_DONE_REASON_NONE)
    {
      /* Killed before this body ran. */
      vm_begin_teardown (self);
      return;
    }

  if (!spawn_qemu (self, &error))
    {
      vm_end (self, QVM_VM_DONE_REASON_FAILED, g_steal_pointer (&error));
      vm_begin_teardown (self);
      return;
    }

  /* From now on the teardown waits for QEMU to exit, whatever happens. */
  vm_begin_teardown (self);

  if (self->end_reason != QVM_VM_DONE_REASON_NONE)
    {
      /* Ended (killed, cancelled) while QEMU was being spawned. */
      self->sigkill_sent = TRUE;
      g_subprocess_force_exit (self->qemu);
      return;
    }

  if (!connect_and_run (self, &error))
    {
      g_prefix_error (&error, _("Cannot start the virtual machine over QMP: "));
      vm_end (self, QVM_VM_DONE_REASON_FAILED, g_steal_pointer (&error));
      return;
    }

  if (self->end_reason != QVM_VM_DONE_REASON_NONE)
    return;   /* the start task fails when done */

  vm_schedule_state (self, QVM_VM_STATE_RUNNING);

  /* The task must not complete twice: it is completed here or at done. */
  if (self->start_cancel_source != NULL)
    {
      g_source_destroy (self->start_cancel_source);
      g_clear_pointer (&self->start_cancel_source, g_source_unref);
    }
  g_clear_object (&self->start_task);
  qvm_task_return_boolean (task, TRUE);
}

static gboolean
start_cancelled_cb (GCancellable *cancellable,
                    gpointer      data)
{
  QvmVirtualMachine *self = data;

  if (self->start_task != NULL && !self->start_cancelled)
    {
      self->start_cancelled = TRUE;
      vm_end (self, QVM_VM_DONE_REASON_KILLED,
              g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                           _("The virtual machine was killed: its start was cancelled")));
    }
  return G_SOURCE_REMOVE;
}

/* ---- QMP events -------------------------------------------------------------- */

static void
check_status_co (gpointer data)
{
  QvmVirtualMachine *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = vm_execute (self, "query-status", NULL, NULL, &error);
  const char *status = NULL;

  if (answer != NULL && JSON_NODE_HOLDS_OBJECT (answer))
    status = json_object_get_string_member_with_default (json_node_get_object (answer),
                                                         "status", NULL);

  if (status == NULL)
    {
      g_debug ("%s: query-status: %s", self->id, error ? error->message : "no status");
    }
  else if (g_str_equal (status, "internal-error") || g_str_equal (status, "guest-panicked"))
    {
      /* QEMU would idle in this state forever. */
      vm_end (self, QVM_VM_DONE_REASON_CRASHED,
              g_error_new (QVM_ERROR, QVM_ERROR_GUEST_FAILED,
                           _("The guest stopped in state “%s” and cannot continue"), status));
    }
  else if (g_str_equal (status, "paused") && self->guest_started &&
           self->end_reason == QVM_VM_DONE_REASON_NONE)
    {
      vm_schedule_state (self, QVM_VM_STATE_PAUSED);
    }

  g_object_unref (self);
}

static void
on_qmp_event (QvmQmpClient *client,
              const char   *name,
              JsonObject   *data,
              gint64        timestamp,
              gpointer      user_data)
{
  QvmVirtualMachine *self = user_data;
  g_autoptr(QvmVirtualMachine) keep_alive = g_object_ref (self);

  g_debug ("%s: QMP event %s", self->id, name);

  if (g_str_equal (name, "SHUTDOWN"))
    {
      self->shutdown_event_seen = TRUE;
      if (data != NULL)
        {
          self->shutdown_by_guest = json_object_get_boolean_member_with_default (data, "guest", FALSE);
          g_free (self->shutdown_event_reason);
          self->shutdown_event_reason =
            g_strdup (json_object_get_string_member_with_default (data, "reason", NULL));
        }
    }
  else if (g_str_equal (name, "STOP"))
    {
      /* A pause, or a guest that cannot go on: query-status tells which. */
      qvm_coroutine_spawn (check_status_co, g_object_ref (self));
    }
  else if (g_str_equal (name, "RESUME"))
    {
      if (self->guest_started && self->end_reason == QVM_VM_DONE_REASON_NONE)
        vm_schedule_state (self, QVM_VM_STATE_RUNNING);
    }
  else if (g_str_equal (name, "GUEST_PANICKED"))
    {
      vm_end (self, QVM_VM_DONE_REASON_CRASHED,
              g_error_new (QVM_ERROR, QVM_ERROR_GUEST_FAILED, _("The guest panicked")));
    }

  g_signal_emit (self, signals[SIGNAL_QMP_EVENT], g_quark_from_string (name),
                 name, data, timestamp);
}

typedef struct {
  QvmVirtualMachine *vm;
  GError            *reason;
} QmpClosed;

static void
qmp_closed_co (gpointer data)
{
  QmpClosed *closed = data;
  QvmVirtualMachine *self = closed->vm;

  /* QEMU closes the monitor when it exits; one that keeps running without
   * it can no longer be driven. */
  if (qvm_coroutine_sleep (QMP_CLOSED_GRACE_MS, self->qmp_watch_cancellable, NULL) &&
      qemu_running (self) && self->end_reason == QVM_VM_DONE_REASON_NONE)
    vm_end (self, QVM_VM_DONE_REASON_CRASHED,
            g_error_new (QVM_ERROR, QVM_ERROR_PROTOCOL,
                         _("QEMU's QMP connection ended (%s) but QEMU kept running"),
                         closed->reason != NULL ? closed->reason->message : _("closed")));

  g_clear_error (&closed->reason);
  g_object_unref (closed->vm);
  g_free (closed);
}

static void
on_qmp_closed (QvmQmpClient *client,
               const GError *reason,
               gpointer      user_data)
{
  QvmVirtualMachine *self = user_data;
  QmpClosed *closed;

  if (!qemu_running (self) || self->end_reason != QVM_VM_DONE_REASON_NONE)
    return;

  closed = g_new0 (QmpClosed, 1);
  closed->vm = g_object_ref (self);
  closed->reason = reason != NULL ? g_error_copy (reason) : NULL;
  qvm_coroutine_spawn (qmp_closed_co, closed);
}

/* ---- GObject ------------------------------------------------------------------ */

static gboolean
check_cdrom (const char  *path,
             guint        number,
             GError     **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int saved_errno;

  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot use “%s” as CD-ROM %u: %s"), path, number, g_strerror (saved_errno));
      return FALSE;
    }

  if (fstat (fd, &st) != 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   _("Cannot use “%s” as CD-ROM %u: not a file"), path, number);
      return FALSE;
    }

  close (fd);
  return TRUE;
}

static gboolean
qvm_virtual_machine_initable_init (GInitable     *initable,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (initable);
  g_autoptr(QvmMachine) machine = NULL;
  gsize longest_socket;

  if (self->options == NULL || self->image == NULL || self->network == NULL ||
      self->socket_parent == NULL)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                   _("A virtual machine needs options, an image, a network and a socket folder"));
      return FALSE;
    }

  if (!g_file_test (self->socket_parent, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Socket folder “%s” is not a folder"), self->socket_parent);
      return FALSE;
    }

  /* <folder>/qvm-XXXXXX/vnc.sock must fit in a unix socket address. */
  longest_socket = strlen (self->socket_parent) + strlen ("/qvm-XXXXXX/" QVM_QEMU_VNC_SOCKET_NAME);
  if (longest_socket >= UNIX_PATH_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("Socket folder “%s” is too long a path for unix sockets (at most %d bytes)"),
                   self->socket_parent,
                   (int) (UNIX_PATH_MAX - 1 - strlen ("/qvm-XXXXXX/" QVM_QEMU_VNC_SOCKET_NAME)));
      return FALSE;
    }

  if (self->cdrom1 != NULL && !check_cdrom (self->cdrom1, 1, error))
    return FALSE;
  if (self->cdrom2 != NULL && !check_cdrom (self->cdrom2, 2, error))
    return FALSE;

  machine = qvm_machine_copy (qvm_image_get_machine (self->image));
  if (!qvm_machine_set_defaults (machine, self->options, error))
    return FALSE;

  self->machine = g_steal_pointer (&machine);
  self->owns_resources = TRUE;
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = qvm_virtual_machine_initable_init;
}

static void
qvm_virtual_machine_dispose (GObject *object)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  /* Running machines hold a reference on themselves until done, so here
   * the machine never ran or is done. One never started still owns the
   * image and the network it was given. */
  release_resources (self);

  G_OBJECT_CLASS (qvm_virtual_machine_parent_class)->dispose (object);
}

static void
qvm_virtual_machine_finalize (GObject *object)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  g_assert (self->start_task == NULL);
  g_assert (self->done_waiters == NULL);

  g_free (self->id);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->options);
  g_clear_object (&self->image);
  g_clear_object (&self->network);
  g_free (self->socket_parent);
  g_free (self->cdrom1);
  g_free (self->cdrom2);
  g_clear_object (&self->machine);
  g_free (self->qemu_binary);
  g_free (self->accel);
  g_clear_error (&self->error);
  g_free (self->vnc_socket);
  g_clear_error (&self->end_error);
  g_free (self->socket_folder);
  g_clear_object (&self->qemu);
  g_clear_object (&self->qmp_connection);
  g_clear_object (&self->qmp);
  g_free (self->shutdown_event_reason);
  g_queue_clear_full (&self->stderr_tail, g_free);
  g_clear_object (&self->readers_cancellable);
  g_clear_object (&self->qmp_watch_cancellable);

  G_OBJECT_CLASS (qvm_virtual_machine_parent_class)->finalize (object);
}

static char *
absolute_path (const char *path)
{
  return path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
}

static void
qvm_virtual_machine_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_OPTIONS:
      g_value_set_object (value, self->options);
      break;
    case PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case PROP_NETWORK:
      g_value_set_object (value, self->network);
      break;
    case PROP_SOCKET_FOLDER:
      g_value_set_string (value, self->socket_parent);
      break;
    case PROP_CDROM1:
      g_value_set_string (value, self->cdrom1);
      break;
    case PROP_CDROM2:
      g_value_set_string (value, self->cdrom2);
      break;
    case PROP_MACHINE:
      g_value_set_object (value, self->machine);
      break;
    case PROP_QEMU_BINARY:
      g_value_set_string (value, self->qemu_binary);
      break;
    case PROP_ACCEL:
      g_value_set_string (value, self->accel);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_DONE_REASON:
      g_value_set_enum (value, self->done_reason);
      break;
    case PROP_VNC_SOCKET:
      g_value_set_string (value, self->vnc_socket);
      break;
    case PROP_QMP_CLIENT:
      g_value_set_object (value, qvm_virtual_machine_get_qmp_client (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_virtual_machine_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  switch (prop_id)
    {
    case PROP_OPTIONS:
      self->options = g_value_dup_object (value);
      break;
    case PROP_IMAGE:
      self->image = g_value_dup_object (value);
      break;
    case PROP_NETWORK:
      self->network = g_value_dup_object (value);
      break;
    case PROP_SOCKET_FOLDER:
      self->socket_parent = absolute_path (g_value_get_string (value));
      break;
    case PROP_CDROM1:
      self->cdrom1 = absolute_path (g_value_get_string (value));
      break;
    case PROP_CDROM2:
      self->cdrom2 = absolute_path (g_value_get_string (value));
      break;
    case PROP_QEMU_BINARY:
      qvm_virtual_machine_set_qemu_binary (self, g_value_get_string (value));
      break;
    case PROP_ACCEL:
      qvm_virtual_machine_set_accel (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_virtual_machine_class_init (QvmVirtualMachineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->dispose = qvm_virtual_machine_dispose;
  object_class->finalize = qvm_virtual_machine_finalize;
  object_class->get_property = qvm_virtual_machine_get_property;
  object_class->set_property = qvm_virtual_machine_set_property;

  /**
   * QvmVirtualMachine:id:
   *
   * A short identifier of this virtual machine, unique in the process. Log
   * records about the machine, QEMU's output included, carry it in the
   * %QVM_VM_ID_FIELD field.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:options:
   *
   * The limits and defaults the image's machine definition was checked
   * against.
   */
  properties[PROP_OPTIONS] =
    g_param_spec_object ("options", NULL, NULL, QVM_TYPE_MACHINE_OPTIONS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:image:
   *
   * The image the machine boots from. Released with qvm_image_release()
   * once QEMU has exited, just before [signal@Qvm.VirtualMachine::done].
   */
  properties[PROP_IMAGE] =
    g_param_spec_object ("image", NULL, NULL, QVM_TYPE_IMAGE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:network:
   *
   * The network the machine is attached to. Released with
   * qvm_network_release() once QEMU has exited.
   */
  properties[PROP_NETWORK] =
    g_param_spec_object ("network", NULL, NULL, QVM_TYPE_NETWORK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:socket-folder:
   *
   * The folder in which the machine makes its own private folder (mode
   * 0700) for QEMU's sockets when it starts; that folder is removed when
   * the machine is done.
   */
  properties[PROP_SOCKET_FOLDER] =
    g_param_spec_string ("socket-folder", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:cdrom1:
   *
   * A file attached read-only as the first CD-ROM (boot index 2), or %NULL.
   */
  properties[PROP_CDROM1] =
    g_param_spec_string ("cdrom1", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:cdrom2:
   *
   * A file attached read-only as the second CD-ROM (boot index 3), or %NULL.
   */
  properties[PROP_CDROM2] =
    g_param_spec_string ("cdrom2", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:machine:
   *
   * The hardware the machine runs with: a copy of the image's machine
   * definition with the options' defaults applied. Do not change it.
   */
  properties[PROP_MACHINE] =
    g_param_spec_object ("machine", NULL, NULL, QVM_TYPE_MACHINE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:qemu-binary:
   *
   * The QEMU to run: a path, or a name looked up on `PATH`. Defaults to
   * the `QVM_QEMU` environment variable, or `qemu-system-x86_64`. Read
   * when the machine starts.
   */
  properties[PROP_QEMU_BINARY] =
    g_param_spec_string ("qemu-binary", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:accel:
   *
   * The accelerator: `kvm`, `tcg`, or `auto`, which picks KVM only when
   * `/dev/kvm` opens read-write and `/proc/cpuinfo` shows the `vmx` or
   * `svm` flag (a paravirtual nested KVM without them fails on real-mode
   * boot code). Defaults to the `QVM_ACCEL` environment variable, or
   * `auto`. An unknown name makes the start fail.
   */
  properties[PROP_ACCEL] =
    g_param_spec_string ("accel", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:state:
   *
   * Where the machine is in its life cycle. Changes are notified on the
   * main context the machine was created in, in the order they happen.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, QVM_TYPE_VM_STATE, QVM_VM_STATE_CREATED,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:done-reason:
   *
   * Why the machine is done; %QVM_VM_DONE_REASON_NONE until then.
   */
  properties[PROP_DONE_REASON] =
    g_param_spec_enum ("done-reason", NULL, NULL, QVM_TYPE_VM_DONE_REASON,
                       QVM_VM_DONE_REASON_NONE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:vnc-socket:
   *
   * The path of QEMU's VNC server socket while the machine runs, %NULL
   * before and once done.
   */
  properties[PROP_VNC_SOCKET] =
    g_param_spec_string ("vnc-socket", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:qmp-client:
   *
   * The QMP connection to QEMU once it is up, %NULL before and once done.
   */
  properties[PROP_QMP_CLIENT] =
    g_param_spec_object ("qmp-client", NULL, NULL, QVM_TYPE_QMP_CLIENT,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QvmVirtualMachine::done:
   * @vm: the virtual machine
   *
   * Emitted exactly once, when QEMU has exited (or was never started), QMP
   * is closed, the network and the image are released and the socket
   * folder is removed. [method@Qvm.VirtualMachine.get_error] and
   * [property@Qvm.VirtualMachine:done-reason] tell why. The detail is the
   * nick of the reason: connect to `done::crashed` for crashes only.
   */
  signals[SIGNAL_DONE] =
    g_signal_new ("done", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * QvmVirtualMachine::qmp-event:
   * @vm: the virtual machine
   * @name: the event's name, e.g. `STOP`; also the signal's detail
   * @data: (nullable): the event's `data` member
   * @timestamp: when QEMU emitted the event, in microseconds since the Unix
   *   epoch
   *
   * Emitted for each event QEMU sends over QMP, after the machine took it
   * into account (so [property@Qvm.VirtualMachine:state] may not have
   * changed yet). Connect to `qmp-event::RESET` for one event.
   */
  signals[SIGNAL_QMP_EVENT] =
    g_signal_new ("qmp-event", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT,
                  G_TYPE_INT64);
}

static void
qvm_virtual_machine_init (QvmVirtualMachine *self)
{
  static gint counter;
  const char *env;

  self->id = g_strdup_printf ("vm%d-%04x", g_atomic_int_add (&counter, 1) + 1,
                              g_random_int_range (0, 0x10000));
  self->context = g_main_context_ref_thread_default ();
  self->readers_cancellable = g_cancellable_new ();
  self->qmp_watch_cancellable = g_cancellable_new ();
  g_queue_init (&self->stderr_tail);

  env = g_getenv ("QVM_QEMU");
  self->qemu_binary = g_strdup (env != NULL && *env != '\0' ? env : "qemu-system-x86_64");
  env = g_getenv ("QVM_ACCEL");
  self->accel = g_strdup (env != NULL && *env != '\0' ? env : "auto");
}

/* ---- Public API ------------------------------------------------------------------ */

/**
 * qvm_virtual_machine_new:
 * @options: the limits and defaults for the image's machine definition
 * @image: the image to boot from
 * @network: the network to attach the machine to
 * @socket_folder: an existing folder in which the machine makes its own
 *   private folder for QEMU's sockets when it starts
 * @cdrom1: (nullable) (type filename): a file to attach read-only as the
 *   first CD-ROM
 * @cdrom2: (nullable) (type filename): a file to attach read-only as the
 *   second CD-ROM
 * @error: return location for a #GError
 *
 * Makes a virtual machine from @image's machine definition, with the
 * defaults of @options applied (the seed's `NewVirtualMachine`). Nothing
 * runs and nothing is made on disk until [method@Qvm.VirtualMachine.start].
 *
 * When the machine definition conflicts with @options (memory above the
 * maximum, …) this fails with %QVM_ERROR_MALFORMED_PAYLOAD; a CD-ROM that
 * cannot be read or a @socket_folder that is not a folder fail with a
 * %G_IO_ERROR. On failure the caller keeps the responsibility for @image
 * and @network. On success the machine takes it: it releases both
 * (qvm_network_release(), qvm_image_release()) when it is done, or when
 * it is finalized without ever having been started.
 *
 * Returns: (transfer full): the new virtual machine, or %NULL on error
 */
QvmVirtualMachine *
qvm_virtual_machine_new (QvmMachineOptions  *options,
                         QvmImage           *image,
                         QvmNetwork         *network,
                         const char         *socket_folder,
                         const char         *cdrom1,
                         const char         *cdrom2,
                         GError            **error)
{
  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), NULL);
  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);
  g_return_val_if_fail (QVM_IS_NETWORK (network), NULL);
  g_return_val_if_fail (socket_folder != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (QVM_TYPE_VIRTUAL_MACHINE, NULL, error,
                         "options", options,
                         "image", image,
                         "network", network,
                         "socket-folder", socket_folder,
                         "cdrom1", cdrom1,
                         "cdrom2", cdrom2,
                         NULL);
}

/**
 * qvm_virtual_machine_get_id:
 * @vm: a virtual machine
 *
 * The [property@Qvm.VirtualMachine:id] of @vm.
 *
 * Returns: (transfer none): a short identifier, unique in the process
 */
const char *
qvm_virtual_machine_get_id (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->id;
}

/**
 * qvm_virtual_machine_get_machine:
 * @vm: a virtual machine
 *
 * The hardware @vm runs with: the image's machine definition with the
 * defaults of the options applied. Do not change it.
 *
 * Returns: (transfer none): the machine definition
 */
QvmMachine *
qvm_virtual_machine_get_machine (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->machine;
}

/**
 * qvm_virtual_machine_get_state:
 * @vm: a virtual machine
 *
 * Where @vm is in its life cycle (see [property@Qvm.VirtualMachine:state]).
 *
 * Returns: the state
 */
QvmVmState
qvm_virtual_machine_get_state (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), QVM_VM_STATE_CREATED);
  return vm->state;
}

/**
 * qvm_virtual_machine_get_done_reason:
 * @vm: a virtual machine
 *
 * Why @vm is done.
 *
 * Returns: the reason, %QVM_VM_DONE_REASON_NONE before
 *   [signal@Qvm.VirtualMachine::done]
 */
QvmVmDoneReason
qvm_virtual_machine_get_done_reason (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), QVM_VM_DONE_REASON_NONE);
  return vm->done_reason;
}

/**
 * qvm_virtual_machine_get_error:
 * @vm: a virtual machine
 *
 * Why @vm ended, once it is done: %NULL when the guest powered off or shut
 * down when asked to; %QVM_ERROR_KILLED when the caller killed it (or it
 * ignored a shutdown request for too long); %QVM_ERROR_QEMU_NOT_FOUND or
 * %QVM_ERROR_QEMU_FAILED when QEMU could not start or crashed (the message
 * gives QEMU's exit status and its last lines of output);
 * %QVM_ERROR_GUEST_FAILED when the guest stopped in a state it cannot
 * leave (a KVM internal error, a panic). Before
 * [signal@Qvm.VirtualMachine::done] this is %NULL.
 *
 * Returns: (transfer none) (nullable): the error
 */
const GError *
qvm_virtual_machine_get_error (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->error;
}

/**
 * qvm_virtual_machine_get_vnc_socket:
 * @vm: a virtual machine
 *
 * The path of QEMU's VNC server (a unix socket) while @vm runs (the seed's
 * `VNCSocket`).
 *
 * Returns: (transfer none) (nullable) (type filename): the path, or %NULL
 *   before the machine runs and once it is done
 */
const char *
qvm_virtual_machine_get_vnc_socket (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->vnc_socket;
}

/**
 * qvm_virtual_machine_get_qmp_client:
 * @vm: a virtual machine
 *
 * The QMP connection to QEMU, to send commands this class has no method
 * for. Do not close it: @vm does when it is done.
 *
 * Returns: (transfer none) (nullable): the client, or %NULL before QEMU
 *   is connected and once the machine is done
 */
QvmQmpClient *
qvm_virtual_machine_get_qmp_client (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->done ? NULL : vm->qmp;
}

/**
 * qvm_virtual_machine_get_qemu_binary:
 * @vm: a virtual machine
 *
 * The [property@Qvm.VirtualMachine:qemu-binary] of @vm.
 *
 * Returns: (transfer none) (type filename): the QEMU binary, a path or a
 *   name looked up on `PATH`
 */
const char *
qvm_virtual_machine_get_qemu_binary (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->qemu_binary;
}

/**
 * qvm_virtual_machine_set_qemu_binary:
 * @vm: a virtual machine
 * @qemu_binary: (nullable) (type filename): a path, or a name to look up
 *   on `PATH`; %NULL for the default
 *
 * Sets the QEMU binary to run; read when the machine starts.
 */
void
qvm_virtual_machine_set_qemu_binary (QvmVirtualMachine *vm,
                                     const char        *qemu_binary)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  if (qemu_binary == NULL || *qemu_binary == '\0')
    {
      const char *env = g_getenv ("QVM_QEMU");
      qemu_binary = env != NULL && *env != '\0' ? env : "qemu-system-x86_64";
    }

  if (qvm_set_str (&vm->qemu_binary, qemu_binary))
    g_object_notify_by_pspec (G_OBJECT (vm), properties[PROP_QEMU_BINARY]);
}

/**
 * qvm_virtual_machine_get_accel:
 * @vm: a virtual machine
 *
 * The [property@Qvm.VirtualMachine:accel] of @vm.
 *
 * Returns: (transfer none): `auto`, `kvm` or `tcg`
 */
const char *
qvm_virtual_machine_get_accel (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);
  return vm->accel;
}

/**
 * qvm_virtual_machine_set_accel:
 * @vm: a virtual machine
 * @accel: (nullable): `auto`, `kvm` or `tcg`; %NULL for the default
 *
 * Sets the accelerator; read when the machine starts. An unknown name
 * makes the start fail with %QVM_ERROR_FAILED.
 */
void
qvm_virtual_machine_set_accel (QvmVirtualMachine *vm,
                               const char        *accel)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  if (accel == NULL || *accel == '\0')
    {
      const char *env = g_getenv ("QVM_ACCEL");
      accel = env != NULL && *env != '\0' ? env : "auto";
    }

  if (qvm_set_str (&vm->accel, accel))
    g_object_notify_by_pspec (G_OBJECT (vm), properties[PROP_ACCEL]);
}

/**
 * qvm_virtual_machine_start:
 * @vm: a virtual machine
 *
 * Starts @vm like the seed's `Start`: failures arrive through
 * [signal@Qvm.VirtualMachine::done] and
 * [method@Qvm.VirtualMachine.get_error]. Use
 * [method@Qvm.VirtualMachine.start_async] to know when the guest runs.
 */
void
qvm_virtual_machine_start (QvmVirtualMachine *vm)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  qvm_virtual_machine_start_async (vm, NULL, NULL, NULL);
}

/**
 * qvm_virtual_machine_start_async:
 * @vm: a virtual machine
 * @cancellable: (nullable): cancelling it before the guest runs kills the
 *   machine
 * @callback: (scope async): called once the guest runs or the start failed
 * @user_data: data for @callback
 *
 * Starts QEMU, connects to it over QMP and lets the guest run. A machine
 * starts once: a second call fails with %QVM_ERROR_INVALID_STATE. When the
 * start fails, the machine is done as well (and the error is also
 * [method@Qvm.VirtualMachine.get_error]); the callback runs after
 * [signal@Qvm.VirtualMachine::done] then.
 */
void
qvm_virtual_machine_start_async (QvmVirtualMachine   *vm,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_start_async);

  if (vm->start_requested || vm->end_reason != QVM_VM_DONE_REASON_NONE)
    {
      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               vm->start_requested ?
                               _("The virtual machine was already started") :
                               _("The virtual machine was killed before it started"));
      return;
    }

  vm->start_requested = TRUE;
  vm->start_task = g_object_ref (task);
  vm_schedule_state (vm, QVM_VM_STATE_STARTING);

  if (cancellable != NULL)
    {
      vm->start_cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (vm->start_cancel_source, G_SOURCE_FUNC (start_cancelled_cb),
                             vm, NULL);
      g_source_attach (vm->start_cancel_source, vm->context);
    }

  qvm_coroutine_run_task (task, start_co);
}

/**
 * qvm_virtual_machine_start_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.start_async].
 *
 * Returns: %TRUE once the guest runs
 */
gboolean
qvm_virtual_machine_start_finish (QvmVirtualMachine  *vm,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == qvm_virtual_machine_start_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
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

  if (!check_running (self, &error))
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  answer = vm_execute (self, pause ? "stop" : "cont", NULL, cancellable, &error);
  if (answer == NULL)
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (self->end_reason == QVM_VM_DONE_REASON_NONE)
    vm_schedule_state (self, pause ? QVM_VM_STATE_PAUSED : QVM_VM_STATE_RUNNING);
  qvm_task_return_boolean (task, TRUE);
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
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_pause_async);
  g_task_set_task_data (task, GINT_TO_POINTER (TRUE), NULL);
  qvm_coroutine_run_task (task, pause_co);
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
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
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
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_resume_async);
  g_task_set_task_data (task, GINT_TO_POINTER (FALSE), NULL);
  qvm_coroutine_run_task (task, pause_co);
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
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
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

  if (vm->done)
    return;

  vm_end (vm, QVM_VM_DONE_REASON_KILLED,
          g_error_new (QVM_ERROR, QVM_ERROR_KILLED, _("The virtual machine was killed")));
}

static void
shutdown_co (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  guint timeout_ms = GPOINTER_TO_UINT (task_data);

  if (!self->done && self->end_reason == QVM_VM_DONE_REASON_NONE)
    {
      self->shutdown_requested = TRUE;

      if (!self->start_requested)
        {
          /* Nothing runs: ending it is the whole shutdown. */
          vm_end (self, QVM_VM_DONE_REASON_SHUTDOWN, NULL);
        }
      else if (!check_running (self, NULL))
        {
          /* Still starting: there is no guest to ask yet. */
          vm_end (self, QVM_VM_DONE_REASON_KILLED,
                  g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                               _("The virtual machine was killed: shut down before it ran")));
        }
      else
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(JsonNode) answer = vm_execute (self, "system_powerdown", NULL, NULL, &error);

          if (answer == NULL)
            g_debug ("%s: system_powerdown: %s", self->id, error->message);

          if (!wait_done (self, MAX (timeout_ms, 1)))
            {
              g_debug ("%s: no shutdown after %u ms, killing", self->id, timeout_ms);
              vm_end (self, QVM_VM_DONE_REASON_KILLED,
                      g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                                   _("The virtual machine did not shut down within %u ms and was killed"),
                                   timeout_ms));
            }
        }
    }

  wait_done (self, 0);
  qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_shutdown_async:
 * @vm: a virtual machine
 * @timeout_ms: how long the guest may take to power off, in milliseconds
 * @cancellable: (nullable): a #GCancellable (not used yet)
 * @callback: (scope async): called once the machine is done
 * @user_data: data for @callback
 *
 * Asks the guest to power off (an ACPI power button press, QMP
 * `system_powerdown`) and waits up to @timeout_ms for it; a guest that
 * ignores it is then killed. The callback runs after
 * [signal@Qvm.VirtualMachine::done]; the done reason tells which way it
 * went (%QVM_VM_DONE_REASON_SHUTDOWN or %QVM_VM_DONE_REASON_KILLED). A
 * machine that never started is simply released; one that is still
 * starting is killed.
 */
void
qvm_virtual_machine_shutdown_async (QvmVirtualMachine   *vm,
                                    guint                timeout_ms,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_shutdown_async);
  g_task_set_task_data (task, GUINT_TO_POINTER (timeout_ms), NULL);
  qvm_coroutine_run_task (task, shutdown_co);
}

/**
 * qvm_virtual_machine_shutdown_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.shutdown_async].
 *
 * Returns: %TRUE once the machine is done
 */
gboolean
qvm_virtual_machine_shutdown_finish (QvmVirtualMachine  *vm,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Screenshots ------------------------------------------------------------ */

typedef struct {
  gpointer address;
  gsize    size;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  munmap (mapping->address, mapping->size);
  g_free (mapping);
}

static GdkPixbuf *
decode_screenshot (int      memfd,
                   GError **error)
{
  struct stat st;
  gpointer map;
  Mapping *mapping;
  g_autoptr(GBytes) bytes = NULL;

  if (fstat (memfd, &st) != 0 || st.st_size == 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                   _("QEMU wrote an empty screenshot"));
      return NULL;
    }

  map = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, memfd, 0);
  if (map == MAP_FAILED)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot map the screenshot: %s"), g_strerror (saved_errno));
      return NULL;
    }

  mapping = g_new (Mapping, 1);
  mapping->address = map;
  mapping->size = st.st_size;
  bytes = g_bytes_new_with_free_func (map, st.st_size, mapping_free, mapping);

  return qvm_ppm_decode (bytes, error);
}

/* The fdset ids screenshots use: the library picks them so that add-fd,
 * screendump and remove-fd can be sent at once, without waiting for
 * add-fd to name the set. Far above the small ids QEMU hands out. */
#define SCREENSHOT_FDSET_BASE (G_GINT64_CONSTANT (1) << 30)

static void
screenshot_co (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  static guint counter;
  QvmVirtualMachine *self = source_object;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmQmpClient) client = NULL;
  g_autoptr(JsonObject) add_args = json_object_new ();
  g_autoptr(JsonObject) dump_args = json_object_new ();
  g_autoptr(JsonObject) remove_args = json_object_new ();
  g_autofree char *writable_path = NULL;
  g_autofree char *fdset_path = NULL;
  gint64 fdset_id;
  GdkPixbuf *pixbuf;
  int memfd;
  int fd;

  if (!check_running (self, &error))
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  memfd = memfd_create ("qvm-screenshot", MFD_CLOEXEC);
  if (memfd < 0)
    {
      int saved_errno = errno;
      qvm_task_return_error (task, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved_errno),
                                                _("Cannot make a memory file: %s"),
                                                g_strerror (saved_errno)));
      return;
    }

  /* QEMU hands out an fdset member only to an open() with the same access
   * mode, and screendump opens for writing: give it a write-only one. */
  writable_path = g_strdup_printf ("/proc/self/fd/%d", memfd);
  fd = open (writable_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;
      close (memfd);
      qvm_task_return_error (task, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved_errno),
                                                _("Cannot reopen the memory file: %s"),
                                                g_strerror (saved_errno)));
      return;
    }

  /* The library picks the set's id so that the three commands go at once,
   * in one round trip; QEMU runs them in order, and the remove runs
   * whatever happened to the dump. */
  fdset_id = SCREENSHOT_FDSET_BASE + (guint) g_atomic_int_add (&counter, 1);
  fdset_path = g_strdup_printf ("/dev/fdset/%" G_GINT64_FORMAT, fdset_id);
  json_object_set_int_member (add_args, "fdset-id", fdset_id);
  json_object_set_string_member (add_args, "opaque", "qvm-glib screenshot");
  json_object_set_string_member (dump_args, "filename", fdset_path);
  json_object_set_int_member (remove_args, "fdset-id", fdset_id);
  {
    QvmQmpBatchCommand commands[] = {
      { "add-fd", add_args, fd, FALSE, NULL, NULL },
      { "screendump", dump_args, -1, FALSE, NULL, NULL },
      { "remove-fd", remove_args, -1, TRUE, NULL, NULL },
    };

    client = g_object_ref (self->qmp);
    if (!qvm_qmp_client_await_batch (client, commands, G_N_ELEMENTS (commands), cancellable))
      {
        /* The first failure tells most. */
        for (guint i = 0; i < G_N_ELEMENTS (commands) && error == NULL; i++)
          if (commands[i].error != NULL)
            error = g_steal_pointer (&commands[i].error);
      }
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      qvm_qmp_batch_command_clear (&commands[i]);
  }
  close (fd);

  if (error != NULL)
    {
      close (memfd);
      g_prefix_error (&error, _("Cannot take a screenshot: "));
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  pixbuf = decode_screenshot (memfd, &error);
  close (memfd);
  if (pixbuf == NULL)
    qvm_task_return_error (task, g_steal_pointer (&error));
  else
    qvm_task_return_pointer (task, pixbuf, g_object_unref);
}

/**
 * qvm_virtual_machine_screenshot_async:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the screenshot
 * @user_data: data for @callback
 *
 * Takes a screenshot of the guest's screen as it is now. No file is made:
 * QEMU writes into a memory file it is given over QMP. Several
 * screenshots may be taken at once. Fails with %QVM_ERROR_INVALID_STATE
 * unless the machine runs or is paused.
 */
void
qvm_virtual_machine_screenshot_async (QvmVirtualMachine   *vm,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_screenshot_async);
  qvm_coroutine_run_task (task, screenshot_co);
}

/**
 * qvm_virtual_machine_screenshot_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.screenshot_async].
 *
 * Returns: (transfer full): the screen, or %NULL on error
 */
GdkPixbuf *
qvm_virtual_machine_screenshot_finish (QvmVirtualMachine  *vm,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

/**
 * qvm_virtual_machine_screenshot:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes a screenshot and waits for it, running @vm's main context
 * meanwhile (other sources of that context may run). Call it from the
 * thread that runs that context, not from inside one of @vm's callbacks.
 *
 * Returns: (transfer full): the screen, or %NULL on error
 */
GdkPixbuf *
qvm_virtual_machine_screenshot (QvmVirtualMachine  *vm,
                                GCancellable       *cancellable,
                                GError            **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);

  g_main_context_push_thread_default (vm->context);
  qvm_virtual_machine_screenshot_async (vm, cancellable, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (vm->context, TRUE);
  g_main_context_pop_thread_default (vm->context);

  return qvm_virtual_machine_screenshot_finish (vm, result, error);
}

/**
 * qvm_virtual_machine_set_http_handler:
 * @vm: a virtual machine
 * @handler: (scope notified) (closure user_data) (destroy destroy): the
 *   handler for the guest's requests to `http://169.254.169.254/`
 * @user_data: data for @handler
 * @destroy: (nullable): frees @user_data when the handler is replaced or
 *   the network released
 *
 * Sets the handler of the metadata service the guest reaches at
 * 169.254.169.254:80 (the seed's `SetHTTPHandler`): passed through to the
 * machine's network. Once the machine is done, @user_data is freed at
 * once.
 */
void
qvm_virtual_machine_set_http_handler (QvmVirtualMachine  *vm,
                                      SoupServerCallback  handler,
                                      gpointer            user_data,
                                      GDestroyNotify      destroy)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  if (vm->resources_released)
    {
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  qvm_network_set_handler (vm->network, handler, user_data, destroy);
}
