/* test-faults.c: failing parts under QvmVirtualMachine, the image archives
 * and the network (suite 'qemu')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each case breaks one part on purpose (QEMU killed or stopped at a given
 * moment, the socket folder deleted, the disk full, a handler that never
 * answers, a client that hangs up mid-request) and checks that "done"
 * fires exactly once with a reason, that pending operations fail with a
 * clear error, and that nothing is left behind: no socket folder, no
 * QEMU, no half-written file, no extra descriptor.
 *
 * No guest OS: a blank disk (SeaBIOS, "No bootable device"). Where QEMU
 * cannot be made to fail at an exact point, a scripted stand-in dies
 * there instead.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-vm-private.h"
#include "testutil.h"

#define TIMEOUT_S 60

/* ---- Counting what the process holds ------------------------------------- */

static pid_t
find_qemu (QvmVirtualMachine *vm)
{
  g_autoptr(GArray) pids = testutil_find_children (qvm_machine_get_uuid (qvm_virtual_machine_get_machine (vm)));

  g_assert_cmpuint (pids->len, ==, 1);
  return g_array_index (pids, pid_t, 0);
}

/* ---- Fixture --------------------------------------------------------------- */

typedef struct {
  gboolean           check_fds;
  guint              fds_before;
  char              *folder;
  char              *socket_folder;
  QvmMachineOptions *options;
  QvmFolderImage    *image;
  QvmUserNetwork    *network;
  QvmVirtualMachine *vm;
  guint              done_count;
  GError            *start_error;
} Fixture;

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  Fixture *fixture = data;

  fixture->done_count++;
  g_assert_cmpint (qvm_virtual_machine_get_state (vm), ==, QVM_VM_STATE_DONE);
  g_assert_false (qvm_folder_image_get_in_use (fixture->image));
  g_assert_null (qvm_virtual_machine_get_vnc_socket (vm));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* Not for the warm-up run, which opens what libraries keep open. */
  fixture->check_fds = data == NULL;
  fixture->fds_before = testutil_count_fds ();
  testutil_make_vm_parts ("qvm-test-faults-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);

  fixture->options = qvm_machine_options_new (64);
  fixture->vm = qvm_virtual_machine_new (fixture->options, QVM_IMAGE (fixture->image),
                                         QVM_NETWORK (fixture->network),
                                         fixture->socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (fixture->vm, testutil_accel ());
  g_signal_connect (fixture->vm, "done", G_CALLBACK (on_done), fixture);
}

static void
wait_for_done (Fixture *fixture)
{
  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
}

/* "done" fired exactly once, and the machine left nothing running or on
 * disk. */
static void
assert_ended_cleanly (Fixture *fixture)
{
  wait_for_done (fixture);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (fixture->done_count, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), !=, QVM_VM_DONE_REASON_NONE);
  g_assert_cmpuint (testutil_count_entries (fixture->socket_folder), ==, 0);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  qvm_virtual_machine_kill (fixture->vm);
  assert_ended_cleanly (fixture);
  g_clear_object (&fixture->vm);
  g_clear_object (&fixture->options);
  g_clear_object (&fixture->network);
  qvm_folder_image_delete (fixture->image, &error);
  g_assert_no_error (error);
  g_clear_object (&fixture->image);
  g_clear_error (&fixture->start_error);

  testutil_remove_tree (fixture->folder);
  g_free (fixture->socket_folder);
  g_free (fixture->folder);

  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (fixture->check_fds)
    g_assert_cmpuint (testutil_count_fds (), <=, fixture->fds_before);
}

/* ---- Helpers ------------------------------------------------------------------ */

static void
start_running (Fixture *fixture)
{
  testutil_start_vm (fixture->vm, TIMEOUT_S, &fixture->start_error);
  g_assert_no_error (fixture->start_error);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);
}

/* CRASHED once the guest ran, FAILED while it was starting. */
static void
assert_ended_by_sigkill (Fixture         *fixture,
                         QvmVmDoneReason  reason)
{
  const GError *error = qvm_virtual_machine_get_error (fixture->vm);

  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, reason);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  g_assert_nonnull (strstr (error->message, "signal 9"));
}

/* ---- QEMU killed at each point of its life ----------------------------------- */

/* Starts the fake QEMU playing @mode, which SIGKILLs itself before the
 * guest runs: the start fails, naming the signal, and nothing is left. */
static void
start_fake_that_dies (Fixture    *fixture,
                      const char *mode)
{
  testutil_use_fake_qemu (fixture->vm, fixture->folder, mode);
  testutil_start_vm (fixture->vm, TIMEOUT_S, &fixture->start_error);
  g_test_message ("start error: %s", fixture->start_error ? fixture->start_error->message : "none");
  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  g_assert_nonnull (strstr (fixture->start_error->message, "signal 9"));
  assert_ended_cleanly (fixture);
  assert_ended_by_sigkill (fixture, QVM_VM_DONE_REASON_FAILED);
}

static void
test_kill_before_greeting (Fixture       *fixture,
                           gconstpointer  data)
{
  /* Dies before it says a word on QMP. */
  start_fake_that_dies (fixture, "dies-at-once");
}

static void
test_kill_during_cont (Fixture       *fixture,
                       gconstpointer  data)
{
  /* Speaks QMP like QEMU and dies when told to run the guest. */
  start_fake_that_dies (fixture, "dies-on-cont");
}

/* Issue 17 item 11: a QEMU that never greets ends the start with a
 * timeout, not a hang; the machine kills it and leaves nothing. */
static void
test_never_greets (Fixture       *fixture,
                   gconstpointer  data)
{
  fixture->vm->handshake_timeout_ms = 200;
  testutil_use_fake_qemu (fixture->vm, fixture->folder, "never-greets");
  testutil_start_vm (fixture->vm, TIMEOUT_S, &fixture->start_error);
  g_test_message ("start error: %s", fixture->start_error ? fixture->start_error->message : "none");
  g_assert_error (fixture->start_error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (fixture->start_error->message, "200 ms"));
  assert_ended_cleanly (fixture);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_FAILED);
}

static void
test_kill_during_screenshot (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  TestutilWait shot = { FALSE, NULL };
  pid_t pid;

  start_running (fixture);
  pid = find_qemu (fixture->vm);
  /* Stopped first, so the screenshot is surely in flight when QEMU dies. */
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  qvm_virtual_machine_screenshot_async (fixture->vm, NULL, testutil_on_wait_done, &shot);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (shot.done);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  testutil_iterate_until (NULL, &shot.done, TIMEOUT_S);
  pixbuf = qvm_virtual_machine_screenshot_finish (fixture->vm, shot.result, &error);
  g_clear_object (&shot.result);
  g_assert_null (pixbuf);
  g_assert_nonnull (error);
  g_test_message ("screenshot error: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "Cannot take a screenshot: "));
  assert_ended_cleanly (fixture);
  assert_ended_by_sigkill (fixture, QVM_VM_DONE_REASON_CRASHED);
}

static void
on_powerdown (QvmQmpClient *client,
              const char   *name,
              JsonObject   *data,
              gint64        timestamp,
              gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
test_kill_during_shutdown (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  TestutilWait shutdown = { FALSE, NULL };
  gboolean powerdown_seen = FALSE;

  start_running (fixture);
  /* No OS: nobody answers the power button, the shutdown waits. */
  g_signal_connect (qvm_virtual_machine_get_qmp_client (fixture->vm), "event::POWERDOWN",
                    G_CALLBACK (on_powerdown), &powerdown_seen);
  qvm_virtual_machine_shutdown_async (fixture->vm, 30 * 1000, NULL, testutil_on_wait_done, &shutdown);
  /* QEMU pressed the power button: the shutdown waits for the guest. */
  testutil_iterate_until (NULL, &powerdown_seen, TIMEOUT_S);
  g_assert_false (shutdown.done);
  g_assert_cmpint (kill (find_qemu (fixture->vm), SIGKILL), ==, 0);

  testutil_iterate_until (NULL, &shutdown.done, TIMEOUT_S);
  g_assert_cmpuint (fixture->done_count, ==, 1);
  /* The shutdown ended as the machine did, with its error. */
  g_assert_false (qvm_virtual_machine_shutdown_finish (fixture->vm, shutdown.result, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  g_clear_error (&error);
  g_clear_object (&shutdown.result);
  assert_ended_cleanly (fixture);
  assert_ended_by_sigkill (fixture, QVM_VM_DONE_REASON_CRASHED);
}

/* ---- QEMU stopped ------------------------------------------------------------ */

static void
test_sigstop (Fixture       *fixture,
              gconstpointer  data)
{
  QvmQmpClient *client;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) shot_error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(JsonNode) answer = NULL;
  TestutilWait shot = { FALSE, NULL };
  pid_t pid;

  start_running (fixture);
  pid = find_qemu (fixture->vm);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);

  client = qvm_virtual_machine_get_qmp_client (fixture->vm);
  qvm_qmp_client_set_timeout (client, 300);
  answer = qvm_qmp_client_execute (client, "query-status", NULL, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "query-status"));

  /* A screenshot is pending when the machine is killed: it fails. */
  qvm_virtual_machine_screenshot_async (fixture->vm, NULL, testutil_on_wait_done, &shot);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until (NULL, &shot.done, TIMEOUT_S);
  pixbuf = qvm_virtual_machine_screenshot_finish (fixture->vm, shot.result, &shot_error);
  g_clear_object (&shot.result);
  g_assert_null (pixbuf);
  g_assert_nonnull (shot_error);
  g_test_message ("screenshot error: %s", shot_error->message);
  g_assert_true (g_str_has_prefix (shot_error->message, "Cannot take a screenshot: "));

  assert_ended_cleanly (fixture);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
}

/* ---- The socket folder deleted -------------------------------------------------- */

static void
test_socket_folder_deleted (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) shot_error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autofree char *vnc_socket = NULL;
  g_autofree char *vm_folder = NULL;

  start_running (fixture);
  vnc_socket = g_strdup (qvm_virtual_machine_get_vnc_socket (fixture->vm));
  vm_folder = g_path_get_dirname (vnc_socket);
  g_assert_true (g_str_has_prefix (vm_folder, fixture->socket_folder));
  testutil_remove_tree (vm_folder);
  g_assert_false (g_file_test (vm_folder, G_FILE_TEST_EXISTS));

  /* A VNC client gets an error at once, not a hang. */
  address = g_unix_socket_address_new (vnc_socket);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  /* QMP is an inherited socket pair: the machine keeps running. */
  pixbuf = qvm_virtual_machine_screenshot (fixture->vm, NULL, &shot_error);
  g_assert_no_error (shot_error);
  g_assert_nonnull (pixbuf);
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_RUNNING);

  qvm_virtual_machine_kill (fixture->vm);
  assert_ended_cleanly (fixture);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (fixture->vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_error (qvm_virtual_machine_get_error (fixture->vm), QVM_ERROR, QVM_ERROR_KILLED);
}

/* ---- The disk full ---------------------------------------------------------------- */

/* A write past this many bytes fails with EFBIG, as on a full disk. */
#define FILE_SIZE_LIMIT (256 * 1024)

static struct rlimit saved_fsize;

static void
limit_file_size (void)
{
  struct rlimit limit;

  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved_fsize), ==, 0);
  limit = saved_fsize;
  limit.rlim_cur = FILE_SIZE_LIMIT;
  /* Without this the kernel sends SIGXFSZ, which ends the process. */
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
}

static void
unlimit_file_size (void)
{
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved_fsize), ==, 0);
  signal (SIGXFSZ, SIG_DFL);
}

/* Fills the blank image with 1 MiB of data that does not compress. */
static void
fill_image (Fixture *fixture)
{
  const char *disk = qvm_image_get_disk_file (QVM_IMAGE (fixture->image));
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autofree guint32 *data = g_new (guint32, 1024 * 1024 / 4);
  int fd;

  for (gsize i = 0; i < 1024 * 1024 / 4; i++)
    data[i] = g_rand_int (rand);
  fd = open (disk, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, data, 1024 * 1024, 4 * 1024 * 1024), ==, 1024 * 1024);
  g_assert_cmpint (close (fd), ==, 0);
  qvm_image_release (QVM_IMAGE (fixture->image));
}

static void
test_disk_full_package (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *target_folder = g_build_filename (fixture->folder, "out", NULL);
  g_autofree char *target = g_build_filename (target_folder, "image.tar.zst", NULL);

  g_assert_cmpint (g_mkdir (target_folder, 0700), ==, 0);
  fill_image (fixture);

  limit_file_size ();
  g_assert_false (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (fixture->image), target, NULL, &error));
  unlimit_file_size ();

  g_assert_nonnull (error);
  g_test_message ("package error: %s", error->message);
  g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
  g_assert_nonnull (strstr (error->message, target_folder));
  /* Nothing half-written: neither the target nor a temporary file. */
  g_assert_cmpuint (testutil_count_entries (target_folder), ==, 0);

  /* The disk has room again: the same image packages. */
  g_clear_error (&error);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (fixture->image), target, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
}

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GAsyncResult **slot = data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static QvmImage *
store_instance (QvmImageStore *store,
                const char    *archive,
                GError       **error)
{
  g_autoptr(GFile) source = g_file_new_for_path (archive);
  g_autoptr(GAsyncResult) result = NULL;

  qvm_image_store_instance_async (store, "image", source, NULL, on_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return qvm_image_store_instance_finish (store, result, error);
}

static void
test_disk_full_extract (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autofree char *archive = g_build_filename (fixture->folder, "image.tar.zst", NULL);
  g_autofree char *store_folder = g_build_filename (fixture->folder, "store", NULL);
  guint entries_before;

  fill_image (fixture);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (fixture->image), archive, NULL, &error));
  g_assert_no_error (error);
  store = qvm_image_store_new (store_folder, &error);
  g_assert_no_error (error);
  /* The store's own mark. */
  entries_before = testutil_count_entries (store_folder);

  limit_file_size ();
  instance = store_instance (store, archive, &error);
  unlimit_file_size ();

  g_assert_null (instance);
  g_assert_nonnull (error);
  g_test_message ("extract error: %s", error->message);
  g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
  /* No half-extracted image left in the store. */
  g_assert_cmpuint (testutil_count_entries (store_folder), ==, entries_before);

  /* Not cached as failed: with room again, it loads. */
  g_clear_error (&error);
  instance = store_instance (store, archive, &error);
  g_assert_no_error (error);
  g_assert_nonnull (instance);
  qvm_image_release (instance);
  g_clear_object (&instance);
  qvm_image_store_collect (store);
}

/* ---- The metadata service -------------------------------------------------------- */

/* A raw client on the network's socket, run in a thread of its own (the
 * server runs in this thread's main context). */
typedef struct {
  const char *socket_path;
  const char *request;
  gboolean    hang_up;        /* close right after sending */
  guint       timeout_s;
  GString    *received;
  GError     *error;
  gint        finished;
} RawClient;

static gpointer
raw_client_thread (gpointer data)
{
  RawClient *raw = data;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (raw->socket_path);
  char buffer[4096];
  gssize length;

  raw->received = g_string_new (NULL);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         &raw->error);
  if (socket == NULL)
    goto out;
  g_socket_set_timeout (socket, raw->timeout_s);
  if (!g_socket_connect (socket, address, NULL, &raw->error) ||
      g_socket_send (socket, raw->request, strlen (raw->request), NULL, &raw->error) < 0)
    goto out;
  if (raw->hang_up)
    goto out;
  while ((length = g_socket_receive (socket, buffer, sizeof buffer, NULL, &raw->error)) > 0)
    {
      g_string_append_len (raw->received, buffer, length);
      /* One answer is enough: the connection may be kept alive. */
      if (strstr (raw->received->str, "\r\n\r\n") != NULL &&
          g_str_has_suffix (raw->received->str, "ok"))
        break;
    }

out:
  g_atomic_int_set (&raw->finished, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
raw_client_run (RawClient *raw)
{
  GThread *thread = g_thread_new ("raw-client", raw_client_thread, raw);
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  while (!g_atomic_int_get (&raw->finished))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_thread_join (thread);
}

static void
raw_client_clear (RawClient *raw)
{
  if (raw->received != NULL)
    g_string_free (raw->received, TRUE);
  g_clear_error (&raw->error);
}

typedef struct {
  GPtrArray *paused;          /* of SoupServerMessage *, never answered */
  guint      answered;
  gboolean   destroyed;
} Handler;

static void
handle (SoupServer        *server,
        SoupServerMessage *msg,
        const char        *path,
        GHashTable        *query,
        gpointer           data)
{
  Handler *handler = data;

  if (g_str_equal (path, "/never"))
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (handler->paused, g_object_ref (msg));
      return;
    }
  handler->answered++;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
}

static void
handler_destroyed (gpointer data)
{
  Handler *handler = data;

  handler->destroyed = TRUE;
}

static void
assert_answered (Fixture *fixture)
{
  RawClient ok = {
    qvm_user_network_get_socket_path (fixture->network),
    "GET /ok HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", FALSE, 10,
  };

  raw_client_run (&ok);
  g_assert_no_error (ok.error);
  g_assert_true (g_str_has_prefix (ok.received->str, "HTTP/1.1 200"));
  g_assert_true (g_str_has_suffix (ok.received->str, "ok"));
  raw_client_clear (&ok);
}

static void
test_handler_never_answers (Fixture       *fixture,
                            gconstpointer  data)
{
  Handler handler = { g_ptr_array_new_with_free_func (g_object_unref), 0, FALSE };
  RawClient never = {
    qvm_user_network_get_socket_path (fixture->network),
    "GET /never HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", FALSE, 1,
  };

  qvm_virtual_machine_set_http_handler (fixture->vm, handle, &handler, handler_destroyed);
  start_running (fixture);

  /* The client gives up on its side… */
  raw_client_run (&never);
  g_assert_error (never.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (handler.paused->len, ==, 1);
  /* …and the service still answers the next ones. (The stuck message
   * keeps its connection, and so one of max-connections, until it is
   * answered or the network released: time in the handler does not
   * count towards the idle timeout, by design.) */
  for (guint i = 0; i < 3; i++)
    assert_answered (fixture);
  g_assert_cmpuint (handler.answered, ==, 3);

  /* The machine ends with the message still paused: released, no crash. */
  qvm_virtual_machine_kill (fixture->vm);
  assert_ended_cleanly (fixture);
  g_assert_true (handler.destroyed);
  g_assert_cmpuint (handler.paused->len, ==, 1);
  g_ptr_array_unref (handler.paused);
  raw_client_clear (&never);
}

static void
test_client_hangs_up (Fixture       *fixture,
                      gconstpointer  data)
{
  Handler handler = { g_ptr_array_new_with_free_func (g_object_unref), 0, FALSE };
  const char *halves[] = {
    "GET /ok HTTP/1.1\r\nHo",
    "POST /ok HTTP/1.1\r\nHost: 169.254.169.254\r\nContent-Length: 100\r\n\r\nhalf",
    "GET /never HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
  };

  qvm_virtual_machine_set_http_handler (fixture->vm, handle, &handler, handler_destroyed);
  start_running (fixture);

  for (gsize i = 0; i < G_N_ELEMENTS (halves); i++)
    {
      RawClient half = { qvm_user_network_get_socket_path (fixture->network), halves[i], TRUE, 10 };

      raw_client_run (&half);
      g_assert_no_error (half.error);
      raw_client_clear (&half);
      /* Let the server see the hang-up. */
      for (int j = 0; j < 20; j++)
        g_main_context_iteration (NULL, FALSE);
      assert_answered (fixture);
    }
  g_assert_cmpuint (handler.answered, ==, G_N_ELEMENTS (halves));

  qvm_virtual_machine_kill (fixture->vm);
  assert_ended_cleanly (fixture);
  g_assert_true (handler.destroyed);
  g_ptr_array_unref (handler.paused);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  testutil_kill_children_on_abort ();

  /* One run first: GLib's worker thread, GIO's modules and such open
   * descriptors once and keep them. */
  {
    Fixture warm_up = { 0 };

    fixture_set_up (&warm_up, "warm-up");
    start_running (&warm_up);
    fixture_tear_down (&warm_up, "warm-up");
  }

#define ADD(path, func) \
  g_test_add ("/faults/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("sigkill/before-greeting", test_kill_before_greeting);
  ADD ("sigkill/during-cont", test_kill_during_cont);
  ADD ("qmp/never-greets", test_never_greets);
  ADD ("sigkill/during-screenshot", test_kill_during_screenshot);
  ADD ("sigkill/during-shutdown", test_kill_during_shutdown);
  ADD ("sigstop", test_sigstop);
  ADD ("socket-folder-deleted", test_socket_folder_deleted);
  ADD ("disk-full/package", test_disk_full_package);
  ADD ("disk-full/extract", test_disk_full_extract);
  ADD ("network/handler-never-answers", test_handler_never_answers);
  ADD ("network/client-hangs-up", test_client_hangs_up);

#undef ADD

  return g_test_run ();
}
