/* test-qvm-tool.c: the qvm command, run as a user runs it (g_spawn_sync)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-owned-folder-private.h"
#include "testutil.h"
#include "qvm-archive-private.h"

static const char valid_machine[] =
  "{\"version\": 1, \"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\", \"memory\": 512,"
  " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
  " \"keyboard\": {\"layout\": \"en-us\"}}";

/* Two problems: a multicast MAC and an unknown layout. */
static const char invalid_machine[] =
  "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
  " \"network\": {\"device\": \"e1000\", \"mac\": \"01:00:5e:00:00:01\"},"
  " \"keyboard\": {\"layout\": \"qwerty\"}}";

typedef struct {
  char *folder;
} Fixture;

typedef struct {
  int status;
  char *out;
  char *err;
} Result;

static void
result_clear (Result *result)
{
  g_free (result->out);
  g_free (result->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *valid = NULL;
  g_autofree char *invalid = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-test-tool-XXXXXX", &error);
  g_assert_no_error (error);

  valid = g_build_filename (fixture->folder, "machine.json", NULL);
  invalid = g_build_filename (fixture->folder, "bad-machine.json", NULL);
  g_file_set_contents (valid, valid_machine, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (invalid, invalid_machine, -1, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *names[] = { "machine.json", "bad-machine.json" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (fixture->folder, names[i], NULL);

      g_unlink (path);
    }
  g_rmdir (fixture->folder);
  g_free (fixture->folder);
}

/* G_TEST_SRCDIR is set by meson: a run in the build tree, with the built
 * qvm; installed tests run the installed one. */
static gboolean
running_installed (void)
{
  return g_getenv ("G_TEST_SRCDIR") == NULL;
}

static const char *
tool_path (void)
{
  return running_installed () ? QVM_INSTALLED_TOOL_PATH : QVM_TOOL_PATH;
}

static char *
example_path (const char *name)
{
  if (running_installed ())
    return g_test_build_filename (G_TEST_DIST, "examples", name, NULL);
  return g_build_filename (QVM_EXAMPLES_DIR, name, NULL);
}

/* Runs the built qvm in the fixture's folder with the arguments given
 * (NULL-terminated) and collects its exit status and output. This uses
 * g_spawn_sync rather than GSubprocess: GSubprocess starts GLib's worker
 * and thread-pool threads, which live until exit and which valgrind then
 * reports as "possibly lost", and these tests must be valgrind-clean. */
static void
run_qvm_va (Fixture            *fixture,
            Result             *result,
            const char * const *environment,
            va_list             args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *argument;
  int wait_status;

  g_ptr_array_add (argv, (char *) tool_path ());
  while ((argument = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) argument);
  g_ptr_array_add (argv, NULL);

  /* Messages in English, whatever the tester's locale. */
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  /* "NAME=VALUE" sets, a plain "NAME" unsets. */
  for (guint i = 0; environment != NULL && environment[i] != NULL; i++)
    {
      const char *equals = strchr (environment[i], '=');
      g_autofree char *name = g_strndup (environment[i], equals ? (gsize) (equals - environment[i])
                                                                 : strlen (environment[i]));

      envp = equals ? g_environ_setenv (envp, name, equals + 1, TRUE) : g_environ_unsetenv (envp, name);
    }

  g_spawn_sync (fixture->folder, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                &result->out, &result->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  result->status = WEXITSTATUS (wait_status);
}

static void
run_qvm (Fixture *fixture,
         Result  *result,
         ...)
{
  va_list args;

  va_start (args, result);
  run_qvm_va (fixture, result, NULL, args);
  va_end (args);
}

/* run_qvm() with @environment changed (see run_qvm_va()). */
static void
run_qvm_env (Fixture            *fixture,
             Result             *result,
             const char * const *environment,
             ...)
{
  va_list args;

  va_start (args, environment);
  run_qvm_va (fixture, result, environment, args);
  va_end (args);
}

static void
test_tool_validate_valid (Fixture       *fixture,
                          gconstpointer  data)
{
  g_auto(Result) result = { 0 };

  run_qvm (fixture, &result, "validate", "machine.json", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_cmpstr (result.out, ==, "machine.json: valid\n");
  g_assert_cmpstr (result.err, ==, "");
}

static void
test_tool_validate_invalid (Fixture       *fixture,
                            gconstpointer  data)
{
  g_auto(Result) result = { 0 };
  g_auto(GStrv) lines = NULL;

  run_qvm (fixture, &result, "validate", "bad-machine.json", NULL);
  g_assert_cmpint (result.status, ==, 1);
  g_assert_cmpstr (result.out, ==, "");

  /* One "qvm: FILE: PATH: WHY" line per problem, the file as typed. */
  lines = g_strsplit (result.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[2], ==, "");
  g_assert_true (g_str_has_prefix (lines[0], "qvm: bad-machine.json: network.mac: \"01:00:5e:00:00:01\" has the multicast bit set"));
  g_assert_true (g_str_has_prefix (lines[1], "qvm: bad-machine.json: keyboard.layout: \"qwerty\""));
}

static void
test_tool_validate_several (Fixture       *fixture,
                            gconstpointer  data)
{
  g_auto(Result) result = { 0 };

  /* Every file is checked; one bad file makes the status 1. */
  run_qvm (fixture, &result, "validate", "bad-machine.json", "machine.json", "missing.json", NULL);
  g_assert_cmpint (result.status, ==, 1);
  g_assert_cmpstr (result.out, ==, "machine.json: valid\n");
  g_assert_nonnull (strstr (result.err, "qvm: bad-machine.json: network.mac: "));
  g_assert_nonnull (strstr (result.err, "qvm: missing.json: no such file or folder\n"));
}

/* A file cut short is reported where it ends, not at "column 0". */
static void
test_tool_validate_cut_short (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *cut = g_build_filename (fixture->folder, "cut.json", NULL);
  g_auto(Result) result = { 0 };

  g_assert_true (g_file_set_contents (cut, "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\",\n\n", -1, NULL));
  run_qvm (fixture, &result, "validate", "cut.json", NULL);
  g_assert_cmpint (result.status, ==, 1);
  g_assert_cmpstr (result.err, ==, "qvm: cut.json: not valid JSON at line 3, column 1: "
                                   "the document ends before its closing “}”\n");
  g_unlink (cut);
}

static void
test_tool_validate_print (Fixture       *fixture,
                          gconstpointer  data)
{
  g_auto(Result) result = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) printed = NULL;
  g_autoptr(QvmMachine) machine = NULL;
  const char *json;

  run_qvm (fixture, &result, "validate", "--print", "machine.json", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_true (g_str_has_prefix (result.out, "machine.json: valid\n"));

  json = result.out + strlen ("machine.json: valid\n");
  printed = json_from_string (json, &error);
  g_assert_no_error (error);
  machine = qvm_machine_new_from_json (printed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_get_memory (machine), ==, 512);
  g_assert_cmpstr (qvm_machine_get_mac_address (machine), ==, "0a:00:27:00:00:00");
}

static void
test_tool_validate_usage (Fixture       *fixture,
                          gconstpointer  data)
{
  g_auto(Result) no_file = { 0 };
  g_auto(Result) bad_option = { 0 };
  g_auto(Result) help = { 0 };

  run_qvm (fixture, &no_file, "validate", NULL);
  g_assert_cmpint (no_file.status, ==, 2);
  g_assert_true (g_str_has_prefix (no_file.err, "qvm: validate: "));

  run_qvm (fixture, &bad_option, "validate", "--frobnicate", "machine.json", NULL);
  g_assert_cmpint (bad_option.status, ==, 2);
  g_assert_true (g_str_has_prefix (bad_option.err, "qvm: validate: "));
  g_assert_nonnull (strstr (bad_option.err, "--frobnicate"));

  run_qvm (fixture, &help, "validate", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "qvm validate"));
  g_assert_nonnull (strstr (help.out, "--print"));
}

static void
test_tool_schema (Fixture       *fixture,
                  gconstpointer  data)
{
  g_auto(Result) machine = { 0 };
  g_auto(Result) options = { 0 };
  g_auto(Result) unknown = { 0 };
  g_auto(Result) missing = { 0 };

  run_qvm (fixture, &machine, "schema", "machine", NULL);
  g_assert_cmpint (machine.status, ==, 0);
  g_assert_cmpstr (machine.out, ==, qvm_machine_get_schema ());

  run_qvm (fixture, &options, "schema", "options", NULL);
  g_assert_cmpint (options.status, ==, 0);
  g_assert_cmpstr (options.out, ==, qvm_machine_options_get_schema ());

  run_qvm (fixture, &unknown, "schema", "image", NULL);
  g_assert_cmpint (unknown.status, ==, 2);
  g_assert_true (g_str_has_prefix (unknown.err, "qvm: schema: "));
  g_assert_nonnull (strstr (unknown.err, "image"));

  run_qvm (fixture, &missing, "schema", NULL);
  g_assert_cmpint (missing.status, ==, 2);
  g_assert_true (g_str_has_prefix (missing.err, "qvm: schema: "));
}

static void
test_tool_new_machine (Fixture       *fixture,
                       gconstpointer  data)
{
  g_auto(Result) first = { 0 };
  g_auto(Result) second = { 0 };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = NULL;

  run_qvm (fixture, &first, "new-machine", NULL);
  run_qvm (fixture, &second, "new-machine", NULL);
  g_assert_cmpint (first.status, ==, 0);
  g_assert_cmpint (second.status, ==, 0);
  g_assert_cmpstr (first.out, !=, second.out);

  bytes = g_bytes_new (first.out, strlen (first.out));
  machine = qvm_machine_new_from_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (machine);
}

/* The samples the demo shows: one valid, one with a problem on each line. */
static void
test_tool_examples (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *good = example_path ("machine.json");
  g_autofree char *bad = example_path ("bad-machine.json");
  g_auto(Result) valid = { 0 };
  g_auto(Result) invalid = { 0 };
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strdup_printf ("qvm: %s: ", bad);

  run_qvm (fixture, &valid, "validate", good, NULL);
  g_assert_cmpint (valid.status, ==, 0);
  g_assert_cmpstr (valid.err, ==, "");

  run_qvm (fixture, &invalid, "validate", bad, NULL);
  g_assert_cmpint (invalid.status, ==, 1);
  lines = g_strsplit (invalid.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 9);
  for (guint i = 0; i < 8; i++)
    g_assert_true (g_str_has_prefix (lines[i], prefix));
}

/* qvm inspect: a packaged image is described, a hostile one refused. */
static void
test_tool_inspect (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *build = g_build_filename (fixture->folder, "build", NULL);
  g_autofree char *archive = g_build_filename (fixture->folder, "image.tar.zst", NULL);
  g_autofree char *bad = g_build_filename (fixture->folder, "bad.tar.zst", NULL);
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Result) valid = { 0 };
  g_auto(Result) invalid = { 0 };

  image = qvm_folder_image_new_blank (build, 1024 * 1024, machine, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), archive, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_folder_image_delete (image, &error));
  g_assert_no_error (error);

  run_qvm (fixture, &valid, "inspect", "image.tar.zst", NULL);
  g_assert_cmpint (valid.status, ==, 0);
  g_assert_nonnull (strstr (valid.out, qvm_machine_get_uuid (machine)));
  g_assert_nonnull (strstr (valid.out, "disk.img: 1048576 bytes, 0 bytes of data"));
  g_assert_nonnull (strstr (valid.out, "verdict: valid image archive"));

  g_assert_true (g_file_set_contents (bad, "\x1f\x8b\x08 gzip", -1, NULL));
  run_qvm (fixture, &invalid, "inspect", "bad.tar.zst", NULL);
  g_assert_cmpint (invalid.status, ==, 1);
  g_assert_true (g_str_has_prefix (invalid.err, "qvm: bad.tar.zst: image archive: "));
  g_assert_nonnull (strstr (invalid.err, "gzip"));
  g_assert_nonnull (strstr (invalid.out, "verdict: invalid image archive"));

  g_unlink (archive);
  g_unlink (bad);
}

static void
test_tool_usage (Fixture       *fixture,
                 gconstpointer  data)
{
  g_auto(Result) nothing = { 0 };
  g_auto(Result) unknown = { 0 };
  g_auto(Result) help = { 0 };
  g_auto(Result) version = { 0 };

  run_qvm (fixture, &nothing, NULL);
  g_assert_cmpint (nothing.status, ==, 2);
  g_assert_nonnull (strstr (nothing.err, "validate"));

  run_qvm (fixture, &unknown, "frobnicate", NULL);
  g_assert_cmpint (unknown.status, ==, 2);
  g_assert_true (g_str_has_prefix (unknown.err, "qvm: frobnicate: "));

  run_qvm (fixture, &help, "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "new-machine"));
  g_assert_nonnull (strstr (help.out, "schema"));
  g_assert_nonnull (strstr (help.out, "\n  --version "));

  run_qvm (fixture, &version, "--version", NULL);
  g_assert_cmpint (version.status, ==, 0);
  g_assert_true (g_str_has_prefix (version.out, "qvm "));
}

/* Every option of qvm run is in the README's synopsis. */
static void
test_tool_readme_synopsis (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autofree char *readme = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) option = g_regex_new ("^  (?:-., )?(--[a-z-]+)", G_REGEX_MULTILINE, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_auto(Result) help = { 0 };
  const char *start, *end;
  g_autofree char *synopsis = NULL;
  guint checked = 0;

  if (running_installed ())
    {
      g_test_skip ("the README is in the source tree");
      return;
    }
  g_file_get_contents (QVM_README, &readme, NULL, &error);
  g_assert_no_error (error);
  start = strstr (readme, "\n    qvm run ");
  g_assert_nonnull (start);
  end = strstr (start, "\n    qvm build ");
  g_assert_nonnull (end);
  synopsis = g_strndup (start, end - start);

  run_qvm (fixture, &help, "run", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  for (g_regex_match (option, help.out, 0, &match); g_match_info_matches (match); g_match_info_next (match, NULL))
    {
      g_autofree char *name = g_match_info_fetch (match, 1);
      g_autofree char *shown = g_strconcat ("[", name, NULL);

      if (g_str_has_prefix (name, "--help"))
        continue;
      if (strstr (synopsis, shown) == NULL)
        {
          g_test_message ("%s is not in the README's synopsis of qvm run", name);
          g_test_fail ();
        }
      checked++;
    }
  g_assert_cmpuint (checked, >=, 11);
}

/* stderr holds exactly one line, "qvm: WHAT: WHY", starting with @prefix. */
static void
assert_one_error_line (const char *err,
                       const char *prefix)
{
  g_assert_true (g_str_has_prefix (err, prefix));
  g_assert_true (g_str_has_suffix (err, "\n"));
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
}

/* An archive that cannot be loaded: exit 3, one line saying why. No QEMU
 * starts (the image is refused first), hence suite 'unit'. */
static void
test_tool_run_bad_image (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *bad = g_build_filename (fixture->folder, "bad.tar.zst", NULL);
  g_auto(Result) invalid = { 0 };
  g_auto(Result) missing = { 0 };

  g_assert_true (g_file_set_contents (bad, "\x1f\x8b\x08 gzip", -1, NULL));
  run_qvm (fixture, &invalid, "run", "--accel", "tcg", "bad.tar.zst", NULL);
  g_assert_cmpint (invalid.status, ==, 3);
  assert_one_error_line (invalid.err, "qvm: bad.tar.zst: ");
  g_assert_nonnull (strstr (invalid.err, "gzip"));
  g_assert_nonnull (strstr (invalid.out, "loading bad.tar.zst"));
  g_assert_null (strstr (invalid.out, "machine running"));

  /* The archive named once, as typed, and in the words of every other
   * missing file (not "/full/path/missing.tar.zst: cannot open: …"). */
  run_qvm (fixture, &missing, "run", "--accel", "tcg", "missing.tar.zst", NULL);
  g_assert_cmpint (missing.status, ==, 3);
  g_assert_cmpstr (missing.err, ==, "qvm: missing.tar.zst: no such file or folder\n");

  g_unlink (bad);
}

/* A qvm killed without cleaning up leaves its temporary folder (the
 * extracted image, QEMU's sockets): the next run removes it, and only
 * it, even when that run fails on its own image. */
static void
test_tool_run_sweeps_leftovers (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *tmp = g_build_filename (fixture->folder, "tmp", NULL);
  g_autofree char *abandoned = g_build_filename (tmp, "qvm-run-aaaaaa", NULL);
  g_autofree char *abandoned_mark = g_build_filename (abandoned, QVM_OWNED_FOLDER_MARK, NULL);
  g_autofree char *abandoned_disk = g_build_filename (abandoned, "instance.qcow2", NULL);
  g_autofree char *unmarked = g_build_filename (tmp, "qvm-run-bbbbbb", NULL);
  g_autofree char *live = NULL;
  g_autofree char *inspected = g_build_filename (tmp, "qvm-inspect-dddddd", NULL);
  g_autofree char *inspected_mark = g_build_filename (inspected, QVM_OWNED_FOLDER_MARK, NULL);
  g_auto(Result) missing = { 0 };
  g_auto(Result) inspect = { 0 };
  int live_lock = -1;

  g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (abandoned, 0700), ==, 0);
  g_assert_true (g_file_set_contents (abandoned_mark, "", 0, NULL));
  g_assert_true (g_file_set_contents (abandoned_disk, "QFI\xfb", -1, NULL));
  g_assert_cmpint (g_mkdir (unmarked, 0700), ==, 0);
  live = qvm_owned_folder_make (tmp, "qvm-run-", &live_lock, NULL);
  g_assert_nonnull (live);

  g_assert_cmpint (g_mkdir (inspected, 0700), ==, 0);
  g_assert_true (g_file_set_contents (inspected_mark, "", 0, NULL));

  g_setenv ("TMPDIR", tmp, TRUE);
  run_qvm (fixture, &missing, "run", "--accel", "tcg", "missing.tar.zst", NULL);
  run_qvm (fixture, &inspect, "inspect", "missing.tar.zst", NULL);
  g_unsetenv ("TMPDIR");
  g_assert_cmpint (missing.status, ==, 3);
  g_assert_cmpint (inspect.status, ==, 1); /* inspect: 1 for an invalid archive */

  g_assert_false (g_file_test (inspected, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (abandoned, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (unmarked, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (live, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (testutil_count_entries (tmp), ==, 2); /* nor its own */

  close (live_lock);
  testutil_remove_tree (tmp);
}

/* Writes FOLDER/@name, an image archive of a blank 1 MiB disk whose
 * machine.json is @machine_json as it is, valid or not. */
static void
write_archive_with_machine (Fixture    *fixture,
                            const char *name,
                            const char *machine_json)
{
  g_autofree char *build = g_build_filename (fixture->folder, "raw", NULL);
  g_autofree char *disk = g_build_filename (build, "disk.img", NULL);
  g_autofree char *target = g_build_filename (fixture->folder, name, NULL);
  g_autoptr(GBytes) machine = g_bytes_new (machine_json, strlen (machine_json));
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (build, 0755), ==, 0);
  g_assert_true (g_file_set_contents (disk, "", 0, NULL));
  g_assert_cmpint (truncate (disk, 1024 * 1024), ==, 0);
  g_assert_true (qvm_archive_package (build, machine, target, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_unlink (disk);
  g_rmdir (build);
}

/* Definitions QEMU 7.2 would refuse (issue 17 item 9) end as a bad image,
 * exit 3, before any QEMU starts: a keyboard layout without a keymap, more
 * vCPUs than QEMU runs, and more than the host allows (16 by default). */
static void
test_tool_run_refused_machine (Fixture       *fixture,
                               gconstpointer  data)
{
  const char *head = "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
                     " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},";
  const struct { const char *tail; const char *fragment; } cases[] = {
    { "\"keyboard\": {\"layout\": \"nl-be\"}}", "keyboard.layout: \"nl-be\" is not one of" },
    { "\"keyboard\": {\"layout\": \"en-us\"}, \"cpu\": {\"sockets\": 255, \"cores\": 255, \"threads\": 255}}",
      "cpu: 255 × 255 × 255 (sockets × cores × threads) make 16581375 vCPUs" },
    { "\"keyboard\": {\"layout\": \"en-us\"}, \"cpu\": {\"cores\": 32}}",
      "machine.json asks for 32 vCPUs, more than --vcpus 16 allows" },
    { "\"keyboard\": {\"layout\": \"en-us\"}, \"memory\": 2048}",
      "machine.json asks for 2048 MiB of memory, more than --memory 1024 allows" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strconcat (head, " ", cases[i].tail, NULL);
      g_autofree char *archive = g_build_filename (fixture->folder, "refused.tar.zst", NULL);
      g_auto(Result) result = { 0 };

      write_archive_with_machine (fixture, "refused.tar.zst", json);
      run_qvm (fixture, &result, "run", "--accel", "tcg", "refused.tar.zst", NULL);
      g_test_message ("qvm run said:\n%s%s", result.out, result.err);
      g_assert_cmpint (result.status, ==, 3);
      g_assert_true (g_str_has_prefix (result.err, "qvm: refused.tar.zst: "));
      g_assert_nonnull (strstr (result.err, cases[i].fragment));
      g_assert_null (strstr (result.out, "machine starting"));
      g_assert_null (strstr (result.out, "machine running"));
      /* The options' JSON names are no words of the command line. */
      g_assert_null (strstr (result.err, "maxMemory"));
      g_assert_null (strstr (result.err, "maxVcpus"));
      g_unlink (archive);
    }
}

/* The metadata helper is the one beside the qvm binary (here, the build
 * tree's), unless $QVM_GUESTFWD says otherwise. A fake QEMU prints the
 * -netdev it was given, which names the helper, and exits. */
static void
test_tool_run_helper (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(QvmMachine) random = qvm_machine_new_random ();
  g_autofree char *machine = qvm_machine_to_data (random);
  g_autofree char *qemu = g_build_filename (fixture->folder, "fake-qemu-prints-netdev", NULL);
  g_autofree char *tools = g_path_get_dirname (QVM_TOOL_PATH);
  g_autofree char *beside = g_build_filename (tools, "qvm-guestfwd", NULL);
  g_autofree char *qemu_variable = g_strconcat ("QVM_QEMU=", qemu, NULL);
  g_autofree char *archive = g_build_filename (fixture->folder, "image.tar.zst", NULL);
  const char *unset[] = { "QVM_GUESTFWD", qemu_variable, NULL };
  const char *empty[] = { "QVM_GUESTFWD=", qemu_variable, NULL };
  const char *chosen[] = { "QVM_GUESTFWD=/bin/true", qemu_variable, NULL };
  const char * const *environments[] = { unset, empty, chosen };
  const char *helpers[] = { beside, beside, "/bin/true" };
  g_autofree char *fake_qemu = g_test_build_filename (G_TEST_DIST, "fake-qemu.py", NULL);

  if (running_installed ())
    {
      g_test_skip ("an installed qvm has no helper beside it");
      return;
    }
  g_assert_cmpint (symlink (fake_qemu, qemu), ==, 0);
  write_archive_with_machine (fixture, "image.tar.zst", machine);

  for (guint i = 0; i < G_N_ELEMENTS (environments); i++)
    {
      g_auto(Result) result = { 0 };
      g_autofree char *command = g_strdup_printf ("-cmd:'%s' ", helpers[i]);

      run_qvm_env (fixture, &result, environments[i], "run", "--accel", "tcg", "image.tar.zst", NULL);
      g_test_message ("qvm run said:\n%s%s", result.out, result.err);
      /* The machine failed (its QEMU exited): not the network. */
      g_assert_cmpint (result.status, ==, 1);
      g_assert_null (strstr (result.err, "metadata helper"));
      g_assert_nonnull (strstr (result.err, command));
    }

  g_unlink (qemu);
  g_unlink (archive);
}

/* An image archive that is not a file, for each command that reads one:
 * its name once, as typed. */
static void
test_tool_archive_errors (Fixture       *fixture,
                          gconstpointer  data)
{
  const char *commands[][6] = {
    { "run", "--accel", "tcg", "ARCHIVE", NULL },
    { "inspect", "ARCHIVE", NULL },
    { "build", "-o", "out.tar.zst", "--from", "ARCHIVE", NULL },
  };
  g_autofree char *folder = g_build_filename (fixture->folder, "folder.tar.zst", NULL);

  g_assert_cmpint (g_mkdir (folder, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    for (guint j = 0; j < 2; j++)
      {
        const char *archive = j == 0 ? "folder.tar.zst" : "no-such.tar.zst";
        const char *expected = j == 0 ? "qvm: folder.tar.zst: an image archive must be a regular file\n"
                                      : "qvm: no-such.tar.zst: no such file or folder\n";
        const char *argv[6] = { NULL };
        g_auto(Result) result = { 0 };

        for (guint k = 0; commands[i][k] != NULL; k++)
          argv[k] = g_str_equal (commands[i][k], "ARCHIVE") ? archive : commands[i][k];
        run_qvm (fixture, &result, argv[0], argv[1], argv[2], argv[3], argv[4], NULL);
        g_test_message ("qvm %s said:\n%s%s", argv[0], result.out, result.err);
        g_assert_cmpstr (result.err, ==, expected);
        g_assert_null (strstr (result.err, fixture->folder));
      }
  g_rmdir (folder);
}

/* --outbox: an existing folder, or one made in an existing folder; never
 * a whole path; every refusal ends with "(--outbox)". */
static void
test_tool_run_outbox (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *deep = g_build_filename (fixture->folder, "no", "such", "outbox", NULL);
  g_autofree char *first = g_build_filename (fixture->folder, "no", NULL);
  g_autofree char *made = g_build_filename (fixture->folder, "outbox", NULL);
  g_autofree char *file = g_build_filename (fixture->folder, "file", NULL);
  g_autofree char *deep_line = g_strdup_printf ("qvm: %s: cannot create it: there is no folder “%s%s” (--outbox)\n",
                                                deep, first, G_DIR_SEPARATOR_S "such");
  g_auto(Result) nested = { 0 };
  g_auto(Result) not_folder = { 0 };
  g_auto(Result) fresh = { 0 };

  run_qvm (fixture, &nested, "run", "--accel", "tcg", "--outbox", deep, "x.tar.zst", NULL);
  g_assert_cmpint (nested.status, ==, 2);
  g_assert_cmpstr (nested.err, ==, deep_line);
  g_assert_false (g_file_test (first, G_FILE_TEST_EXISTS));

  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  run_qvm (fixture, &not_folder, "run", "--accel", "tcg", "--outbox", "file", "x.tar.zst", NULL);
  g_assert_cmpint (not_folder.status, ==, 2);
  g_assert_cmpstr (not_folder.err, ==, "qvm: file: not a folder (--outbox)\n");

  /* One level is made (the run then fails on the missing archive). */
  run_qvm (fixture, &fresh, "run", "--accel", "tcg", "--outbox", "outbox", "x.tar.zst", NULL);
  g_assert_cmpint (fresh.status, ==, 3);
  g_assert_true (g_file_test (made, G_FILE_TEST_IS_DIR));

  g_rmdir (made);
  g_unlink (file);
}

/* The outbox never lies in the served folder, nor holds it: by default a
 * new temporary folder for each run (no md/outbox appears), and an
 * --outbox inside --metadata-dir (or around it) is a usage error that
 * leaves nothing made. */
static void
test_tool_run_outbox_apart (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autofree char *served = g_build_filename (fixture->folder, "md", NULL);
  g_autofree char *inside = g_build_filename (served, "outbox", NULL);
  g_auto(Result) by_default = { 0 };
  g_auto(Result) within = { 0 };
  g_auto(Result) around = { 0 };

  g_assert_cmpint (g_mkdir (served, 0755), ==, 0);
  run_qvm (fixture, &by_default, "run", "--accel", "tcg", "--metadata-dir", "md", "x.tar.zst", NULL);
  g_assert_cmpint (by_default.status, ==, 3);
  g_assert_false (g_file_test (inside, G_FILE_TEST_EXISTS));

  run_qvm (fixture, &within, "run", "--accel", "tcg", "--metadata-dir", "md",
           "--outbox", "md/outbox", "x.tar.zst", NULL);
  g_assert_cmpint (within.status, ==, 2);
  g_assert_cmpstr (within.err, ==, "qvm: md/outbox: lies inside the served --metadata-dir: "
                                   "the guest could read what was uploaded (--outbox)\n");
  g_assert_false (g_file_test (inside, G_FILE_TEST_EXISTS));

  run_qvm (fixture, &around, "run", "--accel", "tcg", "--metadata-dir", "md",
           "--outbox", ".", "x.tar.zst", NULL);
  g_assert_cmpint (around.status, ==, 2);
  g_assert_nonnull (strstr (around.err, "holds the served --metadata-dir"));

  g_assert_cmpint (g_rmdir (served), ==, 0);
}

static void
test_tool_run_usage (Fixture       *fixture,
                     gconstpointer  data)
{
  g_auto(Result) nothing = { 0 };
  g_auto(Result) accel = { 0 };
  g_auto(Result) folder = { 0 };
  g_auto(Result) payload = { 0 };
  g_auto(Result) timeout = { 0 };
  g_auto(Result) vcpus = { 0 };
  g_auto(Result) help = { 0 };

  run_qvm (fixture, &nothing, "run", NULL);
  g_assert_cmpint (nothing.status, ==, 2);
  assert_one_error_line (nothing.err, "qvm: run: expected one image archive");

  run_qvm (fixture, &accel, "run", "--accel", "hvf", "x.tar.zst", NULL);
  g_assert_cmpint (accel.status, ==, 2);
  assert_one_error_line (accel.err, "qvm: --accel: Unknown accelerator “hvf”: expected auto, kvm or tcg");

  run_qvm (fixture, &folder, "run", "--metadata-dir", "no-such-folder", "x.tar.zst", NULL);
  g_assert_cmpint (folder.status, ==, 2);
  assert_one_error_line (folder.err, "qvm: no-such-folder: not a folder");

  run_qvm (fixture, &payload, "run", "--payload", "no-such-file", "x.tar.zst", NULL);
  g_assert_cmpint (payload.status, ==, 2);
  assert_one_error_line (payload.err, "qvm: no-such-file: not a regular file");

  run_qvm (fixture, &vcpus, "run", "--vcpus", "256", "x.tar.zst", NULL);
  g_assert_cmpint (vcpus.status, ==, 2);
  assert_one_error_line (vcpus.err, "qvm: --vcpus: 256 is not a number of vCPUs from 1 to 255");

  run_qvm (fixture, &timeout, "run", "--timeout", "soon", "x.tar.zst", NULL);
  g_assert_cmpint (timeout.status, ==, 2);
  assert_one_error_line (timeout.err, "qvm: run: ");

  run_qvm (fixture, &help, "run", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "--metadata-dir=DIR"));
  g_assert_nonnull (strstr (help.out, "4 timeout"));
  g_assert_nonnull (strstr (help.out, "--vcpus=N"));
}

/* qvm build refuses what it cannot build before any machine starts. */
static void
test_tool_build_usage (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *bad = g_build_filename (fixture->folder, "bad.tar.zst", NULL);
  g_auto(Result) no_output = { 0 };
  g_auto(Result) both = { 0 };
  g_auto(Result) no_machine = { 0 };
  g_auto(Result) size = { 0 };
  g_auto(Result) cdrom = { 0 };
  g_auto(Result) bad_machine = { 0 };
  g_auto(Result) bad_from = { 0 };

  run_qvm (fixture, &no_output, "build", "--from", "x.tar.zst", NULL);
  g_assert_cmpint (no_output.status, ==, 2);
  assert_one_error_line (no_output.err, "qvm: build: --output is required");

  run_qvm (fixture, &both, "build", "--from", "x.tar.zst", "--size", "1", "--machine",
           "machine.json", "-o", "out.tar.zst", NULL);
  g_assert_cmpint (both.status, ==, 2);
  assert_one_error_line (both.err, "qvm: build: expected either --from or --size with --machine");

  run_qvm (fixture, &no_machine, "build", "--size", "1", "-o", "out.tar.zst", NULL);
  g_assert_cmpint (no_machine.status, ==, 2);
  assert_one_error_line (no_machine.err, "qvm: build: a blank image needs --machine");

  run_qvm (fixture, &size, "build", "--size", "0", "--machine", "machine.json", "-o", "out.tar.zst", NULL);
  g_assert_cmpint (size.status, ==, 2);
  assert_one_error_line (size.err, "qvm: build: a blank image needs --machine and a --size above 0");

  run_qvm (fixture, &cdrom, "build", "--size", "1", "--machine", "machine.json", "--cdrom",
           "none.iso", "-o", "out.tar.zst", NULL);
  g_assert_cmpint (cdrom.status, ==, 2);
  assert_one_error_line (cdrom.err, "qvm: none.iso: not a regular file (--cdrom)");

  /* An invalid machine: one line per problem, exit 3, nothing written. */
  run_qvm (fixture, &bad_machine, "build", "--size", "1", "--machine", "bad-machine.json",
           "-o", "out.tar.zst", NULL);
  g_assert_cmpint (bad_machine.status, ==, 3);
  g_assert_true (g_str_has_prefix (bad_machine.err, "qvm: bad-machine.json: network.mac: "));
  {
    g_autofree char *out = g_build_filename (fixture->folder, "out.tar.zst", NULL);

    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  }

  g_assert_true (g_file_set_contents (bad, "\x1f\x8b\x08 gzip", -1, NULL));
  run_qvm (fixture, &bad_from, "build", "--from", "bad.tar.zst", "-o", "out.tar.zst", NULL);
  g_assert_cmpint (bad_from.status, ==, 3);
  assert_one_error_line (bad_from.err, "qvm: bad.tar.zst: image archive: ");
  g_unlink (bad);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/qvm-tool/validate/valid", test_tool_validate_valid);
  ADD ("/qvm-tool/validate/invalid", test_tool_validate_invalid);
  ADD ("/qvm-tool/validate/several", test_tool_validate_several);
  ADD ("/qvm-tool/validate/print", test_tool_validate_print);
  ADD ("/qvm-tool/validate/cut-short", test_tool_validate_cut_short);
  ADD ("/qvm-tool/validate/usage", test_tool_validate_usage);
  ADD ("/qvm-tool/schema", test_tool_schema);
  ADD ("/qvm-tool/new-machine", test_tool_new_machine);
  ADD ("/qvm-tool/examples", test_tool_examples);
  ADD ("/qvm-tool/inspect", test_tool_inspect);
  ADD ("/qvm-tool/usage", test_tool_usage);
  ADD ("/qvm-tool/readme-synopsis", test_tool_readme_synopsis);
  ADD ("/qvm-tool/run/bad-image", test_tool_run_bad_image);
  ADD ("/qvm-tool/run/usage", test_tool_run_usage);
  ADD ("/qvm-tool/run/sweeps-leftovers", test_tool_run_sweeps_leftovers);
  ADD ("/qvm-tool/run/refused-machine", test_tool_run_refused_machine);
  ADD ("/qvm-tool/run/helper", test_tool_run_helper);
  ADD ("/qvm-tool/run/outbox", test_tool_run_outbox);
  ADD ("/qvm-tool/run/outbox-apart", test_tool_run_outbox_apart);
  ADD ("/qvm-tool/archive-errors", test_tool_archive_errors);
  ADD ("/qvm-tool/build/usage", test_tool_build_usage);
#undef ADD

  return g_test_run ();
}
