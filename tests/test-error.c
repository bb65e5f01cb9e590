/* test-error.c: the QVM_ERROR domain
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "qvm.h"

static void
test_error_domain (void)
{
  g_autoptr(GError) error = g_error_new_literal (QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "bad");

  g_assert_cmpstr (g_quark_to_string (QVM_ERROR), ==, "qvm-error-quark");
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
}

static void
test_error_enum_type (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (QVM_TYPE_ERROR);
  GEnumValue *value = g_enum_get_value (klass, QVM_ERROR_MALFORMED_PAYLOAD);

  g_assert_nonnull (value);
  g_assert_cmpstr (value->value_nick, ==, "malformed-payload");
  g_assert_cmpint (g_enum_get_value_by_nick (klass, "killed")->value, ==, QVM_ERROR_KILLED);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/error/domain", test_error_domain);
  g_test_add_func ("/error/enum-type", test_error_enum_type);

  return g_test_run ();
}
