/* qvm-mutable-image.c: an image that can be packaged as an image archive
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-mutable-image.h"
#include "qvm-i18n-private.h"

/**
 * QvmMutableImage:
 *
 * An image that can be written back as an image archive: an `image.tar.zst` holding `disk.img` (sparse),
 * `layer.qcow2` and `machine.json`, which a [class@Qvm.ImageStore] loads.
 *
 * Packaging reports its progress with the [signal@Qvm.MutableImage::progress]
 * signal rather than with a callback argument, so that bindings need no
 * second callback next to the `GAsyncReadyCallback`.
 */

G_DEFINE_INTERFACE (QvmMutableImage, qvm_mutable_image, QVM_TYPE_IMAGE)

static void
qvm_mutable_image_default_init (QvmMutableImageInterface *iface)
{
  /**
   * QvmMutableImage::progress:
   * @image: the image being packaged
   * @done: bytes of data packaged so far
   * @total: bytes of data to package (holes of the sparse disk do not count)
   *
   * Emitted while the image is packaged: by [method@Qvm.MutableImage.package]
   * in the calling thread, by [method@Qvm.MutableImage.package_async] in the
   * thread-default main context of its caller, with @done growing up to
   * @total. Emissions may be merged when the main context is busy.
   */
  g_signal_new ("progress", QVM_TYPE_MUTABLE_IMAGE, G_SIGNAL_RUN_LAST,
                G_STRUCT_OFFSET (QvmMutableImageInterface, progress), NULL, NULL, NULL,
                G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
}

/**
 * qvm_mutable_image_package:
 * @image: a mutable image
 * @target: (type filename): the archive file to write
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes @image as a zstd-compressed tar archive to @target. The archive is written next to @target and renamed over it
 * when complete, so @target is never left half written. Blocks until done;
 * see [method@Qvm.MutableImage.package_async] to package in the background.
 *
 * Returns: %TRUE on success; %FALSE with @error set, to
 *   %QVM_ERROR_INVALID_STATE if the image is in use (not released) or being
 *   packaged already
 */
gboolean
qvm_mutable_image_package (QvmMutableImage *image,
                           const char      *target,
                           GCancellable    *cancellable,
                           GError         **error)
{
  g_return_val_if_fail (QVM_IS_MUTABLE_IMAGE (image), FALSE);
  g_return_val_if_fail (target != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return QVM_MUTABLE_IMAGE_GET_IFACE (image)->package (image, target, cancellable, error);
}

/**
 * qvm_mutable_image_package_async:
 * @image: a mutable image
 * @target: (type filename): the archive file to write
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the archive is written
 * @user_data: data for @callback
 *
 * Writes @image as an image archive to @target in a worker thread, like
 * [method@Qvm.MutableImage.package]. @callback runs in the thread-default
 * main context of the caller, where [signal@Qvm.MutableImage::progress] is
 * emitted as well.
 */
void
qvm_mutable_image_package_async (QvmMutableImage     *image,
                                 const char          *target,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (QVM_IS_MUTABLE_IMAGE (image));
  g_return_if_fail (target != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  QVM_MUTABLE_IMAGE_GET_IFACE (image)->package_async (image, target, cancellable, callback, user_data);
}

/**
 * qvm_mutable_image_package_finish:
 * @image: a mutable image
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.MutableImage.package_async].
 *
 * Returns: %TRUE on success; %FALSE with @error set
 */
gboolean
qvm_mutable_image_package_finish (QvmMutableImage *image,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  g_return_val_if_fail (QVM_IS_MUTABLE_IMAGE (image), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* the implementation checks the source object and tag: they are its own */
  return QVM_MUTABLE_IMAGE_GET_IFACE (image)->package_finish (image, result, error);
}
