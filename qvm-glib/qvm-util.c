/* qvm-util.c: small helpers more than one file needs
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-util-private.h"

gboolean
qvm_set_str (char       **str_pointer,
             const char  *new_str)
{
  char *copy;

  if (*str_pointer == new_str || g_strcmp0 (*str_pointer, new_str) == 0)
    return FALSE;

  /* copied before the free: @new_str may point into the old string */
  copy = g_strdup (new_str);
  g_free (*str_pointer);
  *str_pointer = copy;
  return TRUE;
}
