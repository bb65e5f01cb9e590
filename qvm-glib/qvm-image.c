/* qvm-image.c: a disk image a virtual machine can start from
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The QvmImage interface, and at the end what its implementations share
 * (qvm-image-private.h): extracting an image archive.
 */

#include "config.h"

#include "qvm-error.h"
#include "qvm-image.h"
#include "qvm-image-private.h"
#include "qvm-i18n-private.h"

/**
 * QvmImage:
 *
 * An instance of a virtual machine image that a virtual machine can start
 * from: a boot disk file, its format and the machine definition.
 *
 * A virtual machine marks the image in use when it starts
 * ([method@Qvm.Image.acquire]), then reads the disk file and the machine,
 * and calls [method@Qvm.Image.release] when it is done. The getters have no
 * side effect. Images from a [class@Qvm.ImageStore] are copy-on-write
 * instances that release deletes; a [class@Qvm.FolderImage] is a
 * [iface@Qvm.MutableImage] that can be packaged after release, and used
 * again.
 */

G_DEFINE_INTERFACE (QvmImage, qvm_image, G_TYPE_OBJECT)

/* For images that need no marking: usable as long as they have a disk. */
static gboolean
qvm_image_real_acquire (QvmImage  *image,
                        GError   **error)
{
  if (qvm_image_get_disk_file (image) != NULL)
    return TRUE;

  g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                       _("The image was released; it cannot be used again"));
  return FALSE;
}

static void
qvm_image_default_init (QvmImageInterface *iface)
{
  iface->acquire = qvm_image_real_acquire;

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
 * qvm_image_acquire: (virtual acquire)
 * @image: an image
 * @error: return location for a #GError
 *
 * Marks @image in use, before its disk file is opened; the use lasts until
 * [method@Qvm.Image.release]. A [class@Qvm.VirtualMachine] acquires its
 * image when it starts, so an image handed to one must not be acquired by
 * its caller; call this when you give the disk file to QEMU or another
 * writer yourself.
 *
 * An image has one use at a time: acquiring an image that is in use fails.
 * So does acquiring an image that cannot be used any more: an instance from
 * a [class@Qvm.ImageStore] once released (release deletes its disk file),
 * a [class@Qvm.FolderImage] that was deleted or is being packaged. A
 * released [class@Qvm.FolderImage] can be acquired again.
 *
 * Returns: %TRUE if @image is now in use; %FALSE with @error set, to
 *   %QVM_ERROR_INVALID_STATE in the cases above
 */
gboolean
qvm_image_acquire (QvmImage  *image,
                   GError   **error)
{
  QvmImageInterface *iface;

  g_return_val_if_fail (QVM_IS_IMAGE (image), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = QVM_IMAGE_GET_IFACE (image);
  g_return_val_if_fail (iface->acquire != NULL, FALSE);

  return iface->acquire (image, error);
}

/**
 * qvm_image_get_disk_file:
 * @image: an image
 *
 * Gets the path of the file QEMU should use as the boot disk, with the
 * format [method@Qvm.Image.get_format] tells. This is a plain getter: it
 * does not mark the image in use ([method@Qvm.Image.acquire] does).
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
 * qvm_image_get_disk:
 * @image: an image
 *
 * Gets the boot disk file as a #GFile: the file
 * [method@Qvm.Image.get_disk_file] names. Like it, this has no side effect.
 *
 * Returns: (transfer full) (nullable): a new #GFile for the disk file, or
 *   %NULL if @image was released
 */
GFile *
qvm_image_get_disk (QvmImage *image)
{
  const char *path;

  g_return_val_if_fail (QVM_IS_IMAGE (image), NULL);

  path = qvm_image_get_disk_file (image);
  return path != NULL ? g_file_new_for_path (path) : NULL;
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
 * Ends the use that [method@Qvm.Image.acquire] began, if any, and frees
 * the resources the image holds for a virtual machine: an instance from a
 * [class@Qvm.ImageStore] deletes its disk file and cannot be used again; a
 * [class@Qvm.FolderImage] stops being in use and can be packaged or
 * acquired again. Releasing an image that was never acquired is fine: a
 * virtual machine that never started releases its image too.
 */
void
qvm_image_release (QvmImage *image)
{
  g_return_if_fail (QVM_IS_IMAGE (image));

  QVM_IMAGE_GET_IFACE (image)->release (image);
}

/* ---- shared by the image classes ---------------------------------------- */

static GObject *
machine_from_json (GBytes  *json,
                   GError **error)
{
  return G_OBJECT (qvm_machine_new_from_bytes (json, error));
}

QvmMachine *
qvm_image_extract_archive (GFile                  *source,
                           const char             *folder,
                           const QvmArchiveLimits *limits,
                           GCancellable           *cancellable,
                           GError                **error)
{
  g_autoptr(GInputStream) stream = qvm_archive_open (source, cancellable, error);
  GObject *machine = NULL;

  if (stream == NULL ||
      !qvm_archive_extract (stream, folder, limits, machine_from_json,
                            &machine, cancellable, error))
    return NULL;
  return QVM_MACHINE (machine);
}
