/* test-qvm-run.c: `qvm run` on the test guest, as a user runs it
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-qvm-run [GTest options] ARCHIVE
 *
 * Each test runs the built qvm on ARCHIVE (tests/guest's test-guest.tar.zst)
 * under $QVM_TEST_ACCEL, with a payload and a metadata folder of its own,
 * and checks its exit status, its output, the outbox and what it leaves
 * behind. Every run has a --timeout, so a qvm orphaned by a dying test
 * still ends.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "testutil.h"

static const char *archive;

typedef struct {
  char *folder;        /* the test's own */
  char *metadata;      /* FOLDER/md, served */
  char *payload;       /* FOLDER/payload.sh */
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hello = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *link = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-test-run-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->metadata = g_build_filename (fixture->folder, "md", NULL);
  fixture->payload = g_build_filename (fixture->folder, "payload.sh", NULL);
  g_assert_cmpint (g_mkdir (fixture->metadata, 0755), ==, 0);
  hello = g_build_filename (fixture->metadata, "hello", NULL);
  g_file_set_contents (hello, "served from the metadata folder\n", -1, &error);
  g_assert_no_error (error);
  secret = g_build_filename (fixture->folder, "secret", NULL);
  g_file_set_contents (secret, "not for the guest\n", -1, &error);
  g_assert_no_error (error);
  link = g_build_filename (fixture->metadata, "escape", NULL);
  g_assert_cmpint (symlink ("../secret", link), ==, 0);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  testutil_remove_tree (fixture->folder);
  g_free (fixture->folder);
  g_free (fixture->metadata);
  g_free (fixture->payload);
}

static void
write_payload (Fixture *fixture, const char *script)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (fixture->payload, script, -1, &error);
  g_assert_no_error (error);
}

static const char *
accel (void)
{
  const char *value = g_getenv ("QVM_TEST_ACCEL");

  return value != NULL && *value != '\0' ? value : "tcg";
}

/* Runs qvm COMMAND, after the program and arguments in @wrapper if not
 * NULL (such as unshare). */
static GSubprocess *
start_wrapped (Fixture *fixture, const char * const *wrapper, const char *command,
               const char * const *extra, const char *image)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  for (guint i = 0; wrapper != NULL && wrapper[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) wrapper[i]);
  for (const char *const *a = (const char *const[]) { QVM_TOOL_PATH, command, "--accel", accel (),
                                                       "--metadata-dir", "md",
                                                       "--payload", "payload.sh",
                                                       "--outbox", "outbox",
                                                       "--vnc", NULL };
       *a != NULL; a++)
    g_ptr_array_add (argv, (char *) *a);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) extra[i]);
  if (image != NULL)
    g_ptr_array_add (argv, (char *) image);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_set_cwd (launcher, fixture->folder);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static GSubprocess *
start_command (Fixture *fixture, const char *command, const char * const *extra,
               const char *image)
{
  return start_wrapped (fixture, NULL, command, extra, image);
}

static GSubprocess *
start_qvm (Fixture *fixture, const char * const *extra)
{
  return start_command (fixture, "run", extra, archive);
}

static int
finish_qvm (GSubprocess *process, char **out, char **err)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  g_test_message ("qvm run said:\n%s%s", *out, *err);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* The VNC socket's folder lies in qvm run's temporary folder: after the
 * run, neither is left. */
static void
assert_cleaned_up (const char *out)
{
  const char *line = strstr (out, "VNC socket: ");
  g_autofree char *socket = NULL;
  g_autofree char *machine_folder = NULL;
  g_autofree char *temporary = NULL;

  g_assert_nonnull (line);
  line += strlen ("VNC socket: ");
  socket = g_strndup (line, strcspn (line, "\n"));
  machine_folder = g_path_get_dirname (socket);
  temporary = g_path_get_dirname (machine_folder);
  g_assert_true (strstr (temporary, "/qvm-run-") != NULL || strstr (temporary, "/qvm-build-") != NULL);
  g_assert_false (g_file_test (temporary, G_FILE_TEST_EXISTS));
}

static char *
read_in (Fixture *fixture, const char *name)
{
  g_autofree char *path = g_build_filename (fixture->folder, name, NULL);
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, NULL);
  return text;
}

/* Boot, payload, answer, power-off: exit 0, the answer in the outbox, a
 * screenshot, the serial console; the guest reads the folder but not through a link out. */
static void
test_run_payload (Fixture *fixture, gconstpointer data)
{
  const char *extra[] = { "--screenshot", "screen.png", "--timeout", "300", "--console", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *result = NULL;
  g_autofree char *status = NULL;
  g_autofree char *png = g_build_filename (fixture->folder, "screen.png", NULL);
  g_autoptr(GdkPixbuf) screen = NULL;
  g_autoptr(GError) error = NULL;

  write_payload (fixture,
                 "echo qvm-run-marker\n"
                 "wget -q -O - http://169.254.169.254/hello\n"
                 "wget -q -O - http://169.254.169.254/escape 2>/dev/null || echo escape refused\n"
                 "echo extra | wget -q -O - --post-data=extra-body http://169.254.169.254/notes/a >/dev/null\n"
                 "exit 5\n");
  process = start_qvm (fixture, extra);
  g_assert_cmpint (finish_qvm (process, &out, &err), ==, 0);

  g_assert_nonnull (strstr (out, "machine running"));
  g_assert_nonnull (strstr (out, "guest: GET /payload → 200"));
  g_assert_nonnull (strstr (out, "guest: GET /escape → 403"));
  g_assert_nonnull (strstr (out, "done: poweroff"));
  g_assert_nonnull (strstr (out, "console: qvm-guest: init started"));
  g_assert_nonnull (strstr (out, "console: qvm-guest: powering off"));
  g_assert_cmpstr (err, ==, "");

  result = read_in (fixture, "outbox/result");
  status = read_in (fixture, "outbox/result.status");
  g_assert_cmpstr (result, ==,
                   "qvm-run-marker\n"
                   "served from the metadata folder\n"
                   "escape refused\n");
  g_assert_cmpstr (status, ==, "5\n");
  {
    g_autofree char *notes = read_in (fixture, "outbox/notes_a");

    g_assert_cmpstr (notes, ==, "extra-body");
  }

  screen = gdk_pixbuf_new_from_file (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (screen), >, 0);
  g_assert_cmpint (gdk_pixbuf_get_height (screen), >, 0);

  assert_cleaned_up (out);
}

/* --metadata-tokens: the test guest gets 401 for its payload, asks for a
 * token with a PUT (busybox nc) and sends it from then on; its payload
 * uses it too. A request without it never reaches the metadata folder. */
static void
test_run_tokens (Fixture *fixture, gconstpointer data)
{
  const char *extra[] = { "--metadata-tokens", "--timeout", "300", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *result = NULL;

  write_payload (fixture,
                 "wget -q -O - --header \"X-metadata-token: $METADATA_TOKEN\" http://169.254.169.254/hello\n"
                 "wget -q -O - http://169.254.169.254/hello 2>/dev/null || echo refused-without-token\n");
  process = start_qvm (fixture, extra);
  g_assert_cmpint (finish_qvm (process, &out, &err), ==, 0);

  result = read_in (fixture, "outbox/result");
  g_assert_cmpstr (result, ==, "served from the metadata folder\nrefused-without-token\n");
  /* The handler saw the payload once, /hello once: the refused ones
   * never reached it. */
  g_assert_nonnull (strstr (out, "guest: GET /payload → 200"));
  g_assert_nonnull (strstr (out, "guest: GET /hello → 200"));
  g_assert_null (strstr (strstr (out, "guest: GET /hello → 200") + 1, "guest: GET /hello"));
}

/* A guest that outlives --timeout: shut down, killed after --grace (the
 * test guest ignores the power button), exit 4, a screenshot anyway. */
static void
test_run_timeout (Fixture *fixture, gconstpointer data)
{
  const char *extra[] = { "--timeout", "3", "--grace", "1", "--screenshot", "screen.png", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *png = g_build_filename (fixture->folder, "screen.png", NULL);

  write_payload (fixture, "sleep 600\n");
  process = start_qvm (fixture, extra);
  g_assert_cmpint (finish_qvm (process, &out, &err), ==, 4);
  g_assert_nonnull (strstr (out, "timeout: the guest still runs after 3 s"));
  g_assert_nonnull (strstr (out, "done: "));
  g_assert_null (strstr (out, "done: poweroff"));
  g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
  assert_cleaned_up (out);
}

/* Ctrl-C once the guest runs its payload: shut down, killed after
 * --grace, exit 130, nothing left. */
static void
test_run_interrupt (Fixture *fixture, gconstpointer data)
{
  const char *extra[] = { "--timeout", "300", "--grace", "1", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *rest = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  char *line;

  write_payload (fixture, "sleep 600\n");
  process = start_qvm (fixture, extra);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error)) != NULL)
    {
      g_string_append_printf (out, "%s\n", line);
      if (strstr (line, "guest: GET /payload") != NULL)
        {
          g_free (line);
          break;
        }
      g_free (line);
    }
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out->str, "guest: GET /payload"));

  g_subprocess_send_signal (process, SIGINT);
  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error)) != NULL)
    {
      g_string_append_printf (out, "%s\n", line);
      g_free (line);
    }
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("qvm run said:\n%s", out->str);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 130);
  g_assert_nonnull (strstr (out->str, "interrupted"));
  g_assert_nonnull (strstr (out->str, "done: "));
  assert_cleaned_up (out->str);
}

/* Reads the lines of @lines into @out up to one containing @needle. */
static void
read_until (GDataInputStream *lines, GString *out, const char *needle)
{
  g_autoptr(GError) error = NULL;
  char *line;

  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error)) != NULL)
    {
      gboolean found = strstr (line, needle) != NULL;

      g_string_append_printf (out, "%s\n", line);
      g_free (line);
      if (found)
        break;
    }
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out->str, needle));
}

/* The state letter and parent of process @name of /proc. */
static gboolean
read_process (const char *name, char *state, pid_t *parent)
{
  g_autofree char *path = g_build_filename ("/proc", name, "stat", NULL);
  g_autofree char *stat = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  after_name = strrchr (stat, ')');
  return after_name != NULL && sscanf (after_name, ") %c %d", state, parent) == 2;
}

/* The one child of @parent (unshare's: qvm). */
static pid_t
find_child (pid_t parent)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  pid_t child = 0;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      pid_t pid = atoi (name), its_parent;
      char state;

      if (pid > 0 && read_process (name, &state, &its_parent) && its_parent == parent)
        {
          g_assert_cmpint (child, ==, 0);
          child = pid;
        }
    }
  g_assert_cmpint (child, >, 0);
  return child;
}

/* The zombies among the descendants of @root. */
static guint
count_zombies_below (pid_t root)
{
  g_autoptr(GHashTable) below = g_hash_table_new (NULL, NULL);
  guint zombies = 0;
  gboolean grew = TRUE;

  g_hash_table_add (below, GINT_TO_POINTER (root));
  /* Parents may come after their children in /proc: until nothing changes. */
  while (grew)
    {
      g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
      const char *name;

      grew = FALSE;
      zombies = 0;
      while ((name = g_dir_read_name (proc)) != NULL)
        {
          pid_t pid = atoi (name), parent;
          char state;

          if (pid <= 0 || !read_process (name, &state, &parent) ||
              !g_hash_table_contains (below, GINT_TO_POINTER (parent)))
            continue;
          if (g_hash_table_add (below, GINT_TO_POINTER (pid)))
            grew = TRUE;
          if (state == 'Z')
            zombies++;
        }
    }
  return zombies;
}

/* qvm as PID 1 of a PID namespace (a container with no init): the
 * metadata helpers QEMU forks per guest connection are orphans that only
 * PID 1 can reap. After five requests, none is left a zombie. */
static void
test_run_as_pid1 (Fixture *fixture, gconstpointer data)
{
  const char *wrapper[] = { "unshare", "--pid", "--fork", NULL };
  const char *extra[] = { "--timeout", "300", "--grace", "1", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint zombies;
  pid_t unshare;

  if (geteuid () != 0 || !testutil_have_program ("unshare"))
    {
      g_test_skip ("needs root and unshare(1) for a PID namespace");
      return;
    }
  write_payload (fixture,
                 "for i in 1 2 3 4 5; do wget -q -O /dev/null http://169.254.169.254/hello; done\n"
                 "wget -q -O /dev/null http://169.254.169.254/requests-done\n"
                 "sleep 600\n");
  process = start_wrapped (fixture, wrapper, "run", extra, archive);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  read_until (lines, out, "guest: GET /requests-done");

  /* Each helper ends as soon as its connection closes; a zombie stays. */
  g_usleep (G_USEC_PER_SEC);
  unshare = atoi (g_subprocess_get_identifier (process));
  zombies = count_zombies_below (unshare);

  /* unshare itself ignores SIGTERM while it waits. */
  g_assert_cmpint (kill (find_child (unshare), SIGTERM), ==, 0);
  read_until (lines, out, "done: ");
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("qvm run said:\n%s", out->str);
  g_assert_cmpuint (zombies, ==, 0);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 143);
}

#define BUILD_MARKER "built-by-qvm-build"
#define SCRATCH_SECTOR "$(( $(cat /sys/block/vda/size) - 1 ))"

/* qvm build --from the test guest, whose payload writes a marker to its
 * disk and powers off: exit 0, an archive that a store loads, and a run of
 * it reads the marker back. */
static void
test_build_from (Fixture *fixture, gconstpointer data)
{
  g_autofree char *built = g_build_filename (fixture->folder, "built.tar.zst", NULL);
  const char *build_extra[] = { "--from", archive, "-o", built, "--timeout", "300", NULL };
  const char *run_extra[] = { "--timeout", "300", NULL };
  g_autoptr(GSubprocess) build = NULL;
  g_autoptr(GSubprocess) run = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *run_out = NULL;
  g_autofree char *run_err = NULL;
  g_autofree char *result = NULL;

  write_payload (fixture,
                 "printf " BUILD_MARKER " | dd of=/dev/vda bs=512 seek=" SCRATCH_SECTOR
                 " conv=sync,notrunc,fsync status=none\n"
                 "echo written\n");
  build = start_command (fixture, "build", build_extra, NULL);
  g_assert_cmpint (finish_qvm (build, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "done: poweroff"));
  g_assert_nonnull (strstr (out, "packaging: "));
  g_assert_nonnull (strstr (out, "image saved to "));
  g_assert_cmpstr (err, ==, "");
  assert_cleaned_up (out);

  write_payload (fixture,
                 "echo \"read [$(dd if=/dev/vda bs=512 skip=" SCRATCH_SECTOR
                 " count=1 iflag=direct status=none | tr -d '\\000')]\"\n");
  run = start_command (fixture, "run", run_extra, built);
  g_assert_cmpint (finish_qvm (run, &run_out, &run_err), ==, 0);
  result = read_in (fixture, "outbox/result");
  g_assert_cmpstr (result, ==, "read [" BUILD_MARKER "]\n");
}

int
main (int argc, char *argv[])
{
  archive = testutil_init_with_archive (&argc, &argv);
  if (archive == NULL)
    return 2;

  g_test_add ("/qvm-run/payload", Fixture, NULL, fixture_set_up, test_run_payload, fixture_tear_down);
  g_test_add ("/qvm-run/timeout", Fixture, NULL, fixture_set_up, test_run_timeout, fixture_tear_down);
  g_test_add ("/qvm-run/tokens", Fixture, NULL, fixture_set_up, test_run_tokens, fixture_tear_down);
  g_test_add ("/qvm-build/from", Fixture, NULL, fixture_set_up, test_build_from, fixture_tear_down);
  g_test_add ("/qvm-run/interrupt", Fixture, NULL, fixture_set_up, test_run_interrupt, fixture_tear_down);
  g_test_add ("/qvm-run/as-pid1", Fixture, NULL, fixture_set_up, test_run_as_pid1, fixture_tear_down);

  return g_test_run ();
}
