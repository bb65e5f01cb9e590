/* qvm-store-image-private.h: the instances a QvmImageStore hands out (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An instance is a QvmImage of format qcow2 over a private copy of a loaded
 * image's layer. It knows nothing of the store: the store hands it the copy,
 * the machine, and what to call when the instance is released.
 */

#pragma once

#include "qvm-image.h"

G_BEGIN_DECLS

#define QVM_TYPE_STORE_IMAGE (qvm_store_image_get_type ())
G_DECLARE_FINAL_TYPE (QvmStoreImage, qvm_store_image, QVM, STORE_IMAGE, GObject)

/* Wraps @disk_file, a fresh copy of a layer, as an image with @machine
 * (referenced). @folder_fd is the folder @disk_file was made in, which
 * must stay open until @released is called. Releasing the instance, or
 * dropping it unreleased, deletes the file from @folder_fd (not by path)
 * and then calls @released with @data, exactly once: that is where the
 * store counts one user less and drops what @data holds. */
QvmImage *qvm_store_image_new (const char     *disk_file,
                               int             folder_fd,
                               QvmMachine     *machine,
                               GDestroyNotify  released,
                               gpointer        data);

G_END_DECLS
