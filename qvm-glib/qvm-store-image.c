/* qvm-store-image.c: an instance of an image loaded by a QvmImageStore
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The QvmImage that qvm_image_store_instance_finish() returns: a private
 * copy of a loaded image's layer.qcow2, next to the disk.img it is backed
 * by. It is in use from acquire() to release(), once: releasing it deletes
 * the copy and tells the store (through the callback the store gave), which
 * may then collect the loaded image.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-store-image-private.h"

struct _QvmStoreImage
{
  GObject parent_instance;

  char *disk_file;
  int folder_fd;                  /* the folder of disk_file (borrowed, until released) */
  char *name;                     /* disk_file's, in that folder */
  QvmMachine *machine;
  gboolean in_use;                /* acquired, not released yet */
  gboolean released;
  GDestroyNotify released_func;   /* called once, at release */
  gpointer released_data;
};

static void qvm_store_image_iface_init (QvmImageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmStoreImage, qvm_store_image, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_IMAGE, qvm_store_image_iface_init))

enum {
  PROP_0,
  PROP_DISK_FILE,
  PROP_FORMAT,
  PROP_MACHINE,
};

static void
qvm_store_image_release (QvmImage *image)
{
  QvmStoreImage *self = QVM_STORE_IMAGE (image);

  g_return_if_fail (!self->released);

  self->in_use = FALSE;
  self->released = TRUE;
  /* from the folder the store made it in, whatever its path leads to now */
  if (unlinkat (self->folder_fd, self->name, 0) != 0)
    g_warning ("Cannot delete the image instance %s: %s", self->disk_file, g_strerror (errno));
  self->released_func (g_steal_pointer (&self->released_data));

  g_object_notify (G_OBJECT (self), "disk-file");
}

static void
qvm_store_image_dispose (GObject *object)
{
  QvmStoreImage *self = QVM_STORE_IMAGE (object);

  /* an instance dropped without release() still frees its disk */
  if (!self->released)
    qvm_store_image_release (QVM_IMAGE (self));

  G_OBJECT_CLASS (qvm_store_image_parent_class)->dispose (object);
}

static void
qvm_store_image_finalize (GObject *object)
{
  QvmStoreImage *self = QVM_STORE_IMAGE (object);

  g_clear_object (&self->machine);
  g_free (self->disk_file);
  g_free (self->name);

  G_OBJECT_CLASS (qvm_store_image_parent_class)->finalize (object);
}

static gboolean
qvm_store_image_acquire (QvmImage  *image,
                         GError   **error)
{
  QvmStoreImage *self = QVM_STORE_IMAGE (image);

  if (self->released)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image instance %s was released; it cannot be used again"),
                   self->disk_file);
      return FALSE;
    }
  if (self->in_use)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image instance %s is in use already"), self->disk_file);
      return FALSE;
    }
  self->in_use = TRUE;
  return TRUE;
}

static const char *
qvm_store_image_get_disk_file (QvmImage *image)
{
  QvmStoreImage *self = QVM_STORE_IMAGE (image);

  return self->released ? NULL : self->disk_file;
}

static const char *
qvm_store_image_get_format (QvmImage *image)
{
  return "qcow2";
}

static QvmMachine *
qvm_store_image_get_machine (QvmImage *image)
{
  return QVM_STORE_IMAGE (image)->machine;
}

static void
qvm_store_image_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QvmImage *image = QVM_IMAGE (object);

  switch (prop_id)
    {
    case PROP_DISK_FILE:
      g_value_set_string (value, qvm_store_image_get_disk_file (image));
      break;
    case PROP_FORMAT:
      g_value_set_string (value, qvm_store_image_get_format (image));
      break;
    case PROP_MACHINE:
      g_value_set_object (value, qvm_store_image_get_machine (image));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_store_image_class_init (QvmStoreImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = qvm_store_image_dispose;
  object_class->finalize = qvm_store_image_finalize;
  object_class->get_property = qvm_store_image_get_property;

  g_object_class_override_property (object_class, PROP_DISK_FILE, "disk-file");
  g_object_class_override_property (object_class, PROP_FORMAT, "format");
  g_object_class_override_property (object_class, PROP_MACHINE, "machine");
}

static void
qvm_store_image_init (QvmStoreImage *self)
{
}

static void
qvm_store_image_iface_init (QvmImageInterface *iface)
{
  iface->get_disk_file = qvm_store_image_get_disk_file;
  iface->get_format = qvm_store_image_get_format;
  iface->get_machine = qvm_store_image_get_machine;
  iface->release = qvm_store_image_release;
  iface->acquire = qvm_store_image_acquire;
}

QvmImage *
qvm_store_image_new (const char     *disk_file,
                     int             folder_fd,
                     QvmMachine     *machine,
                     GDestroyNotify  released,
                     gpointer        data)
{
  QvmStoreImage *self;

  g_return_val_if_fail (disk_file != NULL, NULL);
  g_return_val_if_fail (folder_fd >= 0, NULL);
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  g_return_val_if_fail (released != NULL, NULL);

  self = g_object_new (QVM_TYPE_STORE_IMAGE, NULL);
  self->disk_file = g_strdup (disk_file);
  self->folder_fd = folder_fd;
  self->name = g_path_get_basename (disk_file);
  self->machine = g_object_ref (machine);
  self->released_func = released;
  self->released_data = data;
  return QVM_IMAGE (self);
}
