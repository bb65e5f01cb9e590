/* qvm-folder-image.h: a mutable image kept in a folder
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>

#include "qvm-machine.h"
#include "qvm-mutable-image.h"
#include "qvm-version-macros.h"

G_BEGIN_DECLS

#define QVM_TYPE_FOLDER_IMAGE (qvm_folder_image_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmFolderImage, qvm_folder_image, QVM, FOLDER_IMAGE, GObject)

QVM_AVAILABLE_IN_ALL
QvmFolderImage *qvm_folder_image_new_blank        (const char     *folder,
                                                   guint64         size,
                                                   QvmMachine     *machine,
                                                   GError        **error);
QVM_AVAILABLE_IN_ALL
QvmFolderImage *qvm_folder_image_new_from_archive (const char     *archive,
                                                   const char     *folder,
                                                   GCancellable   *cancellable,
                                                   GError        **error);
QVM_AVAILABLE_IN_ALL
const char     *qvm_folder_image_get_folder       (QvmFolderImage *image);
QVM_AVAILABLE_IN_ALL
gboolean        qvm_folder_image_get_in_use       (QvmFolderImage *image);
QVM_AVAILABLE_IN_ALL
gboolean        qvm_folder_image_delete           (QvmFolderImage *image,
                                                   GError        **error);

G_END_DECLS
