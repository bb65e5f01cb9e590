/* qvm-util-private.h: small helpers more than one file needs (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* g_set_str() of GLib 2.76 (the library needs 2.74): replaces the string
 * in *@str_pointer by a copy of @new_str (either may be NULL) and tells
 * whether it changed. Drop it for g_set_str() once 2.76 is the minimum. */
gboolean qvm_set_str (char       **str_pointer,
                      const char  *new_str);

G_END_DECLS
