/* test-guest-boot.c: the test guest of tests/guest/ under plain QEMU
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-guest-boot [GTest options] ARCHIVE GUESTFWD
 *
 * ARCHIVE is the test-guest.tar.zst built by tests/guest/build-guest.sh,
 * GUESTFWD the helper QEMU runs per guest connection to 169.254.169.254:80.
 * Each boot unpacks the archive into a private folder, stacks an instance
 * qcow2 on layer.qcow2, serves the metadata service with a SoupServer on a
 * unix socket and starts qemu-system-x86_64 (TCG unless QVM_TEST_ACCEL says
 * otherwise). The guest fetches /payload, posts its output to
 * /result?status=N and powers off; everything is checked after QEMU has
 * exited and the folder is gone, so a failing check leaves nothing behind.
 */

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

/* Ends a guest that hangs; a healthy boot takes about 10-15 s under TCG. */
#define GUEST_TIMEOUT_SECONDS 120

static const char *archive_path;
static const char *guestfwd_path;

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

/* What one boot produced, kept after its folder is gone. */
typedef struct {
  const BootCase *boot_case;
  char *folder;
  GSubprocess *qemu;
  SoupServer *server;
  GPtrArray *requests;          /* "METHOD /path?query" in arrival order */
  GBytes *result_body;
  char *result_status;
  char *serial_log;
  char *qemu_log;
  char *error;                  /* set-up failure, checked after clean-up */
  gboolean exited;
  gboolean timed_out;
  int exit_status;
  gint64 started_at;
  gint64 result_at;
  gint64 exited_at;
} GuestRun;

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

/* Runs @argv; on failure stores a message with its output in run->error. */
static gboolean
run_tool (GuestRun *run, const char *const *argv, char **out_stdout)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_autofree char *command = g_strjoinv (" ", (char **) argv);
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     &output, &errors, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      run->error = g_strdup_printf ("%s: %s\n%s", command, error->message,
                                    errors != NULL ? errors : "");
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

static char *
read_file_or_empty (const char *folder, const char *name)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

/* Stops QEMU, the server and removes the folder; keeps the logs. Safe to
 * call more than once. */
static void
guest_run_clean_up (GuestRun *run)
{
  if (run->qemu != NULL)
    {
      if (!run->exited)
        {
          g_subprocess_force_exit (run->qemu);
          g_subprocess_wait (run->qemu, NULL, NULL);
        }
      g_clear_object (&run->qemu);
    }
  if (run->server != NULL)
    {
      soup_server_disconnect (run->server);
      g_clear_object (&run->server);
      /* Let closed connections finish their pending callbacks. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  if (run->folder != NULL)
    {
      if (run->serial_log == NULL)
        {
          /* The guest's tty ends lines with "\r\n". */
          g_autofree char *raw = read_file_or_empty (run->folder, "serial.log");
          g_auto(GStrv) pieces = g_strsplit (raw, "\r", -1);

          run->serial_log = g_strjoinv ("", pieces);
        }
      if (run->qemu_log == NULL)
        run->qemu_log = read_file_or_empty (run->folder, "qemu.log");
      remove_tree (run->folder);
      g_assert_false (g_file_test (run->folder, G_FILE_TEST_EXISTS));
      g_clear_pointer (&run->folder, g_free);
    }
}

static void
guest_run_free (GuestRun *run)
{
  guest_run_clean_up (run);
  g_ptr_array_unref (run->requests);
  g_clear_pointer (&run->result_body, g_bytes_unref);
  g_free (run->result_status);
  g_free (run->serial_log);
  g_free (run->qemu_log);
  g_free (run->error);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GuestRun, guest_run_free)

static void
handle_metadata (SoupServer        *server,
                 SoupServerMessage *message,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  GuestRun *run = user_data;
  const char *method = soup_server_message_get_method (message);
  GUri *uri = soup_server_message_get_uri (message);
  const char *query_text = g_uri_get_query (uri);

  /* One request per guest connection, as busybox wget makes them: the
   * server closes at once instead of keeping an idle connection (and its
   * guestfwd helper) until the guest hangs up. */
  soup_message_headers_replace (soup_server_message_get_response_headers (message),
                                "Connection", "close");
  g_ptr_array_add (run->requests, g_strdup_printf ("%s %s%s%s", method, path,
                                                   query_text != NULL ? "?" : "",
                                                   query_text != NULL ? query_text : ""));

  if (g_str_equal (method, "GET") && g_str_equal (path, "/payload") &&
      run->boot_case->payload != NULL)
    {
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_STATIC,
                                        run->boot_case->payload,
                                        strlen (run->boot_case->payload));
      soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
    }
  else if (g_str_equal (method, "POST") && g_str_equal (path, "/result"))
    {
      SoupMessageBody *body = soup_server_message_get_request_body (message);

      g_clear_pointer (&run->result_body, g_bytes_unref);
      run->result_body = soup_message_body_flatten (body);
      g_free (run->result_status);
      run->result_status = g_strdup (query != NULL ? g_hash_table_lookup (query, "status") : NULL);
      run->result_at = g_get_monotonic_time ();
      soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
    }
  else
    {
      soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
    }
}

static gboolean
listen_on_socket (GuestRun *run, const char *socket_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);

  run->server = soup_server_new ("server-header", "qvm-test ", NULL);
  soup_server_add_handler (run->server, NULL, handle_metadata, run, NULL);

  listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (listener == NULL ||
      !g_socket_bind (listener, address, FALSE, &error) ||
      !g_socket_listen (listener, &error) ||
      !soup_server_listen_socket (run->server, listener, 0, &error))
    {
      run->error = g_strdup_printf ("metadata socket %s: %s", socket_path, error->message);
      return FALSE;
    }
  return TRUE;
}

/* Doubles commas: QEMU's option syntax reads ",," as a literal comma. */
static char *
qemu_option_escape (const char *value)
{
  g_auto(GStrv) parts = g_strsplit (value, ",", -1);

  return g_strjoinv (",,", parts);
}

/* Reads memory, uuid, device and MAC from machine.json. */
static gboolean
read_machine (GuestRun *run, JsonParser *parser, JsonObject **out_machine)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (run->folder, "machine.json", NULL);
  JsonNode *root;

  if (!json_parser_load_from_file (parser, path, &error))
    {
      run->error = g_strdup_printf ("%s: %s", path, error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      run->error = g_strdup_printf ("%s: not an object", path);
      return FALSE;
    }
  *out_machine = json_node_get_object (root);
  return TRUE;
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
  GuestRun *run = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  run->exited = TRUE;
  run->exited_at = g_get_monotonic_time ();
  run->exit_status = g_subprocess_get_if_exited (G_SUBPROCESS (source))
                     ? g_subprocess_get_exit_status (G_SUBPROCESS (source)) : -1;
}

static gboolean
guest_timeout_cb (gpointer user_data)
{
  GuestRun *run = user_data;

  run->timed_out = TRUE;
  g_subprocess_force_exit (run->qemu);
  return G_SOURCE_REMOVE;
}

static gboolean
start_qemu (GuestRun *run, JsonObject *machine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  JsonObject *network = json_object_get_object_member (machine, "network");
  const char *accel = g_getenv ("QVM_TEST_ACCEL");
  const char *device = run->boot_case->device;
  g_autofree char *instance = g_build_filename (run->folder, "inst.qcow2", NULL);
  g_autofree char *socket_path = g_build_filename (run->folder, "http.sock", NULL);
  g_autofree char *serial_path = g_build_filename (run->folder, "serial.log", NULL);
  g_autofree char *log_path = g_build_filename (run->folder, "qemu.log", NULL);
  g_autofree char *memory = NULL;
  g_autofree char *command = NULL;
  g_autofree char *netdev = NULL;
  g_autofree char *nic = NULL;
  g_autofree char *drive = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *quoted_helper = g_shell_quote (guestfwd_path);
  g_autofree char *quoted_socket = g_shell_quote (socket_path);
  g_autofree char *escaped_command = NULL;
  g_autofree char *escaped_instance = NULL;

  if (device == NULL)
    device = json_object_get_string_member (network, "device");
  memory = g_strdup_printf ("%" G_GINT64_FORMAT,
                            json_object_get_int_member (machine, "memory"));
  /* slirp splits the cmd: line like a shell; QEMU then needs ",," for ",". */
  command = g_strdup_printf ("%s %s", quoted_helper, quoted_socket);
  escaped_command = qemu_option_escape (command);
  escaped_instance = qemu_option_escape (instance);
  netdev = g_strdup_printf ("user,id=n0,restrict=on,net=169.254.0.0/16,"
                            "guestfwd=tcp:169.254.169.254:80-cmd:%s", escaped_command);
  nic = g_strdup_printf ("%s,netdev=n0,mac=%s", device,
                         json_object_get_string_member (network, "mac"));
  drive = g_strdup_printf ("file=%s,format=qcow2,if=none,id=disk0", escaped_instance);
  serial = g_strdup_printf ("file:%s", serial_path);

  if (!listen_on_socket (run, socket_path))
    return FALSE;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  run->started_at = g_get_monotonic_time ();
  run->qemu = g_subprocess_launcher_spawn (launcher, &error,
      "qemu-system-x86_64",
      "-accel", accel != NULL && *accel != '\0' ? accel : "tcg",
      "-m", memory,
      "-uuid", json_object_get_string_member (machine, "uuid"),
      "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      "-serial", serial,
      "-drive", drive,
      "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
      "-netdev", netdev,
      "-device", nic,
      NULL);
  if (run->qemu == NULL)
    {
      run->error = g_strdup_printf ("qemu-system-x86_64: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Unpacks the archive, boots it and waits until QEMU has exited. */
static void
guest_run_boot (GuestRun *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *layer = NULL;
  g_autofree char *instance = NULL;
  JsonObject *machine = NULL;
  guint timeout_id;

  run->folder = g_dir_make_tmp ("qvm-guest-XXXXXX", &error);
  if (run->folder == NULL)
    {
      run->error = g_strdup (error->message);
      return;
    }
  layer = g_build_filename (run->folder, "layer.qcow2", NULL);
  instance = g_build_filename (run->folder, "inst.qcow2", NULL);

  {
    const char *unpack[] = { "tar", "--zstd", "-x", "-f", archive_path, "-C", run->folder, NULL };
    const char *stack[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", layer,
                            "-F", "qcow2", instance, NULL };

    if (!run_tool (run, unpack, NULL) || !run_tool (run, stack, NULL) ||
        !read_machine (run, parser, &machine) || !start_qemu (run, machine))
      return;
  }

  g_subprocess_wait_async (run->qemu, NULL, qemu_exited_cb, run);
  timeout_id = g_timeout_add_seconds (GUEST_TIMEOUT_SECONDS, guest_timeout_cb, run);
  while (!run->exited)
    g_main_context_iteration (NULL, TRUE);
  if (!run->timed_out)
    g_source_remove (timeout_id);
}

static void
print_logs (GuestRun *run)
{
  g_test_message ("serial console:\n%s", run->serial_log != NULL ? run->serial_log : "");
  g_test_message ("QEMU output:\n%s", run->qemu_log != NULL ? run->qemu_log : "");
}

/* The first line starting with @prefix in @log, without the prefix. */
static char *
find_line_after (const char *log, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_strchomp (lines[i]);
      if (g_str_has_prefix (lines[i], prefix))
        return g_strdup (lines[i] + strlen (prefix));
    }
  return NULL;
}

static void
assert_serial_has (GuestRun *run, const char *line_prefix)
{
  g_autofree char *rest = find_line_after (run->serial_log, line_prefix);

  if (rest == NULL)
    {
      print_logs (run);
      g_error ("serial console lacks a line starting with \"%s\"", line_prefix);
    }
}

static void
test_guest_boot (gconstpointer data)
{
  const BootCase *boot_case = data;
  g_autoptr(GuestRun) run = g_new0 (GuestRun, 1);
  g_autofree char *driver_line = g_strdup_printf ("qvm-guest: loading network driver %s",
                                                  boot_case->driver);
  g_autofree char *kernel = NULL;

  run->boot_case = boot_case;
  run->requests = g_ptr_array_new_with_free_func (g_free);

  guest_run_boot (run);
  guest_run_clean_up (run);

  if (run->error != NULL)
    {
      print_logs (run);
      g_error ("setting up the guest failed: %s", run->error);
    }
  if (run->timed_out)
    {
      print_logs (run);
      g_error ("QEMU did not exit within %d s", GUEST_TIMEOUT_SECONDS);
    }
  if (run->exit_status != 0)
    print_logs (run);
  g_assert_cmpint (run->exit_status, ==, 0);

  if (g_test_verbose ())
    print_logs (run);
  g_test_message ("boot -> exit: %.1f s", (run->exited_at - run->started_at) / 1e6);
  if (run->result_at != 0)
    g_test_message ("boot -> result: %.1f s", (run->result_at - run->started_at) / 1e6);

  /* The guest walked through every step and powered off cleanly. */
  kernel = find_line_after (run->serial_log, "qvm-guest: init started, kernel ");
  if (kernel == NULL)
    assert_serial_has (run, "qvm-guest: init started, kernel ");
  assert_serial_has (run, driver_line);
  assert_serial_has (run, "qvm-guest: lease 169.254.2.15/16 on eth0");
  assert_serial_has (run, "qvm-guest: fetching payload (try 1 of ");
  assert_serial_has (run, "qvm-guest: powering off");
  /* The kernel prefixes this one with its timestamp, quiet or not. */
  if (strstr (run->serial_log, "reboot: Power down\n") == NULL)
    {
      print_logs (run);
      g_error ("serial console lacks the kernel's \"reboot: Power down\"");
    }
  g_assert_null (strstr (run->serial_log, "Kernel panic"));

  if (boot_case->payload == NULL)
    {
      /* 404 every time: bounded retries, then power-off without a result. */
      g_autofree char *status_line = NULL;

      assert_serial_has (run, "qvm-guest: no payload from http://169.254.169.254/payload after 10 tries: giving up");
      g_assert_cmpuint (run->requests->len, ==, 10);
      for (guint i = 0; i < run->requests->len; i++)
        g_assert_cmpstr (g_ptr_array_index (run->requests, i), ==, "GET /payload");
      g_assert_null (run->result_body);
      status_line = find_line_after (run->serial_log, "qvm-guest: payload exit status");
      g_assert_null (status_line);
    }
  else
    {
      g_autofree char *status_text = g_strdup_printf ("%d", boot_case->expected_status);
      g_autofree char *status_line = g_strdup_printf ("qvm-guest: payload exit status %d",
                                                      boot_case->expected_status);
      g_autofree char *request = g_strdup_printf ("POST /result?status=%d",
                                                  boot_case->expected_status);
      gsize size = 0;
      const char *output;
      g_autofree char *expected_output = NULL;

      if (run->result_body == NULL)
        print_logs (run);
      g_assert_nonnull (run->result_body);
      output = g_bytes_get_data (run->result_body, &size);

      g_assert_cmpuint (run->requests->len, ==, 2);
      g_assert_cmpstr (g_ptr_array_index (run->requests, 0), ==, "GET /payload");
      g_assert_cmpstr (g_ptr_array_index (run->requests, 1), ==, request);
      g_assert_cmpstr (run->result_status, ==, status_text);
      assert_serial_has (run, status_line);
      assert_serial_has (run, "qvm-guest: result posted");

      /* The hello payload also prints `uname -r`: it must be the kernel
       * /init reported. */
      if (strstr (boot_case->payload, "uname -r") != NULL)
        expected_output = g_strdup_printf ("%s%s\n", boot_case->expected_output, kernel);
      else
        expected_output = g_strdup (boot_case->expected_output);
      g_assert_cmpmem (output, size, expected_output, strlen (expected_output));
    }
}

/* The archive holds exactly disk.img (raw, sparse), layer.qcow2 (qcow2 v3
 * over "disk.img", raw) and machine.json (version 1 of the machine format),
 * in that order, with no folders or "./" prefixes. */
static void
test_guest_archive (void)
{
  g_autoptr(GuestRun) run = g_new0 (GuestRun, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonParser) info_parser = json_parser_new ();
  g_autofree char *listing = NULL;
  g_autofree char *layer_info = NULL;
  g_autofree char *disk_info = NULL;
  g_autofree char *disk_path = NULL;
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

  run->requests = g_ptr_array_new_with_free_func (g_free);
  run->folder = g_dir_make_tmp ("qvm-guest-XXXXXX", &error);
  g_assert_no_error (error);
  disk_path = g_build_filename (run->folder, "disk.img", NULL);

  {
    const char *list[] = { "tar", "--zstd", "-t", "-f", archive_path, NULL };
    const char *unpack[] = { "tar", "--zstd", "-x", "-f", archive_path, "-C", run->folder, NULL };
    const char *qemu_img_layer[] = { "qemu-img", "info", "--output=json", "layer.qcow2", NULL };
    const char *qemu_img_disk[] = { "qemu-img", "info", "--output=json", "-f", "raw", "disk.img", NULL };

    if (run_tool (run, list, &listing) && run_tool (run, unpack, NULL))
      {
        g_autofree char *layer_path = g_build_filename (run->folder, "layer.qcow2", NULL);
        qemu_img_layer[3] = layer_path;
        qemu_img_disk[5] = disk_path;
        if (run_tool (run, qemu_img_layer, &layer_info) &&
            run_tool (run, qemu_img_disk, &disk_info) &&
            read_machine (run, parser, &machine))
          {
            g_stat (disk_path, &disk_stat);
            mbr = read_head (disk_path, 512, &mbr_size);
          }
      }
  }
  /* Everything is read; machine stays valid with the parser. */
  guest_run_clean_up (run);
  if (run->error != NULL)
    g_error ("%s", run->error);

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
  g_test_init (&argc, &argv, NULL);

  if (argc != 3)
    {
      g_printerr ("usage: %s [GTest options] ARCHIVE GUESTFWD\n", argv[0]);
      return 2;
    }
  archive_path = argv[1];
  guestfwd_path = argv[2];

  g_test_add_func ("/guest/archive", test_guest_archive);
  for (guint i = 0; i < G_N_ELEMENTS (boot_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/guest/boot/%s", boot_cases[i].name);

      g_test_add_data_func (path, &boot_cases[i], test_guest_boot);
    }

  return g_test_run ();
}
