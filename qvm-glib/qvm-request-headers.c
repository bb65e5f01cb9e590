/* qvm-request-headers.c: checks on guest request headers
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libsoup 3.2 parses Range and Content-Length with g_ascii_strtoull() and
 * trusts the result: "-1" or a number past 2^64 wraps, and a range list is
 * answered with one copy of the body per range (CVE-2025-32907). A guest
 * must reach none of that, so its headers are checked here first.
 */

#include "config.h"

#include <string.h>

#include "qvm-request-headers-private.h"

/* 18 decimal digits always fit a goffset, whatever libsoup adds to them. */
#define MAX_RANGE_DIGITS 18

/* Reads the decimal number at *@text (1 to MAX_RANGE_DIGITS digits) and
 * moves *@text past it. */
static gboolean
read_range_number (const char **text,
                   guint64     *number)
{
  const char *p = *text;
  guint n_digits = 0;

  *number = 0;
  while (g_ascii_isdigit (*p))
    {
      if (++n_digits > MAX_RANGE_DIGITS)
        return FALSE;
      *number = *number * 10 + (guint64) (*p - '0');
      p++;
    }

  *text = p;
  return n_digits > 0;
}

gboolean
qvm_request_parse_range (const char *value,
                         gint64     *first,
                         gint64     *last)
{
  const char *p = value;
  guint64 number;

  if (value == NULL || !g_str_has_prefix (value, "bytes="))
    return FALSE;
  p += strlen ("bytes=");

  /* "-SUFFIX": the last SUFFIX bytes. */
  if (*p == '-')
    {
      p++;
      if (!read_range_number (&p, &number) || *p != '\0' || number == 0)
        return FALSE;
      *first = -(gint64) number;
      *last = -1;
      return TRUE;
    }

  if (!read_range_number (&p, &number) || *p != '-')
    return FALSE;
  *first = (gint64) number;
  p++;

  /* "FIRST-": from FIRST to the end. */
  if (*p == '\0')
    {
      *last = -1;
      return TRUE;
    }

  if (!read_range_number (&p, &number) || *p != '\0' || (gint64) number < *first)
    return FALSE;
  *last = (gint64) number;
  return TRUE;
}

char *
qvm_request_range_fit (const char *value,
                       gint64      length)
{
  gint64 first;
  gint64 last;

  g_return_val_if_fail (length > 0, NULL);

  if (!qvm_request_parse_range (value, &first, &last))
    return NULL;

  /* A suffix longer than the body is the whole body. */
  if (first < 0)
    first = MAX (length + first, 0);

  /* libsoup answers 416 by itself for a FIRST at or past the end. */
  if (last < 0 || last >= length - 1)
    return g_strdup_printf ("bytes=%" G_GINT64_FORMAT "-", first);

  return g_strdup_printf ("bytes=%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, first, last);
}

gboolean
qvm_request_parse_content_length (const char *value,
                                  guint64    *length)
{
  const char *p = value;
  guint64 number = 0;
  gboolean any_digit = FALSE;

  g_return_val_if_fail (length != NULL, FALSE);

  if (value == NULL)
    return FALSE;

  while (*p == ' ' || *p == '\t')
    p++;
  for (; g_ascii_isdigit (*p); p++)
    {
      guint digit = (guint) (*p - '0');

      any_digit = TRUE;
      if (number > (G_MAXUINT64 - digit) / 10)
        number = G_MAXUINT64;
      else
        number = number * 10 + digit;
    }
  while (*p == ' ' || *p == '\t')
    p++;

  if (!any_digit || *p != '\0')
    return FALSE;

  *length = number;
  return TRUE;
}
