/* qvm-error.c: the QVM_ERROR error domain
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-error.h"
#include "qvm-i18n-private.h"

/**
 * qvm_error_quark:
 *
 * The quark of the %QVM_ERROR error domain.
 *
 * Returns: the error domain quark
 */
GQuark
qvm_error_quark (void)
{
  /* Every error message of the library is built after the domain is looked
   * up, so this is the one place that guarantees translations are bound. */
  qvm_i18n_init ();
  return g_quark_from_static_string ("qvm-error-quark");
}
