/* qvm-image.h: a disk image a virtual machine can start from
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
#include "qvm-version-macros.h"

G_BEGIN_DECLS

#define QVM_TYPE_IMAGE (qvm_image_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (QvmImage, qvm_image, QVM, IMAGE, GObject)

/**
 * QvmImageInterface:
 * @parent_iface: the parent interface
 * @get_disk_file: returns the path of the boot disk file
 * @get_format: returns the QEMU format of the disk file
 * @get_machine: returns the machine definition
 * @release: ends the use of the image and frees what it holds
 * @acquire: marks the image in use
 *
 * The virtual methods of [iface@Qvm.Image].
 */

/**
 * QvmImageInterface::get_disk_file:
 * @image: an image
 *
 * Implements [method@Qvm.Image.get_disk_file]: a getter, with no side
 * effect.
 *
 * Returns: (type filename) (nullable): the path of the disk file, or %NULL
 *   if @image was released
 */

/**
 * QvmImageInterface::acquire:
 * @image: an image
 * @error: return location for a #GError
 *
 * Implements [method@Qvm.Image.acquire]. The default fails once
 * [vfunc@Qvm.Image.get_disk_file] returns %NULL and succeeds otherwise,
 * for images that need no marking.
 *
 * Returns: %TRUE if @image is now in use; %FALSE with @error set
 */
struct _QvmImageInterface
{
  GTypeInterface parent_iface;

  const char * (*get_disk_file) (QvmImage  *image);
  const char * (*get_format)    (QvmImage  *image);
  QvmMachine * (*get_machine)   (QvmImage  *image);
  void         (*release)       (QvmImage  *image);
  gboolean     (*acquire)       (QvmImage  *image,
                                 GError   **error);

  /*< private >*/
  gpointer padding[7];
};

QVM_AVAILABLE_IN_ALL
gboolean    qvm_image_acquire       (QvmImage  *image,
                                     GError   **error);
QVM_AVAILABLE_IN_ALL
const char *qvm_image_get_disk_file (QvmImage  *image);
QVM_AVAILABLE_IN_ALL
GFile      *qvm_image_get_disk      (QvmImage  *image);
QVM_AVAILABLE_IN_ALL
const char *qvm_image_get_format    (QvmImage  *image);
QVM_AVAILABLE_IN_ALL
QvmMachine *qvm_image_get_machine   (QvmImage  *image);
QVM_AVAILABLE_IN_ALL
void        qvm_image_release       (QvmImage  *image);

G_END_DECLS
