/* test-owner-dies.c: a controlling process killed without teardown
 * (suite 'qemu')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A subprocess of the test starts a real QEMU (blank disk: SeaBIOS idles
 * for ever, as a guest that never powers off would), reports QEMU's pid
 * and SIGKILLs itself. QEMU must die with it, and the next network and
 * machine made in the same folders must remove what the dead owner left.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "testutil.h"

#define TIMEOUT_S 60
#define REPORT_ENV "QVM_TEST_OWNER_REPORT"

/* ---- The owner, in the subprocess ---------------------------------------- */

static void
run_owner_and_die (const char *report)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *socket_folder = NULL;
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GArray) pids = NULL;
  g_autofree char *text = NULL;

  testutil_make_vm_parts ("qvm-test-owner-XXXXXX", &folder, &socket_folder, &image, &network);
  vm = qvm_virtual_machine_new (options, QVM_IMAGE (image), QVM_NETWORK (network),
                                socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_assert_true (testutil_start_vm (vm, TIMEOUT_S, &error));
  g_assert_no_error (error);

  pids = testutil_find_children (qvm_machine_get_uuid (qvm_virtual_machine_get_machine (vm)));
  g_assert_cmpuint (pids->len, ==, 1);
  text = g_strdup_printf ("%s\n%d\n", folder, (int) g_array_index (pids, pid_t, 0));
  g_assert_true (g_file_set_contents (report, text, -1, NULL));

  kill (getpid (), SIGKILL);
}

/* ---- The test --------------------------------------------------------------- */

/* Whether @pid still runs (a zombie does not) after up to @timeout_s. */
static gboolean
still_runs_after (pid_t pid,
                  guint timeout_s)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *stat = NULL;
      const char *state;

      if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
        return FALSE;
      state = strrchr (stat, ')');
      if (state != NULL && state[1] == ' ' && state[2] == 'Z')
        return FALSE;
      g_usleep (50 * 1000);
    }
  return TRUE;
}

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  (*(guint *) data)++;
}

/* Starts (and ends) a machine with its sockets in @socket_folder: the
 * start is where a machine removes what dead ones left. */
static void
start_and_end_vm (const char     *folder,
                  const char     *socket_folder,
                  QvmUserNetwork *network)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image_folder = g_build_filename (folder, "image2", NULL);
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autoptr(QvmFolderImage) image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024,
                                                                machine, &error);
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  guint done_count = 0;

  g_assert_no_error (error);
  vm = qvm_virtual_machine_new (options, QVM_IMAGE (image), QVM_NETWORK (network),
                                socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (vm, "done", G_CALLBACK (on_done), &done_count);
  testutil_use_fake_qemu (vm, folder, "dies-at-once");
  g_assert_false (testutil_start_vm (vm, TIMEOUT_S, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
  testutil_iterate_until_nonzero (NULL, &done_count, TIMEOUT_S);
}

static void
test_owner_killed (void)
{
  g_autofree char *report = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *socket_folder = NULL;
  g_autofree char *network_folder = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(GError) error = NULL;
  gboolean qemu_runs;
  pid_t qemu;
  int fd;

  if (g_test_subprocess ())
    {
      run_owner_and_die (g_getenv (REPORT_ENV));
      return;
    }

  fd = g_file_open_tmp ("qvm-test-owner-report-XXXXXX", &report, &error);
  g_assert_no_error (error);
  close (fd);
  g_setenv (REPORT_ENV, report, TRUE);
  g_test_trap_subprocess (NULL, 2 * TIMEOUT_S * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_failed ();

  g_assert_true (g_file_get_contents (report, &text, NULL, NULL));
  g_unlink (report);
  lines = g_strsplit (text, "\n", 0);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  qemu = atoi (lines[1]);
  g_assert_cmpint (qemu, >, 1);

  qemu_runs = still_runs_after (qemu, 30);
  if (qemu_runs)
    kill (qemu, SIGKILL); /* leave nothing running, then fail */
  g_assert_false (qemu_runs);

  /* The dead owner's machine and network folders stay until a new owner
   * in the same place sweeps them. */
  socket_folder = g_build_filename (lines[0], "sockets", NULL);
  network_folder = g_build_filename (lines[0], "network", NULL);
  g_assert_cmpuint (testutil_count_entries (socket_folder), ==, 1);
  g_assert_cmpuint (testutil_count_entries (network_folder), ==, 1);

  network = qvm_user_network_new (network_folder, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (testutil_count_entries (network_folder), ==, 1); /* its own */
  start_and_end_vm (lines[0], socket_folder, network);
  g_assert_cmpuint (testutil_count_entries (socket_folder), ==, 0);
  g_clear_object (&network);
  g_assert_cmpuint (testutil_count_entries (network_folder), ==, 0);

  testutil_remove_tree (lines[0]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  testutil_kill_children_on_abort ();

  g_test_add_func ("/owner-dies/sigkill", test_owner_killed);

  return g_test_run ();
}
