/* qvm-i18n-private.h: gettext set-up shared by the library's sources
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib/gi18n-lib.h>

G_BEGIN_DECLS

/* Binds the qvm-glib gettext domain once; every function that builds a
 * user-facing message through _() can rely on it having run, because the
 * library calls it from its class and quark initialisers. */
void qvm_i18n_init (void);

G_END_DECLS
