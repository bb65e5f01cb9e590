/* qvm-image-store.h: loads image archives once, hands out instances
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>

#include "qvm-image.h"
#include "qvm-version-macros.h"

G_BEGIN_DECLS

#define QVM_TYPE_IMAGE_STORE (qvm_image_store_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmImageStore, qvm_image_store, QVM, IMAGE_STORE, GObject)

QVM_AVAILABLE_IN_ALL
QvmImageStore *qvm_image_store_new             (const char           *folder,
                                                GError              **error);
QVM_AVAILABLE_IN_ALL
const char    *qvm_image_store_get_folder      (QvmImageStore        *store);
QVM_AVAILABLE_IN_ALL
guint64        qvm_image_store_get_max_size    (QvmImageStore        *store);
QVM_AVAILABLE_IN_ALL
void           qvm_image_store_set_max_size    (QvmImageStore        *store,
                                                guint64               max_size);
QVM_AVAILABLE_IN_ALL
guint64        qvm_image_store_get_max_data    (QvmImageStore        *store);
QVM_AVAILABLE_IN_ALL
void           qvm_image_store_set_max_data    (QvmImageStore        *store,
                                                guint64               max_data);
QVM_AVAILABLE_IN_ALL
void           qvm_image_store_instance_async  (QvmImageStore        *store,
                                                const char           *image_id,
                                                GFile                *source,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
QVM_AVAILABLE_IN_ALL
QvmImage      *qvm_image_store_instance_finish (QvmImageStore        *store,
                                                GAsyncResult         *result,
                                                GError              **error);
QVM_AVAILABLE_IN_ALL
QvmImage      *qvm_image_store_instance        (QvmImageStore        *store,
                                                const char           *image_id,
                                                GFile                *source,
                                                GCancellable         *cancellable,
                                                GError              **error);
QVM_AVAILABLE_IN_ALL
guint          qvm_image_store_collect         (QvmImageStore        *store);

G_END_DECLS
