/* test-qvm-tool.c: the qvm command, run as a user runs it (g_spawn_sync)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "qvm.h"

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

/* Runs the built qvm in the fixture's folder with the arguments given
 * (NULL-terminated) and collects its exit status and output. This uses
 * g_spawn_sync rather than GSubprocess: GSubprocess starts GLib's worker
 * and thread-pool threads, which live until exit and which valgrind then
 * reports as "possibly lost", and these tests must be valgrind-clean. */
static void
run_qvm (Fixture *fixture,
         Result  *result,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *argument;
  int wait_status;
  va_list args;

  g_ptr_array_add (argv, (char *) QVM_TOOL_PATH);
  va_start (args, result);
  while ((argument = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) argument);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  /* Messages in English, whatever the tester's locale. */
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);

  g_spawn_sync (fixture->folder, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                &result->out, &result->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  result->status = WEXITSTATUS (wait_status);
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
  g_autofree char *good = g_build_filename (QVM_EXAMPLES_DIR, "machine.json", NULL);
  g_autofree char *bad = g_build_filename (QVM_EXAMPLES_DIR, "bad-machine.json", NULL);
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

  run_qvm (fixture, &missing, "run", "--accel", "tcg", "missing.tar.zst", NULL);
  g_assert_cmpint (missing.status, ==, 3);
  assert_one_error_line (missing.err, "qvm: missing.tar.zst: ");

  g_unlink (bad);
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

  run_qvm (fixture, &timeout, "run", "--timeout", "soon", "x.tar.zst", NULL);
  g_assert_cmpint (timeout.status, ==, 2);
  assert_one_error_line (timeout.err, "qvm: run: ");

  run_qvm (fixture, &help, "run", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "--metadata-dir=DIR"));
  g_assert_nonnull (strstr (help.out, "4 timeout"));
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
  ADD ("/qvm-tool/validate/usage", test_tool_validate_usage);
  ADD ("/qvm-tool/schema", test_tool_schema);
  ADD ("/qvm-tool/new-machine", test_tool_new_machine);
  ADD ("/qvm-tool/examples", test_tool_examples);
  ADD ("/qvm-tool/inspect", test_tool_inspect);
  ADD ("/qvm-tool/usage", test_tool_usage);
  ADD ("/qvm-tool/run/bad-image", test_tool_run_bad_image);
  ADD ("/qvm-tool/run/usage", test_tool_run_usage);
  ADD ("/qvm-tool/build/usage", test_tool_build_usage);
#undef ADD

  return g_test_run ();
}
