/* test-image-qemu.c: QEMU 7.2 boots an instance from the image store
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A blank image gets a boot sector, is packaged, loaded by a store, and an
 * instance (qcow2 layer over the raw disk.img) is handed to QEMU. SeaBIOS
 * jumping to the boot sector proves QEMU read the disk through the layer.
 * QMP is spoken with a few lines of GIO: query-block shows the backing
 * chain, cont starts the guest, quit ends it.
 */

#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "qvm.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

typedef struct {
  char *root;
  GSubprocess *qemu;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = g_dir_make_tmp ("qvm-image-qemu-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "rm", "-rf", f->root, NULL };

  /* QEMU never outlives the test, whatever failed */
  if (f->qemu != NULL)
    {
      g_subprocess_force_exit (f->qemu);
      g_subprocess_wait (f->qemu, NULL, NULL);
      g_clear_object (&f->qemu);
    }
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, NULL, NULL));
  g_free (f->root);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* One QMP reply: the next line that is not an event. */
static JsonObject *
qmp_read_reply (GDataInputStream *in)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *object;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_test_message ("QMP ← %s", line);
      g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
      g_assert_no_error (error);
      object = json_node_get_object (json_parser_get_root (parser));
      if (!json_object_has_member (object, "event"))
        return json_object_ref (object);
    }
}

static JsonObject *
qmp_execute (GDataInputStream *in, GOutputStream *out, const char *command)
{
  g_autofree char *line = g_strdup_printf ("{\"execute\": \"%s\"}\n", command);
  g_autoptr(GError) error = NULL;

  g_test_message ("QMP → %s", command);
  g_assert_true (g_output_stream_write_all (out, line, strlen (line), NULL, NULL, &error));
  g_assert_no_error (error);
  return qmp_read_reply (in);
}

static GSocketConnection *
qmp_connect (const char *path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

  /* QEMU creates the socket soon after it starts */
  for (int i = 0; i < 300; i++)
    {
      GSocketConnection *connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                                               NULL, NULL);

      if (connection != NULL)
        return connection;
      g_usleep (100 * 1000);
    }
  g_assert_not_reached ();
}

static void
test_boot_instance (Fixture *f, gconstpointer data)
{
  g_autofree char *qemu_path = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *build = g_build_filename (f->root, "build", NULL);
  g_autofree char *archive = g_build_filename (f->root, "image.tar.zst", NULL);
  g_autofree char *store_folder = g_build_filename (f->root, "store", NULL);
  g_autofree char *qmp_path = g_build_filename (f->root, "qmp.sock", NULL);
  g_autofree char *log_path = g_build_filename (f->root, "seabios.log", NULL);
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GFile) source = NULL;
  g_autoptr(GFile) disk = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *drive = NULL;
  g_autofree char *qmp = NULL;
  g_autofree char *debugcon = NULL;
  g_autofree char *accel = NULL;
  g_autofree char *blocks = NULL;
  gboolean booted = FALSE;
  GOutputStream *out;
  int fd;

  if (qemu_path == NULL)
    {
      g_test_skip ("qemu-system-x86_64 is not installed");
      return;
    }

  /* a boot sector that halts: cli; hlt; jmp back */
  image = qvm_folder_image_new_blank (build, 64 * MIB, machine, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_no_error (error);
  fd = open (qvm_image_get_disk_file (QVM_IMAGE (image)), O_WRONLY);
  g_assert_cmpint (pwrite (fd, "\xfa\xf4\xeb\xfd", 4, 0), ==, 4);
  g_assert_cmpint (pwrite (fd, "\x55\xaa", 2, 510), ==, 2);
  g_assert_cmpint (close (fd), ==, 0);
  qvm_image_release (QVM_IMAGE (image));
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), archive, NULL, &error));
  g_assert_no_error (error);

  store = qvm_image_store_new (store_folder, &error);
  g_assert_no_error (error);
  source = g_file_new_for_path (archive);
  qvm_image_store_instance_async (store, "boot", source, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  instance = qvm_image_store_instance_finish (store, result, &error);
  g_assert_no_error (error);

  /* this test is the instance's one user, as a virtual machine would be */
  g_assert_true (qvm_image_acquire (instance, &error));
  g_assert_no_error (error);
  disk = qvm_image_get_disk (instance);
  drive = g_strdup_printf ("file=%s,format=%s,if=virtio", g_file_peek_path (disk),
                           qvm_image_get_format (instance));
  qmp = g_strdup_printf ("unix:%s,server=on,wait=off", qmp_path);
  debugcon = g_strdup_printf ("file:%s", log_path);
  accel = g_strdup_printf ("pc,accel=%s", g_getenv ("QVM_TEST_ACCEL") ? g_getenv ("QVM_TEST_ACCEL") : "tcg");
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, testutil_die_with_parent, NULL, NULL);
  f->qemu = g_subprocess_launcher_spawn (launcher, &error,
                              qemu_path, "-machine", accel, "-nodefaults", "-no-user-config",
                              "-display", "none", "-m", "64", "-S",
                              "-drive", drive, "-qmp", qmp,
                              "-debugcon", debugcon, "-global", "isa-debugcon.iobase=0x402",
                              NULL);
  g_assert_no_error (error);

  connection = qmp_connect (qmp_path);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  reply = qmp_read_reply (in);
  g_assert_true (json_object_has_member (reply, "QMP"));
  g_clear_pointer (&reply, json_object_unref);
  reply = qmp_execute (in, out, "qmp_capabilities");
  g_assert_true (json_object_has_member (reply, "return"));
  g_clear_pointer (&reply, json_object_unref);

  /* QEMU opened the instance, with disk.img (raw) as its backing file */
  reply = qmp_execute (in, out, "query-block");
  g_assert_true (json_object_has_member (reply, "return"));
  {
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), reply);

    blocks = json_to_string (node, FALSE);
  }
  g_assert_nonnull (strstr (blocks, g_file_peek_path (disk)));
  g_assert_nonnull (strstr (blocks, "\"backing-filename\":\"disk.img\""));
  g_assert_nonnull (strstr (blocks, "\"backing-filename-format\":\"raw\""));
  g_clear_pointer (&reply, json_object_unref);

  reply = qmp_execute (in, out, "cont");
  g_assert_true (json_object_has_member (reply, "return"));
  g_clear_pointer (&reply, json_object_unref);

  /* SeaBIOS reads the boot sector through the layer and jumps to it */
  for (int i = 0; i < 600 && !booted; i++)
    {
      g_autofree char *log = NULL;

      if (g_file_get_contents (log_path, &log, NULL, NULL))
        booted = strstr (log, "Booting from 0000:7c00") != NULL;
      if (!booted)
        g_usleep (100 * 1000);
    }
  g_assert_true (booted);

  reply = qmp_execute (in, out, "quit");
  g_assert_true (json_object_has_member (reply, "return"));
  g_assert_true (g_subprocess_wait (f->qemu, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (f->qemu));
  g_assert_cmpint (g_subprocess_get_exit_status (f->qemu), ==, 0);
  g_clear_object (&f->qemu);

  /* in use until released; then gone, and not usable again */
  g_assert_false (qvm_image_acquire (instance, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_clear_error (&error);
  qvm_image_release (instance);
  g_assert_false (g_file_query_exists (disk, NULL));
  g_assert_false (qvm_image_acquire (instance, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/image-qemu/boot-instance", Fixture, NULL, fixture_setup, test_boot_instance, fixture_teardown);

  return g_test_run ();
}
