/* test-guest-boot.c: the test guest of tests/guest/ on the library's parts
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-guest-boot [GTest options] ARCHIVE
 *
 * ARCHIVE is the test-guest.tar.zst built by tests/guest/build-guest.sh.
 * Each boot takes an instance of it from a QvmImageStore, serves the
 * metadata service with a QvmUserNetwork (QEMU runs the real qvm-guestfwd,
 * found through $QVM_GUESTFWD) and starts qemu-system-x86_64 with a
 * hand-made command line, once per network card model of the machine
 * schema. The guest fetches /payload, posts its output to /result?status=N
 * and powers off; everything is checked after QEMU has exited and every
 * file is gone, so a failing check leaves nothing behind.
 */

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "guest-util.h"
#include "testutil.h"

typedef struct {
  const char *name;
  const char *device;           /* QEMU model; NULL: the one of machine.json */
  const char *driver;           /* the guest driver /init must pick */
  const char *payload;          /* NULL: /payload answers 404 */
  int expected_status;
  const char *expected_output;  /* prefix of the posted output */
} BootCase;

static const BootCase boot_cases[] = {
  { "machine-device", NULL, "virtio_net",
    "echo hello-from-guest; uname -r\n", 0, "hello-from-guest\n" },
  { "e1000-exit-status", "e1000", "e1000",
    "echo to-stdout; echo to-stderr >&2; exit 3\n", 3, "to-stdout\nto-stderr\n" },
  { "rtl8139-no-payload", "rtl8139", "8139cp", NULL, -1, NULL },
};

static void
assert_serial_has (GuestVm *vm, const char *line_prefix)
{
  g_autofree char *rest = guest_vm_find_serial_line (vm, line_prefix);

  if (rest == NULL)
    {
      guest_vm_print_logs (vm);
      g_error ("serial console lacks a line starting with \"%s\"", line_prefix);
    }
}

static void
test_guest_boot (gconstpointer data)
{
  const BootCase *boot_case = data;
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "guest", boot_case->payload);
  g_autofree char *driver_line = g_strdup_printf ("qvm-guest: loading network driver %s",
                                                  boot_case->driver);
  g_autofree char *kernel = NULL;

  /* QvmVirtualMachine takes the network card of machine.json. */
  test->by_hand = TRUE;
  vm->device = g_strdup (boot_case->device);
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  if (vm->exit_status != 0)
    guest_vm_print_logs (vm);
  g_assert_cmpint (vm->exit_status, ==, 0);
  if (g_test_verbose ())
    guest_vm_print_logs (vm);
  if (vm->result_at == 0)
    g_test_message ("boot -> exit: %.1f s", (vm->exited_at - vm->started_at) / 1e6);

  /* The guest walked through every step and powered off cleanly. */
  kernel = guest_vm_find_serial_line (vm, "qvm-guest: init started, kernel ");
  if (kernel == NULL)
    assert_serial_has (vm, "qvm-guest: init started, kernel ");
  assert_serial_has (vm, "qvm-guest: disk driver virtio_blk loaded");
  assert_serial_has (vm, driver_line);
  assert_serial_has (vm, "qvm-guest: lease 169.254.2.15/16 on eth0");
  assert_serial_has (vm, "qvm-guest: fetching payload (try 1 of ");
  assert_serial_has (vm, "qvm-guest: powering off");
  /* The kernel prefixes this one with its timestamp, quiet or not. */
  if (strstr (vm->serial_log, "reboot: Power down\n") == NULL)
    {
      guest_vm_print_logs (vm);
      g_error ("serial console lacks the kernel's \"reboot: Power down\"");
    }
  g_assert_null (strstr (vm->serial_log, "Kernel panic"));

  if (boot_case->payload == NULL)
    {
      /* 404 every time: bounded retries, then power-off without a result. */
      g_autofree char *status_line = NULL;

      assert_serial_has (vm, "qvm-guest: no payload from http://169.254.169.254/payload after 10 tries: giving up");
      g_assert_cmpuint (vm->requests->len, ==, 10);
      g_assert_cmpuint (guest_vm_count_requests (vm, "GET /payload"), ==, 10);
      g_assert_null (vm->result_body);
      status_line = guest_vm_find_serial_line (vm, "qvm-guest: payload exit status");
      g_assert_null (status_line);
    }
  else
    {
      g_autofree char *status_line = g_strdup_printf ("qvm-guest: payload exit status %d",
                                                      boot_case->expected_status);
      g_autofree char *request = g_strdup_printf ("POST /result?status=%d",
                                                  boot_case->expected_status);
      g_autofree char *expected_output = NULL;

      g_assert_cmpuint (vm->requests->len, ==, 2);
      g_assert_cmpstr (((GuestRequest *) g_ptr_array_index (vm->requests, 0))->request, ==,
                       "GET /payload");
      g_assert_cmpstr (((GuestRequest *) g_ptr_array_index (vm->requests, 1))->request, ==,
                       request);
      assert_serial_has (vm, status_line);
      assert_serial_has (vm, "qvm-guest: result posted");

      /* The hello payload also prints `uname -r`: it must be the kernel
       * /init reported. */
      if (strstr (boot_case->payload, "uname -r") != NULL)
        expected_output = g_strdup_printf ("%s%s\n", boot_case->expected_output, kernel);
      else
        expected_output = g_strdup (boot_case->expected_output);
      guest_vm_assert_result (vm, boot_case->expected_status, expected_output);
    }
}

/* Runs @argv; on failure appends a message with its output to @errors. */
static gboolean
run_tool (GString *errors, const char *const *argv, char **out_stdout)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *messages = NULL;
  g_autofree char *command = g_strjoinv (" ", (char **) argv);
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     &output, &messages, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      g_string_append_printf (errors, "%s: %s\n%s", command, error->message,
                              messages != NULL ? messages : "");
      return FALSE;
    }
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&output);
  return TRUE;
}

/* The first @size bytes of @path (fewer if it is shorter). */
static char *
read_head (const char *path, gsize size, gsize *out_size)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) stream = g_file_read (file, NULL, NULL);
  char *head = g_malloc0 (size);

  *out_size = 0;
  if (stream != NULL)
    g_input_stream_read_all (G_INPUT_STREAM (stream), head, size, out_size, NULL, NULL);
  return head;
}

/* The archive holds exactly disk.img (raw, sparse), layer.qcow2 (qcow2 v3
 * over "disk.img", raw) and machine.json (version 1 of the machine format),
 * in that order, with no folders or "./" prefixes. It is taken apart with
 * tar and qemu-img, as an outsider would. */
static void
test_guest_archive (void)
{
  g_autoptr(GString) errors = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonParser) info_parser = json_parser_new ();
  g_autofree char *folder = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *layer_info = NULL;
  g_autofree char *disk_info = NULL;
  g_autofree char *disk_path = NULL;
  g_autofree char *layer_path = NULL;
  g_autofree char *machine_path = NULL;
  g_autofree char *mbr = NULL;
  g_autoptr(GRegex) uuid_v4 = g_regex_new ("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                                           0, 0, NULL);
  JsonObject *machine = NULL;
  JsonObject *network;
  JsonObject *layer;
  JsonObject *disk;
  GStatBuf disk_stat = { 0 };
  gsize mbr_size = 0;
  guint64 mac_first_octet;
  guint32 partition_start;
  guint32 partition_sectors;

  folder = g_dir_make_tmp ("qvm-guest-XXXXXX", &error);
  g_assert_no_error (error);
  disk_path = g_build_filename (folder, "disk.img", NULL);
  layer_path = g_build_filename (folder, "layer.qcow2", NULL);
  machine_path = g_build_filename (folder, "machine.json", NULL);

  {
    const char *list[] = { "tar", "--zstd", "-t", "-f", guest_archive_path, NULL };
    const char *unpack[] = { "tar", "--zstd", "-x", "-f", guest_archive_path, "-C", folder, NULL };
    const char *qemu_img_layer[] = { "qemu-img", "info", "--output=json", layer_path, NULL };
    const char *qemu_img_disk[] = { "qemu-img", "info", "--output=json", "-f", "raw", disk_path, NULL };

    if (run_tool (errors, list, &listing) && run_tool (errors, unpack, NULL) &&
        run_tool (errors, qemu_img_layer, &layer_info) &&
        run_tool (errors, qemu_img_disk, &disk_info))
      {
        if (json_parser_load_from_file (parser, machine_path, &error) &&
            JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
          machine = json_node_get_object (json_parser_get_root (parser));
        else
          g_string_append_printf (errors, "%s: %s", machine_path,
                                  error != NULL ? error->message : "not an object");
        g_stat (disk_path, &disk_stat);
        mbr = read_head (disk_path, 512, &mbr_size);
      }
  }
  /* Everything is read; machine stays valid with the parser. */
  testutil_remove_tree (folder);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  if (errors->len > 0)
    g_error ("%s", errors->str);

  g_assert_cmpstr (listing, ==, "disk.img\nlayer.qcow2\nmachine.json\n");

  /* disk.img: raw, with a bootable MBR, stored sparse. */
  g_assert_true (json_parser_load_from_data (info_parser, disk_info, -1, &error));
  g_assert_no_error (error);
  disk = json_node_get_object (json_parser_get_root (info_parser));
  g_assert_cmpstr (json_object_get_string_member (disk, "format"), ==, "raw");
  g_assert_cmpint (json_object_get_int_member (disk, "virtual-size"), ==, disk_stat.st_size);
  g_assert_cmpint ((gint64) disk_stat.st_blocks * 512, <, disk_stat.st_size / 2);
  g_assert_cmpuint (mbr_size, >=, 512);
  g_assert_cmpuint ((guchar) mbr[510], ==, 0x55);
  g_assert_cmpuint ((guchar) mbr[511], ==, 0xaa);
  g_assert_cmpuint ((guchar) mbr[446], ==, 0x80);     /* first partition active */
  /* One partition from 1 MiB; the last MiB is the payloads' scratch area. */
  memcpy (&partition_start, mbr + 446 + 8, 4);
  memcpy (&partition_sectors, mbr + 446 + 12, 4);
  g_assert_cmpuint (GUINT32_FROM_LE (partition_start), ==, 2048);
  g_assert_cmpuint (GUINT32_FROM_LE (partition_start) + GUINT32_FROM_LE (partition_sectors), ==,
                    disk_stat.st_size / 512 - 2048);
  for (guint i = 1; i < 4; i++)
    g_assert_cmpuint ((guchar) mbr[446 + 16 * i + 4], ==, 0);  /* no other partition */

  /* layer.qcow2: qcow2 v3 backed by exactly "disk.img", raw. */
  g_assert_true (json_parser_load_from_data (info_parser, layer_info, -1, &error));
  g_assert_no_error (error);
  layer = json_node_get_object (json_parser_get_root (info_parser));
  g_assert_cmpstr (json_object_get_string_member (layer, "format"), ==, "qcow2");
  g_assert_cmpstr (json_object_get_string_member (layer, "backing-filename"), ==, "disk.img");
  g_assert_cmpstr (json_object_get_string_member (layer, "backing-filename-format"), ==, "raw");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (layer, "format-specific"), "data"),
                     "compat"), ==, "1.1");
  g_assert_cmpint (json_object_get_int_member (layer, "virtual-size"), ==, disk_stat.st_size);

  /* machine.json: the nested version 1 format. */
  g_assert_nonnull (machine);
  g_assert_cmpint (json_object_get_int_member (machine, "version"), ==, 1);
  g_assert_true (g_regex_match (uuid_v4, json_object_get_string_member (machine, "uuid"), 0, NULL));
  g_assert_cmpint (json_object_get_int_member (machine, "memory"), >, 0);
  network = json_object_get_object_member (machine, "network");
  g_assert_nonnull (network);
  g_assert_true (g_strv_contains ((const char *const[]) { "e1000", "rtl8139", "virtio-net-pci", NULL },
                                  json_object_get_string_member (network, "device")));
  mac_first_octet = g_ascii_strtoull (json_object_get_string_member (network, "mac"), NULL, 16);
  g_assert_cmpuint (mac_first_octet & 0x3, ==, 0x2);  /* locally administered, unicast */
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (machine, "keyboard"),
                                                  "layout"), ==, "en-us");
}

int
main (int argc, char *argv[])
{
  if (!guest_util_init_main (&argc, &argv))
    return 2;

  g_test_add_func ("/guest/archive", test_guest_archive);
  for (guint i = 0; i < G_N_ELEMENTS (boot_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/guest/boot/%s", boot_cases[i].name);

      g_test_add_data_func (path, &boot_cases[i], test_guest_boot);
    }

  return g_test_run ();
}
