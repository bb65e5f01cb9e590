/* test-console-qemu.c: a machine's QvmConsole with the real QEMU
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The blank disk boots nothing that writes to the serial port, so this
 * checks what QEMU decides: that it takes the console's socket, takes what
 * is written to the guest's UART, and that the machine's end closes the
 * console with its error, before "done" is heard. The guest suite
 * (test-console-guest.c) reads real output.
 */

#include "config.h"

#include "qvm.h"
#include "qvm-console-private.h"
#include "testutil.h"

/* A guard against hangs, not a timing assertion. */
#define GUARD_S 60

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  /* The console is closed before "done" is heard. */
  *(guint *) data = qvm_console_is_closed (qvm_virtual_machine_get_console (vm)) ? 1 : 2;
}

static void
test_console_lifecycle (void)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(QvmConsoleStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *sockets = NULL;
  QvmFolderImage *image = NULL;
  QvmUserNetwork *network = NULL;
  TestutilWait waited = { FALSE, NULL };
  guint done = 0;
  QvmConsole *console;
  gsize memory_idle;
  char buffer[64];
  char *text;

  testutil_make_vm_parts ("qvm-test-console-XXXXXX", &folder, &sockets, &image, &network);
  vm = qvm_virtual_machine_new (options, QVM_IMAGE (image), QVM_NETWORK (network), sockets,
                                NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, testutil_accel ());
  qvm_virtual_machine_set_qemu_binary (vm, testutil_qemu_binary ());
  g_signal_connect (vm, "done", G_CALLBACK (on_done), &done);
  console = qvm_virtual_machine_get_console (vm);
  stream = qvm_console_open_stream (console, QVM_CONSOLE_FROM_OLDEST);
  memory_idle = qvm_console_get_memory_used (console);

  /* Written before QEMU runs: queued for the guest's UART. */
  g_assert_true (qvm_console_write (console, "queued before the start\n", -1, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_console_is_closed (console));

  g_assert_true (testutil_start_vm (vm, GUARD_S, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_virtual_machine_get_console (vm) == console);

  /* QEMU takes what is written (into the UART's receive buffer, which
   * nobody in the guest reads): the queue empties. */
  g_assert_true (qvm_console_write (console, "x", 1, &error));
  g_assert_cmpuint (qvm_console_get_memory_used (console), >, memory_idle);
  while (qvm_console_get_memory_used (console) > memory_idle)
    g_main_context_iteration (NULL, TRUE);

  /* A wait that cannot match ends with the machine's end and its error. */
  qvm_console_wait_for_async (console, NULL, "never shown", 0, NULL, testutil_on_wait_done,
                              &waited);
  qvm_virtual_machine_kill (vm);
  testutil_iterate_until (NULL, &waited.done, GUARD_S);
  text = qvm_console_wait_for_finish (console, waited.result, NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_null (text);
  g_clear_error (&error);
  g_clear_object (&waited.result);

  testutil_iterate_until_nonzero (NULL, &done, GUARD_S);
  g_assert_cmpuint (done, ==, 1);
  g_assert_true (qvm_console_is_closed (console));

  /* SeaBIOS wrote nothing to the serial port: the stream just ends. */
  g_assert_cmpint (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (stream)),
                                        buffer, sizeof buffer, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_false (qvm_console_write (console, "late", -1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  g_clear_object (&stream);
  g_clear_object (&vm);
  testutil_free_vm_parts (&folder, &sockets, &image, &network);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  testutil_kill_children_on_abort ();

  g_test_add_func ("/console-qemu/lifecycle", test_console_lifecycle);

  return g_test_run ();
}
