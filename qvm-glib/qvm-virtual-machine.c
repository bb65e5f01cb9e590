/* qvm-virtual-machine.c: one QEMU process and the resources it holds
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Construction, properties, signals and the getters. The life cycle is
 * coroutine code (qvm-coroutine-private.h) in phases (qvm-vm-phase.c):
 * starting in qvm-vm-start.c, ending in qvm-vm-stop.c, screenshots in
 * qvm-vm-output.c; qvm-vm-private.h has the instance struct they share.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm-coroutine-private.h"
#include "qvm-enum-types.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-keymap-private.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-util-private.h"
#include "qvm-console-private.h"
#include "qvm-vm-private.h"

/* sizeof (struct sockaddr_un.sun_path) on Linux, terminating NUL included. */
#define UNIX_PATH_MAX 108

/**
 * QvmVirtualMachine:
 *
 * One QEMU process and the resources it holds: a [iface@Qvm.Image] to boot
 * from, a [iface@Qvm.Network], and a private folder for QEMU's sockets.
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
 * The construct properties may also be given to g_object_new(), which is
 * what `Qvm.VirtualMachine(image=…, …)` in Python and
 * `new Qvm.VirtualMachine({image: …})` in JavaScript do: the machine is
 * the same. One that could not be made that way (a required property
 * missing, the definition conflicting with the options…) says why from
 * g_initable_init(), and every operation on it fails with that error:
 * [method@Qvm.VirtualMachine.start_async] and the others, without
 * running anything; [method@Qvm.VirtualMachine.kill] does nothing.
 *
 * Signals, notifications and callbacks run in the thread-default main
 * context of the thread that made the machine. A started machine keeps
 * itself alive until it is done: dropping the last reference does not
 * stop QEMU, [method@Qvm.VirtualMachine.kill] does.
 */
GParamSpec *qvm_vm_properties[QVM_VM_N_PROPS];
guint qvm_vm_signals[QVM_VM_N_SIGNALS];

static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmVirtualMachine, qvm_virtual_machine, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

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

/* The construct-only property @name is required and was not given. */
static gboolean
check_required (gconstpointer   value,
                const char     *name,
                GError        **error)
{
  if (value != NULL)
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("A virtual machine needs the property “%s”, set when it is made"), name);
  return FALSE;
}

/* Everything construction checks and derives, run once from constructed()
 * so that g_object_new() (and so Python's and GJS's constructors) makes
 * the same machine qvm_virtual_machine_new() does. */
static gboolean
set_up (QvmVirtualMachine  *self,
        GError            **error)
{
  g_autoptr(QvmMachine) machine = NULL;
  gsize longest_socket;

  /* No options: the defaults, as a default QvmMachineOptions has them. */
  if (self->options == NULL)
    self->options = g_object_new (QVM_TYPE_MACHINE_OPTIONS, NULL);

  if (!check_required (self->image, "image", error) ||
      !check_required (self->network, "network", error) ||
      !check_required (self->socket_parent, "socket-folder", error))
    return FALSE;

  if (!g_file_test (self->socket_parent, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Socket folder “%s” does not exist"), self->socket_parent);
      return FALSE;
    }
  if (!g_file_test (self->socket_parent, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
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

  if (qvm_image_get_machine (self->image) == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The image has no machine definition"));
      return FALSE;
    }
  machine = qvm_machine_copy (qvm_image_get_machine (self->image));
  if (!qvm_machine_set_defaults (machine, self->options, error))
    return FALSE;

  self->machine = g_steal_pointer (&machine);
  qvm_vm_set_phase (self, QVM_VM_PHASE_CREATED);
  return TRUE;
}

static void
qvm_virtual_machine_constructed (GObject *object)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  G_OBJECT_CLASS (qvm_virtual_machine_parent_class)->constructed (object);

  if (!set_up (self, &self->init_error))
    g_debug ("%s: not usable: %s", self->id, self->init_error->message);
}

gboolean
qvm_vm_check_constructed (QvmVirtualMachine  *vm,
                          GError            **error)
{
  if (vm->init_error == NULL)
    return TRUE;

  if (error != NULL)
    *error = g_error_copy (vm->init_error);
  return FALSE;
}

/* The work is done in constructed(): init only tells how it went, as
 * often as it is asked. */
static gboolean
qvm_virtual_machine_initable_init (GInitable     *initable,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  return qvm_vm_check_constructed (QVM_VIRTUAL_MACHINE (initable), error);
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
  if (self->phase == QVM_VM_PHASE_CREATED)
    {
      qvm_vm_release_resources (self);
      qvm_vm_set_phase (self, QVM_VM_PHASE_DONE);
    }
  /* A console the caller keeps ends with the machine it belonged to. */
  if (self->console != NULL)
    qvm_console_end (self->console, self->error);

  G_OBJECT_CLASS (qvm_virtual_machine_parent_class)->dispose (object);
}

static void
qvm_virtual_machine_finalize (GObject *object)
{
  QvmVirtualMachine *self = QVM_VIRTUAL_MACHINE (object);

  g_assert (self->start_task == NULL);
  qvm_wait_queue_clear (&self->done_queue);
  qvm_wait_queue_clear (&self->readers_queue);
  qvm_wait_queue_clear (&self->qmp_closed_queue);

  if (self->socket_folder_lock >= 0)
    close (self->socket_folder_lock);
  g_clear_pointer (&self->keymap, qvm_keymap_free);
  g_free (self->restore_file);
  g_free (self->generation_id);
  g_free (self->id);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->options);
  g_clear_object (&self->image);
  g_clear_object (&self->network);
  g_free (self->socket_parent);
  g_free (self->cdrom1);
  g_free (self->cdrom2);
  g_clear_object (&self->machine);
  g_clear_error (&self->init_error);
  g_free (self->qemu_binary);
  g_clear_error (&self->accel_error);
  g_clear_error (&self->error);
  g_free (self->vnc_socket);
  g_clear_error (&self->end_error);
  g_free (self->socket_folder);
  g_clear_object (&self->qemu);
  g_clear_object (&self->qmp_connection);
  g_clear_object (&self->qmp);
  g_clear_pointer (&self->shutdown_event, json_object_unref);
  g_queue_clear_full (&self->stderr_tail, g_free);
  g_clear_object (&self->readers_cancellable);
  g_clear_object (&self->qmp_watch_cancellable);
  g_clear_object (&self->console);

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
    case QVM_VM_PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case QVM_VM_PROP_OPTIONS:
      g_value_set_object (value, self->options);
      break;
    case QVM_VM_PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case QVM_VM_PROP_NETWORK:
      g_value_set_object (value, self->network);
      break;
    case QVM_VM_PROP_SOCKET_FOLDER:
      g_value_set_string (value, self->socket_parent);
      break;
    case QVM_VM_PROP_CDROM1:
      g_value_set_string (value, self->cdrom1);
      break;
    case QVM_VM_PROP_CDROM2:
      g_value_set_string (value, self->cdrom2);
      break;
    case QVM_VM_PROP_MACHINE:
      g_value_set_object (value, self->machine);
      break;
    case QVM_VM_PROP_QEMU_BINARY:
      g_value_set_string (value, self->qemu_binary);
      break;
    case QVM_VM_PROP_ACCEL:
      g_value_set_enum (value, self->accel);
      break;
    case QVM_VM_PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case QVM_VM_PROP_DONE_REASON:
      g_value_set_enum (value, self->done_reason);
      break;
    case QVM_VM_PROP_VNC_SOCKET:
      g_value_set_string (value, self->vnc_socket);
      break;
    case QVM_VM_PROP_QMP_CLIENT:
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
    case QVM_VM_PROP_OPTIONS:
      self->options = g_value_dup_object (value);
      break;
    case QVM_VM_PROP_IMAGE:
      self->image = g_value_dup_object (value);
      break;
    case QVM_VM_PROP_NETWORK:
      self->network = g_value_dup_object (value);
      break;
    case QVM_VM_PROP_SOCKET_FOLDER:
      /* NULL: the user's runtime folder, as for a QvmUserNetwork. */
      self->socket_parent = absolute_path (g_value_get_string (value) != NULL
                                             ? g_value_get_string (value)
                                             : g_get_user_runtime_dir ());
      break;
    case QVM_VM_PROP_CDROM1:
      self->cdrom1 = absolute_path (g_value_get_string (value));
      break;
    case QVM_VM_PROP_CDROM2:
      self->cdrom2 = absolute_path (g_value_get_string (value));
      break;
    case QVM_VM_PROP_QEMU_BINARY:
      qvm_virtual_machine_set_qemu_binary (self, g_value_get_string (value));
      break;
    case QVM_VM_PROP_ACCEL:
      qvm_virtual_machine_set_accel (self, g_value_get_enum (value));
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

  object_class->constructed = qvm_virtual_machine_constructed;
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
  qvm_vm_properties[QVM_VM_PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:options:
   *
   * The limits and defaults the image's machine definition was checked
   * against. Left out (or %NULL) at construction, it is a new
   * [class@Qvm.MachineOptions] with its defaults.
   */
  qvm_vm_properties[QVM_VM_PROP_OPTIONS] =
    g_param_spec_object ("options", NULL, NULL, QVM_TYPE_MACHINE_OPTIONS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:image:
   *
   * The image the machine boots from. Released with qvm_image_release()
   * once QEMU has exited, just before [signal@Qvm.VirtualMachine::done].
   */
  qvm_vm_properties[QVM_VM_PROP_IMAGE] =
    g_param_spec_object ("image", NULL, NULL, QVM_TYPE_IMAGE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:network:
   *
   * The network the machine is attached to. Released with
   * qvm_network_release() once QEMU has exited.
   */
  qvm_vm_properties[QVM_VM_PROP_NETWORK] =
    g_param_spec_object ("network", NULL, NULL, QVM_TYPE_NETWORK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:socket-folder:
   *
   * The folder in which the machine makes its own private folder (mode
   * 0700) for QEMU's sockets when it starts; that folder is removed when
   * the machine is done. It must exist. Set to %NULL (the default), it is
   * the user's runtime folder (g_get_user_runtime_dir()), as for
   * [ctor@Qvm.UserNetwork.new].
   */
  qvm_vm_properties[QVM_VM_PROP_SOCKET_FOLDER] =
    g_param_spec_string ("socket-folder", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:cdrom1:
   *
   * A file attached read-only as the first CD-ROM (boot index 2), or %NULL.
   * Given at construction or by [method@Qvm.VirtualMachine.set_cdroms].
   */
  qvm_vm_properties[QVM_VM_PROP_CDROM1] =
    g_param_spec_string ("cdrom1", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS |
                         G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:cdrom2:
   *
   * A file attached read-only as the second CD-ROM (boot index 3), or %NULL.
   * Given at construction or by [method@Qvm.VirtualMachine.set_cdroms].
   */
  qvm_vm_properties[QVM_VM_PROP_CDROM2] =
    g_param_spec_string ("cdrom2", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS |
                         G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:machine:
   *
   * The hardware the machine runs with: a copy of the image's machine
   * definition with the options' defaults applied. Do not change it.
   */
  qvm_vm_properties[QVM_VM_PROP_MACHINE] =
    g_param_spec_object ("machine", NULL, NULL, QVM_TYPE_MACHINE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QvmVirtualMachine:qemu-binary:
   *
   * The QEMU to run: a path, or a name looked up on `PATH`. Defaults to
   * the `QVM_QEMU` environment variable, or `qemu-system-x86_64`. Read
   * when the machine starts.
   */
  qvm_vm_properties[QVM_VM_PROP_QEMU_BINARY] =
    g_param_spec_string ("qemu-binary", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:accel:
   *
   * The accelerator. %QVM_ACCEL_AUTO picks KVM only when `/dev/kvm` opens
   * read-write and `/proc/cpuinfo` shows the `vmx` or `svm` flag (a
   * paravirtual nested KVM without them fails on real-mode boot code).
   * Defaults to the one the `QVM_ACCEL` environment variable names
   * (`auto`, `kvm` or `tcg`), or %QVM_ACCEL_AUTO; a `QVM_ACCEL` that names
   * none makes the start fail with %G_IO_ERROR_INVALID_ARGUMENT unless
   * this property is set. Read when the machine starts.
   */
  qvm_vm_properties[QVM_VM_PROP_ACCEL] =
    g_param_spec_enum ("accel", NULL, NULL, QVM_TYPE_ACCEL, QVM_ACCEL_AUTO,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:state:
   *
   * Where the machine is in its life cycle. Changes are notified on the
   * main context the machine was created in, in the order they happen;
   * %QVM_VM_STATE_DONE is notified after [signal@Qvm.VirtualMachine::done].
   */
  qvm_vm_properties[QVM_VM_PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, QVM_TYPE_VM_STATE, QVM_VM_STATE_CREATED,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:done-reason:
   *
   * Why the machine is done; %QVM_VM_DONE_REASON_NONE until then.
   */
  qvm_vm_properties[QVM_VM_PROP_DONE_REASON] =
    g_param_spec_enum ("done-reason", NULL, NULL, QVM_TYPE_VM_DONE_REASON,
                       QVM_VM_DONE_REASON_NONE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:vnc-socket:
   *
   * The path of QEMU's VNC server socket while the machine runs, %NULL
   * before and once done.
   */
  qvm_vm_properties[QVM_VM_PROP_VNC_SOCKET] =
    g_param_spec_string ("vnc-socket", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmVirtualMachine:qmp-client:
   *
   * The QMP connection to QEMU once it is up, %NULL before and once done.
   * Its [property@Qvm.QmpClient:timeout] is 60000 ms: a QEMU that does not
   * answer a command within it fails that command with
   * %QVM_ERROR_TIMED_OUT. Set another on the client if needed.
   */
  qvm_vm_properties[QVM_VM_PROP_QMP_CLIENT] =
    g_param_spec_object ("qmp-client", NULL, NULL, QVM_TYPE_QMP_CLIENT,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, QVM_VM_N_PROPS, qvm_vm_properties);

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
  qvm_vm_signals[QVM_VM_SIGNAL_DONE] =
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
  qvm_vm_signals[QVM_VM_SIGNAL_QMP_EVENT] =
    qvm_qmp_event_signal_new ("qmp-event", G_TYPE_FROM_CLASS (klass));
}

static void
qvm_virtual_machine_init (QvmVirtualMachine *self)
{
  static gint counter;
  const char *env;

  self->socket_folder_lock = -1;

  self->id = g_strdup_printf ("vm%d-%04x", g_atomic_int_add (&counter, 1) + 1,
                              g_random_int_range (0, 0x10000));
  self->context = g_main_context_ref_thread_default ();
  self->readers_cancellable = g_cancellable_new ();
  self->qmp_watch_cancellable = g_cancellable_new ();
  g_queue_init (&self->stderr_tail);
  qvm_wait_queue_init (&self->done_queue);
  self->handshake_timeout_ms = QVM_VM_HANDSHAKE_TIMEOUT_MS;
  qvm_wait_queue_init (&self->readers_queue);
  qvm_wait_queue_init (&self->qmp_closed_queue);

  env = g_getenv ("QVM_QEMU");
  self->qemu_binary = g_strdup (env != NULL && *env != '\0' ? env : "qemu-system-x86_64");
  env = g_getenv ("QVM_ACCEL");
  self->accel = env != NULL && *env != '\0' ? qvm_accel_parse (env, &self->accel_error) : QVM_ACCEL_AUTO;
  if (self->accel_error != NULL)
    g_prefix_error_literal (&self->accel_error, "QVM_ACCEL: ");
}

const char *
qvm_vm_resolve_accel (QvmVirtualMachine  *vm,
                      GError            **error)
{
  if (vm->accel_error != NULL)
    {
      g_propagate_error (error, g_error_copy (vm->accel_error));
      return NULL;
    }
  return qvm_qemu_resolve_accel (vm->accel, "/dev/kvm", "/proc/cpuinfo");
}

void
qvm_vm_run_task (QvmVirtualMachine   *vm,
                 gpointer             source_tag,
                 gpointer             task_data,
                 QvmCoroutineTaskFunc body,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (vm, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, task_data, NULL);
  if (!qvm_vm_check_constructed (vm, &error))
    g_task_return_error (task, error);
  else
    qvm_coroutine_run_task (task, body);
}

/* ---- Public API ------------------------------------------------------------------ */

/**
 * qvm_virtual_machine_new:
 * @options: (nullable): the limits and defaults for the image's machine
 *   definition; %NULL for the defaults of [class@Qvm.MachineOptions]
 * @image: the image to boot from
 * @network: the network to attach the machine to
 * @socket_folder: (nullable) (type filename): an existing folder in which
 *   the machine makes its own private folder for QEMU's sockets when it
 *   starts, or %NULL for the user's runtime folder
 * @cdrom1: (nullable) (type filename): a file to attach read-only as the
 *   first CD-ROM
 * @cdrom2: (nullable) (type filename): a file to attach read-only as the
 *   second CD-ROM
 * @error: return location for a #GError
 *
 * Makes a virtual machine from @image's machine definition, with the
 * defaults of @options applied. Nothing runs and nothing is made on disk
 * until [method@Qvm.VirtualMachine.start]. Without CD-ROMs,
 * [ctor@Qvm.VirtualMachine.new_simple] is shorter.
 *
 * When the machine definition conflicts with @options (memory above the
 * maximum, …) this fails with %QVM_ERROR_MALFORMED_PAYLOAD; a CD-ROM that
 * cannot be read or a @socket_folder that does not exist
 * (%G_IO_ERROR_NOT_FOUND) or is not a folder (%G_IO_ERROR_NOT_DIRECTORY)
 * fail with a %G_IO_ERROR. On failure the caller keeps the responsibility for @image
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
  g_return_val_if_fail (options == NULL || QVM_IS_MACHINE_OPTIONS (options), NULL);
  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);
  g_return_val_if_fail (QVM_IS_NETWORK (network), NULL);
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

/* What QEMU is started with can change until it starts: else
 * QVM_ERROR_INVALID_STATE with @message. */
static gboolean
check_not_started (QvmVirtualMachine  *vm,
                   const char         *message,
                   GError            **error)
{
  if (!qvm_vm_check_constructed (vm, error))
    return FALSE;
  if (vm->phase == QVM_VM_PHASE_CREATED)
    return TRUE;

  g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE, message);
  return FALSE;
}

/* Sets @member of @vm's machine (in the JSON object @object_member of it,
 * or at its top when %NULL) to @value: through the machine's JSON, so that
 * the new value is validated as a machine.json is. */
static gboolean
replace_in_machine (QvmVirtualMachine  *vm,
                    const char         *object_member,
                    const char         *member,
                    const char         *value,
                    GError            **error)
{
  g_autoptr(JsonNode) json = qvm_machine_to_json (vm->machine);
  g_autoptr(QvmMachine) machine = NULL;
  JsonObject *object = json_node_get_object (json);

  if (object_member != NULL)
    object = json_object_get_object_member (object, object_member);
  json_object_set_string_member (object, member, value);

  machine = qvm_machine_new_from_json (json, error);
  if (machine == NULL || !qvm_machine_set_defaults (machine, vm->options, error))
    return FALSE;

  g_set_object (&vm->machine, machine);
  g_object_notify_by_pspec (G_OBJECT (vm), qvm_vm_properties[QVM_VM_PROP_MACHINE]);
  return TRUE;
}

/**
 * qvm_virtual_machine_new_simple:
 * @image: the image to boot from
 * @network: the network to attach the machine to
 * @socket_folder: (type filename): an existing folder in which the machine
 *   makes its own private folder for QEMU's sockets when it starts
 * @error: return location for a #GError
 *
 * The common case of [ctor@Qvm.VirtualMachine.new]: the default
 * [class@Qvm.MachineOptions] and no CD-ROMs (add them with
 * [method@Qvm.VirtualMachine.set_cdroms]). It fails as that does, and
 * takes over @image and @network on success only, as that does.
 *
 * Returns: (transfer full): the new virtual machine, or %NULL on error
 */
QvmVirtualMachine *
qvm_virtual_machine_new_simple (QvmImage    *image,
                                QvmNetwork  *network,
                                const char  *socket_folder,
                                GError     **error)
{
  return qvm_virtual_machine_new (NULL, image, network, socket_folder, NULL, NULL, error);
}

/**
 * qvm_virtual_machine_set_cdroms:
 * @vm: a virtual machine that was not started
 * @cdroms: (array zero-terminated=1) (element-type filename) (nullable):
 *   the files to attach read-only as CD-ROMs, at most two, in boot order;
 *   %NULL or empty for none
 * @error: return location for a #GError
 *
 * Replaces the CD-ROMs of @vm ([property@Qvm.VirtualMachine:cdrom1] and
 * [property@Qvm.VirtualMachine:cdrom2]). Each file is checked as
 * [ctor@Qvm.VirtualMachine.new] checks it; on failure nothing changes.
 *
 * Returns: %TRUE on success; %FALSE with @error set: to
 *   %QVM_ERROR_INVALID_STATE once @vm was started, to
 *   %G_IO_ERROR_INVALID_ARGUMENT for more than two files, or to the
 *   %G_IO_ERROR that says why a file cannot be used
 */
gboolean
qvm_virtual_machine_set_cdroms (QvmVirtualMachine   *vm,
                                const char * const  *cdroms,
                                GError             **error)
{
  g_autofree char *cdrom1 = NULL;
  g_autofree char *cdrom2 = NULL;
  guint n = cdroms != NULL ? g_strv_length ((char **) cdroms) : 0;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_started (vm, _("The CD-ROMs of a virtual machine cannot change once it was "
                                "started"), error))
    return FALSE;
  if (n > 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A virtual machine has at most 2 CD-ROMs, not %u"), n);
      return FALSE;
    }

  cdrom1 = n > 0 ? absolute_path (cdroms[0]) : NULL;
  cdrom2 = n > 1 ? absolute_path (cdroms[1]) : NULL;
  if ((cdrom1 != NULL && !check_cdrom (cdrom1, 1, error)) ||
      (cdrom2 != NULL && !check_cdrom (cdrom2, 2, error)))
    return FALSE;

  g_object_freeze_notify (G_OBJECT (vm));
  if (g_strcmp0 (vm->cdrom1, cdrom1) != 0)
    {
      g_free (vm->cdrom1);
      vm->cdrom1 = g_steal_pointer (&cdrom1);
      g_object_notify_by_pspec (G_OBJECT (vm), qvm_vm_properties[QVM_VM_PROP_CDROM1]);
    }
  if (g_strcmp0 (vm->cdrom2, cdrom2) != 0)
    {
      g_free (vm->cdrom2);
      vm->cdrom2 = g_steal_pointer (&cdrom2);
      g_object_notify_by_pspec (G_OBJECT (vm), qvm_vm_properties[QVM_VM_PROP_CDROM2]);
    }
  g_object_thaw_notify (G_OBJECT (vm));
  return TRUE;
}

/**
 * qvm_virtual_machine_set_uuid:
 * @vm: a virtual machine that was not started
 * @uuid: (nullable): the SMBIOS UUID to give the guest, in the lower-case
 *   text form of RFC 4122; %NULL for a new random one
 * @error: return location for a #GError
 *
 * Gives @vm its own UUID instead of its image's, which every instance of
 * the image shares: [property@Qvm.VirtualMachine:machine] becomes a copy
 * with this UUID.
 *
 * Returns: %TRUE on success; %FALSE with @error set: to
 *   %QVM_ERROR_INVALID_STATE once @vm was started, to
 *   %QVM_ERROR_MALFORMED_PAYLOAD for a @uuid a machine.json could not hold
 */
gboolean
qvm_virtual_machine_set_uuid (QvmVirtualMachine  *vm,
                              const char         *uuid,
                              GError            **error)
{
  g_autofree char *random = NULL;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_started (vm, _("The UUID of a virtual machine cannot change once it was started"),
                          error))
    return FALSE;
  if (uuid == NULL)
    uuid = random = g_uuid_string_random ();
  return replace_in_machine (vm, NULL, "uuid", uuid, error);
}

/**
 * qvm_virtual_machine_set_mac_address:
 * @vm: a virtual machine that was not started
 * @mac_address: (nullable): the MAC address of the guest's network card,
 *   as in machine.json (`02:5e:1a:00:00:01`: lower case, unicast); %NULL
 *   for a new random, locally administered one
 * @error: return location for a #GError
 *
 * Gives @vm its own MAC address instead of its image's, which every
 * instance of the image shares: instances that meet on one network need
 * one each. [property@Qvm.VirtualMachine:machine] becomes a copy with this
 * address.
 *
 * Returns: %TRUE on success; %FALSE with @error set: to
 *   %QVM_ERROR_INVALID_STATE once @vm was started, to
 *   %QVM_ERROR_MALFORMED_PAYLOAD for an address a machine.json could not
 *   hold (the message says why)
 */
gboolean
qvm_virtual_machine_set_mac_address (QvmVirtualMachine  *vm,
                                     const char         *mac_address,
                                     GError            **error)
{
  g_autoptr(QvmMachine) random = NULL;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_started (vm, _("The MAC address of a virtual machine cannot change once it "
                                "was started"), error))
    return FALSE;
  if (mac_address == NULL)
    {
      /* A random machine's MAC is a valid, locally administered one. */
      random = qvm_machine_new_random ();
      mac_address = qvm_machine_get_mac_address (random);
    }
  return replace_in_machine (vm, "network", "mac", mac_address, error);
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
 * The path of QEMU's VNC server (a unix socket) while @vm runs; see
 * "Watching the screen" in [the overview](overview.html) for a viewer
 * (gtk-vnc's `Display.open_addr()` with a #GUnixSocketAddress).
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
  return vm->phase == QVM_VM_PHASE_DONE ? NULL : vm->qmp;
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
    g_object_notify_by_pspec (G_OBJECT (vm), qvm_vm_properties[QVM_VM_PROP_QEMU_BINARY]);
}

/**
 * qvm_accel_parse:
 * @name: the name of an accelerator: `auto`, `kvm` or `tcg` (the nicks of
 *   [enum@Qvm.Accel])
 * @error: return location for a #GError
 *
 * Reads the name of an accelerator, as the `QVM_ACCEL` environment
 * variable and a command-line option give it. When @name is none of them
 * this fails with %G_IO_ERROR_INVALID_ARGUMENT, and the message lists the
 * names there are.
 *
 * Returns: the accelerator; %QVM_ACCEL_AUTO with @error set on failure
 */
QvmAccel
qvm_accel_parse (const char  *name,
                 GError     **error)
{
  g_autoptr(GEnumClass) accels = g_type_class_ref (QVM_TYPE_ACCEL);
  g_autoptr(GString) known = g_string_new (NULL);
  GEnumValue *value;

  g_return_val_if_fail (error == NULL || *error == NULL, QVM_ACCEL_AUTO);

  value = name != NULL ? g_enum_get_value_by_nick (accels, name) : NULL;
  if (value != NULL)
    return value->value;

  for (guint i = 0; i < accels->n_values; i++)
    {
      if (i > 0)
        g_string_append (known, i + 1 < accels->n_values ? ", " : _(" or "));
      g_string_append (known, accels->values[i].value_nick);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Unknown accelerator “%s”: expected %s"), name != NULL ? name : "", known->str);
  return QVM_ACCEL_AUTO;
}

/**
 * qvm_virtual_machine_get_accel:
 * @vm: a virtual machine
 *
 * The [property@Qvm.VirtualMachine:accel] of @vm.
 *
 * Returns: the accelerator
 */
QvmAccel
qvm_virtual_machine_get_accel (QvmVirtualMachine *vm)
{
  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), QVM_ACCEL_AUTO);
  return vm->accel;
}

/**
 * qvm_virtual_machine_set_accel:
 * @vm: a virtual machine
 * @accel: the accelerator
 *
 * Sets the accelerator; read when the machine starts. This overrides the
 * `QVM_ACCEL` environment variable, a bad one included.
 */
void
qvm_virtual_machine_set_accel (QvmVirtualMachine *vm,
                               QvmAccel           accel)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (accel >= QVM_ACCEL_AUTO && accel <= QVM_ACCEL_TCG);

  g_clear_error (&vm->accel_error);
  if (vm->accel == accel)
    return;
  vm->accel = accel;
  g_object_notify_by_pspec (G_OBJECT (vm), qvm_vm_properties[QVM_VM_PROP_ACCEL]);
}
