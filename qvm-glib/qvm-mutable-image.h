/* qvm-mutable-image.h: an image that can be packaged as an image archive
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

#define QVM_TYPE_MUTABLE_IMAGE (qvm_mutable_image_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (QvmMutableImage, qvm_mutable_image, QVM, MUTABLE_IMAGE, QvmImage)

/**
 * QvmMutableImageInterface:
 * @parent_iface: the parent interface
 * @package: writes the image archive, blocking
 * @package_async: writes the image archive in the background
 * @package_finish: finishes @package_async
 * @progress: class closure of the [signal@Qvm.MutableImage::progress] signal
 *
 * The virtual methods of [iface@Qvm.MutableImage].
 */

/**
 * QvmMutableImageInterface::progress:
 * @image: the image being packaged
 * @done: bytes of data packaged so far
 * @total: bytes of data to package
 *
 * The class closure of the [signal@Qvm.MutableImage::progress] signal, run
 * after the handlers connected to it; implementations usually leave it
 * %NULL.
 */
struct _QvmMutableImageInterface
{
  GTypeInterface parent_iface;

  gboolean (*package)        (QvmMutableImage     *image,
                              const char          *target,
                              GCancellable        *cancellable,
                              GError             **error);
  void     (*package_async)  (QvmMutableImage     *image,
                              const char          *target,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data);
  gboolean (*package_finish) (QvmMutableImage     *image,
                              GAsyncResult        *result,
                              GError             **error);

  void     (*progress)       (QvmMutableImage     *image,
                              guint64              done,
                              guint64              total);

  /*< private >*/
  gpointer padding[8];
};

QVM_AVAILABLE_IN_ALL
gboolean qvm_mutable_image_package        (QvmMutableImage     *image,
                                           const char          *target,
                                           GCancellable        *cancellable,
                                           GError             **error);
QVM_AVAILABLE_IN_ALL
void     qvm_mutable_image_package_async  (QvmMutableImage     *image,
                                           const char          *target,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean qvm_mutable_image_package_finish (QvmMutableImage     *image,
                                           GAsyncResult        *result,
                                           GError             **error);

G_END_DECLS
