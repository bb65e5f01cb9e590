/* guest-util.c: boots the test guest of tests/guest/ for the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each VM is an instance from a QvmImageStore and a QvmUserNetwork, whose
 * metadata service runs the real qvm-guestfwd helper ($QVM_GUESTFWD). A
 * QvmVirtualMachine runs them (TCG unless QVM_TEST_ACCEL says otherwise),
 * with tests/qemu-watchdog as its QEMU binary so that QEMU dies with a
 * test that crashes; when it is done, the harness checks that the
 * instance, the network's and the machine's folders and every process
 * started for the VM are gone. Tests that need another command line (other
 * network cards, a serial console) start QEMU by hand from the same parts,
 * with PR_SET_PDEATHSIG.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "guest-util.h"
#include "testutil.h"

const char *guest_archive_path;

/* The VMs whose QvmVirtualMachine may still log, for log_writer(). */
static GPtrArray *live_vms;

/* The id the test guest has in every store. */
#define GUEST_IMAGE_ID "test-guest"

static void
guest_request_free (GuestRequest *request)
{
  g_free (request->request);
  g_free (request);
}

static char *
read_file_or_empty (const char *folder, const char *name)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

static void
add_error (GuestTest *test, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
add_error (GuestTest *test, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_string_append_vprintf (test->errors, format, args);
  g_string_append_c (test->errors, '\n');
  va_end (args);
}

GuestTest *
guest_test_new (void)
{
  g_autoptr(GError) error = NULL;
  GuestTest *test = g_new0 (GuestTest, 1);
  g_autofree char *store_folder = NULL;

  test->vms = g_ptr_array_new ();
  test->errors = g_string_new (NULL);
  test->timeout_seconds = GUEST_TIMEOUT_SECONDS;
  test->root = g_dir_make_tmp ("qvm-guest-XXXXXX", &error);
  if (test->root == NULL)
    {
      add_error (test, "temporary folder: %s", error->message);
      return test;
    }
  store_folder = g_build_filename (test->root, "store", NULL);
  test->store = qvm_image_store_new (store_folder, &error);
  if (test->store == NULL)
    add_error (test, "image store: %s", error->message);
  return test;
}

GuestVm *
guest_test_add_vm (GuestTest *test, const char *name, const char *payload)
{
  GuestVm *vm = g_new0 (GuestVm, 1);

  vm->test = test;
  vm->name = g_strdup (name);
  vm->payload = g_strdup (payload);
  vm->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) guest_request_free);
  g_ptr_array_add (test->vms, vm);
  return vm;
}

/* ------------------------------------------------------------------ */
/* QEMU's output, as QvmVirtualMachine logs it                          */

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *vm_id = NULL;
  const char *stream = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, QVM_VM_ID_FIELD))
        vm_id = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_QEMU_STREAM"))
        stream = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  if (vm_id != NULL && message != NULL && live_vms != NULL)
    {
      for (guint i = 0; i < live_vms->len; i++)
        {
          GuestVm *vm = g_ptr_array_index (live_vms, i);

          if (vm->machine != NULL &&
              g_strcmp0 (qvm_virtual_machine_get_id (vm->machine), vm_id) == 0)
            g_string_append_printf (vm->log, "%s%s%s\n", stream != NULL ? stream : "",
                                    stream != NULL ? ": " : "", message);
        }
    }

  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
guest_util_init (void)
{
  live_vms = g_ptr_array_new ();
  g_log_set_writer_func (log_writer, NULL, NULL);
}

gboolean
guest_util_init_main (int    *argc,
                      char ***argv)
{
  guest_archive_path = testutil_init_with_archive (argc, argv);
  if (guest_archive_path == NULL)
    return FALSE;
  guest_util_init ();
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Processes                                                            */

/* The processes other than this one whose command line mentions @text. */
static GString *
find_processes (const char *text)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  GString *found = g_string_new (NULL);
  g_autofree char *self = g_strdup_printf ("%d", (int) getpid ());
  const char *name;

  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *cmdline = NULL;
      gsize length = 0;

      if (!g_ascii_isdigit (name[0]) || g_str_equal (name, self))
        continue;
      path = g_build_filename ("/proc", name, "cmdline", NULL);
      /* Zombies have an empty command line; vanished ones none at all. */
      if (!g_file_get_contents (path, &cmdline, &length, NULL) || length == 0)
        continue;
      if (memmem (cmdline, length, text, strlen (text)) == NULL)
        continue;
      for (gsize i = 0; i + 1 < length; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      g_string_append_printf (found, "  %s: %s\n", name, cmdline);
    }
  return found;
}

static gboolean
wake_up_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Notes the processes still running for @vm. QEMU has been reaped by
 * then, but the guestfwd helpers of a network end on their own once it is
 * released, and qemu-watchdog once its signal arrives: they get a few
 * seconds. */
static void
check_no_processes (GuestVm *vm)
{
  GString *found = NULL;

  for (guint tries = 0; tries < 50; tries++)
    {
      gboolean woken = FALSE;

      if (found != NULL)
        g_string_free (found, TRUE);
      found = find_processes (vm->folder);
      if (found->len == 0)
        break;
      g_timeout_add (100, wake_up_cb, &woken);
      while (!woken)
        g_main_context_iteration (NULL, TRUE);
    }
  if (found->len > 0)
    add_error (vm->test, "%s: processes are left:\n%s", vm->name, found->str);
  g_string_free (found, TRUE);
}

/* ------------------------------------------------------------------ */
/* A network without restrict=on, for control runs                      */

#define GUEST_TYPE_OPEN_NETWORK (guest_open_network_get_type ())
G_DECLARE_FINAL_TYPE (GuestOpenNetwork, guest_open_network, GUEST, OPEN_NETWORK, GObject)

/* A QvmUserNetwork whose netdev says restrict=off. */
struct _GuestOpenNetwork
{
  GObject parent_instance;
  QvmNetwork *inner;
};

static void guest_open_network_iface_init (QvmNetworkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GuestOpenNetwork, guest_open_network, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_NETWORK,
                                                      guest_open_network_iface_init))

static char *
guest_open_network_get_netdev (QvmNetwork *network, const char *id, GError **error)
{
  GuestOpenNetwork *self = GUEST_OPEN_NETWORK (network);
  g_autofree char *netdev = qvm_network_get_netdev (self->inner, id, error);
  g_auto(GStrv) options = NULL;

  if (netdev == NULL)
    return NULL;
  options = g_strsplit (netdev, ",restrict=on,", 2);
  if (options[1] == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no restrict=on in %s", netdev);
      return NULL;
    }
  return g_strjoin (",restrict=off,", options[0], options[1], NULL);
}

static void
guest_open_network_set_handler (QvmNetwork         *network,
                                SoupServerCallback  callback,
                                gpointer            user_data,
                                GDestroyNotify      destroy)
{
  qvm_network_set_handler (GUEST_OPEN_NETWORK (network)->inner, callback, user_data, destroy);
}

static void
guest_open_network_release (QvmNetwork *network)
{
  qvm_network_release (GUEST_OPEN_NETWORK (network)->inner);
}

static void
guest_open_network_iface_init (QvmNetworkInterface *iface)
{
  iface->get_netdev = guest_open_network_get_netdev;
  iface->set_handler = guest_open_network_set_handler;
  iface->release = guest_open_network_release;
}

static void
guest_open_network_dispose (GObject *object)
{
  g_clear_object (&GUEST_OPEN_NETWORK (object)->inner);
  G_OBJECT_CLASS (guest_open_network_parent_class)->dispose (object);
}

static void
guest_open_network_class_init (GuestOpenNetworkClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = guest_open_network_dispose;
}

static void
guest_open_network_init (GuestOpenNetwork *self)
{
}

static QvmNetwork *
guest_open_network_new (QvmUserNetwork *inner)
{
  GuestOpenNetwork *self = g_object_new (GUEST_TYPE_OPEN_NETWORK, NULL);

  self->inner = g_object_ref (QVM_NETWORK (inner));
  return QVM_NETWORK (self);
}

/* ------------------------------------------------------------------ */
/* The metadata service                                                 */

static void
handle_metadata (SoupServer        *server,
                 SoupServerMessage *message,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  GuestVm *vm = user_data;
  const char *method = soup_server_message_get_method (message);
  const char *query_text = g_uri_get_query (soup_server_message_get_uri (message));
  GuestRequest *request = g_new0 (GuestRequest, 1);
  g_autofree char *answer = NULL;

  request->request = g_strdup_printf ("%s %s%s%s", method, path,
                                      query_text != NULL ? "?" : "",
                                      query_text != NULL ? query_text : "");
  request->at = g_get_monotonic_time ();
  g_ptr_array_add (vm->requests, request);

  if (g_str_equal (method, "GET") && g_str_equal (path, "/payload"))
    {
      if (vm->payload != NULL)
        answer = g_strdup (vm->payload);
    }
  else if (g_str_equal (method, "POST") && g_str_equal (path, "/result"))
    {
      SoupMessageBody *body = soup_server_message_get_request_body (message);

      g_clear_pointer (&vm->result_body, g_bytes_unref);
      vm->result_body = soup_message_body_flatten (body);
      g_free (vm->result_status);
      vm->result_status = g_strdup (query != NULL ? g_hash_table_lookup (query, "status") : NULL);
      vm->result_at = g_get_monotonic_time ();
      answer = g_strdup ("");
    }
  else if (vm->take != NULL && vm->take (vm, message, path, vm->take_data))
    {
      return;
    }
  else if (vm->answer != NULL)
    {
      answer = vm->answer (vm, method, path, vm->answer_data);
    }

  if (answer == NULL)
    {
      soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_TAKE,
                                    answer, strlen (answer));
  g_steal_pointer (&answer);
}

/* ------------------------------------------------------------------ */
/* Starting and stopping                                                */

static void
instance_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GuestVm *vm = user_data;
  g_autoptr(GError) error = NULL;

  vm->test->instances_pending--;
  vm->instance = qvm_image_store_instance_finish (QVM_IMAGE_STORE (source), result, &error);
  if (vm->instance == NULL)
    add_error (vm->test, "%s: instance: %s", vm->name, error->message);
  else
    vm->instance_path = g_strdup (qvm_image_get_disk_file (vm->instance));
}

static void
child_setup (gpointer user_data)
{
  /* QEMU must not outlive a test that crashes or aborts. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
qemu_exited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GuestVm *vm = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  vm->exited = TRUE;
  vm->exited_at = g_get_monotonic_time ();
  vm->exit_status = g_subprocess_get_if_exited (G_SUBPROCESS (source))
                    ? g_subprocess_get_exit_status (G_SUBPROCESS (source)) : -1;
  if (vm->on_exit != NULL)
    vm->on_exit (vm, vm->on_exit_data);
}

/* Doubles commas: QEMU's option syntax reads ",," as a literal comma. */
static char *
qemu_option_escape (const char *value)
{
  g_auto(GStrv) parts = g_strsplit (value, ",", -1);

  return g_strjoinv (",,", parts);
}

/* The network the VM's QEMU gets: a control run shows what the isolation
 * tests would see without restrict=on, on the same network with that one
 * option turned off. */
static QvmNetwork *
vm_network (GuestVm *vm)
{
  if (vm->unrestricted)
    return guest_open_network_new (vm->network);
  return g_object_ref (QVM_NETWORK (vm->network));
}

static gboolean
create_network (GuestVm *vm)
{
  g_autoptr(GError) error = NULL;

  vm->network = qvm_user_network_new (vm->folder, &error);
  if (vm->network == NULL)
    {
      add_error (vm->test, "%s: network: %s", vm->name, error->message);
      return FALSE;
    }
  vm->socket_path = g_strdup (qvm_user_network_get_socket_path (vm->network));
  qvm_network_set_handler (QVM_NETWORK (vm->network), handle_metadata, vm, NULL);
  return TRUE;
}

static const char *
test_accel (void)
{
  const char *accel = g_getenv ("QVM_TEST_ACCEL");

  return accel != NULL && *accel != '\0' ? accel : "tcg";
}

/* ------------------------------------------------------------------ */
/* QvmVirtualMachine                                                    */

/* At "done" the machine has released everything: the instance, the
 * network's folder and its own, and QEMU (guest_vm_clean_up() looks for
 * processes, out of the signal handler). */
static void
machine_done_cb (QvmVirtualMachine *machine, gpointer user_data)
{
  GuestVm *vm = user_data;
  const GError *error = qvm_virtual_machine_get_error (machine);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  vm->exited = TRUE;
  vm->exited_at = g_get_monotonic_time ();
  vm->done_reason = qvm_virtual_machine_get_done_reason (machine);
  vm->done_error = error != NULL ? g_error_copy (error) : NULL;

  if (vm->instance_path != NULL && g_file_test (vm->instance_path, G_FILE_TEST_EXISTS))
    add_error (vm->test, "%s: done, but the instance %s is left", vm->name, vm->instance_path);
  dir = g_dir_open (vm->folder, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    add_error (vm->test, "%s: done, but %s/%s is left", vm->name, vm->folder, name);

  if (vm->on_exit != NULL)
    vm->on_exit (vm, vm->on_exit_data);
}

static void
machine_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GuestVm *vm = user_data;
  g_autoptr(GError) error = NULL;

  /* A failed start is also the machine's error, reported with "done". */
  if (!qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (source), result, &error))
    g_test_message ("%s: start failed: %s", vm->name, error->message);
}

static gboolean
start_machine (GuestVm *vm)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (1024);
  g_autoptr(QvmNetwork) network = NULL;

  if (!create_network (vm))
    return FALSE;
  network = vm_network (vm);
  vm->machine = qvm_virtual_machine_new (options, vm->instance, network, vm->folder,
                                         NULL, NULL, &error);
  if (vm->machine == NULL)
    {
      add_error (vm->test, "%s: virtual machine: %s", vm->name, error->message);
      return FALSE;
    }
  /* The machine releases them now. */
  g_clear_object (&vm->instance);
  g_clear_object (&vm->network);

  qvm_virtual_machine_set_accel (vm->machine, testutil_accel ());
  qvm_virtual_machine_set_qemu_binary (vm->machine, QEMU_WATCHDOG_PATH);
  g_signal_connect (vm->machine, "done", G_CALLBACK (machine_done_cb), vm);
  vm->log = g_string_new (NULL);
  g_ptr_array_add (live_vms, vm);
  vm->started_at = g_get_monotonic_time ();
  qvm_virtual_machine_start_async (vm->machine, NULL, machine_started_cb, vm);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* QEMU by hand                                                         */

static gboolean
start_qemu (GuestVm *vm)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  QvmMachine *machine = qvm_image_get_machine (vm->instance);
  g_autoptr(QvmNetwork) network = NULL;
  const char *device = vm->device != NULL ? vm->device : qvm_machine_get_network_device (machine);
  g_autofree char *serial_path = g_build_filename (vm->folder, "serial.log", NULL);
  g_autofree char *log_path = g_build_filename (vm->folder, "qemu.log", NULL);
  g_autofree char *escaped_instance = qemu_option_escape (vm->instance_path);
  g_autofree char *memory = g_strdup_printf ("%u", qvm_machine_get_memory (machine));
  g_autofree char *netdev = NULL;
  g_autofree char *nic = NULL;
  g_autofree char *drive = NULL;
  g_autofree char *serial = NULL;

  if (!create_network (vm))
    return FALSE;
  network = vm_network (vm);
  netdev = qvm_network_get_netdev (network, "n0", &error);
  if (netdev == NULL)
    {
      add_error (vm->test, "%s: netdev: %s", vm->name, error->message);
      return FALSE;
    }

  nic = g_strdup_printf ("%s,netdev=n0,mac=%s", device, qvm_machine_get_mac_address (machine));
  drive = g_strdup_printf ("file=%s,format=%s,if=none,id=disk0", escaped_instance,
                           qvm_image_get_format (vm->instance));
  serial = g_strdup_printf ("file:%s", serial_path);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  vm->started_at = g_get_monotonic_time ();
  vm->qemu = g_subprocess_launcher_spawn (launcher, &error,
      "qemu-system-x86_64",
      "-accel", test_accel (),
      "-m", memory,
      "-uuid", qvm_machine_get_uuid (machine),
      "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      "-serial", serial,
      "-drive", drive,
      "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
      "-netdev", netdev,
      "-device", nic,
      NULL);
  if (vm->qemu == NULL)
    {
      add_error (vm->test, "%s: qemu-system-x86_64: %s", vm->name, error->message);
      return FALSE;
    }
  g_subprocess_wait_async (vm->qemu, NULL, qemu_exited_cb, vm);
  return TRUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  GuestTest *test = user_data;

  test->timed_out = TRUE;
  for (guint i = 0; i < test->vms->len; i++)
    {
      GuestVm *vm = g_ptr_array_index (test->vms, i);

      if (vm->qemu != NULL && !vm->exited)
        g_subprocess_force_exit (vm->qemu);
      if (vm->machine != NULL)
        qvm_virtual_machine_kill (vm->machine);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
all_exited (GuestTest *test)
{
  for (guint i = 0; i < test->vms->len; i++)
    {
      GuestVm *vm = g_ptr_array_index (test->vms, i);

      if ((vm->qemu != NULL || vm->machine != NULL) && !vm->exited)
        return FALSE;
    }
  return TRUE;
}

/* Makes an instance for every VM, then starts them all at once and waits
 * until every QEMU has exited (or the time-out killed them). */
void
guest_test_run (GuestTest *test)
{
  g_autoptr(GFile) archive = g_file_new_for_path (guest_archive_path);
  guint timeout_id;

  if (test->store == NULL)
    return;

  for (guint i = 0; i < test->vms->len; i++)
    {
      GuestVm *vm = g_ptr_array_index (test->vms, i);

      vm->folder = g_build_filename (test->root, vm->name, NULL);
      if (g_mkdir (vm->folder, 0700) != 0)
        {
          add_error (test, "%s: %s: %s", vm->name, vm->folder, g_strerror (errno));
          return;
        }
      qvm_image_store_instance_async (test->store, GUEST_IMAGE_ID, archive, NULL,
                                      instance_ready_cb, vm);
      test->instances_pending++;
    }
  while (test->instances_pending > 0)
    g_main_context_iteration (NULL, TRUE);
  if (test->errors->len > 0)
    return;

  for (guint i = 0; i < test->vms->len; i++)
    {
      GuestVm *vm = g_ptr_array_index (test->vms, i);

      if (!(test->by_hand ? start_qemu (vm) : start_machine (vm)))
        return;
    }

  timeout_id = g_timeout_add_seconds (test->timeout_seconds, timeout_cb, test);
  while (!all_exited (test))
    g_main_context_iteration (NULL, TRUE);
  if (!test->timed_out)
    g_source_remove (timeout_id);
}

static void
guest_vm_clean_up (GuestVm *vm)
{
  GuestTest *test = vm->test;

  if (vm->machine != NULL)
    {
      /* Killing a machine that is done already does nothing. */
      qvm_virtual_machine_kill (vm->machine);
      while (!vm->exited)
        g_main_context_iteration (NULL, TRUE);
      g_clear_object (&vm->machine);
      g_ptr_array_remove (live_vms, vm);
      if (vm->qemu_log == NULL)
        vm->qemu_log = g_strdup (vm->log->str);
    }
  if (vm->qemu != NULL)
    {
      if (!vm->exited)
        g_subprocess_force_exit (vm->qemu);
      /* qemu_exited_cb() must run before the VM goes away. */
      while (!vm->exited)
        g_main_context_iteration (NULL, TRUE);
      g_clear_object (&vm->qemu);
    }
  if (vm->network != NULL)
    {
      qvm_network_release (QVM_NETWORK (vm->network));
      g_clear_object (&vm->network);
    }
  if (vm->socket_path != NULL)
    {
      g_autofree char *network_folder = g_path_get_dirname (vm->socket_path);

      if (g_file_test (network_folder, G_FILE_TEST_EXISTS))
        add_error (test, "%s: the network folder %s is left", vm->name, network_folder);
    }
  if (vm->instance != NULL)
    {
      qvm_image_release (vm->instance);
      g_clear_object (&vm->instance);
    }
  if (vm->instance_path != NULL && g_file_test (vm->instance_path, G_FILE_TEST_EXISTS))
    add_error (test, "%s: the instance %s is left", vm->name, vm->instance_path);
  if (vm->folder != NULL)
    check_no_processes (vm);
  if (vm->folder != NULL && test->by_hand)
    {
      if (vm->serial_log == NULL)
        {
          /* The guest's tty ends lines with "\r\n". */
          g_autofree char *raw = read_file_or_empty (vm->folder, "serial.log");
          g_auto(GStrv) pieces = g_strsplit (raw, "\r", -1);

          vm->serial_log = g_strjoinv ("", pieces);
        }
      if (vm->qemu_log == NULL)
        vm->qemu_log = read_file_or_empty (vm->folder, "qemu.log");
    }
}

/* Kills what still runs, releases every network and instance, drops the
 * store and removes the folder; notes whatever is left behind. Safe to call
 * more than once. */
void
guest_test_clean_up (GuestTest *test)
{
  for (guint i = 0; i < test->vms->len; i++)
    guest_vm_clean_up (g_ptr_array_index (test->vms, i));

  /* Let closed connections finish their pending callbacks. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&test->store);
  if (test->root != NULL)
    {
      testutil_remove_tree (test->root);
      if (g_file_test (test->root, G_FILE_TEST_EXISTS))
        add_error (test, "cannot remove %s", test->root);
      g_clear_pointer (&test->root, g_free);
    }
}

static void
guest_vm_free (GuestVm *vm)
{
  g_ptr_array_unref (vm->requests);
  g_clear_error (&vm->done_error);
  if (vm->log != NULL)
    g_string_free (vm->log, TRUE);
  g_clear_pointer (&vm->result_body, g_bytes_unref);
  g_free (vm->name);
  g_free (vm->payload);
  g_free (vm->device);
  g_free (vm->folder);
  g_free (vm->instance_path);
  g_free (vm->socket_path);
  g_free (vm->result_status);
  g_free (vm->serial_log);
  g_free (vm->qemu_log);
  g_free (vm);
}

void
guest_test_free (GuestTest *test)
{
  guest_test_clean_up (test);
  for (guint i = 0; i < test->vms->len; i++)
    guest_vm_free (g_ptr_array_index (test->vms, i));
  g_ptr_array_unref (test->vms);
  g_string_free (test->errors, TRUE);
  g_free (test);
}

/* After clean-up: the run set everything up, finished in time, and left
 * nothing behind. */
void
guest_test_assert_no_errors (GuestTest *test)
{
  if (test->errors->len == 0 && !test->timed_out)
    return;

  for (guint i = 0; i < test->vms->len; i++)
    guest_vm_print_logs (g_ptr_array_index (test->vms, i));
  if (test->timed_out)
    g_error ("the guests did not finish within %u s", test->timeout_seconds);
  g_error ("%s", test->errors->str);
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */

gboolean
guest_vm_has_exited (GuestVm *vm)
{
  return vm->exited;
}

guint
guest_vm_count_requests (GuestVm *vm, const char *request)
{
  guint count = 0;

  for (guint i = 0; i < vm->requests->len; i++)
    {
      GuestRequest *seen = g_ptr_array_index (vm->requests, i);

      if (g_str_equal (seen->request, request))
        count++;
    }
  return count;
}

/* The first line of the serial console starting with @prefix, without the
 * prefix. */
char *
guest_vm_find_serial_line (GuestVm *vm, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit (vm->serial_log != NULL ? vm->serial_log : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_strchomp (lines[i]);
      if (g_str_has_prefix (lines[i], prefix))
        return g_strdup (lines[i] + strlen (prefix));
    }
  return NULL;
}

/* The processes whose command line mentions the VM's folder, one per
 * line: its QEMU and the guestfwd helpers of its network. */
char *
guest_vm_list_processes (GuestVm *vm)
{
  return g_string_free (find_processes (vm->folder), FALSE);
}

void
guest_vm_print_logs (GuestVm *vm)
{
  g_autoptr(GString) requests = g_string_new (NULL);

  for (guint i = 0; i < vm->requests->len; i++)
    {
      GuestRequest *seen = g_ptr_array_index (vm->requests, i);

      g_string_append_printf (requests, "  %.1f s %s\n",
                              (seen->at - vm->started_at) / 1e6, seen->request);
    }
  g_test_message ("%s: requests:\n%s", vm->name, requests->str);
  if (vm->serial_log != NULL)
    g_test_message ("%s: serial console:\n%s", vm->name, vm->serial_log);
  g_test_message ("%s: QEMU output:\n%s", vm->name, vm->qemu_log != NULL ? vm->qemu_log : "");
  if (vm->done_error != NULL)
    g_test_message ("%s: done with an error: %s", vm->name, vm->done_error->message);
}

/* The guest ran its payload, posted @output with @status, and QEMU exited
 * cleanly after the guest powered off. */
void
guest_vm_assert_result (GuestVm *vm, int status, const char *output)
{
  g_autofree char *status_text = g_strdup_printf ("%d", status);
  gsize size = 0;
  const char *body;

  gboolean clean_end = vm->test->by_hand
                       ? vm->exit_status == 0
                       : vm->done_reason == QVM_VM_DONE_REASON_POWEROFF && vm->done_error == NULL;

  if (vm->result_body == NULL || !clean_end || g_strcmp0 (vm->result_status, status_text) != 0)
    guest_vm_print_logs (vm);
  if (vm->test->by_hand)
    g_assert_cmpint (vm->exit_status, ==, 0);
  else
    {
      g_assert_no_error (vm->done_error);
      g_assert_cmpint (vm->done_reason, ==, QVM_VM_DONE_REASON_POWEROFF);
    }
  g_assert_nonnull (vm->result_body);
  g_assert_cmpstr (vm->result_status, ==, status_text);
  body = g_bytes_get_data (vm->result_body, &size);
  if (size != strlen (output) || memcmp (body, output, size) != 0)
    {
      guest_vm_print_logs (vm);
      g_test_message ("%s: posted output:\n%.*s", vm->name, (int) size, body);
    }
  g_assert_cmpmem (body, size, output, strlen (output));
  if (g_test_verbose ())
    guest_vm_print_logs (vm);
  g_test_message ("%s: boot -> result %.1f s, boot -> exit %.1f s", vm->name,
                  (vm->result_at - vm->started_at) / 1e6,
                  (vm->exited_at - vm->started_at) / 1e6);
}
