/* qvm-vm-start.c: how a QvmVirtualMachine starts, and what it hears
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * start_co (a GTask body on a coroutine) acquires the image, makes the
 * socket folder, spawns QEMU (QMP on an inherited socketpair, so there is
 * nothing to wait for), starts the teardown that waits for its exit,
 * connects QMP, says "cont" and reports the guest running: SPAWNING,
 * CONNECTING, STARTING_GUEST, RUNNING. The guest's serial console has a
 * socketpair of its own, drained by the machine's QvmConsole. One reader
 * coroutine per QEMU output stream turns each line into a structured log
 * record tagged with the machine's id and keeps the last lines of stderr
 * for error messages.
 * QMP events (SHUTDOWN, STOP, RESUME, GUEST_PANICKED) and a QMP connection
 * that closes under a QEMU that keeps running are handled here too.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm-console-private.h"
#include "qvm-coroutine-gio-private.h"
#include "qvm-coroutine-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-owned-folder-private.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-vm-private.h"

/* How many lines of QEMU's stderr are kept for error messages. */
#define STDERR_TAIL_LINES 50

/* How long QEMU may run on after its QMP connection ended before it is
 * killed: it normally exits right after closing it. */
#define QMP_CLOSED_GRACE_MS 2000

/* The descriptor numbers QEMU gets its ends of the QMP and console
 * socketpairs on. */
#define QMP_CHILD_FD 3
#define CONSOLE_CHILD_FD 4

gboolean
qvm_vm_qemu_running (QvmVirtualMachine *self)
{
  /* GSubprocess forgets the pid once it has reaped QEMU. */
  return self->qemu != NULL && g_subprocess_get_identifier (self->qemu) != NULL;
}

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

/* ---- QMP from coroutines ------------------------------------------------- */

/* Runs a QMP command and waits for its answer (transfer full). */
JsonNode *
qvm_vm_execute (QvmVirtualMachine  *self,
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
gboolean
qvm_vm_check_running (QvmVirtualMachine  *self,
                      GError            **error)
{
  if (self->qmp == NULL || !qvm_vm_phase_has_guest (self->phase))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The virtual machine is not running"));
      return FALSE;
    }
  return TRUE;
}

/* ---- QEMU's output --------------------------------------------------------- */

/* QEMU's own output: lines are cut at this many bytes so that a QEMU (or
 * a helper it started) that never sends a newline cannot make the library
 * buffer without bound. */
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
    qvm_vm_readers_finished (self);

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

/* ---- Start ------------------------------------------------------------------ */

/* The machine's own folder for QEMU's sockets, after removing those of
 * machines whose owner died without cleaning up. */
static gboolean
make_socket_folder (QvmVirtualMachine  *self,
                    GError            **error)
{
  qvm_owned_folder_sweep (self->socket_parent, QVM_VM_SOCKET_FOLDER_PREFIX);
  self->socket_folder = qvm_owned_folder_make (self->socket_parent, QVM_VM_SOCKET_FOLDER_PREFIX,
                                               &self->socket_folder_lock, error);
  if (self->socket_folder == NULL)
    g_prefix_error (error, _("Cannot make a socket folder: "));
  return self->socket_folder != NULL;
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
      .no_tablet = !qvm_machine_get_tablet (machine),
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
    .incoming = self->restore_file != NULL,
    .generation_id = self->generation_id,
    .console_fd = CONSOLE_CHILD_FD,
  };

  return config;
}

/* A socketpair: @local wraps our end, *@child_fd is QEMU's. */
static gboolean
make_socket_pair (const char  *what,
                  GSocket    **local,
                  int         *child_fd,
                  GError     **error)
{
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot make the %s socket pair: %s"), what, g_strerror (saved_errno));
      return FALSE;
    }

  *local = g_socket_new_from_fd (fds[0], error);
  if (*local == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return FALSE;
    }
  *child_fd = fds[1];
  return TRUE;
}

QvmConsole *
qvm_vm_ensure_console (QvmVirtualMachine *self)
{
  if (self->console == NULL)
    self->console = qvm_console_new (self->id, self->context);
  return self->console;
}

/**
 * qvm_virtual_machine_get_console:
 * @vm: a virtual machine
 *
 * The guest's first serial port (its `ttyS0`). The library reads it from
 * the moment QEMU starts, whoever listens, and keeps the most recent
 * output in the console's ring; each line also goes to the log as a
 * record of level debug tagged with the machine's id
 * (%QVM_VM_ID_FIELD), with `QVM_QEMU_STREAM=console` and the line in
 * `QVM_QEMU_LINE`. The console is the same object for the machine's whole
 * life: get it before the start to see every line. It is closed when the
 * machine is done, with the machine's error.
 *
 * Returns: (transfer none): the machine's console
 */
QvmConsole *
qvm_virtual_machine_get_console (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);

  return qvm_vm_ensure_console (vm);
}

/* The descriptor the network's -netdev value names, if it names one: -1 in
 * *fd_out with TRUE when the network needs none. */
static gboolean
take_netdev_fd (QvmVirtualMachine  *self,
                int                *fd_out,
                GError            **error)
{
  GError *local_error = NULL;

  *fd_out = qvm_network_take_netdev_fd (self->network, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
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
  g_autoptr(GSocket) console_socket = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *command_line = NULL;
  QvmQemuArgvConfig config;
  const char *accel;
  int qmp_child_fd;
  int console_child_fd;
  int netdev_fd;

  /* In use from here; qvm_vm_release_resources() ends the use, whatever
   * happens. An image in use elsewhere is not ours to release. */
  if (!qvm_image_acquire (self->image, error))
    {
      self->image_use = QVM_VM_IMAGE_REFUSED;
      return FALSE;
    }
  self->image_use = QVM_VM_IMAGE_ACQUIRED;

  accel = qvm_vm_resolve_accel (self, error);
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

  if (!make_socket_pair ("QMP", &socket, &qmp_child_fd, error))
    return FALSE;
  if (!make_socket_pair ("console", &console_socket, &console_child_fd, error))
    {
      close (qmp_child_fd);
      return FALSE;
    }
  if (!take_netdev_fd (self, &netdev_fd, error))
    {
      close (qmp_child_fd);
      close (console_child_fd);
      return FALSE;
    }
  self->qmp_connection = g_socket_connection_factory_create_connection (socket);

  g_free (self->generation_id);
  self->generation_id = g_uuid_string_random ();
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
  g_subprocess_launcher_take_fd (launcher, qmp_child_fd, QMP_CHILD_FD);
  g_subprocess_launcher_take_fd (launcher, console_child_fd, CONSOLE_CHILD_FD);
  if (netdev_fd >= 0)
    g_subprocess_launcher_take_fd (launcher, netdev_fd, QVM_NETWORK_NETDEV_FD);

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
  /* Drained from now on: QEMU holds the guest's output while nobody reads. */
  qvm_console_attach (qvm_vm_ensure_console (self), console_socket);
  start_reader (self, g_subprocess_get_stdout_pipe (self->qemu), FALSE);
  start_reader (self, g_subprocess_get_stderr_pipe (self->qemu), TRUE);
  return TRUE;
}

/* QMP handshake and "cont". */
static gboolean
connect_and_run (QvmVirtualMachine  *self,
                 GError            **error)
{
  g_autoptr(JsonNode) answer = NULL;
  QvmQmpClient *client;

  /* A QEMU that never greets must not hang the start, nor one that stops
   * answering the machine's later commands. */
  client = qvm_qmp_client_await_new (G_IO_STREAM (self->qmp_connection),
                                     self->handshake_timeout_ms, NULL, error);
  if (client == NULL)
    return FALSE;
  qvm_qmp_client_set_timeout (client, QVM_VM_QMP_TIMEOUT_MS);

  self->qmp = client;
  self->qmp_event_handler = g_signal_connect (client, "event",
                                              G_CALLBACK (qvm_vm_on_qmp_event), self);
  self->qmp_closed_handler = g_signal_connect (client, "closed",
                                               G_CALLBACK (qvm_vm_on_qmp_closed), self);
  /* The client owns the connection now. */
  g_clear_object (&self->qmp_connection);

  if (qvm_vm_phase_is_ending (self->phase))
    return TRUE;

  qvm_vm_set_phase (self, QVM_VM_PHASE_STARTING_GUEST);
  if (self->restore_file != NULL && !qvm_vm_restore_state (self, NULL, error))
    return FALSE;
  answer = qvm_vm_execute (self, "cont", NULL, NULL, error);
  if (answer == NULL)
    return FALSE;

  /* The guest runs, unless the machine ended while "cont" was on its way. */
  if (!qvm_vm_phase_is_ending (self->phase))
    qvm_vm_set_phase (self, QVM_VM_PHASE_RUNNING);
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

  if (qvm_vm_phase_is_ending (self->phase))
    {
      /* Killed before this body ran. */
      qvm_vm_begin_teardown (self);
      return;
    }

  if (!spawn_qemu (self, &error))
    {
      qvm_vm_end (self, QVM_VM_DONE_REASON_FAILED, g_steal_pointer (&error));
      qvm_vm_begin_teardown (self);
      return;
    }

  /* From now on the teardown waits for QEMU to exit, whatever happens. */
  qvm_vm_begin_teardown (self);

  if (qvm_vm_phase_is_ending (self->phase))
    {
      /* Ended (killed, cancelled) while QEMU was being spawned. */
      qvm_vm_set_phase (self, QVM_VM_PHASE_KILLING);
      g_subprocess_force_exit (self->qemu);
      return;
    }
  qvm_vm_set_phase (self, QVM_VM_PHASE_CONNECTING);

  if (!connect_and_run (self, &error))
    {
      g_prefix_error (&error, _("Cannot start the virtual machine over QMP: "));
      qvm_vm_end (self, QVM_VM_DONE_REASON_FAILED, g_steal_pointer (&error));
      return;
    }

  if (qvm_vm_phase_is_ending (self->phase))
    return;   /* the start task fails when done */

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

  /* Once: the source is destroyed when the start ends. */
  if (self->start_task != NULL)
    {
      qvm_vm_end (self, QVM_VM_DONE_REASON_KILLED,
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
  g_autoptr(JsonNode) answer = qvm_vm_execute (self, "query-status", NULL, NULL, &error);
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
      qvm_vm_end (self, QVM_VM_DONE_REASON_CRASHED,
                  g_error_new (QVM_ERROR, QVM_ERROR_GUEST_FAILED,
                               _("The guest stopped in state “%s” and cannot continue"), status));
    }
  else if (g_str_equal (status, "paused") && self->phase == QVM_VM_PHASE_RUNNING)
    {
      qvm_vm_set_phase (self, QVM_VM_PHASE_PAUSED);
    }

  g_object_unref (self);
}

void
qvm_vm_on_qmp_event (QvmQmpClient *client,
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
      /* Its data ("guest", "reason") explain QEMU's exit later. */
      g_clear_pointer (&self->shutdown_event, json_object_unref);
      self->shutdown_event = data != NULL ? json_object_ref (data) : json_object_new ();
    }
  else if (g_str_equal (name, "STOP"))
    {
      /* A pause, or a guest that cannot go on: query-status tells which. */
      qvm_coroutine_spawn (check_status_co, g_object_ref (self));
    }
  else if (g_str_equal (name, "RESUME"))
    {
      if (self->phase == QVM_VM_PHASE_PAUSED)
        qvm_vm_set_phase (self, QVM_VM_PHASE_RUNNING);
    }
  else if (g_str_equal (name, "GUEST_PANICKED"))
    {
      qvm_vm_end (self, QVM_VM_DONE_REASON_CRASHED,
                  g_error_new (QVM_ERROR, QVM_ERROR_GUEST_FAILED, _("The guest panicked")));
    }

  g_signal_emit (self, qvm_vm_signals[QVM_VM_SIGNAL_QMP_EVENT], g_quark_from_string (name),
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
      qvm_vm_qemu_running (self) && !qvm_vm_phase_is_ending (self->phase))
    qvm_vm_end (self, QVM_VM_DONE_REASON_CRASHED,
                g_error_new (QVM_ERROR, QVM_ERROR_PROTOCOL,
                             _("QEMU's QMP connection ended (%s) but QEMU kept running"),
                             closed->reason != NULL ? closed->reason->message : _("closed")));

  g_clear_error (&closed->reason);
  g_object_unref (closed->vm);
  g_free (closed);
}

void
qvm_vm_on_qmp_closed (QvmQmpClient *client,
                      const GError *reason,
                      gpointer      user_data)
{
  QvmVirtualMachine *self = user_data;
  QmpClosed *closed;

  /* Every event QEMU sent came before this: the teardown may go on. */
  g_clear_signal_handler (&self->qmp_closed_handler, client);
  qvm_wait_queue_wake_all (&self->qmp_closed_queue);

  if (!qvm_vm_qemu_running (self) || qvm_vm_phase_is_ending (self->phase))
    return;

  closed = g_new0 (QmpClosed, 1);
  closed->vm = g_object_ref (self);
  closed->reason = reason != NULL ? g_error_copy (reason) : NULL;
  qvm_coroutine_spawn (qmp_closed_co, closed);
}

/**
 * qvm_virtual_machine_start_in_background:
 * @vm: a virtual machine
 *
 * Starts @vm and returns at once, without waiting for anything: failures arrive through
 * [signal@Qvm.VirtualMachine::done] and
 * [method@Qvm.VirtualMachine.get_error]. Use
 * [method@Qvm.VirtualMachine.start_async] to know when the guest runs, or
 * [method@Qvm.VirtualMachine.start] to wait for it.
 */
void
qvm_virtual_machine_start_in_background (QvmVirtualMachine *vm)
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
  GError *error = NULL;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_start_async);

  if (!qvm_vm_check_constructed (vm, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (vm->phase != QVM_VM_PHASE_CREATED)
    {
      gboolean ended_unstarted = qvm_vm_phase_is_ending (vm->phase) &&
                                 vm->end_phase == QVM_VM_PHASE_CREATED;

      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               ended_unstarted ?
                               _("The virtual machine was killed before it started") :
                               _("The virtual machine was already started"));
      return;
    }

  vm->start_task = g_object_ref (task);
  qvm_vm_set_phase (vm, QVM_VM_PHASE_SPAWNING);

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

