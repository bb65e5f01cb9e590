/* qvm-image.c: a disk image a virtual machine can start from
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-image.h"
#include "qvm-i18n-private.h"

/**
 * QvmImage:
 *
 * An instance of a virtual machine image that a virtual machine can start
 * from: a boot disk file, its format and the machine definition (the seed's
 * `Image`).
 *
 * A virtual machine reads the disk file and the machine when it starts, and
 * calls [method@Qvm.Image.release] when it is done. Images from a
 * [class@Qvm.ImageStore] are copy-on-write instances that release deletes;
 * a [class@Qvm.FolderImage] is a [iface@Qvm.MutableImage] that can be
 * packaged again after release.
 */

G_DEFINE_INTERFACE (QvmImage, qvm_image, G_TYPE_OBJECT)

static void
qvm_image_default_init (QvmImageInterface *iface)
{
  /**
   * QvmImage:disk-file:
   *
   * The path of the boot disk file, or %NULL once the image is released.
   */
  g_object_interface_install_property (iface,
    g_param_spec_string ("disk-file", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * QvmImage:format:
   *
   * The QEMU format of the disk file: `qcow2` or `raw`.
   */
  g_object_interface_install_property (iface,
    g_param_spec_string ("format", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * QvmImage:machine:
   *
   * The machine definition that goes with the disk.
   */
  g_object_interface_install_property (iface,
    g_param_spec_object ("machine", NULL, NULL, QVM_TYPE_MACHINE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));
}

/**
 * qvm_image_get_disk_file:
 * @image: an image
 *
 * Gets the path of the file QEMU should use as the boot disk, with the
 * format [method@Qvm.Image.get_format] tells. Implementations may count this
 * call as the start of a use that [method@Qvm.Image.release] ends (a
 * [class@Qvm.FolderImage] does).
 *
 * Returns: (type filename) (nullable): the path of the disk file, or %NULL
 *   if @image was released
 */
const char *
qvm_image_get_disk_file (QvmImage *image)
{
  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);

  return QVM_IMAGE_GET_IFACE (image)->get_disk_file (image);
}

/**
 * qvm_image_get_format:
 * @image: an image
 *
 * Gets the QEMU format of the disk file, for `-drive format=…`.
 *
 * Returns: the format, such as `qcow2` or `raw`
 */
const char *
qvm_image_get_format (QvmImage *image)
{
  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);

  return QVM_IMAGE_GET_IFACE (image)->get_format (image);
}

/**
 * qvm_image_get_machine:
 * @image: an image
 *
 * Gets the machine definition (virtual hardware) the disk was made for.
 *
 * Returns: (transfer none): the machine
 */
QvmMachine *
qvm_image_get_machine (QvmImage *image)
{
  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);

  return QVM_IMAGE_GET_IFACE (image)->get_machine (image);
}

/**
 * qvm_image_release:
 * @image: an image
 *
 * Frees the resources the image holds for a virtual machine: an instance
 * from a [class@Qvm.ImageStore] deletes its disk file; a
 * [class@Qvm.FolderImage] stops being in use and can be packaged.
 */
void
qvm_image_release (QvmImage *image)
{
  g_return_if_fail (QVM_IS_IMAGE (image));

  QVM_IMAGE_GET_IFACE (image)->release (image);
}
