/* bench-warm.c: a boot against a restore of the saved state
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures. Boots the test guest (ARCHIVE, from
 * tests/guest) until it asks its metadata service for /payload, which is
 * the point a task would start at, saves its state there and ends the
 * machine; then starts --runs machines of the same image from that state.
 * Reports the boot (start until the guest asks for /payload), the save,
 * the size of the state file, and the median restore (start until the
 * guest runs again), side by side.
 *
 * Run: QVM_GUESTFWD=_build/tools/qvm-guestfwd _build/bench/bench-warm ARCHIVE [--runs N]
 */

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "testutil.h"

#define TIMEOUT_S 600

typedef struct {
  gboolean asked;
} Boot;

static void
answer_payload (SoupServer        *server,
                SoupServerMessage *message,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  Boot *boot = user_data;

  if (g_str_equal (path, "/payload"))
    {
      boot->asked = TRUE;
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_STATIC, "sleep 600\n", 10);
      soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
    }
  else
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
}

static QvmVirtualMachine *
new_machine (QvmImageStore *store,
             GFile         *archive,
             const char    *folder,
             Boot          *boot)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImage) instance = qvm_image_store_instance (store, NULL, archive, NULL, &error);
  g_autoptr(QvmUserNetwork) network = NULL;
  QvmVirtualMachine *vm;

  g_assert_no_error (error);
  network = qvm_user_network_new (folder, &error);
  g_assert_no_error (error);
  vm = qvm_virtual_machine_new_simple (instance, QVM_NETWORK (network), folder, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  qvm_virtual_machine_set_http_handler (vm, answer_payload, boot, NULL);
  return vm;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *store_folder = NULL;
  g_autofree char *state_path = NULL;
  g_autoptr(GFile) archive = NULL;
  g_autoptr(GFile) state = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GArray) restores = g_array_new (FALSE, FALSE, sizeof (double));
  Boot boot = { FALSE };
  guint runs = 5;
  gint64 began;
  double boot_s, save_s, restore_s;
  GStatBuf st;

  if (argc < 2)
    {
      g_printerr ("usage: bench-warm ARCHIVE [--runs N]\n");
      return 2;
    }
  if (argc == 4 && g_str_equal (argv[2], "--runs"))
    runs = MAX (1, (guint) atoi (argv[3]));

  folder = g_dir_make_tmp ("qvm-bench-warm-XXXXXX", &error);
  g_assert_no_error (error);
  store_folder = g_build_filename (folder, "store", NULL);
  state_path = g_build_filename (folder, "state.zst", NULL);
  store = qvm_image_store_new (store_folder, &error);
  g_assert_no_error (error);
  archive = g_file_new_for_commandline_arg (argv[1]);
  state = g_file_new_for_path (state_path);

  /* The cold start, to the point where the guest wants its task. */
  vm = new_machine (store, archive, folder, &boot);
  began = g_get_monotonic_time ();
  g_assert_true (qvm_virtual_machine_start (vm, NULL, &error));
  g_assert_no_error (error);
  testutil_iterate_until (NULL, &boot.asked, TIMEOUT_S);
  boot_s = (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC;
  began = g_get_monotonic_time ();
  g_assert_true (qvm_virtual_machine_save (vm, state, QVM_SAVE_FLAGS_END, NULL, &error));
  g_assert_no_error (error);
  save_s = (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC;
  g_assert_true (qvm_virtual_machine_wait (vm, TIMEOUT_S * 1000, NULL, NULL));
  g_clear_object (&vm);
  g_assert_cmpint (g_stat (state_path, &st), ==, 0);

  for (guint i = 0; i < runs; i++)
    {
      double seconds;

      vm = new_machine (store, archive, folder, &boot);
      g_assert_true (qvm_virtual_machine_set_restore_file (vm, state, &error));
      began = g_get_monotonic_time ();
      g_assert_true (qvm_virtual_machine_start (vm, NULL, &error));
      g_assert_no_error (error);
      seconds = (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC;
      g_array_append_val (restores, seconds);
      qvm_virtual_machine_kill (vm);
      g_assert_true (qvm_virtual_machine_wait (vm, TIMEOUT_S * 1000, NULL, NULL));
      g_clear_object (&vm);
    }
  restore_s = testutil_median (restores);

  g_print ("test guest, accel %s:\n", g_enum_get_value (g_type_class_peek (QVM_TYPE_ACCEL),
                                                        testutil_accel ())->value_nick);
  g_print ("  boot to the first metadata request: %7.3f s\n", boot_s);
  g_print ("  save there (stop, migrate, zstd):    %7.3f s, %" G_GINT64_FORMAT " bytes on disk\n",
           save_s, (gint64) st.st_size);
  g_print ("  restore to running, median of %u:     %7.3f s (%.1f%% of the boot, %.0f times faster)\n",
           runs, restore_s,
           100 * restore_s / boot_s,
           boot_s / restore_s);

  g_clear_object (&store);
  testutil_remove_tree (folder);
  return 0;
}
