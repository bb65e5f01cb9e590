/* bench-input.c: how fast QvmVirtualMachine types
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures. Types 200 characters (the line of
 * tests/test-input-guest.c, mixed case, digits, punctuation: a third need
 * Shift) on a running machine with a blank disk, --runs times at the
 * default rate and at the most the API allows (1000 keys/s), and reports
 * the median keys per second against the goal: os-autoinst's 30 keys/s.
 * That no key is lost or doubled at the default rate is checked on the
 * test guest's shell by tests/test-input-guest.c, not here.
 *
 * Run: QVM_GUESTFWD=_build/tools/qvm-guestfwd _build/bench/bench-input [--runs N]
 */

#include <stdlib.h>
#include <string.h>

#include "qvm.h"
#include "testutil.h"

#define TIMEOUT_S 600
#define TEXT "wget -q -O /dev/null http://169.254.169.254/typed/$((6*7))/AbCdEfGhIjKlMnOp" \
             "QrStUvWxYz-0123456789_aBcDeFgHiJkLmNoPqRsTuVwXyZ-9876543210.x/qwertyuiop-ASDFG" \
             "HJKL_zxcvbnm.QWERTY; echo typed-ok > /tmp/typed"

static double
keys_per_second (QvmVirtualMachine *vm,
                 guint              rate,
                 guint              runs)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < runs; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 began = g_get_monotonic_time ();
      double seconds, keys;

      g_assert_true (qvm_virtual_machine_type_text (vm, TEXT, rate, NULL, &error));
      g_assert_no_error (error);
      seconds = (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC;
      keys = strlen (TEXT) / seconds;
      g_array_append_val (samples, keys);
    }
  return testutil_median (samples);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *socket_folder = NULL;
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmVirtualMachine) vm = NULL;
  guint runs = 5;
  double standard, fastest;

  if (argc == 3 && g_str_equal (argv[1], "--runs"))
    runs = MAX (1, (guint) atoi (argv[2]));

  testutil_make_vm_parts ("qvm-bench-input-XXXXXX", &folder, &socket_folder, &image, &network);
  vm = qvm_virtual_machine_new_simple (QVM_IMAGE (image), QVM_NETWORK (network), socket_folder, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  g_assert_true (qvm_virtual_machine_start (vm, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (strlen (TEXT), ==, 200);
  standard = keys_per_second (vm, 0, runs);
  fastest = keys_per_second (vm, 1000, runs);
  g_print ("type_text, %u characters, median of %u runs:\n", (guint) strlen (TEXT), runs);
  g_print ("  default rate:  %6.1f keys/s (goal >= 30, os-autoinst's rate; ratio %.2f)\n",
           standard, standard / 30.0);
  g_print ("  at 1000 keys/s asked: %6.1f keys/s (the ceiling of one QMP round trip per key event)\n",
           fastest);

  qvm_virtual_machine_kill (vm);
  g_assert_true (qvm_virtual_machine_wait (vm, TIMEOUT_S * 1000, NULL, NULL));
  g_clear_object (&vm);
  g_clear_object (&network);
  qvm_folder_image_delete (image, NULL);
  testutil_remove_tree (folder);
  return 0;
}
