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

void
qvm_sync_begin (QvmSync      *sync,
                GMainContext *context)
{
  g_assert (sync->context == NULL);
  sync->context = g_main_context_ref (context);
  g_main_context_push_thread_default (context);
}

void
qvm_sync_store_result (GObject      *source,
                       GAsyncResult *result,
                       gpointer      sync)
{
  ((QvmSync *) sync)->result = g_object_ref (result);
}

GAsyncResult *
qvm_sync_end (QvmSync *sync)
{
  while (sync->result == NULL)
    g_main_context_iteration (sync->context, TRUE);
  g_main_context_pop_thread_default (sync->context);
  return sync->result;
}

void
qvm_sync_clear (QvmSync *sync)
{
  g_clear_pointer (&sync->context, g_main_context_unref);
  g_clear_object (&sync->result);
}
