/* test-faults-guest.c: the test guest against a stuck metadata handler
 * (suite 'guest')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The handler pauses one request and never answers it: the guest gives
 * up on its side, its next request is served, it powers off, and the
 * network is released with the message still paused (no crash, no
 * leak, nothing left: guest-util checks at "done").
 */

#include <string.h>

#include "guest-util.h"

static const char stuck_payload[] =
  /* Not the shell's report of the killed wget ("Terminated"). */
  "exec 2>/dev/null\n"
  "if timeout 5 wget -q -O - http://169.254.169.254/never; then echo answered; "
  "else echo gave up; fi\n"
  "wget -q -O - http://169.254.169.254/ok\n"
  "exit 0\n";

static gboolean
take_never (GuestVm           *vm,
            SoupServerMessage *message,
            const char        *path,
            gpointer           user_data)
{
  GPtrArray *paused = user_data;

  if (!g_str_equal (path, "/never"))
    return FALSE;
  soup_server_message_pause (message);
  g_ptr_array_add (paused, g_object_ref (message));
  return TRUE;
}

static char *
answer_ok (GuestVm    *vm,
           const char *method,
           const char *path,
           gpointer    user_data)
{
  return g_str_equal (path, "/ok") ? g_strdup ("served\n") : NULL;
}

static void
test_handler_never_answers (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  g_autoptr(GPtrArray) paused = g_ptr_array_new_with_free_func (g_object_unref);
  GuestVm *vm = guest_test_add_vm (test, "stuck", stuck_payload);

  vm->take = take_never;
  vm->take_data = paused;
  vm->answer = answer_ok;
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  guest_vm_assert_result (vm, 0, "gave up\nserved\n");
  g_assert_cmpuint (guest_vm_count_requests (vm, "GET /never"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (vm, "GET /ok"), ==, 1);
  /* Still paused when the machine ended and the network was released. */
  g_assert_cmpuint (paused->len, ==, 1);
}

int
main (int argc, char *argv[])
{
  if (!guest_util_init_main (&argc, &argv))
    return 2;

  g_test_add_func ("/guest/faults/handler-never-answers", test_handler_never_answers);

  return g_test_run ();
}
