/* test-virtual-machine.c: QvmVirtualMachine with the real QEMU (suite 'qemu')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * No guest OS: a blank disk, so SeaBIOS shows "No bootable device" and
 * ignores ACPI. The real QvmFolderImage and QvmUserNetwork are used. A few
 * cases QEMU cannot be made to produce on demand (a guest stuck in
 * internal-error, a clean guest power-off) use a scripted fake QEMU that
 * speaks QMP on the same inherited socket.
 */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gvnc.h>

#include <zstd.h>

#include "qvm.h"
#include "testutil.h"

#define TIMEOUT_S 60

/* ---- Log records of QEMU's output, caught on their way out ------------ */

typedef struct {
  char *vm_id;
  char *stream;
  char *message;
} LogRecord;

static GPtrArray *log_records;   /* of LogRecord *, for the Qvm domain */

static void
log_record_free (gpointer data)
{
  LogRecord *record = data;

  g_free (record->vm_id);
  g_free (record->stream);
  g_free (record->message);
  g_free (record);
}

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         data)
{
  LogRecord record = { NULL, NULL, NULL };

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, QVM_VM_ID_FIELD))
        record.vm_id = (char *) fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_QEMU_STREAM"))
        record.stream = (char *) fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        record.message = (char *) fields[i].value;
    }

  if (record.vm_id != NULL && record.stream != NULL && record.message != NULL)
    {
      LogRecord *copy = g_new (LogRecord, 1);

      copy->vm_id = g_strdup (record.vm_id);
      copy->stream = g_strdup (record.stream);
      copy->message = g_strdup (record.message);
      g_ptr_array_add (log_records, copy);
    }

  return g_log_writer_default (level, fields, n_fields, data);
}

/* The fixture data of tests that make their own virtual machine. */
static const char no_vm[] = "no vm";

/* ---- Fixture ------------------------------------------------------------- */

typedef struct {
  char              *folder;
  char              *socket_folder;
  QvmMachineOptions *options;
  QvmFolderImage    *image;
  QvmUserNetwork    *network;
  QvmVirtualMachine *vm;
  guint              done_count;
  GList             *states;      /* of QvmVmState, in notify order */
  gboolean           started;
  GError            *start_error;
} Fixture;

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  Fixture *fixture = data;

  fixture->done_count++;
  /* Everything is released before "done". */
  g_assert_false (qvm_folder_image_get_in_use (fixture->image));
  g_assert_null (qvm_virtual_machine_get_vnc_socket (vm));
  g_assert_cmpint (qvm_virtual_machine_get_state (vm), ==, QVM_VM_STATE_DONE);
}

static void
on_state (GObject    *object,
          GParamSpec *pspec,
          gpointer    data)
{
  Fixture *fixture = data;

  fixture->states = g_list_append (fixture->states,
                                   GINT_TO_POINTER (qvm_virtual_machine_get_state (QVM_VIRTUAL_MACHINE (object))));
}

static QvmVirtualMachine *
make_vm (Fixture    *fixture,
         const char *cdrom1,
         GError    **error)
{
  QvmVirtualMachine *vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                                   QVM_NETWORK (fixture->network),
                                                   fixture->socket_folder, cdrom1, NULL, error);

  if (vm == NULL)
    return NULL;

  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_signal_connect (vm, "done", G_CALLBACK (on_done), fixture);
  g_signal_connect (vm, "notify::state", G_CALLBACK (on_state), fixture);
  return vm;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  testutil_make_vm_parts ("qvm-test-vm-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);

  /* Small: SeaBIOS needs little, and the machine is shared. */
  fixture->options = qvm_machine_options_new (64);

  if (data != no_vm)
    {
      fixture->vm = make_vm (fixture, NULL, &error);
      g_assert_no_error (error);
    }
}

static gboolean
folder_is_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) == NULL;
}

static void
wait_for_done (Fixture *fixture)
{
  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  if (fixture->vm != NULL)
    {
      /* Whatever the test did, nothing may be left running. */
      qvm_virtual_machine_kill (fixture->vm);
      wait_for_done (fixture);
      /* "done" only once, even after more loop iterations. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_assert_cmpuint (fixture->done_count, ==, 1);
      g_assert_true (folder_is_empty (fixture->socket_folder));
      g_clear_object (&fixture->vm);
    }

  g_clear_object (&fixture->options);
  g_clear_object (&fixture->network);
  if (fixture->image != NULL)
    {
      g_autoptr(GError) error = NULL;

      qvm_folder_image_delete (fixture->image, &error);
      g_assert_no_error (error);
      g_clear_object (&fixture->image);
    }
  g_list_free (fixture->states);
  g_clear_error (&fixture->start_error);

  testutil_remove_tree (fixture->folder);
  g_free (fixture->socket_folder);
  g_free (fixture->folder);
}

/* ---- Helpers ---------------------------------------------------------------- */

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Fixture *fixture = data;

  qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (source), result, &fixture->start_error);
  fixture->started = TRUE;
}

static void
start_and_wait (Fixture *fixture)
{
  testutil_start_vm (fixture->vm, TIMEOUT_S, &fixture->start_error);
  fixture->started = TRUE;
}

static void
start_running (Fixture *fixture)
{
  start_and_wait (fixture);
  g_assert_no_error (fixture->start_error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
}

static void
pause_or_resume (QvmVirtualMachine *vm,
                 gboolean           pause)
{
  g_autoptr(GError) error = NULL;
  TestutilWait wait = { FALSE, NULL };

  if (pause)
    qvm_virtual_machine_pause_async (vm, NULL, testutil_on_wait_done, &wait);
  else
    qvm_virtual_machine_resume_async (vm, NULL, testutil_on_wait_done, &wait);
  testutil_iterate_until (NULL, &wait.done, TIMEOUT_S);
  if (pause)
    g_assert_true (qvm_virtual_machine_pause_finish (vm, wait.result, &error));
  else
    g_assert_true (qvm_virtual_machine_resume_finish (vm, wait.result, &error));
  g_assert_no_error (error);
  g_object_unref (wait.result);
}

static char *
query_status (QvmVirtualMachine *vm)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = qvm_qmp_client_execute (qvm_virtual_machine_get_qmp_client (vm),
                                                       "query-status", NULL, NULL, &error);

  g_assert_no_error (error);
  return g_strdup (json_object_get_string_member (json_node_get_object (answer), "status"));
}

static gboolean
pixbuf_is_blank (GdkPixbuf *pixbuf)
{
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  gsize size = (gsize) gdk_pixbuf_get_rowstride (pixbuf) * (gdk_pixbuf_get_height (pixbuf) - 1) +
               gdk_pixbuf_get_width (pixbuf) * gdk_pixbuf_get_n_channels (pixbuf);

  for (gsize i = 0; i < size; i++)
    if (pixels[i] != pixels[0])
      return FALSE;
  return TRUE;
}

/* Screenshots until SeaBIOS shows its text screen (720x400; the VGA BIOS
 * passes through other modes before). */
static GdkPixbuf *
screenshot_not_blank (QvmVirtualMachine *vm)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = qvm_virtual_machine_screenshot (vm, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (pixbuf);
      if (!pixbuf_is_blank (pixbuf) && gdk_pixbuf_get_width (pixbuf) == 720)
        return g_steal_pointer (&pixbuf);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
}

/* QEMU's pid: the child of this process whose command line holds @uuid. */
static pid_t
find_qemu (const char *uuid)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *cmdline_path = g_strdup_printf ("/proc/%s/cmdline", name);
      g_autofree char *stat = NULL;
      g_autofree char *cmdline = NULL;
      gsize length;
      const char *after_comm;

      if (!g_ascii_isdigit (name[0]) ||
          !g_file_get_contents (stat_path, &stat, NULL, NULL) ||
          !g_file_get_contents (cmdline_path, &cmdline, &length, NULL))
        continue;
      after_comm = strrchr (stat, ')');
      if (after_comm == NULL || atoi (after_comm + 4) != getpid ())
        continue;
      for (gsize i = 0; i + 1 < length; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (strstr (cmdline, uuid) != NULL)
        return atoi (name);
    }

  return 0;
}

/* Logs what each open descriptor points at, so a failed count says which. */
static void
log_fds (void)
{
  g_autoptr(GDir) fds = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (fds)) != NULL)
    {
      g_autofree char *link = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      g_test_message ("fd %s -> %s", name, target != NULL ? target : "?");
    }
}

/* ---- A real VNC client ------------------------------------------------------ */

typedef struct {
  gboolean  initialized;
  gboolean  updated;
  gboolean  failed;
  int       width;
  int       height;
  guint8   *pixels;
  VncBaseFramebuffer *framebuffer;
} VncClient;

static void
vnc_choose_auth (VncConnection *connection,
                 GValueArray   *types,
                 gpointer       data)
{
  vnc_connection_set_auth_type (connection, VNC_CONNECTION_AUTH_NONE);
}

static void
vnc_initialized (VncConnection *connection,
                 gpointer       data)
{
  VncClient *client = data;
  /* 32 bits per pixel, little endian BGRX. */
  static const VncPixelFormat local = {
    .bits_per_pixel = 32, .depth = 24, .byte_order = G_LITTLE_ENDIAN, .true_color_flag = 1,
    .red_max = 255, .green_max = 255, .blue_max = 255,
    .red_shift = 16, .green_shift = 8, .blue_shift = 0,
  };
  gint32 encodings[] = { VNC_CONNECTION_ENCODING_RAW };

  client->width = vnc_connection_get_width (connection);
  client->height = vnc_connection_get_height (connection);
  client->pixels = g_malloc0 ((gsize) client->width * client->height * 4);
  client->framebuffer = vnc_base_framebuffer_new (client->pixels, client->width, client->height,
                                                  client->width * 4, &local,
                                                  vnc_connection_get_pixel_format (connection));
  vnc_connection_set_framebuffer (connection, VNC_FRAMEBUFFER (client->framebuffer));
  vnc_connection_set_encodings (connection, G_N_ELEMENTS (encodings), encodings);
  vnc_connection_framebuffer_update_request (connection, FALSE, 0, 0, client->width, client->height);
  client->initialized = TRUE;
}

static void
vnc_update (VncConnection *connection,
            guint16        x,
            guint16        y,
            guint16        width,
            guint16        height,
            gpointer       data)
{
  VncClient *client = data;

  client->updated = TRUE;
}

static void
vnc_failed (VncConnection *connection,
            gpointer       data)
{
  VncClient *client = data;

  client->failed = TRUE;
}

static void
check_vnc (const char *socket_path,
           int         expected_width,
           int         expected_height)
{
  VncConnection *connection = vnc_connection_new ();
  VncClient client = { 0 };
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;
  gboolean drawn = FALSE;
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (address.sun_path, socket_path, sizeof address.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &address, sizeof address), ==, 0);

  g_signal_connect (connection, "vnc-auth-choose-type", G_CALLBACK (vnc_choose_auth), &client);
  g_signal_connect (connection, "vnc-initialized", G_CALLBACK (vnc_initialized), &client);
  g_signal_connect (connection, "vnc-framebuffer-update", G_CALLBACK (vnc_update), &client);
  g_signal_connect (connection, "vnc-disconnected", G_CALLBACK (vnc_failed), &client);
  g_assert_true (vnc_connection_open_fd (connection, fd));

  while (!client.updated && !client.failed)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_false (client.failed);
  g_assert_true (client.initialized);

  g_assert_cmpint (client.width, ==, expected_width);
  g_assert_cmpint (client.height, ==, expected_height);
  for (gsize i = 0; i < (gsize) client.width * client.height * 4 && !drawn; i++)
    drawn = client.pixels[i] != 0;
  g_assert_true (drawn);

  vnc_connection_shutdown (connection);
  while (!client.failed)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handlers_disconnect_by_data (connection, &client);
  g_object_unref (connection);
  g_clear_object (&client.framebuffer);
  g_free (client.pixels);
  close (fd);
}

/* ---- Tests ------------------------------------------------------------------- */

static void
on_shutdown (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  TestutilWait *wait = data;

  wait->result = g_object_ref (result);
  wait->done = TRUE;
}

static void
test_lifecycle (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) screenshot = NULL;
  g_autofree char *vnc_socket = NULL;
  g_autofree char *status = NULL;
  TestutilWait shutdown = { FALSE, NULL };
  const QvmVmState expected_states[] = {
    QVM_VM_STATE_STARTING, QVM_VM_STATE_RUNNING, QVM_VM_STATE_PAUSED, QVM_VM_STATE_RUNNING,
    QVM_VM_STATE_STOPPING, QVM_VM_STATE_DONE,
  };
  GList *state;
  guint i;

  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_CREATED);
  g_assert_null (qvm_virtual_machine_get_vnc_socket (fixture->vm));
  g_assert_null (qvm_virtual_machine_get_qmp_client (fixture->vm));
  g_assert_cmpint (qvm_machine_get_memory (qvm_virtual_machine_get_machine (fixture->vm)), ==, 64);

  start_running (fixture);
  g_assert_true (qvm_folder_image_get_in_use (fixture->image));

  /* VNC: the socket is there, in a private folder. */
  vnc_socket = g_strdup (qvm_virtual_machine_get_vnc_socket (fixture->vm));
  g_assert_nonnull (vnc_socket);
  g_assert_true (g_str_has_prefix (vnc_socket, fixture->socket_folder));
  g_assert_true (g_file_test (vnc_socket, G_FILE_TEST_EXISTS));

  status = query_status (fixture->vm);
  g_assert_cmpstr (status, ==, "running");
  g_clear_pointer (&status, g_free);

  /* SeaBIOS's text screen: 720x400. */
  screenshot = screenshot_not_blank (fixture->vm);
  g_assert_cmpint (gdk_pixbuf_get_width (screenshot), ==, 720);
  g_assert_cmpint (gdk_pixbuf_get_height (screenshot), ==, 400);

  check_vnc (vnc_socket, gdk_pixbuf_get_width (screenshot), gdk_pixbuf_get_height (screenshot));

  pause_or_resume (fixture->vm, TRUE);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_PAUSED);
  status = query_status (fixture->vm);
  g_assert_cmpstr (status, ==, "paused");
  g_clear_pointer (&status, g_free);
  /* A paused guest still has a screen. */
  g_clear_object (&screenshot);
  screenshot = qvm_virtual_machine_screenshot (fixture->vm, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (pixbuf_is_blank (screenshot));

  pause_or_resume (fixture->vm, FALSE);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
  status = query_status (fixture->vm);
  g_assert_cmpstr (status, ==, "running");

  /* No OS: nobody handles the ACPI power button; killed after the timeout. */
  qvm_virtual_machine_shutdown_async (fixture->vm, 300, NULL, on_shutdown, &shutdown);
  testutil_iterate_until (NULL, &shutdown.done, TIMEOUT_S);
  /* The result says how it went: killed, not shut down. */
  g_assert_false (qvm_virtual_machine_shutdown_finish (fixture->vm, shutdown.result, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_nonnull (strstr (error->message, "300 ms"));
  g_clear_error (&error);
  g_object_unref (shutdown.result);

  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_nonnull (strstr (qvm_virtual_machine_get_error (fixture->vm)->message, "300 ms"));
  g_assert_false (g_file_test (vnc_socket, G_FILE_TEST_EXISTS));
  g_assert_true (folder_is_empty (fixture->socket_folder));
  g_assert_null (qvm_virtual_machine_get_qmp_client (fixture->vm));

  for (state = fixture->states, i = 0; state != NULL; state = state->next, i++)
    {
      g_assert_cmpuint (i, <, G_N_ELEMENTS (expected_states));
      g_assert_cmpint (GPOINTER_TO_INT (state->data), ==, expected_states[i]);
    }
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (expected_states));

  /* Operations on a done machine fail cleanly. */
  g_clear_object (&screenshot);
  screenshot = qvm_virtual_machine_screenshot (fixture->vm, NULL, &error);
  g_assert_null (screenshot);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

static void
test_kill_before_start (Fixture       *fixture,
                        gconstpointer  data)
{
  qvm_virtual_machine_kill (fixture->vm);
  /* Never from inside kill(). */
  g_assert_cmpuint (fixture->done_count, ==, 0);
  qvm_virtual_machine_kill (fixture->vm);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_true (folder_is_empty (fixture->socket_folder));

  /* Starting a killed machine fails, and spawns nothing. */
  start_and_wait (fixture);
  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_kill_starting (Fixture       *fixture,
                    gconstpointer  data)
{
  qvm_virtual_machine_start_async (fixture->vm, NULL, on_started, fixture);
  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until (NULL, &fixture->started, TIMEOUT_S);

  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_start_cancelled (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  qvm_virtual_machine_start_async (fixture->vm, cancellable, on_started, fixture);
  g_cancellable_cancel (cancellable);
  testutil_iterate_until (NULL, &fixture->started, TIMEOUT_S);

  g_assert_error (fixture->start_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_start_twice (Fixture       *fixture,
                  gconstpointer  data)
{
  start_running (fixture);
  fixture->started = FALSE;
  start_and_wait (fixture);
  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  /* The first start still stands. */
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
}

static void
count_done (QvmVirtualMachine *vm,
            gpointer           counter)
{
  *(guint *) counter += 1;
}

/* A second machine on an image the first one uses: its start fails, and
 * its end leaves the first one's use of the image alone. */
static void
test_image_in_use (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *network_folder = g_build_filename (fixture->folder, "network2", NULL);
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmVirtualMachine) second = NULL;
  guint second_done = 0;

  start_running (fixture);
  g_assert_true (qvm_folder_image_get_in_use (fixture->image));

  g_assert_cmpint (g_mkdir (network_folder, 0700), ==, 0);
  network = qvm_user_network_new (network_folder, &error);
  g_assert_no_error (error);
  second = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                    QVM_NETWORK (network), fixture->socket_folder, NULL, NULL,
                                    &error);
  g_assert_no_error (error);
  g_signal_connect (second, "done", G_CALLBACK (count_done), &second_done);
  testutil_start_vm (second, TIMEOUT_S, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  testutil_iterate_until_nonzero (NULL, &second_done, TIMEOUT_S);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (second), ==, QVM_VM_DONE_REASON_FAILED);

  /* Still the first machine's. */
  g_assert_true (qvm_folder_image_get_in_use (fixture->image));
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
}

static void
test_start_without_callback (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fixture->folder, "no-such-qemu", NULL);

  /* The seed's Start(): failures come through "done" alone. */
  qvm_virtual_machine_set_qemu_binary (fixture->vm, missing);
  qvm_virtual_machine_start_in_background (fixture->vm);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_FAILED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND);
}

static void
test_dropped_unstarted (Fixture       *fixture,
                        gconstpointer  data)
{
  /* A machine never started still owns the network and the image: they
   * are released when it goes. */
  g_autoptr(GError) error = NULL;
  g_autofree char *netdev = NULL;

  g_assert_nonnull (qvm_user_network_get_socket_path (fixture->network));
  g_clear_object (&fixture->vm);
  g_assert_null (qvm_user_network_get_socket_path (fixture->network));
  netdev = qvm_network_get_netdev (QVM_NETWORK (fixture->network), "netdev0", &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_false (qvm_folder_image_get_in_use (fixture->image));
}

static void
test_kill_running (Fixture       *fixture,
                   gconstpointer  data)
{
  start_running (fixture);
  qvm_virtual_machine_kill (fixture->vm);
  qvm_virtual_machine_kill (fixture->vm);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_kill_paused (Fixture       *fixture,
                  gconstpointer  data)
{
  start_running (fixture);
  pause_or_resume (fixture->vm, TRUE);
  qvm_virtual_machine_kill (fixture->vm);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_kill_stopping (Fixture       *fixture,
                    gconstpointer  data)
{
  TestutilWait shutdown = { FALSE, NULL };
  g_autoptr(GError) error = NULL;

  start_running (fixture);
  /* The shutdown is under way (waiting for the guest) when kill comes. */
  qvm_virtual_machine_shutdown_async (fixture->vm, 10 * 1000, NULL, on_shutdown, &shutdown);
  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until (NULL, &shutdown.done, TIMEOUT_S);
  g_assert_false (qvm_virtual_machine_shutdown_finish (fixture->vm, shutdown.result, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
  g_object_unref (shutdown.result);

  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_nonnull (strstr (qvm_virtual_machine_get_error (fixture->vm)->message, "killed"));
}

/* A blocking screenshot from inside one of the machine's own signal
 * handlers: the nested iteration the docs describe. */
static void
screenshot_on_pause (QvmVirtualMachine *vm,
                     GParamSpec        *pspec,
                     gpointer           data)
{
  GdkPixbuf **screen = data;
  g_autoptr(GError) error = NULL;

  if (qvm_virtual_machine_get_state (vm) != QVM_VM_STATE_PAUSED || *screen != NULL)
    return;
  *screen = qvm_virtual_machine_screenshot (vm, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* The blocking forms, with no main loop running: each returns once its
 * operation is over, and says how it went. */
static void
test_blocking (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;
  g_autoptr(GdkPixbuf) screen = NULL;
  gulong handler;

  g_assert_true (qvm_virtual_machine_start (fixture->vm, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
  /* The machine's QMP client does not wait for ever. */
  g_assert_cmpuint (qvm_qmp_client_get_timeout (qvm_virtual_machine_get_qmp_client (fixture->vm)), ==, 60000);

  handler = g_signal_connect (fixture->vm, "notify::state", G_CALLBACK (screenshot_on_pause), &screen);
  g_assert_true (qvm_virtual_machine_pause (fixture->vm, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_PAUSED);
  g_clear_signal_handler (&handler, fixture->vm);
  g_assert_nonnull (screen);
  g_assert_cmpint (gdk_pixbuf_get_width (screen), >, 0);
  g_assert_true (qvm_virtual_machine_resume (fixture->vm, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);

  /* A wait that times out leaves the machine running. */
  g_assert_false (qvm_virtual_machine_wait (fixture->vm, 200, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);

  /* No OS answers the power button: a cancelled shutdown leaves it
   * running, not killed. */
  g_timeout_add (500, cancel_later, cancellable);
  g_assert_false (qvm_virtual_machine_shutdown (fixture->vm, 60 * 1000, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
  status = query_status (fixture->vm);
  g_assert_cmpstr (status, ==, "running");
  g_assert_cmpuint (fixture->done_count, ==, 0);

  /* Cancelled before it began: nothing is sent. */
  g_assert_false (qvm_virtual_machine_shutdown (fixture->vm, 60 * 1000, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);

  /* Killed after the timeout: the result says so. */
  g_assert_false (qvm_virtual_machine_shutdown (fixture->vm, 300, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
  g_clear_error (&error);
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_true (qvm_virtual_machine_wait (fixture->vm, 0, NULL, &error));
  g_assert_no_error (error);
}

/* Keyboard and pointer on a running machine (SeaBIOS reads neither; QEMU
 * takes every event): what is valid goes through, what is not is refused
 * before it is sent. */
static void
test_input (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  start_running (fixture);
  g_assert_true (qvm_virtual_machine_send_keys (fixture->vm, "shift-f10", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_virtual_machine_type_text (fixture->vm, "Hi there!\n", 200, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_virtual_machine_type_text (fixture->vm, "naïve", 0, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "“ï”"));
  g_clear_error (&error);

  /* The screen's size comes from a screenshot taken first. */
  g_assert_true (qvm_virtual_machine_pointer_move (fixture->vm, 10, 20, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_virtual_machine_pointer_click (fixture->vm, QVM_POINTER_BUTTON_LEFT, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_virtual_machine_pointer_move (fixture->vm, 100000, 20, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "outside the screen"));
  g_clear_error (&error);

  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
  g_assert_false (qvm_virtual_machine_send_keys (fixture->vm, "ret", NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

/* The first bytes of a zstd file, decompressed. */
static GBytes *
zstd_head (const char *path,
           gsize       want)
{
  g_autofree char *compressed = NULL;
  gsize length;
  g_autofree guint8 *plain = g_malloc (want);
  ZSTD_DCtx *context = ZSTD_createDCtx ();
  ZSTD_inBuffer in;
  ZSTD_outBuffer out = { plain, want, 0 };

  g_assert_true (g_file_get_contents (path, &compressed, &length, NULL));
  in = (ZSTD_inBuffer) { compressed, length, 0 };
  while (out.pos < want && in.pos < in.size)
    g_assert_false (ZSTD_isError (ZSTD_decompressStream (context, &out, &in)));
  ZSTD_freeDCtx (context);
  return g_bytes_new (plain, out.pos);
}

/* The VM generation ID QEMU gives the guest (query-vm-generation-id). */
static char *
generation_id (QvmVirtualMachine *vm)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = qvm_qmp_client_execute (qvm_virtual_machine_get_qmp_client (vm),
                                                       "query-vm-generation-id", NULL, NULL, &error);

  g_assert_no_error (error);
  return g_strdup (json_object_get_string_member (json_node_get_object (answer), "guid"));
}

/* A new machine of the fixture's image and network folder, started from
 * @state; the error of its start in @error. */
static QvmVirtualMachine *
restore_machine (Fixture  *fixture,
                 GFile    *state,
                 GError  **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *network_folder = g_build_filename (fixture->folder, "network", NULL);
  g_autoptr(QvmUserNetwork) network = qvm_user_network_new (network_folder, &local_error);
  QvmVirtualMachine *vm;

  g_assert_no_error (local_error);
  vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image), QVM_NETWORK (network),
                                fixture->socket_folder, NULL, NULL, &local_error);
  g_assert_no_error (local_error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_assert_true (qvm_virtual_machine_set_restore_file (vm, state, &local_error));
  g_assert_no_error (local_error);
  qvm_virtual_machine_start (vm, NULL, error);
  return vm;
}

/* The running state, saved: a QEMU migration stream ("QEVM", then the
 * version) under zstd; the guest goes on, or the machine ends. A target
 * that cannot be written is an error that leaves nothing behind. */
static void
test_save (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *target = g_build_filename (fixture->folder, "state.zst", NULL);
  g_autofree char *nowhere = g_build_filename (fixture->folder, "no", "state.zst", NULL);
  g_autoptr(GFile) target_file = g_file_new_for_path (target);
  g_autoptr(GFile) nowhere_file = g_file_new_for_path (nowhere);
  g_autoptr(GBytes) head = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;
  g_autoptr(GdkPixbuf) before = NULL;
  g_autoptr(GdkPixbuf) after = NULL;
  g_autoptr(QvmVirtualMachine) restored = NULL;
  g_autofree char *saved_generation = NULL;
  g_autofree char *restored_generation = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  guint entries;

  start_running (fixture);
  entries = testutil_count_entries (fixture->folder);
  g_assert_true (qvm_virtual_machine_save (fixture->vm, target_file, QVM_SAVE_FLAGS_NONE, NULL, &error));
  g_assert_no_error (error);
  head = zstd_head (target, 8);
  g_assert_cmpuint (g_bytes_get_size (head), ==, 8);
  g_assert_cmpmem (g_bytes_get_data (head, NULL), 4, "QEVM", 4);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
  status = query_status (fixture->vm);
  g_assert_cmpstr (status, ==, "running");
  g_assert_cmpuint (testutil_count_entries (fixture->folder), ==, entries + 1);

  g_assert_false (qvm_virtual_machine_save (fixture->vm, nowhere_file, QVM_SAVE_FLAGS_NONE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);

  /* Saved once SeaBIOS has drawn its last screen: before, QEMU shows a
   * placeholder of another size that a restore does not keep. */
  g_assert_true (qvm_virtual_machine_wait_for_still_screen (fixture->vm, 1000, 40.0, TIMEOUT_S * 1000,
                                                            NULL, &error));
  g_assert_no_error (error);
  before = qvm_virtual_machine_screenshot (fixture->vm, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (before), ==, 720);
  saved_generation = generation_id (fixture->vm);
  g_assert_true (qvm_virtual_machine_save (fixture->vm, target_file, QVM_SAVE_FLAGS_END, NULL, &error));
  g_assert_no_error (error);
  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
  g_assert_cmpuint (testutil_count_entries (fixture->folder), ==, entries + 1);

  /* Restored into a machine of the same image: it runs at once, with the
   * screen it had (a boot would show SeaBIOS's first lines, not its last). */
  restored = restore_machine (fixture, target_file, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qvm_virtual_machine_get_state (restored), ==, QVM_VM_STATE_RUNNING);
  after = qvm_virtual_machine_screenshot (restored, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (after), ==, gdk_pixbuf_get_width (before));
  /* The same screen; only the text cursor may blink between the two
   * (45.7 dB alone, see docs/screen-matching.md). */
  g_test_message ("restored screen: %.1f dB from the saved one", qvm_screen_psnr (after, before));
  g_assert_cmpfloat (qvm_screen_psnr (after, before), >=, 40.0);
  /* The same state, another machine: a generation ID of its own. */
  restored_generation = generation_id (restored);
  g_assert_cmpuint (strlen (restored_generation), ==, 36);
  g_assert_cmpstr (restored_generation, !=, saved_generation);
  qvm_virtual_machine_kill (restored);
  g_assert_true (qvm_virtual_machine_wait (restored, TIMEOUT_S * 1000, NULL, NULL));
  g_clear_object (&restored);

  /* Another machine definition (here: another memory size) is refused
   * before QEMU loads anything. */
  {
    g_autoptr(QvmMachineOptions) bigger = qvm_machine_options_new (128);
    g_autofree char *network_folder = g_build_filename (fixture->folder, "network", NULL);
    g_autoptr(QvmUserNetwork) network = qvm_user_network_new (network_folder, &error);
    g_autoptr(QvmVirtualMachine) other = NULL;

    g_assert_no_error (error);
    other = qvm_virtual_machine_new (bigger, QVM_IMAGE (fixture->image), QVM_NETWORK (network),
                                     fixture->socket_folder, NULL, NULL, &error);
    g_assert_no_error (error);
    qvm_virtual_machine_set_accel (other, testutil_accel ());
    g_assert_true (qvm_virtual_machine_set_restore_file (other, target_file, &error));
    g_assert_false (qvm_virtual_machine_start (other, NULL, &error));
    g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    g_assert_nonnull (strstr (error->message, "another machine definition"));
    g_clear_error (&error);
    g_assert_true (qvm_virtual_machine_wait (other, TIMEOUT_S * 1000, NULL, NULL));
    /* Too late once started. */
    g_assert_false (qvm_virtual_machine_set_restore_file (other, target_file, &error));
    g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
    g_clear_error (&error);
  }

  /* A state cut short fails the start with a clear error, no crash. */
  g_assert_true (g_file_get_contents (target, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (target, contents, length / 2, NULL));
  restored = restore_machine (fixture, target_file, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_test_message ("cut short: %s", error->message);
  g_clear_error (&error);
  g_assert_true (qvm_virtual_machine_wait (restored, TIMEOUT_S * 1000, NULL, NULL));
  g_clear_object (&restored);
  g_unlink (target);
}

/* A machine whose definition says "tablet": false has no pointer: a move
 * is refused, the keyboard still works. */
static void
test_no_tablet (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  static const char definition[] =
    "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
    " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:01\"},"
    " \"keyboard\": {\"layout\": \"en-us\"}, \"tablet\": false}";
  g_autoptr(GBytes) json = g_bytes_new_static (definition, sizeof definition - 1);
  g_autoptr(QvmMachine) machine = NULL;
  g_autofree char *image_folder = g_build_filename (fixture->folder, "no-tablet", NULL);
  g_autofree char *network_folder = g_build_filename (fixture->folder, "network", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmVirtualMachine) vm = NULL;

  machine = qvm_machine_new_from_bytes (json, &error);
  g_assert_no_error (error);
  g_assert_false (qvm_machine_get_tablet (machine));
  image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024, machine, &error);
  g_assert_no_error (error);
  network = qvm_user_network_new (network_folder, &error);
  g_assert_no_error (error);
  vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (image), QVM_NETWORK (network),
                                fixture->socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_assert_true (qvm_virtual_machine_start (vm, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (qvm_virtual_machine_pointer_move (vm, 1, 1, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "no tablet"));
  g_clear_error (&error);
  g_assert_true (qvm_virtual_machine_send_keys (vm, "ret", NULL, &error));
  g_assert_no_error (error);

  qvm_virtual_machine_kill (vm);
  g_assert_true (qvm_virtual_machine_wait (vm, TIMEOUT_S * 1000, NULL, NULL));
  g_clear_object (&vm);
  g_assert_true (qvm_folder_image_delete (image, &error));
  g_assert_no_error (error);
}

static void
test_kill_done (Fixture       *fixture,
                gconstpointer  data)
{
  start_running (fixture);
  qvm_virtual_machine_kill (fixture->vm);
  wait_for_done (fixture);

  qvm_virtual_machine_kill (fixture->vm);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (fixture->done_count, ==, 1);
}

static void
test_shutdown_never_started (Fixture       *fixture,
                             gconstpointer  data)
{
  TestutilWait shutdown = { FALSE, NULL };

  qvm_virtual_machine_shutdown_async (fixture->vm, 1000, NULL, on_shutdown, &shutdown);
  testutil_iterate_until (NULL, &shutdown.done, TIMEOUT_S);
  g_assert_true (qvm_virtual_machine_shutdown_finish (fixture->vm, shutdown.result, NULL));
  g_object_unref (shutdown.result);

  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_SHUTDOWN);
  g_assert_null (qvm_virtual_machine_get_error (fixture->vm));
}

static void
test_quit_over_qmp (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = NULL;

  /* The caller's own "quit" through the QMP client is a shutdown too. */
  start_running (fixture);
  answer = qvm_qmp_client_execute (qvm_virtual_machine_get_qmp_client (fixture->vm),
                                   "quit", NULL, NULL, &error);
  g_assert_no_error (error);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_SHUTDOWN);
  g_assert_null (qvm_virtual_machine_get_error (fixture->vm));
}

static void
test_qemu_missing (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *binary = data;
  g_autofree char *path = NULL;

  if (!g_str_equal (binary, "qemu-system-none"))
    binary = path = g_build_filename (fixture->folder, "no-such-qemu", NULL);

  qvm_virtual_machine_set_qemu_binary (fixture->vm, binary);
  g_assert_cmpstr (qvm_virtual_machine_get_qemu_binary (fixture->vm), ==, binary);
  start_and_wait (fixture);

  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND);
  g_assert_nonnull (strstr (fixture->start_error->message, binary));
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_FAILED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_QEMU_NOT_FOUND);
  /* Nothing left: no folder, no process, image and network released. */
  g_assert_true (folder_is_empty (fixture->socket_folder));
  g_assert_cmpuint (testutil_count_children (), ==, 0);
  g_assert_false (qvm_folder_image_get_in_use (fixture->image));
}

static void
test_qemu_refuses (Fixture       *fixture,
                   gconstpointer  data)
{
  const GError *done_error;

  /* A QEMU that complains and exits: status and last lines in the error. */
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "refuses");
  start_and_wait (fixture);

  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  done_error = qvm_virtual_machine_get_error (fixture->vm);
  g_assert_error (done_error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  g_assert_nonnull (strstr (done_error->message, "status 3"));
  g_assert_nonnull (strstr (done_error->message, "qemu: first complaint"));
  g_assert_nonnull (strstr (done_error->message, "qemu: -device bogus: not found"));
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_FAILED);
  g_assert_true (folder_is_empty (fixture->socket_folder));

  /* And the lines were logged, tagged with the machine's id. */
  {
    gboolean seen = FALSE;

    for (guint i = 0; i < log_records->len; i++)
      {
        LogRecord *record = g_ptr_array_index (log_records, i);

        if (g_str_equal (record->vm_id, qvm_virtual_machine_get_id (fixture->vm)) &&
            g_str_equal (record->stream, "stderr") &&
            strstr (record->message, "-device bogus") != NULL)
          seen = TRUE;
      }
    g_assert_true (seen);
  }
}

/* Sends @signum to the running machine's QEMU: the machine crashed, as
 * far as it knows; its error mentions @expected. */
static void
signal_qemu_from_outside (Fixture    *fixture,
                          int         signum,
                          const char *expected)
{
  const GError *error;
  pid_t pid;

  start_running (fixture);
  pid = find_qemu (qvm_machine_get_uuid (qvm_virtual_machine_get_machine (fixture->vm)));
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, signum), ==, 0);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_CRASHED);
  error = qvm_virtual_machine_get_error (fixture->vm);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_true (folder_is_empty (fixture->socket_folder));
}

static void
test_killed_from_outside (Fixture       *fixture,
                          gconstpointer  data)
{
  signal_qemu_from_outside (fixture, SIGKILL, "signal 9");
}

static void
test_terminated_from_outside (Fixture       *fixture,
                              gconstpointer  data)
{
  /* SIGTERM: QEMU exits cleanly by itself, but nobody asked for it. */
  signal_qemu_from_outside (fixture, SIGTERM, "host-signal");
}

static void
test_cdrom_missing (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (fixture->folder, "missing.iso", NULL);
  g_autofree char *netdev = NULL;
  QvmVirtualMachine *vm;

  vm = make_vm (fixture, missing, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_assert_nonnull (strstr (error->message, "CD-ROM 1"));
  g_clear_error (&error);

  /* A folder is no CD-ROM either. */
  vm = make_vm (fixture, fixture->folder, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);

  /* The caller still owns the network and the image: both still work. */
  netdev = qvm_network_get_netdev (QVM_NETWORK (fixture->network), "netdev0", &error);
  g_assert_no_error (error);
  g_assert_nonnull (netdev);
  g_assert_true (folder_is_empty (fixture->socket_folder));
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_cdrom_attached (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *iso = g_build_filename (fixture->folder, "tools.iso", NULL);
  g_autoptr(JsonNode) blocks = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  g_file_set_contents (iso, "", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (truncate (iso, 2048 * 16), ==, 0);

  fixture->vm = make_vm (fixture, iso, &error);
  g_assert_no_error (error);
  start_running (fixture);

  blocks = qvm_qmp_client_execute (qvm_virtual_machine_get_qmp_client (fixture->vm),
                                   "query-block", NULL, NULL, &error);
  g_assert_no_error (error);
  json_generator_set_root (generator, blocks);
  text = json_generator_to_data (generator, NULL);
  g_assert_nonnull (strstr (text, iso));
  g_assert_nonnull (strstr (text, "\"ro\":true"));
}

static void
test_malformed (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) tiny = qvm_machine_options_new (1);
  g_autoptr(QvmMachine) random = qvm_machine_new_random ();
  g_autoptr(JsonNode) json = qvm_machine_to_json (random);
  g_autoptr(QvmMachine) machine = NULL;
  g_autoptr(QvmFolderImage) image = NULL;
  g_autofree char *folder = g_build_filename (fixture->folder, "image-big", NULL);
  g_autofree char *netdev = NULL;
  QvmVirtualMachine *vm;

  /* The image asks for more memory than the options allow. */
  json_object_set_int_member (json_node_get_object (json), "memory", 128);
  machine = qvm_machine_new_from_json (json, &error);
  g_assert_no_error (error);
  image = qvm_folder_image_new_blank (folder, 1024 * 1024, machine, &error);
  g_assert_no_error (error);

  vm = qvm_virtual_machine_new (tiny, QVM_IMAGE (image), QVM_NETWORK (fixture->network),
                                fixture->socket_folder, NULL, NULL, &error);
  g_assert_null (vm);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_clear_error (&error);

  netdev = qvm_network_get_netdev (QVM_NETWORK (fixture->network), "netdev0", &error);
  g_assert_no_error (error);
  g_assert_true (folder_is_empty (fixture->socket_folder));
  qvm_folder_image_delete (image, &error);
  g_assert_no_error (error);
}

static void
test_bad_socket_folder (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (fixture->folder, "nowhere", NULL);
  g_autofree char *long_path = g_strnfill (100, 'x');
  QvmVirtualMachine *vm;

  vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                QVM_NETWORK (fixture->network), missing, NULL, NULL, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_free (missing);
  missing = g_build_filename (fixture->folder, long_path, NULL);
  g_assert_cmpint (g_mkdir (missing, 0700), ==, 0);
  vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                QVM_NETWORK (fixture->network), missing, NULL, NULL, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG);
}

static void
test_concurrent_screenshots (Fixture       *fixture,
                             gconstpointer  data)
{
  TestutilWait waits[4] = { 0 };
  g_autoptr(GdkPixbuf) first = NULL;

  start_running (fixture);
  first = screenshot_not_blank (fixture->vm);

  for (guint i = 0; i < G_N_ELEMENTS (waits); i++)
    qvm_virtual_machine_screenshot_async (fixture->vm, NULL, testutil_on_wait_done, &waits[i]);
  for (guint i = 0; i < G_N_ELEMENTS (waits); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;

      testutil_iterate_until (NULL, &waits[i].done, TIMEOUT_S);
      pixbuf = qvm_virtual_machine_screenshot_finish (fixture->vm, waits[i].result, &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, gdk_pixbuf_get_width (first));
      g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, gdk_pixbuf_get_height (first));
      g_assert_false (pixbuf_is_blank (pixbuf));
      g_object_unref (waits[i].result);
    }

  /* No fdset left behind in QEMU. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) fdsets = qvm_qmp_client_execute (qvm_virtual_machine_get_qmp_client (fixture->vm),
                                                         "query-fdsets", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (json_array_get_length (json_node_get_array (fdsets)), ==, 0);
  }
}

/* ---- Waiting for the screen ------------------------------------------------ */

/* SeaBIOS's first line, "SeaBIOS (version …)", on a 720x400 text screen. */
#define BANNER_WIDTH 360
#define BANNER_HEIGHT 16

/* Screenshots until SeaBIOS has written its banner and the line after
 * it: over 300 lit pixels in the second row of text (the cursor alone
 * has 16). The cursor has then left the banner's row: it blinks, and
 * would make a needle cut with it fail. */
static GdkPixbuf *
screenshot_with_banner (QvmVirtualMachine *vm)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GdkPixbuf) pixbuf = screenshot_not_blank (vm);
      const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
      int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
      int channels = gdk_pixbuf_get_n_channels (pixbuf);
      guint lit = 0;

      for (int y = BANNER_HEIGHT; y < 2 * BANNER_HEIGHT; y++)
        for (int x = 0; x < BANNER_WIDTH; x++)
          lit += pixels[y * rowstride + x * channels] != pixels[0];
      if (lit > 300)
        return g_steal_pointer (&pixbuf);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

/* A needle of SeaBIOS's banner cut from @screen and pasted at (@x, @y) of
 * an otherwise black reference. */
static QvmNeedle *
banner_needle (GdkPixbuf *screen,
               int        x,
               int        y)
{
  g_autoptr(GdkPixbuf) reference = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                                   gdk_pixbuf_get_width (screen),
                                                   gdk_pixbuf_get_height (screen));
  g_autoptr(GError) error = NULL;
  QvmNeedle *needle;

  gdk_pixbuf_fill (reference, 0x000000ff);
  gdk_pixbuf_copy_area (screen, 0, 0, BANNER_WIDTH, BANNER_HEIGHT, reference, x, y);
  needle = qvm_needle_new (reference, QVM_NEEDLE_DEFAULT_MATCH_LEVEL, QVM_NEEDLE_DEFAULT_MARGIN);
  g_assert_true (qvm_needle_add_area (needle, x, y, BANNER_WIDTH, BANNER_HEIGHT,
                                      QVM_SCREEN_AREA_MATCH, &error));
  g_assert_no_error (error);
  return needle;
}

static void
test_screen_found (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GdkPixbuf) first = NULL;
  g_autoptr(QvmNeedle) needle = NULL;
  g_autoptr(GError) error = NULL;
  TestutilWait wait = { FALSE, NULL };
  double similarity = 0;
  int x = -1, y = -1;

  start_running (fixture);
  first = screenshot_with_banner (fixture->vm);

  /* Cut from the first screenshot and moved by (10, 20) in the
   * reference: found where it is on the live screen, within the margin. */
  needle = banner_needle (first, 10, 20);
  qvm_virtual_machine_wait_for_screen_async (fixture->vm, needle, TIMEOUT_S * 1000, NULL,
                                             testutil_on_wait_done, &wait);
  testutil_iterate_until (NULL, &wait.done, TIMEOUT_S + 10);
  g_assert_true (qvm_virtual_machine_wait_for_screen_finish (fixture->vm, wait.result,
                                                             &similarity, &x, &y, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (similarity, >=, QVM_NEEDLE_DEFAULT_MATCH_LEVEL);
  g_assert_cmpint (x, ==, 0);
  g_assert_cmpint (y, ==, 0);
  g_clear_object (&wait.result);

  /* The blocking form, the banner at its own place. */
  g_clear_pointer (&needle, qvm_needle_unref);
  needle = banner_needle (first, 0, 0);
  g_assert_true (qvm_virtual_machine_wait_for_screen (fixture->vm, needle, TIMEOUT_S * 1000,
                                                      &similarity, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (similarity, >=, QVM_NEEDLE_DEFAULT_MATCH_LEVEL);
}

static void
test_screen_timed_out (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GdkPixbuf) first = NULL;
  g_autoptr(QvmNeedle) needle = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  double similarity = -1;

  start_running (fixture);
  first = screenshot_not_blank (fixture->vm);

  /* A white block where the banner is: never on the screen. */
  needle = banner_needle (first, 0, 0);
  gdk_pixbuf_fill (qvm_needle_get_reference (needle), 0xffffffff);
  g_assert_false (qvm_virtual_machine_wait_for_screen (fixture->vm, needle, 500,
                                                       &similarity, NULL, NULL, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "best similarity"));
  g_assert_cmpfloat (similarity, ==, -1);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
  g_clear_error (&error);

  /* Cancelled, it ends at once, and the machine runs on. */
  cancellable = g_cancellable_new ();
  g_timeout_add (200, cancel_later, cancellable);
  g_assert_false (qvm_virtual_machine_wait_for_screen (fixture->vm, needle, TIMEOUT_S * 1000,
                                                       NULL, NULL, NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
}

static gboolean
kill_vm_later (gpointer data)
{
  qvm_virtual_machine_kill (data);
  return G_SOURCE_REMOVE;
}

static void
test_screen_machine_done (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GdkPixbuf) first = NULL;
  g_autoptr(QvmNeedle) needle = NULL;
  g_autoptr(GError) error = NULL;

  start_running (fixture);
  first = screenshot_not_blank (fixture->vm);
  needle = banner_needle (first, 0, 0);
  gdk_pixbuf_fill (qvm_needle_get_reference (needle), 0xffffffff);

  /* The machine's end ends the wait, with the machine's error. */
  g_timeout_add (300, kill_vm_later, fixture->vm);
  g_assert_false (qvm_virtual_machine_wait_for_screen (fixture->vm, needle, TIMEOUT_S * 1000,
                                                       NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
}

static void
test_still_screen (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  TestutilWait wait = { FALSE, NULL };

  /* Not started: nothing to look at. */
  g_assert_false (qvm_virtual_machine_wait_for_still_screen (fixture->vm, 100, 0, 1000, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* SeaBIOS's idle screen, whose only change is the text cursor's blink:
   * 45.7 dB on 720x400, under the default of 47 dB, so a lower level. */
  start_running (fixture);
  qvm_virtual_machine_wait_for_still_screen_async (fixture->vm, 500, 40.0, TIMEOUT_S * 1000, NULL,
                                                   testutil_on_wait_done, &wait);
  testutil_iterate_until (NULL, &wait.done, TIMEOUT_S + 10);
  g_assert_true (qvm_virtual_machine_wait_for_still_screen_finish (fixture->vm, wait.result, &error));
  g_assert_no_error (error);
  g_clear_object (&wait.result);
}

static void
on_stop_event (QvmVirtualMachine *vm,
               const char        *name,
               JsonObject        *event_data,
               gint64             timestamp,
               gpointer           data)
{
  guint *count = data;

  g_assert_cmpstr (name, ==, "STOP");
  g_assert_cmpint (timestamp, >, 0);
  (*count)++;
}

static void
test_qmp_event (Fixture       *fixture,
                gconstpointer  data)
{
  guint stops = 0;

  g_signal_connect (fixture->vm, "qmp-event::STOP", G_CALLBACK (on_stop_event), &stops);
  start_running (fixture);
  g_assert_cmpuint (stops, ==, 0);
  pause_or_resume (fixture->vm, TRUE);
  while (stops == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (stops, ==, 1);
}

static void
test_cycles (Fixture       *fixture,
             gconstpointer  data)
{
  guint cycles = GPOINTER_TO_UINT (data);
  guint fds_before;

  /* One cycle first: libraries open what they keep open (GIO modules…). */
  g_clear_object (&fixture->vm);   /* never started: releases at dispose */
  fds_before = testutil_count_fds ();

  for (guint i = 0; i < cycles; i++)
    {
      g_autoptr(GError) error = NULL;

      fixture->done_count = 0;
      fixture->started = FALSE;
      g_clear_error (&fixture->start_error);
      g_clear_object (&fixture->network);
      {
        g_autofree char *network_folder = g_build_filename (fixture->folder, "network", NULL);
        fixture->network = qvm_user_network_new (network_folder, &error);
        g_assert_no_error (error);
      }

      fixture->vm = make_vm (fixture, NULL, &error);
      g_assert_no_error (error);
      start_running (fixture);
      qvm_virtual_machine_kill (fixture->vm);
      wait_for_done (fixture);
      g_clear_object (&fixture->vm);

      g_assert_true (folder_is_empty (fixture->socket_folder));
      g_assert_cmpuint (testutil_count_children (), ==, 0);
      /* The first cycles make GLib and QEMU's helpers open what they keep
       * (GIO modules, the child watch, thread pools): a leak shows as growth
       * after them. */
      if (i <= 1)
        fds_before = MAX (fds_before, testutil_count_fds ());
    }

  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (testutil_count_fds () > fds_before)
    log_fds ();
  g_assert_cmpuint (testutil_count_fds (), <=, fds_before);
}

/* ---- A scripted QEMU, for what the real one will not do on demand ------------- */

static void
test_guest_failed (Fixture       *fixture,
                   gconstpointer  data)
{
  const GError *error;

  /* Like the nested KVM here: the guest stops in internal-error and QEMU
   * would wait forever. */
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "guest-failed");
  start_and_wait (fixture);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_CRASHED);
  error = qvm_virtual_machine_get_error (fixture->vm);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_GUEST_FAILED);
  g_assert_nonnull (strstr (error->message, "internal-error"));
  g_assert_nonnull (strstr (error->message, "KVM internal error. Suberror: 1"));
  g_assert_true (folder_is_empty (fixture->socket_folder));
}

static void
test_qmp_lost (Fixture       *fixture,
               gconstpointer  data)
{
  const GError *error;

  /* QEMU drops its monitor and runs on: it cannot be driven any more. */
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "closes-qmp");
  start_and_wait (fixture);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_CRASHED);
  error = qvm_virtual_machine_get_error (fixture->vm);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "kept running"));
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
test_guest_poweroff (Fixture       *fixture,
                     gconstpointer  data)
{
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "poweroff");
  start_and_wait (fixture);
  wait_for_done (fixture);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_POWEROFF);
  g_assert_null (qvm_virtual_machine_get_error (fixture->vm));
}

static void
test_guest_obeys_shutdown (Fixture       *fixture,
                           gconstpointer  data)
{
  TestutilWait shutdown = { FALSE, NULL };

  testutil_use_fake_qemu (fixture->vm, fixture->folder, "obeys");
  start_running (fixture);
  qvm_virtual_machine_shutdown_async (fixture->vm, 30 * 1000, NULL, on_shutdown, &shutdown);
  testutil_iterate_until (NULL, &shutdown.done, TIMEOUT_S);
  g_assert_true (qvm_virtual_machine_shutdown_finish (fixture->vm, shutdown.result, NULL));
  g_object_unref (shutdown.result);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_SHUTDOWN);
  g_assert_null (qvm_virtual_machine_get_error (fixture->vm));
}

static void
test_output_flood (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *vm_id;
  const GError *error;
  guint stdout_lines = 0;

  /* 16 MiB on stdout (the guest's console) and 1 MiB on stderr, neither
   * with a newline: the library cuts lines at 4 KiB instead of buffering
   * without bound, and the error still quotes the end of stderr. */
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "floods-output");
  start_and_wait (fixture);
  wait_for_done (fixture);

  error = qvm_virtual_machine_get_error (fixture->vm);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "xxxxxxxxxxxxxxxx"));
  g_assert_cmpuint (strlen (error->message), <, 64 * 4096);

  vm_id = qvm_virtual_machine_get_id (fixture->vm);
  for (guint i = 0; i < log_records->len; i++)
    {
      LogRecord *record = g_ptr_array_index (log_records, i);

      if (!g_str_equal (record->vm_id, vm_id))
        continue;
      g_assert_cmpuint (strlen (record->message), <=, 4096 + 256);
      if (g_str_equal (record->stream, "stdout"))
        stdout_lines++;
    }
  g_assert_cmpuint (stdout_lines, ==, 16 * 1024 * 1024 / 4096);
  g_assert_true (folder_is_empty (fixture->socket_folder));
}

/* ---- A network that hands QEMU a descriptor ------------------------------ */

#define FD_TYPE_NETWORK (fd_network_get_type ())
G_DECLARE_FINAL_TYPE (FdNetwork, fd_network, FD, NETWORK, GObject)

/* -netdev socket on one end of a socket pair; the test keeps the other end,
 * so it sees when QEMU's copy goes. */
struct _FdNetwork
{
  GObject  parent_instance;
  gboolean fail;
  guint    taken;
  int      our_end;
};

static void fd_network_iface_init (QvmNetworkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FdNetwork, fd_network, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_NETWORK, fd_network_iface_init))

static char *
fd_network_get_netdev (QvmNetwork *network, const char *id, GError **error)
{
  return g_strdup_printf ("socket,id=%s,fd=%d", id, QVM_NETWORK_NETDEV_FD);
}

static int
fd_network_take_netdev_fd (QvmNetwork *network, GError **error)
{
  FdNetwork *self = FD_NETWORK (network);
  int fds[2];

  self->taken++;
  if (self->fail)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no wire for the test");
      return -1;
    }
  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
  g_assert_cmpint (self->our_end, ==, -1);
  self->our_end = fds[0];
  return fds[1];
}

static void
fd_network_set_handler (QvmNetwork *network, SoupServerCallback callback,
                        gpointer user_data, GDestroyNotify destroy)
{
  if (destroy != NULL)
    destroy (user_data);
}

static void
fd_network_release (QvmNetwork *network)
{
}

static void
fd_network_iface_init (QvmNetworkInterface *iface)
{
  iface->get_netdev = fd_network_get_netdev;
  iface->take_netdev_fd = fd_network_take_netdev_fd;
  iface->set_handler = fd_network_set_handler;
  iface->release = fd_network_release;
}

static void
fd_network_finalize (GObject *object)
{
  FdNetwork *self = FD_NETWORK (object);

  if (self->our_end >= 0)
    close (self->our_end);
  G_OBJECT_CLASS (fd_network_parent_class)->finalize (object);
}

static void
fd_network_class_init (FdNetworkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fd_network_finalize;
}

static void
fd_network_init (FdNetwork *self)
{
  self->our_end = -1;
}

static void
start_on_fd_network (Fixture   *fixture,
                     FdNetwork *network)
{
  g_autoptr(GError) error = NULL;

  fixture->vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                         QVM_NETWORK (network), fixture->socket_folder,
                                         NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (fixture->vm, testutil_accel ());
  g_signal_connect (fixture->vm, "done", G_CALLBACK (on_done), fixture);
  start_and_wait (fixture);
}

static void
test_netdev_fd (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(FdNetwork) network = g_object_new (FD_TYPE_NETWORK, NULL);
  char byte;

  start_on_fd_network (fixture, network);
  g_assert_no_error (fixture->start_error);
  g_assert_cmpuint (network->taken, ==, 1);
  g_assert_cmpint (network->our_end, >=, 0);

  /* QEMU holds the other end while it runs (nothing else does: the
   * library closed its copy), and lets go of it when it ends. */
  g_assert_cmpint (recv (network->our_end, &byte, 1, MSG_DONTWAIT), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
  qvm_virtual_machine_kill (fixture->vm);
  wait_for_done (fixture);
  g_assert_cmpint (recv (network->our_end, &byte, 1, MSG_DONTWAIT), ==, 0);
}

static void
test_netdev_fd_fails (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(FdNetwork) network = g_object_new (FD_TYPE_NETWORK, NULL);

  /* The network's error is the start's; nothing is left behind. */
  network->fail = TRUE;
  start_on_fd_network (fixture, network);
  g_assert_error (fixture->start_error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_assert_cmpuint (network->taken, ==, 1);
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_FAILED);
  g_assert_true (folder_is_empty (fixture->socket_folder));
  g_assert_cmpuint (testutil_count_children (), ==, 0);
  g_assert_false (qvm_folder_image_get_in_use (fixture->image));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  testutil_kill_children_on_abort ();
  log_records = g_ptr_array_new_with_free_func (log_record_free);
  g_log_set_writer_func (log_writer, NULL, NULL);

#define ADD(path, func, data) \
  g_test_add ("/virtual-machine/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)

  ADD ("lifecycle", test_lifecycle, NULL);
  ADD ("start/cancelled", test_start_cancelled, NULL);
  ADD ("start/twice", test_start_twice, NULL);
  ADD ("start/without-callback", test_start_without_callback, NULL);
  ADD ("start/image-in-use", test_image_in_use, NULL);
  ADD ("dropped-unstarted", test_dropped_unstarted, NULL);
  ADD ("kill/before-start", test_kill_before_start, NULL);
  ADD ("kill/starting", test_kill_starting, NULL);
  ADD ("kill/running", test_kill_running, NULL);
  ADD ("kill/paused", test_kill_paused, NULL);
  ADD ("kill/stopping", test_kill_stopping, NULL);
  ADD ("kill/done", test_kill_done, NULL);
  ADD ("blocking", test_blocking, NULL);
  ADD ("save", test_save, NULL);
  ADD ("input", test_input, NULL);
  ADD ("input/no-tablet", test_no_tablet, NULL);
  ADD ("shutdown/never-started", test_shutdown_never_started, NULL);
  ADD ("shutdown/quit-over-qmp", test_quit_over_qmp, NULL);
  ADD ("qemu/missing-path", test_qemu_missing, "path");
  ADD ("qemu/missing-name", test_qemu_missing, "qemu-system-none");
  ADD ("qemu/refuses", test_qemu_refuses, NULL);
  ADD ("network/netdev-fd", test_netdev_fd, no_vm);
  ADD ("network/netdev-fd-fails", test_netdev_fd_fails, no_vm);
  ADD ("qemu/killed-from-outside", test_killed_from_outside, NULL);
  ADD ("qemu/terminated-from-outside", test_terminated_from_outside, NULL);
  ADD ("new/cdrom-missing", test_cdrom_missing, no_vm);
  ADD ("new/cdrom-attached", test_cdrom_attached, no_vm);
  ADD ("new/malformed", test_malformed, no_vm);
  ADD ("new/bad-socket-folder", test_bad_socket_folder, no_vm);
  ADD ("screenshot/concurrent", test_concurrent_screenshots, NULL);
  ADD ("screen/found", test_screen_found, NULL);
  ADD ("screen/timed-out", test_screen_timed_out, NULL);
  ADD ("screen/machine-done", test_screen_machine_done, NULL);
  ADD ("screen/still", test_still_screen, NULL);
  ADD ("qmp-event", test_qmp_event, NULL);
  ADD ("cycles", test_cycles, GUINT_TO_POINTER (20));
  ADD ("fake/guest-failed", test_guest_failed, NULL);
  ADD ("fake/guest-poweroff", test_guest_poweroff, NULL);
  ADD ("fake/qmp-lost", test_qmp_lost, NULL);
  ADD ("fake/guest-obeys-shutdown", test_guest_obeys_shutdown, NULL);
  ADD ("fake/output-flood", test_output_flood, NULL);

#undef ADD

  return g_test_run ();
}
