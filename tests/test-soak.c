/* test-soak.c: many machines in one process (suite 'soak', not run by default)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A long-lived service starts and ends machines for days: whatever one
 * run leaks adds up. This starts and kills N machines without a guest OS
 * (QVM_SOAK_CYCLES, 1,000 by default), then boots the test guest M times
 * (QVM_SOAK_GUEST_RUNS, 100 by default), and checks that the process's
 * open descriptors, its resident memory and the files in its temporary
 * folder stay flat once warmed up. The figures are printed.
 *
 *   meson test -C _build --suite soak
 *   QVM_SOAK_CYCLES=100 QVM_SOAK_GUEST_RUNS=3 meson test -C _build --suite soak
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "guest-util.h"
#include "qvm.h"
#include "testutil.h"

#define TIMEOUT_S 60

/* What resident memory may grow by after the warm-up: allocator
 * fragmentation and GLib's caches, not a leak per run (a leak of even a
 * few KiB per run passes this well before 1,000 runs). */
#define MAX_RSS_GROWTH (8 * 1024 * 1024)

static char *soak_tmp;

static guint
env_count (const char *name,
           guint       fallback)
{
  const char *value = g_getenv (name);
  guint64 count;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &count, NULL))
    return fallback;
  return (guint) count;
}

static guint64
resident_bytes (void)
{
  g_autofree char *statm = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  fields = g_strsplit (statm, " ", -1);
  g_assert_cmpuint (g_strv_length (fields), >=, 2);
  return g_ascii_strtoull (fields[1], NULL, 10) * (guint64) sysconf (_SC_PAGESIZE);
}

typedef struct {
  guint   fds;
  guint64 rss;
  guint   tmp_entries;
} Figures;

static void
measure (Figures *figures)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  figures->fds = testutil_count_fds ();
  figures->rss = resident_bytes ();
  figures->tmp_entries = testutil_count_entries (soak_tmp);
}

static void
report (const char    *what,
        guint          runs,
        gdouble        seconds,
        const Figures *before,
        const Figures *after)
{
  g_test_message ("%s: %u runs in %.1f s (%.2f runs/s); fds %u -> %u; "
                  "RSS %.1f MiB -> %.1f MiB (%+.0f KiB); files in TMPDIR %u -> %u",
                  what, runs, seconds, runs / seconds, before->fds, after->fds,
                  before->rss / 1048576.0, after->rss / 1048576.0,
                  ((gdouble) after->rss - (gdouble) before->rss) / 1024.0,
                  before->tmp_entries, after->tmp_entries);
}

static void
assert_flat (const Figures *before,
             const Figures *after)
{
  g_assert_cmpuint (after->fds, <=, before->fds);
  g_assert_cmpuint (after->tmp_entries, <=, before->tmp_entries);
  g_assert_cmpuint (after->rss, <=, before->rss + MAX_RSS_GROWTH);
  g_assert_cmpuint (testutil_count_children (), ==, 0);
}

/* ---- Start/kill cycles of a machine without an OS ---------------------------- */

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  (*(guint *) data)++;
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

/* One machine, from its own folder: started, killed, released. */
static void
one_cycle (const char *folder)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autofree char *image_folder = g_build_filename (folder, "image", NULL);
  g_autofree char *network_folder = g_build_filename (folder, "network", NULL);
  g_autofree char *socket_folder = g_build_filename (folder, "sockets", NULL);
  gboolean started = FALSE;
  guint done = 0;

  image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024, machine, &error);
  g_assert_no_error (error);
  network = qvm_user_network_new (network_folder, &error);
  g_assert_no_error (error);
  vm = qvm_virtual_machine_new (options, QVM_IMAGE (image), QVM_NETWORK (network),
                                socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_signal_connect (vm, "done", G_CALLBACK (on_done), &done);

  qvm_virtual_machine_start_async (vm, NULL, on_started, &started);
  testutil_iterate_until (NULL, &started, TIMEOUT_S);
  g_assert_cmpint (qvm_virtual_machine_get_state (vm), ==, QVM_VM_STATE_RUNNING);
  qvm_virtual_machine_kill (vm);
  testutil_iterate_until_nonzero (NULL, &done, TIMEOUT_S);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (done, ==, 1);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (vm), ==, QVM_VM_DONE_REASON_KILLED);
  g_assert_cmpuint (testutil_count_entries (socket_folder), ==, 0);

  g_clear_object (&vm);
  g_clear_object (&network);
  qvm_folder_image_delete (image, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (testutil_count_entries (network_folder), ==, 0);
}

static void
test_cycles (void)
{
  guint cycles = env_count ("QVM_SOAK_CYCLES", 1000);
  guint warm_up = MIN (MAX (cycles / 10, 5), cycles);
  g_autofree char *folder = g_build_filename (soak_tmp, "cycles", NULL);
  g_autofree char *network_folder = g_build_filename (folder, "network", NULL);
  g_autofree char *socket_folder = g_build_filename (folder, "sockets", NULL);
  Figures before, after;
  gint64 started_at;

  if (cycles == 0)
    {
      g_test_skip ("QVM_SOAK_CYCLES=0");
      return;
    }
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (network_folder, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (socket_folder, 0700), ==, 0);

  for (guint i = 0; i < warm_up; i++)
    one_cycle (folder);
  measure (&before);

  started_at = g_get_monotonic_time ();
  for (guint i = warm_up; i < cycles; i++)
    one_cycle (folder);
  measure (&after);

  report ("start/kill cycles", cycles - warm_up,
          (g_get_monotonic_time () - started_at) / (gdouble) G_USEC_PER_SEC, &before, &after);
  assert_flat (&before, &after);
  g_assert_cmpuint (testutil_count_entries (folder), ==, 2);
  g_rmdir (network_folder);
  g_rmdir (socket_folder);
  g_rmdir (folder);
}

/* ---- Guest runs ----------------------------------------------------------------- */

static const char guest_payload[] =
  "echo soak $(uname -r)\n"
  "exit 3\n";

static void
one_guest_run (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "soak", guest_payload);

  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);
  g_assert_nonnull (vm->result_body);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (vm->result_body, NULL), "soak "));
  g_assert_cmpstr (vm->result_status, ==, "3");
  g_assert_cmpint (vm->done_reason, ==, QVM_VM_DONE_REASON_POWEROFF);
  g_assert_no_error (vm->done_error);
}

static void
test_guest_runs (void)
{
  guint runs = env_count ("QVM_SOAK_GUEST_RUNS", 100);
  /* The first runs start threads (GIO's and zstd's pools, each with a
   * malloc arena) that stay: RSS steps up once, at the third run here. */
  guint warm_up = MIN (runs, 3);
  Figures before, after;
  gint64 started_at;

  if (runs == 0)
    {
      g_test_skip ("QVM_SOAK_GUEST_RUNS=0");
      return;
    }
  if (guest_archive_path == NULL)
    {
      g_test_skip ("no test guest archive given");
      return;
    }

  for (guint i = 0; i < warm_up; i++)
    one_guest_run ();
  measure (&before);

  started_at = g_get_monotonic_time ();
  for (guint i = warm_up; i < runs; i++)
    {
      one_guest_run ();
      /* Each run's figures: a step (a new thread's malloc arena) reads
       * differently from a leak. */
      measure (&after);
      g_test_message ("guest run %u: fds %u, RSS %.1f MiB", i + 1, after.fds, after.rss / 1048576.0);
    }
  measure (&after);

  report ("guest runs", runs - warm_up,
          (g_get_monotonic_time () - started_at) / (gdouble) G_USEC_PER_SEC, &before, &after);
  assert_flat (&before, &after);
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  testutil_kill_children_on_abort ();

  /* A temporary folder of its own, so that leftovers are counted and
   * not confused with other processes' files. */
  soak_tmp = g_build_filename (g_getenv ("TMPDIR") ? g_getenv ("TMPDIR") : "/tmp",
                               "qvm-soak-XXXXXX", NULL);
  /* Before anything asks GLib for the temporary folder: it is cached. */
  g_assert_nonnull (g_mkdtemp (soak_tmp));
  g_setenv ("TMPDIR", soak_tmp, TRUE);
  g_assert_cmpstr (g_get_tmp_dir (), ==, soak_tmp);

  if (argc == 2)
    {
      guest_archive_path = argv[1];
      guest_util_init ();
    }

  g_test_add_func ("/soak/cycles", test_cycles);
  g_test_add_func ("/soak/guest-runs", test_guest_runs);

  status = g_test_run ();
  if (testutil_count_entries (soak_tmp) == 0)
    g_rmdir (soak_tmp);
  else
    g_printerr ("# left in %s\n", soak_tmp);
  g_free (soak_tmp);
  return status;
}
