/* test-util.c: the small shared helpers (qvm-util-private.h)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <glib.h>

#include "qvm-util-private.h"

/* qvm_set_str() behaves as g_set_str() of GLib 2.76. */
static void
test_set_str (void)
{
  g_autofree char *str = NULL;
  char *before;

  g_assert_false (qvm_set_str (&str, NULL));
  g_assert_null (str);

  g_assert_true (qvm_set_str (&str, "tcg"));
  g_assert_cmpstr (str, ==, "tcg");

  /* an equal string changes nothing, not even the pointer */
  before = str;
  g_assert_false (qvm_set_str (&str, "tcg"));
  g_assert_true (str == before);
  g_assert_false (qvm_set_str (&str, str));
  g_assert_true (str == before);

  /* a part of the old string: copied before the old one is freed */
  g_assert_true (qvm_set_str (&str, "kvm:tcg"));
  g_assert_true (qvm_set_str (&str, str + 4));
  g_assert_cmpstr (str, ==, "tcg");

  g_assert_true (qvm_set_str (&str, NULL));
  g_assert_null (str);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/util/set-str", test_set_str);

  return g_test_run ();
}
