/* qvm-util-private.h: small helpers more than one file needs (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* g_set_str() of GLib 2.76 (the library needs 2.74): replaces the string
 * in *@str_pointer by a copy of @new_str (either may be NULL) and tells
 * whether it changed. Drop it for g_set_str() once 2.76 is the minimum. */
gboolean qvm_set_str (char       **str_pointer,
                      const char  *new_str);

/* The blocking form of an asynchronous call:
 *
 *   g_auto(QvmSync) sync = QVM_SYNC_INIT;
 *
 *   qvm_sync_begin (&sync, context);     makes @context thread-default
 *   foo_async (…, qvm_sync_store_result, &sync);
 *   return foo_finish (qvm_sync_end (&sync), error);
 *
 * qvm_sync_end() runs @context until foo is done and returns its result
 * (transfer none: it lives as long as the QvmSync). */
typedef struct {
  GMainContext *context;
  GAsyncResult *result;
} QvmSync;

#define QVM_SYNC_INIT { NULL, NULL }

void          qvm_sync_begin        (QvmSync      *sync,
                                     GMainContext *context);
void          qvm_sync_store_result (GObject      *source,
                                     GAsyncResult *result,
                                     gpointer      sync);
GAsyncResult *qvm_sync_end          (QvmSync      *sync);
void          qvm_sync_clear        (QvmSync      *sync);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QvmSync, qvm_sync_clear)

G_END_DECLS
