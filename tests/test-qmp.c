/* test-qmp.c: QvmQmpClient against a real QEMU
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU runs with no machine at all (-machine none), which is enough for
 * QMP: a greeting, queries, stop/cont, quit. QMP reaches it on one end of
 * a socket pair (-chardev socket,fd=N) or on a socket path. QEMU gets
 * PR_SET_PDEATHSIG, so it dies with the test even when an assertion
 * aborts; the teardown kills it otherwise.
 */

#include <string.h>

#include <glib/gstdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-qmp-client-private.h"
#include "qmp-test-util.h"
#include "testutil.h"

typedef struct {
  GSubprocess  *qemu;
  QvmQmpClient *client;
  char         *folder;
} Fixture;

static const char *
qemu_accel (void)
{
  const char *accel = g_getenv ("QVM_TEST_ACCEL");

  return accel != NULL && *accel != '\0' ? accel : "tcg";
}

/* Starts QEMU with @chardev as its QMP monitor. @fd, when not -1, is given
 * to QEMU as its fd 3. */
static GSubprocess *
start_qemu (const char *chardev,
            int         fd)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  GSubprocess *qemu;

  g_subprocess_launcher_set_child_setup (launcher, testutil_die_with_parent, NULL, NULL);
  if (fd != -1)
    g_subprocess_launcher_take_fd (launcher, fd, 3);
  qemu = g_subprocess_launcher_spawn (launcher, &error, testutil_qemu_binary (),
                                      "-machine", "none", "-accel", qemu_accel (),
                                      "-nodefaults", "-display", "none",
                                      "-chardev", chardev,
                                      "-mon", "chardev=qmp,mode=control",
                                      NULL);
  g_assert_no_error (error);
  return qemu;
}

/* QEMU on a socket pair: no file to wait for. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  fixture->qemu = start_qemu ("socket,id=qmp,fd=3", fds[1]);

  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  fixture->client = qmp_test_client_new (G_IO_STREAM (connection), &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->client);
}

/* Once connected, the socket file is not needed: removing the folder at
 * once leaves nothing behind even if an assertion aborts the test. */
static void
remove_folder (Fixture *fixture)
{
  g_autofree char *socket_path = NULL;

  if (fixture->folder == NULL)
    return;
  socket_path = g_build_filename (fixture->folder, "qmp.sock", NULL);
  g_unlink (socket_path);
  g_rmdir (fixture->folder);
  g_clear_pointer (&fixture->folder, g_free);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->client);
  if (fixture->qemu != NULL)
    {
      g_subprocess_force_exit (fixture->qemu);
      g_subprocess_wait (fixture->qemu, NULL, NULL);
      g_clear_object (&fixture->qemu);
    }
  remove_folder (fixture);
  qmp_test_drain ();
}

/* "QEMU emulator version 7.2.22 (Debian …)" → "7.2.22" */
static char *
qemu_version_from_command_line (void)
{
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) regex = g_regex_new ("version ([0-9]+\\.[0-9]+\\.[0-9]+)", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  const char *argv[] = { testutil_qemu_binary (), "--version", NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &output, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_regex_match (regex, output, 0, &match));
  return g_match_info_fetch (match, 1);
}

static void
test_greeting (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *version = qemu_version_from_command_line ();
  const char * const *capabilities = qvm_qmp_client_get_capabilities (fixture->client);

  g_assert_cmpstr (qvm_qmp_client_get_qemu_version (fixture->client), ==, version);
  g_assert_nonnull (capabilities);
  g_assert_true (g_strv_contains (capabilities, "oob"));
  g_assert_nonnull (qvm_qmp_client_get_qemu_package (fixture->client));
  g_assert_false (qvm_qmp_client_is_closed (fixture->client));
}

static void
test_query_version (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = qmp_test_execute (fixture->client, "query-version", NULL, &error);
  g_autofree char *version = NULL;
  JsonObject *qemu;

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (reply));
  qemu = json_object_get_object_member (json_node_get_object (reply), "qemu");
  version = g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                             json_object_get_int_member (qemu, "major"),
                             json_object_get_int_member (qemu, "minor"),
                             json_object_get_int_member (qemu, "micro"));
  g_assert_cmpstr (version, ==, qvm_qmp_client_get_qemu_version (fixture->client));
}

static void
test_query_status (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = qmp_test_execute (fixture->client, "query-status", NULL, &error);
  JsonObject *status;

  g_assert_no_error (error);
  status = json_node_get_object (reply);
  g_assert_cmpstr (json_object_get_string_member (status, "status"), ==, "running");
  g_assert_true (json_object_get_boolean_member (status, "running"));
}

static void
test_query_commands (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = qmp_test_execute (fixture->client, "query-commands", NULL, &error);
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *commands;

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (reply));
  commands = json_node_get_array (reply);
  for (guint i = 0; i < json_array_get_length (commands); i++)
    g_hash_table_add (names, (gpointer) json_object_get_string_member (json_array_get_object_element (commands, i), "name"));

  g_assert_true (g_hash_table_contains (names, "query-status"));
  g_assert_true (g_hash_table_contains (names, "qmp_capabilities"));
  g_assert_true (g_hash_table_contains (names, "quit"));
  g_assert_false (g_hash_table_contains (names, "no-such-command"));
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GError) not_found = NULL;
  g_autoptr(GError) no_device = NULL;
  g_autoptr(GError) generic = NULL;
  g_autoptr(JsonObject) device = json_object_new ();
  g_autoptr(JsonObject) bad_arguments = json_object_new ();
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (qmp_test_execute (fixture->client, "no-such-command", NULL, &not_found));
  g_assert_error (not_found, QVM_QMP_ERROR, QVM_QMP_ERROR_COMMAND_NOT_FOUND);
  g_assert_nonnull (strstr (not_found->message, "no-such-command"));

  json_object_set_string_member (device, "id", "no-such-device");
  g_assert_null (qmp_test_execute (fixture->client, "device_del", device, &no_device));
  g_assert_error (no_device, QVM_QMP_ERROR, QVM_QMP_ERROR_DEVICE_NOT_FOUND);
  g_assert_nonnull (strstr (no_device->message, "no-such-device"));

  json_object_set_int_member (bad_arguments, "no-such-argument", 1);
  g_assert_null (qmp_test_execute (fixture->client, "query-status", bad_arguments, &generic));
  g_assert_error (generic, QVM_QMP_ERROR, QVM_QMP_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (generic->message, "no-such-argument"));

  /* Errors do not hurt the connection. */
  status = qmp_test_execute (fixture->client, "query-status", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (status);
}

static void
test_stop_cont_events (Fixture       *fixture,
                       gconstpointer  data)
{
  QmpTestRecorder recorder = { 0 };
  QmpTestCall stop = { .recorder = &recorder };
  QmpTestCall cont = { .recorder = &recorder };
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time ();

  qmp_test_recorder_attach (&recorder, fixture->client);

  /* The listener sees the event a command causes by the time the
   * command's callback runs. */
  qvm_qmp_client_execute_async (fixture->client, "stop", NULL, NULL, qmp_test_on_executed, &stop);
  qmp_test_wait_for (&stop.done);
  g_assert_no_error (stop.error);
  g_assert_cmpuint (stop.events_seen, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 0), ==, "STOP");
  g_assert_cmpint (ABS (g_array_index (recorder.timestamps, gint64, 0) - now), <, 60 * G_USEC_PER_SEC);

  status = qmp_test_execute (fixture->client, "query-status", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (status), "status"), ==, "paused");

  qvm_qmp_client_execute_async (fixture->client, "cont", NULL, NULL, qmp_test_on_executed, &cont);
  qmp_test_wait_for (&cont.done);
  g_assert_no_error (cont.error);
  g_assert_cmpuint (cont.events_seen, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 1), ==, "RESUME");
  g_assert_cmpint (g_array_index (recorder.timestamps, gint64, 1), >=,
                   g_array_index (recorder.timestamps, gint64, 0));

  qmp_test_call_clear (&stop);
  qmp_test_call_clear (&cont);
  qmp_test_recorder_clear (&recorder);
}

static void
on_shutdown (QvmQmpClient *client,
             const char   *name,
             JsonObject   *data,
             gint64        timestamp,
             gpointer      user_data)
{
  char **reason = user_data;

  g_assert_cmpstr (name, ==, "SHUTDOWN");
  g_assert_nonnull (data);
  g_free (*reason);
  *reason = g_strdup (json_object_get_string_member (data, "reason"));
}

static void
test_quit (Fixture       *fixture,
           gconstpointer  data)
{
  QmpTestRecorder recorder = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *shutdown_reason = NULL;

  qmp_test_recorder_attach (&recorder, fixture->client);
  g_signal_connect (fixture->client, "event::SHUTDOWN", G_CALLBACK (on_shutdown), &shutdown_reason);

  reply = qmp_test_execute (fixture->client, "quit", NULL, &error);
  g_assert_no_error (error);
  qmp_test_wait_for (&recorder.closed);

  /* SHUTDOWN, then the end of the stream: a clean close. */
  g_assert_cmpstr (shutdown_reason, ==, "host-qmp-quit");
  g_assert_cmpuint (recorder.events_when_closed, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 0), ==, "SHUTDOWN");
  g_assert_no_error (recorder.closed_reason);
  g_assert_cmpuint (recorder.closed_count, ==, 1);
  g_assert_true (qvm_qmp_client_is_closed (fixture->client));

  g_assert_true (g_subprocess_wait (fixture->qemu, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (fixture->qemu));
  g_assert_cmpint (g_subprocess_get_exit_status (fixture->qemu), ==, 0);

  g_assert_null (qmp_test_execute (fixture->client, "query-status", NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_CLOSED);

  qmp_test_recorder_clear (&recorder);
}

#define CONCURRENT_COMMANDS 1000

/* Replies are matched by id: alternate two commands with different
 * answers and check each caller gets its own. */
static void
test_concurrent (Fixture       *fixture,
                 gconstpointer  data)
{
  QmpTestCall *calls = g_new0 (QmpTestCall, CONCURRENT_COMMANDS);

  for (int i = 0; i < CONCURRENT_COMMANDS; i++)
    qvm_qmp_client_execute_async (fixture->client, i % 2 ? "query-version" : "query-status",
                                  NULL, NULL, qmp_test_on_executed, &calls[i]);
  g_assert_cmpuint (qvm_qmp_client_get_pending_count (fixture->client), ==, CONCURRENT_COMMANDS);

  for (int i = 0; i < CONCURRENT_COMMANDS; i++)
    {
      JsonObject *object;

      qmp_test_wait_for (&calls[i].done);
      g_assert_no_error (calls[i].error);
      object = json_node_get_object (calls[i].result);
      if (i % 2)
        g_assert_true (json_object_has_member (object, "qemu"));
      else
        g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "running");
      qmp_test_call_clear (&calls[i]);
    }
  g_assert_cmpuint (qvm_qmp_client_get_pending_count (fixture->client), ==, 0);
  g_free (calls);
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  QmpTestCall cancelled = { 0 };
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;

  qvm_qmp_client_execute_async (fixture->client, "query-qmp-schema", NULL, cancellable,
                                qmp_test_on_executed, &cancelled);
  g_cancellable_cancel (cancellable);
  qmp_test_wait_for (&cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The schema arrives later and is dropped. */
  status = qmp_test_execute (fixture->client, "query-status", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (json_node_get_object (status), "status"));
  qmp_test_call_clear (&cancelled);
}

/* QEMU listening on a socket path. Waiting for the path to appear is fine
 * in a test; a VM uses the socket pair. */
/* Whether a unix socket bound to @path listens: /proc/net/unix marks
 * listening sockets with __SO_ACCEPTCON (flags 00010000). */
static gboolean
socket_listens (const char *path)
{
  g_autofree char *table = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/unix", &table, NULL, NULL))
    return FALSE;
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) words = g_ptr_array_new ();

      for (guint j = 0; fields[j] != NULL; j++)
        if (*fields[j] != '\0')
          g_ptr_array_add (words, fields[j]);
      /* Num RefCount Protocol Flags Type St Inode Path */
      if (words->len >= 8 && g_str_equal (words->pdata[7], path) &&
          g_str_equal (words->pdata[3], "00010000"))
        return TRUE;
    }
  return FALSE;
}

static char *
start_qemu_on_path (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *chardev = NULL;
  char *path;

  fixture->folder = g_dir_make_tmp ("qvm-test-qmp-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fixture->folder, "qmp.sock", NULL);
  chardev = g_strdup_printf ("socket,id=qmp,path=%s,server=on,wait=off", path);
  fixture->qemu = start_qemu (chardev, -1);

  /* The file appears at bind(), before QEMU listens: wait for listen(). */
  for (int i = 0; i < 1000 && !socket_listens (path); i++)
    g_usleep (10 * 1000);
  g_assert_true (socket_listens (path));
  return path;
}

typedef struct {
  gboolean      done;
  QvmQmpClient *client;
  GError       *error;
} ConnectData;

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  ConnectData *connect = data;

  connect->client = qvm_qmp_client_connect_finish (result, &connect->error);
  connect->done = TRUE;
}

static void
test_socket_path (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *path = start_qemu_on_path (fixture);
  ConnectData connect = { FALSE, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;

  qvm_qmp_client_connect_async (path, NULL, on_connected, &connect);
  qmp_test_wait_for (&connect.done);
  remove_folder (fixture);
  g_assert_no_error (connect.error);
  fixture->client = connect.client;

  g_assert_true (g_strv_contains (qvm_qmp_client_get_capabilities (fixture->client), "oob"));
  status = qmp_test_execute (fixture->client, "query-status", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (status), "status"), ==, "running");
}

static void
test_socket_path_blocking (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autofree char *path = start_qemu_on_path (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;

  fixture->client = qvm_qmp_client_connect_sync (path, NULL, &error);
  remove_folder (fixture);
  g_assert_no_error (error);
  status = qvm_qmp_client_execute (fixture->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (status), "running"));
  g_assert_true (qvm_qmp_client_close (fixture->client, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_qmp_client_is_closed (fixture->client));
}

static void
test_socket_path_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("qvm-test-qmp-XXXXXX", &error);
  g_autofree char *path = g_build_filename (folder, "absent.sock", NULL);
  g_autoptr(QvmQmpClient) client = qvm_qmp_client_connect_sync (path, NULL, &error);

  g_assert_null (client);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, path));
  g_rmdir (folder);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/qmp/qemu/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
#define ADD_BARE(path, func) \
  g_test_add ("/qmp/qemu/" path, Fixture, NULL, NULL, func, fixture_tear_down)

  ADD ("greeting", test_greeting);
  ADD ("query-version", test_query_version);
  ADD ("query-status", test_query_status);
  ADD ("query-commands", test_query_commands);
  ADD ("errors", test_errors);
  ADD ("stop-cont-events", test_stop_cont_events);
  ADD ("quit", test_quit);
  ADD ("concurrent", test_concurrent);
  ADD ("cancel", test_cancel);
  ADD_BARE ("socket-path", test_socket_path);
  ADD_BARE ("socket-path-blocking", test_socket_path_blocking);
  g_test_add_func ("/qmp/qemu/socket-path-missing", test_socket_path_missing);

  return g_test_run ();
}
