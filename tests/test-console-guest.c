/* test-console-guest.c: the machine's serial console with the test guest
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-console-guest [GTest options] ARCHIVE
 *
 * The payload starts the guest's shells (/bin/qvm-shells: one on ttyS0,
 * prompt "qvm-sh$ "), asks /ready and sleeps. From /ready on, the test
 * talks to the shell through QvmConsole as a person at a serial terminal
 * would: it waits for the prompt, writes a command and waits for its
 * answer, then kills the machine. The checks come after the clean-up (see
 * guest-util.h).
 */

#include <string.h>

#include "guest-util.h"

static const char shell_payload[] =
  "qvm-shells\n"
  "wget -q -O - http://169.254.169.254/ready > /dev/null\n"
  "sleep 600\n";

typedef struct {
  GuestVm          *vm;
  QvmConsole       *console;
  QvmConsoleStream *stream;       /* opened at /ready, from the oldest byte */
  gboolean          asked;
  char             *prompt;
  char             *answer;
  guint64           answer_offset;
  GError           *error;
  GPtrArray        *lines;        /* from "line", after /ready */
} Session;

static void
line_cb (QvmConsole *console,
         const char *text,
         GBytes     *bytes,
         gpointer    data)
{
  Session *session = data;

  g_ptr_array_add (session->lines, g_strdup (text));
}

static void
answer_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Session *session = data;

  session->answer = qvm_console_wait_for_finish (QVM_CONSOLE (source), result,
                                                 &session->answer_offset, &session->error);
  qvm_virtual_machine_kill (session->vm->machine);
}

static void
prompt_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Session *session = data;

  session->prompt = qvm_console_wait_for_finish (QVM_CONSOLE (source), result, NULL,
                                                 &session->error);
  if (session->prompt == NULL ||
      !qvm_console_write (session->console, "echo hello-$((6*7))\n", -1, &session->error))
    {
      qvm_virtual_machine_kill (session->vm->machine);
      return;
    }
  /* The shell echoes the command line as typed: only its output has the
   * product. */
  qvm_console_wait_for_async (session->console, NULL, "hello-42", 0, NULL, answer_cb, session);
}

static char *
ready_answer (GuestVm    *vm,
              const char *method,
              const char *path,
              gpointer    user_data)
{
  Session *session = user_data;

  if (!g_str_equal (path, "/ready") || session->asked)
    return NULL;
  session->asked = TRUE;

  /* The console has read everything since QEMU started. */
  session->console = g_object_ref (qvm_virtual_machine_get_console (vm->machine));
  session->stream = qvm_console_open_stream (session->console, QVM_CONSOLE_FROM_OLDEST);
  g_signal_connect (session->console, "line", G_CALLBACK (line_cb), session);
  qvm_console_wait_for_async (session->console, NULL, "qvm-sh\\$ ", 0, NULL, prompt_cb, session);
  return g_strdup ("ready\n");
}

static char *
read_all (QvmConsoleStream *stream)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  char buffer[4096];
  gssize n;

  /* The console is closed: the stream ends after what it held. */
  while ((n = g_input_stream_read (input, buffer, sizeof buffer, NULL, &error)) > 0)
    g_string_append_len (text, buffer, n);
  g_assert_no_error (error);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_console_shell (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "console", shell_payload);
  Session session = { vm, NULL, NULL, FALSE, NULL, NULL, 0, NULL,
                      g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *everything = NULL;
  gboolean line_seen = FALSE;

  vm->answer = ready_answer;
  vm->answer_data = &session;
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  if (session.error != NULL || session.answer == NULL)
    guest_vm_print_logs (vm);
  g_assert_true (session.asked);
  g_assert_no_error (session.error);
  g_assert_cmpstr (session.prompt, ==, "qvm-sh$ ");
  g_assert_cmpstr (session.answer, ==, "hello-42");

  /* The console and every reader end with the machine. */
  g_assert_true (qvm_console_is_closed (session.console));
  everything = read_all (session.stream);
  g_assert_cmpuint (qvm_console_stream_get_bytes_lost (session.stream), ==, 0);
  g_assert_nonnull (strstr (everything, "qvm-guest: init started"));
  g_assert_nonnull (strstr (everything, "echo hello-$((6*7))"));
  g_assert_true (strncmp (everything + session.answer_offset, "hello-42", 8) == 0);
  for (guint i = 0; i < session.lines->len; i++)
    if (g_str_equal (g_ptr_array_index (session.lines, i), "hello-42"))
      line_seen = TRUE;
  g_assert_true (line_seen);

  /* The lines went to the log too, tagged with the machine's id. */
  g_assert_nonnull (strstr (vm->log->str, ": console: hello-42\n"));

  g_ptr_array_unref (session.lines);
  g_clear_object (&session.stream);
  g_clear_object (&session.console);
  g_free (session.prompt);
  g_free (session.answer);
}

int
main (int argc, char *argv[])
{
  if (!guest_util_init_main (&argc, &argv))
    return 2;

  g_test_add_func ("/guest/console/shell", test_console_shell);

  return g_test_run ();
}
