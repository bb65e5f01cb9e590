/* test-user-network-qemu.c: QEMU 7.2 accepts QvmUserNetwork's netdev
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU parses -netdev and sets the network up at start-up, before any guest
 * runs, so a machine-less QEMU is enough: it starts with the network,
 * reports it over QMP and quits. Every QEMU started here is killed if it is
 * still running when its test ends.
 */

#include <string.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "testutil.h"

/* A guard against a QEMU that hangs, not a timing assertion. */
#define QEMU_TIMEOUT_SECONDS 60

typedef struct {
  char *folder;
  char *network_folder;
  QvmUserNetwork *network;
  GSubprocess *qemu;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-net-qemu-XXXXXX", &error);
  g_assert_no_error (error);

  /* Characters QEMU's option syntax and the shell would take apart. */
  fixture->network_folder = g_build_filename (fixture->folder, "a b,c'd", NULL);
  g_assert_cmpint (g_mkdir (fixture->network_folder, 0700), ==, 0);

  fixture->network = qvm_user_network_new (fixture->network_folder, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  if (fixture->qemu != NULL)
    {
      /* Kill and reap whatever is left, even after a failed assertion. */
      g_subprocess_force_exit (fixture->qemu);
      g_subprocess_wait (fixture->qemu, NULL, NULL);
      g_clear_object (&fixture->qemu);
    }

  qvm_network_release (QVM_NETWORK (fixture->network));
  g_clear_object (&fixture->network);
  testutil_remove_tree (fixture->folder);
  g_clear_pointer (&fixture->folder, g_free);
  g_clear_pointer (&fixture->network_folder, g_free);
}

typedef struct {
  char *output;
  char *errors;
  GError *error;
  gboolean done;
} QemuRun;

static void
on_qemu_communicated (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  QemuRun *run = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result,
                                        &run->output, &run->errors, &run->error);
  run->done = TRUE;
}

static gboolean
on_qemu_timeout (gpointer user_data)
{
  GSubprocess *qemu = user_data;

  g_test_message ("QEMU did not finish in %d s: killing it", QEMU_TIMEOUT_SECONDS);
  g_subprocess_force_exit (qemu);
  return G_SOURCE_REMOVE;
}

/* Starts a machine-less QEMU with @netdev, sends @qmp_input on its QMP
 * monitor (stdio) and waits for it to exit. Returns FALSE when QEMU could
 * not be found (the test is then skipped). */
static gboolean
run_qemu (Fixture    *fixture,
          const char *netdev,
          const char *qmp_input,
          QemuRun    *run)
{
  const char *accel = g_getenv ("QVM_TEST_ACCEL");
  g_autofree char *qemu_path = g_find_program_in_path (testutil_qemu_binary ());
  const char *argv[] = {
    qemu_path, "-machine", "none", "-nodefaults", "-no-user-config",
    "-display", "none", "-accel", accel != NULL && *accel != '\0' ? accel : "tcg",
    "-netdev", netdev, "-qmp", "stdio", NULL
  };
  GSource *guard;

  if (qemu_path == NULL)
    {
      g_test_skip ("QEMU not found (set QVM_QEMU)");
      return FALSE;
    }

  fixture->qemu = g_subprocess_newv (argv,
                                     G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                     G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                     G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                     &run->error);
  g_assert_no_error (run->error);

  guard = g_timeout_source_new_seconds (QEMU_TIMEOUT_SECONDS);
  g_source_set_callback (guard, on_qemu_timeout, fixture->qemu, NULL);
  g_source_attach (guard, NULL);

  g_subprocess_communicate_utf8_async (fixture->qemu, qmp_input, NULL,
                                       on_qemu_communicated, run);
  while (!run->done)
    g_main_context_iteration (NULL, TRUE);
  g_subprocess_wait (fixture->qemu, NULL, NULL);

  g_source_destroy (guard);
  g_source_unref (guard);
  g_assert_no_error (run->error);
  return TRUE;
}

static void
qemu_run_clear (QemuRun *run)
{
  g_clear_pointer (&run->output, g_free);
  g_clear_pointer (&run->errors, g_free);
  g_clear_error (&run->error);
}

static void
test_netdev_accepted (Fixture       *fixture,
                      gconstpointer  data)
{
  const char qmp[] =
    "{\"execute\": \"qmp_capabilities\"}\n"
    "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info network\"}}\n"
    "{\"execute\": \"quit\"}\n";
  g_autoptr(GError) error = NULL;
  g_autofree char *netdev = qvm_network_get_netdev (QVM_NETWORK (fixture->network), "net0", &error);
  QemuRun run = { 0 };

  g_assert_no_error (error);
  /* The folder's comma is in the string, doubled. */
  g_assert_nonnull (strstr (netdev, "a b,,c"));

  if (!run_qemu (fixture, netdev, qmp, &run))
    return;

  g_test_message ("QEMU said on stderr: %s", run.errors);
  g_assert_true (g_subprocess_get_if_exited (fixture->qemu));
  g_assert_cmpint (g_subprocess_get_exit_status (fixture->qemu), ==, 0);
  /* QEMU set the network up as asked. */
  g_assert_nonnull (strstr (run.output, "net0: index=0,type=user,net=169.254.0.0,restrict=on"));
  g_assert_nonnull (strstr (run.output, "\"host-qmp-quit\""));

  qemu_run_clear (&run);
}

/* The same string without QEMU's comma escaping is refused at start-up:
 * the escaping is what makes the awkward folder name work. */
static void
test_netdev_unescaped_refused (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *netdev = qvm_network_get_netdev (QVM_NETWORK (fixture->network), "net0", &error);
  g_auto(GStrv) parts = NULL;
  g_autofree char *unescaped = NULL;
  QemuRun run = { 0 };

  g_assert_no_error (error);
  parts = g_strsplit (netdev, ",,", -1);
  unescaped = g_strjoinv (",", parts);

  if (!run_qemu (fixture, unescaped, "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"quit\"}\n", &run))
    return;

  g_test_message ("QEMU said on stderr: %s", run.errors);
  g_assert_true (g_subprocess_get_if_exited (fixture->qemu));
  g_assert_cmpint (g_subprocess_get_exit_status (fixture->qemu), ==, 1);
  g_assert_nonnull (strstr (run.errors, "-netdev"));
  g_assert_nonnull (strstr (run.errors, "Invalid parameter"));
  g_assert_null (strstr (run.output, "\"QMP\""));

  qemu_run_clear (&run);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/user-network-qemu/netdev-accepted", Fixture, NULL,
              fixture_set_up, test_netdev_accepted, fixture_tear_down);
  g_test_add ("/user-network-qemu/netdev-unescaped-refused", Fixture, NULL,
              fixture_set_up, test_netdev_unescaped_refused, fixture_tear_down);

  return g_test_run ();
}
