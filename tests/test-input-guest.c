/* test-input-guest.c: typing on the test guest's keyboard (suite 'guest')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-input-guest [GTest options] ARCHIVE
 *
 * The payload starts the guest's shells (qvm-shells: one on tty1, which
 * reads the keyboard) and asks for /ready; the test then types a command
 * line on the keyboard and presses Return. The guest's shell runs it: the
 * command fetches a path made of what was typed (so a lost or doubled key
 * shows in the path the handler sees) and writes a file the payload waits
 * for; its answer is the result.
 */

#include <string.h>

#include "guest-util.h"
#include "testutil.h"

/* 200 characters typed in all: letters of both cases, digits and the
 * punctuation a shell line needs; $((6*7)) shows that the shell, not an
 * echo, read it. */
#define PATTERN "AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789_aBcDeFgHiJkLmNoPqRsTuVwXyZ-9876543210.x" \
                "/qwertyuiop-ASDFGHJKL_zxcvbnm.QWERTY"
#define TYPED_PATH "/typed/$((6*7))/" PATTERN
#define SEEN_PATH "/typed/42/" PATTERN
#define COMMAND "wget -q -O /dev/null http://169.254.169.254" TYPED_PATH "; echo typed-ok > /tmp/typed"

static const char typing_payload[] =
  "qvm-shells\n"
  "sleep 1\n"
  "wget -q -O /dev/null http://169.254.169.254/ready\n"
  "for i in $(seq 900); do [ -e /tmp/typed ] && break; sleep 0.2; done\n"
  "cat /tmp/typed\n";

typedef struct {
  gboolean started;
  gboolean typed;
  gboolean pressed_return;
  gint64 began;
  gint64 ended;
  GError *error;
} Typing;

static void
return_pressed (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Typing *typing = data;

  typing->pressed_return = qvm_virtual_machine_send_keys_finish (QVM_VIRTUAL_MACHINE (source), result,
                                                                 &typing->error);
}

static void
text_typed (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Typing *typing = data;

  typing->ended = g_get_monotonic_time ();
  typing->typed = qvm_virtual_machine_type_text_finish (QVM_VIRTUAL_MACHINE (source), result,
                                                        &typing->error);
  if (typing->typed)
    qvm_virtual_machine_send_keys_async (QVM_VIRTUAL_MACHINE (source), "ret", NULL,
                                         return_pressed, typing);
}

static char *
typing_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  Typing *typing = user_data;

  if (g_str_equal (path, "/ready") && !typing->started)
    {
      typing->started = TRUE;
      typing->began = g_get_monotonic_time ();
      qvm_virtual_machine_type_text_async (vm->machine, COMMAND, 0, NULL, text_typed, typing);
      return g_strdup ("typing\n");
    }
  if (g_str_equal (path, SEEN_PATH))
    return g_strdup ("seen\n");
  return NULL;
}

/* What the keyboard typed is what the guest's shell read: every key once,
 * at 30 keys a second, with the machine's en-us layout. */
static void
test_type_command (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "typing", typing_payload);
  Typing typing = { FALSE, };
  guint characters = strlen (COMMAND);
  double seconds;

  g_assert_cmpuint (characters, >=, 200);
  vm->answer = typing_answer;
  vm->answer_data = &typing;
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  g_assert_no_error (typing.error);
  g_assert_true (typing.typed);
  g_assert_true (typing.pressed_return);
  seconds = (typing.ended - typing.began) / (double) G_USEC_PER_SEC;
  g_test_message ("typed %u characters in %.2f s: %.1f keys/s", characters, seconds, characters / seconds);
  g_assert_cmpuint (guest_vm_count_requests (vm, "GET " SEEN_PATH), ==, 1);
  guest_vm_assert_result (vm, 0, "typed-ok\n");
}

/* ---- The screen ---------------------------------------------------------- */

static const char screen_payload[] =
  "qvm-shells\n"
  "sleep 1\n"
  "wget -q -O /dev/null http://169.254.169.254/ready\n"
  "for i in $(seq 900); do [ -e /tmp/screen-done ] && break; sleep 0.2; done\n"
  "echo screen-ok\n";

#define MARKER_COMMAND "clear; echo qvm-needle-marker\n"
#define MARKER_WIDTH (9 * 17) /* "qvm-needle-marker" in the 9×16 text font */

typedef struct {
  gboolean done;
  gboolean absent_timed_out;
  double similarity;
  int x;
  int y;
  GError *error;
} ScreenRun;

/* Inside the handler of /ready, with the guest's wget waiting: blocking
 * calls, each a nested iteration of the machine's context. */
static gboolean
run_screen_steps (QvmVirtualMachine *vm,
                  ScreenRun         *run)
{
  g_autoptr(GdkPixbuf) reference = NULL;
  g_autoptr(QvmNeedle) needle = NULL;
  g_autoptr(GError) absent = NULL;

  /* The reference: the marker on the first line of a cleared screen, once
   * the screen is still (the cursor blinks on the line below). */
  if (!qvm_virtual_machine_type_text (vm, MARKER_COMMAND, 0, NULL, &run->error) ||
      !qvm_virtual_machine_wait_for_still_screen (vm, 1000, 40.0, 60 * 1000, NULL, &run->error))
    return FALSE;
  reference = qvm_virtual_machine_screenshot (vm, NULL, &run->error);
  if (reference == NULL)
    return FALSE;
  needle = qvm_needle_new (reference, QVM_NEEDLE_DEFAULT_MATCH_LEVEL, QVM_NEEDLE_DEFAULT_MARGIN);
  if (!qvm_needle_add_area (needle, 0, 0, MARKER_WIDTH, 16, QVM_SCREEN_AREA_MATCH, &run->error))
    return FALSE;

  /* Cleared: the needle is not on the screen. */
  if (!qvm_virtual_machine_type_text (vm, "clear\n", 0, NULL, &run->error))
    return FALSE;
  g_usleep (G_USEC_PER_SEC / 2);
  run->absent_timed_out = !qvm_virtual_machine_wait_for_screen (vm, needle, 1500, NULL, NULL, NULL,
                                                                NULL, &absent) &&
                          g_error_matches (absent, QVM_ERROR, QVM_ERROR_TIMED_OUT);

  /* Typed again: found where it was. */
  if (!qvm_virtual_machine_type_text (vm, MARKER_COMMAND, 0, NULL, &run->error) ||
      !qvm_virtual_machine_wait_for_screen (vm, needle, 60 * 1000, &run->similarity, &run->x, &run->y,
                                            NULL, &run->error))
    return FALSE;
  return qvm_virtual_machine_type_text (vm, "touch /tmp/screen-done\n", 0, NULL, &run->error);
}

static char *
screen_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  ScreenRun *run = user_data;

  if (!g_str_equal (path, "/ready") || run->done)
    return NULL;
  run->done = TRUE;
  run_screen_steps (vm->machine, run);
  return g_strdup ("seen\n");
}

/* What the guest's shell prints on tty1 is on the screen: a needle cut
 * from one screenshot is not found on a cleared screen and found again
 * once the same text is typed again. */
static void
test_screen (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "screen", screen_payload);
  ScreenRun run = { FALSE, };

  vm->answer = screen_answer;
  vm->answer_data = &run;
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  g_assert_no_error (run.error);
  g_assert_true (run.done);
  g_assert_true (run.absent_timed_out);
  g_test_message ("found at %d,%d, similarity %.3f", run.x, run.y, run.similarity);
  g_assert_cmpfloat (run.similarity, >=, QVM_NEEDLE_DEFAULT_MATCH_LEVEL);
  g_assert_cmpint (run.x, ==, 0);
  g_assert_cmpint (run.y, ==, 0);
  guest_vm_assert_result (vm, 0, "screen-ok\n");
}

/* Before anything is sent: a key that does not exist, a character the
 * layout cannot type. */
static void
test_refused_before_sending (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "refused", "exit 0\n");
  g_autoptr(GError) error = NULL;

  guest_test_run (test);
  g_assert_false (qvm_virtual_machine_send_keys (vm->machine, "ctrl-nokey", NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "nokey"));
  g_clear_error (&error);
  g_assert_false (qvm_virtual_machine_type_text (vm->machine, "straße", 0, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "“ß”"));
  g_clear_error (&error);
  /* The machine is done: typing is refused, not lost. */
  g_assert_false (qvm_virtual_machine_type_text (vm->machine, "ls\n", 0, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);
}

int
main (int argc, char *argv[])
{
  if (!guest_util_init_main (&argc, &argv))
    return 2;

  g_test_add_func ("/guest/input/type-command", test_type_command);
  g_test_add_func ("/guest/input/screen", test_screen);
  g_test_add_func ("/guest/input/refused-before-sending", test_refused_before_sending);

  return g_test_run ();
}
