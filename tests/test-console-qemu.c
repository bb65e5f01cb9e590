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
#define TIMEOUT_S 60

typedef struct {
  char              *folder;
  char              *socket_folder;
  QvmFolderImage    *image;
  QvmUserNetwork    *network;
  QvmVirtualMachine *vm;
  guint              done_count;
  gboolean           closed_at_done;
} Fixture;

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  Fixture *fixture = data;

  fixture->done_count++;
  fixture->closed_at_done = qvm_console_is_closed (qvm_virtual_machine_get_console (vm));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(GError) error = NULL;

  testutil_make_vm_parts ("qvm-test-console-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);
  fixture->vm = qvm_virtual_machine_new (options, QVM_IMAGE (fixture->image),
                                         QVM_NETWORK (fixture->network), fixture->socket_folder,
                                         NULL, NULL, &error);
  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (fixture->vm, testutil_accel ());
  qvm_virtual_machine_set_qemu_binary (fixture->vm, testutil_qemu_binary ());
  g_signal_connect (fixture->vm, "done", G_CALLBACK (on_done), fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
  g_clear_object (&fixture->vm);
  testutil_free_vm_parts (&fixture->folder, &fixture->socket_folder, &fixture->image,
                          &fixture->network);
}

static void
test_console_lifecycle (Fixture       *fixture,
                        gconstpointer  data)
{
  QvmConsole *console = qvm_virtual_machine_get_console (fixture->vm);
  g_autoptr(QvmConsoleStream) stream = qvm_console_open_stream (console, QVM_CONSOLE_FROM_OLDEST);
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  g_autoptr(GError) error = NULL;
  TestutilWait waited = { FALSE, NULL };
  gsize memory_idle = qvm_console_get_memory_used (console);
  char buffer[64];
  gssize n;
  char *text;

  /* Written before QEMU runs: queued for the guest's UART. */
  g_assert_true (qvm_console_write (console, "queued before the start\n", -1, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_console_is_closed (console));

  g_assert_true (testutil_start_vm (fixture->vm, TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_virtual_machine_get_console (fixture->vm) == console);

  /* QEMU takes what is written (into the UART's receive buffer, which
   * nobody in the guest reads): the queue empties. */
  g_assert_true (qvm_console_write (console, "x", 1, &error));
  g_assert_cmpuint (qvm_console_get_memory_used (console), >, memory_idle);
  while (qvm_console_get_memory_used (console) > memory_idle)
    g_main_context_iteration (NULL, TRUE);

  /* A wait that cannot match ends with the machine's end and its error. */
  qvm_console_wait_for_async (console, "never shown", 0, NULL, testutil_on_wait_done, &waited);
  qvm_virtual_machine_kill (fixture->vm);
  testutil_iterate_until (NULL, &waited.done, TIMEOUT_S);
  text = qvm_console_wait_for_finish (console, waited.result, NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_KILLED);
  g_assert_null (text);
  g_clear_error (&error);
  g_clear_object (&waited.result);

  testutil_iterate_until_nonzero (NULL, &fixture->done_count, TIMEOUT_S);
  g_assert_true (fixture->closed_at_done);
  g_assert_true (qvm_console_is_closed (console));

  /* SeaBIOS wrote nothing to the serial port: the stream just ends. */
  n = g_input_stream_read (input, buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  g_assert_false (qvm_console_write (console, "late", -1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  testutil_kill_children_on_abort ();

  g_test_add ("/console-qemu/lifecycle", Fixture, NULL, fixture_set_up, test_console_lifecycle,
              fixture_tear_down);

  return g_test_run ();
}
