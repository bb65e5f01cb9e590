/* qvm-request-headers-private.h: checks on guest request headers that
 * libsoup would otherwise act on unguarded (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a Range header the metadata service lets through: exactly one
 * byte range, "bytes=FIRST-LAST", "bytes=FIRST-" or "bytes=-SUFFIX", with
 * decimal numbers of at most 18 digits, FIRST <= LAST and SUFFIX > 0. As
 * in a SoupRange, *@last is -1 for an open end and a suffix gives
 * *@first = -SUFFIX. FALSE for anything else: several ranges above all
 * (libsoup builds one in-memory copy of the body per range). */
gboolean  qvm_request_parse_range          (const char *value,
                                            gint64     *first,
                                            gint64     *last);

/* The Range to give libsoup for a plain @value once the answer's body is
 * known to hold @length (> 0) bytes: libsoup 3.2 does not clamp a range
 * to the body, so the end is cut to it, and a form whose meaning does not
 * depend on the length ("bytes=FIRST-") is used wherever it can be. NULL
 * when @value is not plain. */
char     *qvm_request_range_fit            (const char *value,
                                            gint64      length);

/* Parses a Content-Length value: decimal digits, with optional spaces or
 * tabs around them. A number too large for 64 bits gives G_MAXUINT64.
 * FALSE for anything else: a sign, a list, hex, an empty value. */
gboolean  qvm_request_parse_content_length (const char *value,
                                            guint64    *length);

G_END_DECLS
