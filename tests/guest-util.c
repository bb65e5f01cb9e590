/* guest-util.c: boots the test guest of tests/guest/ for the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU is started here with a hand-made command line (TCG unless
 * QVM_TEST_ACCEL says otherwise), from the parts of the library: an
 * instance from QvmImageStore and the netdev of a QvmUserNetwork, whose
 * metadata service runs the real qvm-guestfwd helper ($QVM_GUESTFWD).
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "guest-util.h"

const char *guest_archive_path;

/* The id the test guest has in every store. */
#define GUEST_IMAGE_ID "test-guest"

static void
guest_request_free (GuestRequest *request)
{
  g_free (request->request);
  g_free (request);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          GStatBuf info;

          if (g_lstat (child, &info) == 0 && S_ISDIR (info.st_mode))
            remove_tree (child);
          else
            g_unlink (child);
        }
    }
  g_rmdir (path);
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

static char *
build_netdev (GuestVm *vm, GError **error)
{
  g_autofree char *netdev = qvm_network_get_netdev (QVM_NETWORK (vm->network), "n0", error);
  g_auto(GStrv) options = NULL;

  if (netdev == NULL || !vm->unrestricted)
    return g_steal_pointer (&netdev);

  /* A control run shows what the isolation tests would see without
   * restrict=on: the same network with that one option turned off. */
  options = g_strsplit (netdev, ",restrict=on,", 2);
  if (options[1] == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no restrict=on in %s", netdev);
      return NULL;
    }
  return g_strjoin (",restrict=off,", options[0], options[1], NULL);
}

static gboolean
start_qemu (GuestVm *vm)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  QvmMachine *machine = qvm_image_get_machine (vm->instance);
  const char *accel = g_getenv ("QVM_TEST_ACCEL");
  const char *device = vm->device != NULL ? vm->device : qvm_machine_get_network_device (machine);
  g_autofree char *serial_path = g_build_filename (vm->folder, "serial.log", NULL);
  g_autofree char *log_path = g_build_filename (vm->folder, "qemu.log", NULL);
  g_autofree char *escaped_instance = qemu_option_escape (vm->instance_path);
  g_autofree char *memory = g_strdup_printf ("%u", qvm_machine_get_memory (machine));
  g_autofree char *netdev = NULL;
  g_autofree char *nic = NULL;
  g_autofree char *drive = NULL;
  g_autofree char *serial = NULL;

  vm->network = qvm_user_network_new (vm->folder, &error);
  if (vm->network == NULL)
    {
      add_error (vm->test, "%s: network: %s", vm->name, error->message);
      return FALSE;
    }
  vm->socket_path = g_strdup (qvm_user_network_get_socket_path (vm->network));
  qvm_network_set_handler (QVM_NETWORK (vm->network), handle_metadata, vm, NULL);
  netdev = build_netdev (vm, &error);
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
      "-accel", accel != NULL && *accel != '\0' ? accel : "tcg",
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
    }
  return G_SOURCE_REMOVE;
}

static gboolean
all_exited (GuestTest *test)
{
  for (guint i = 0; i < test->vms->len; i++)
    {
      GuestVm *vm = g_ptr_array_index (test->vms, i);

      if (vm->qemu != NULL && !vm->exited)
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
      if (!start_qemu (g_ptr_array_index (test->vms, i)))
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
      remove_tree (test->root);
      if (g_file_test (test->root, G_FILE_TEST_EXISTS))
        add_error (test, "cannot remove %s", test->root);
      g_clear_pointer (&test->root, g_free);
    }
}

static void
guest_vm_free (GuestVm *vm)
{
  g_ptr_array_unref (vm->requests);
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
  g_test_message ("%s: serial console:\n%s", vm->name,
                  vm->serial_log != NULL ? vm->serial_log : "");
  g_test_message ("%s: QEMU output:\n%s", vm->name, vm->qemu_log != NULL ? vm->qemu_log : "");
}

/* The guest ran its payload, posted @output with @status, and QEMU exited
 * cleanly after the guest powered off. */
void
guest_vm_assert_result (GuestVm *vm, int status, const char *output)
{
  g_autofree char *status_text = g_strdup_printf ("%d", status);
  gsize size = 0;
  const char *body;

  if (vm->result_body == NULL || vm->exit_status != 0 ||
      g_strcmp0 (vm->result_status, status_text) != 0)
    guest_vm_print_logs (vm);
  g_assert_cmpint (vm->exit_status, ==, 0);
  g_assert_nonnull (vm->result_body);
  g_assert_cmpstr (vm->result_status, ==, status_text);
  body = g_bytes_get_data (vm->result_body, &size);
  if (size != strlen (output) || memcmp (body, output, size) != 0)
    guest_vm_print_logs (vm);
  g_assert_cmpmem (body, size, output, strlen (output));
  if (g_test_verbose ())
    guest_vm_print_logs (vm);
  g_test_message ("%s: boot -> result %.1f s, boot -> exit %.1f s", vm->name,
                  (vm->result_at - vm->started_at) / 1e6,
                  (vm->exited_at - vm->started_at) / 1e6);
}
