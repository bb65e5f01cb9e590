/* qvm-folder-image.c: a mutable image kept in a folder
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define _GNU_SOURCE
#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "qvm-archive-private.h"
#include "qvm-error.h"
#include "qvm-folder-image.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-image-private.h"

/**
 * QvmFolderImage:
 *
 * A [iface@Qvm.MutableImage] kept in a folder: a raw, sparse `disk.img`
 * that the virtual machine writes to directly, and a machine definition
 * (upstream's `MutableImage`). It is how new images are built: start from a
 * blank disk ([ctor@Qvm.FolderImage.new_blank]) or from an existing archive
 * ([ctor@Qvm.FolderImage.new_from_archive]), run a virtual machine on it,
 * release it, and package it ([method@Qvm.MutableImage.package]).
 *
 * [method@Qvm.Image.acquire] marks the image in use until
 * [method@Qvm.Image.release]; an image in use cannot be packaged or deleted,
 * and an image being packaged cannot be acquired. A released image can be
 * acquired again, by the next virtual machine that builds on it.
 * Unreferencing the object leaves the folder on disk; call
 * [method@Qvm.FolderImage.delete] to remove it.
 */

struct _QvmFolderImage
{
  GObject parent_instance;

  char *folder;
  char *disk_file;
  QvmMachine *machine;
  gboolean in_use;
  gboolean deleted;
  gint packaging;             /* atomic: a package operation is running */
};

static void qvm_folder_image_image_iface_init (QvmImageInterface *iface);
static void qvm_folder_image_mutable_image_iface_init (QvmMutableImageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmFolderImage, qvm_folder_image, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_IMAGE, qvm_folder_image_image_iface_init)
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_MUTABLE_IMAGE,
                                                      qvm_folder_image_mutable_image_iface_init))

enum {
  PROP_0,
  PROP_FOLDER,
  PROP_IN_USE,
  PROP_DISK_FILE,
  PROP_FORMAT,
  PROP_MACHINE,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static QvmFolderImage *
folder_image_new (const char *folder,
                  QvmMachine *machine)
{
  QvmFolderImage *self = g_object_new (QVM_TYPE_FOLDER_IMAGE, "folder", folder, NULL);

  self->machine = g_object_ref (machine);
  return self;
}

static void
qvm_folder_image_finalize (GObject *object)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (object);

  g_free (self->folder);
  g_free (self->disk_file);
  g_clear_object (&self->machine);

  G_OBJECT_CLASS (qvm_folder_image_parent_class)->finalize (object);
}

static void
qvm_folder_image_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      g_value_set_string (value, self->folder);
      break;
    case PROP_IN_USE:
      g_value_set_boolean (value, self->in_use);
      break;
    case PROP_DISK_FILE:
      g_value_set_string (value, qvm_image_get_disk_file (QVM_IMAGE (self)));
      break;
    case PROP_FORMAT:
      g_value_set_string (value, "raw");
      break;
    case PROP_MACHINE:
      g_value_set_object (value, self->machine);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_folder_image_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      self->folder = g_value_dup_string (value);
      self->disk_file = self->folder ? g_build_filename (self->folder, QVM_ARCHIVE_DISK, NULL) : NULL;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_folder_image_class_init (QvmFolderImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->finalize = qvm_folder_image_finalize;
  object_class->get_property = qvm_folder_image_get_property;
  object_class->set_property = qvm_folder_image_set_property;

  /**
   * QvmFolderImage:folder:
   *
   * The folder that holds `disk.img`.
   */
  properties[PROP_FOLDER] =
    g_param_spec_string ("folder", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmFolderImage:in-use:
   *
   * Whether a virtual machine uses the image: set by
   * [method@Qvm.Image.acquire], cleared by [method@Qvm.Image.release].
   */
  properties[PROP_IN_USE] =
    g_param_spec_boolean ("in-use", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_property (object_class, PROP_FOLDER, properties[PROP_FOLDER]);
  g_object_class_install_property (object_class, PROP_IN_USE, properties[PROP_IN_USE]);
  g_object_class_override_property (object_class, PROP_DISK_FILE, "disk-file");
  g_object_class_override_property (object_class, PROP_FORMAT, "format");
  g_object_class_override_property (object_class, PROP_MACHINE, "machine");
}

static void
qvm_folder_image_init (QvmFolderImage *self)
{
}

static void
set_in_use (QvmFolderImage *self,
            gboolean        in_use)
{
  if (self->in_use == in_use)
    return;
  self->in_use = in_use;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IN_USE]);
}

/* g_object_new() with a folder alone gives an image without a machine
 * definition: it can be looked at, not used, packaged or deleted. */
static gboolean
check_made (QvmFolderImage *self,
            GError        **error)
{
  if (self->folder != NULL && self->machine != NULL)
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The image in %s has no machine definition: make it with "
                 "qvm_folder_image_new_blank() or qvm_folder_image_new_from_archive()"),
               self->folder != NULL ? self->folder : "(no folder)");
  return FALSE;
}

/* Whether the image is there and no virtual machine uses it: what both a
 * use and packaging need. */
static gboolean
check_free (QvmFolderImage *self,
            GError        **error)
{
  if (!check_made (self, error))
    return FALSE;
  if (self->deleted)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image in %s was deleted"), self->folder);
      return FALSE;
    }
  if (self->in_use)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image in %s is in use; release it first"), self->folder);
      return FALSE;
    }
  return TRUE;
}

static gboolean
qvm_folder_image_acquire (QvmImage  *image,
                          GError   **error)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (image);

  if (!check_free (self, error))
    return FALSE;
  if (g_atomic_int_get (&self->packaging))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image in %s is being packaged; it cannot be used until that ends"),
                   self->folder);
      return FALSE;
    }

  set_in_use (self, TRUE);
  return TRUE;
}

static const char *
qvm_folder_image_get_disk_file (QvmImage *image)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (image);

  return self->deleted ? NULL : self->disk_file;
}

static const char *
qvm_folder_image_get_format (QvmImage *image)
{
  return "raw";
}

static QvmMachine *
qvm_folder_image_get_machine (QvmImage *image)
{
  return QVM_FOLDER_IMAGE (image)->machine;
}

static void
qvm_folder_image_release (QvmImage *image)
{
  set_in_use (QVM_FOLDER_IMAGE (image), FALSE);
}

static void
qvm_folder_image_image_iface_init (QvmImageInterface *iface)
{
  iface->get_disk_file = qvm_folder_image_get_disk_file;
  iface->get_format = qvm_folder_image_get_format;
  iface->get_machine = qvm_folder_image_get_machine;
  iface->release = qvm_folder_image_release;
  iface->acquire = qvm_folder_image_acquire;
}

/* Claims the image for packaging; fails if it is in use, deleted or being
 * packaged already. */
static gboolean
begin_packaging (QvmFolderImage *self,
                 GError        **error)
{
  if (!check_free (self, error))
    return FALSE;
  if (!g_atomic_int_compare_and_exchange (&self->packaging, 0, 1))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image in %s is being packaged already"), self->folder);
      return FALSE;
    }
  return TRUE;
}

static GBytes *
machine_bytes (QvmFolderImage *self)
{
  char *json = qvm_machine_to_data (self->machine);

  return g_bytes_new_take (json, strlen (json));
}

static void
emit_progress_now (guint64  done,
                   guint64  total,
                   gpointer user_data)
{
  g_signal_emit_by_name (user_data, "progress", done, total);
}

static gboolean
qvm_folder_image_package (QvmMutableImage *image,
                          const char      *target,
                          GCancellable    *cancellable,
                          GError         **error)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (image);
  g_autoptr(GBytes) json = NULL;
  gboolean ok;

  if (!begin_packaging (self, error))
    return FALSE;
  json = machine_bytes (self);
  ok = qvm_archive_package (self->folder, json, target, emit_progress_now, self, cancellable, error);
  g_atomic_int_set (&self->packaging, 0);
  return ok;
}

/* Progress from the packaging thread, relayed to the caller's context;
 * reports that arrive while one is queued replace it. */
typedef struct {
  GMutex mutex;
  QvmFolderImage *image;
  GMainContext *context;
  guint64 done;
  guint64 total;
  gboolean queued;
} ProgressRelay;

static void
progress_relay_free (ProgressRelay *relay)
{
  g_mutex_clear (&relay->mutex);
  g_object_unref (relay->image);
  g_main_context_unref (relay->context);
}

static gboolean
progress_relay_emit (gpointer data)
{
  ProgressRelay *relay = data;
  guint64 done, total;

  g_mutex_lock (&relay->mutex);
  done = relay->done;
  total = relay->total;
  relay->queued = FALSE;
  g_mutex_unlock (&relay->mutex);

  g_signal_emit_by_name (relay->image, "progress", done, total);
  return G_SOURCE_REMOVE;
}

static void
progress_relay_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, (GDestroyNotify) progress_relay_free);
}

static void
progress_relay_report (guint64  done,
                       guint64  total,
                       gpointer data)
{
  ProgressRelay *relay = data;
  gboolean queue;

  g_mutex_lock (&relay->mutex);
  relay->done = done;
  relay->total = total;
  queue = !relay->queued;
  relay->queued = TRUE;
  g_mutex_unlock (&relay->mutex);

  /* A source, not g_main_context_invoke(): that runs the function in this
   * worker thread whenever it can acquire a context nobody iterates at
   * that moment, and "progress" must be emitted in the caller's thread
   * (GJS, for one, fails otherwise). */
  if (queue)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, progress_relay_emit, g_atomic_rc_box_acquire (relay),
                             progress_relay_release);
      g_source_set_static_name (source, "QvmFolderImage progress");
      g_source_attach (source, relay->context);
    }
}

typedef struct {
  char *target;
  GBytes *json;
  ProgressRelay *relay;
} PackageData;

static void
package_data_free (PackageData *data)
{
  g_free (data->target);
  g_bytes_unref (data->json);
  progress_relay_release (data->relay);
  g_free (data);
}

static void
package_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  QvmFolderImage *self = source_object;
  PackageData *data = task_data;
  GError *error = NULL;
  gboolean ok;

  ok = qvm_archive_package (self->folder, data->json, data->target,
                            progress_relay_report, data->relay, cancellable, &error);
  /* before the callback runs, so that it can package again */
  g_atomic_int_set (&self->packaging, 0);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
qvm_folder_image_package_async (QvmMutableImage     *image,
                                const char          *target,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  QvmFolderImage *self = QVM_FOLDER_IMAGE (image);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  PackageData *data;

  g_task_set_source_tag (task, qvm_folder_image_package_async);
  if (!begin_packaging (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  data = g_new0 (PackageData, 1);
  data->target = g_strdup (target);
  data->json = machine_bytes (self);
  data->relay = g_atomic_rc_box_new0 (ProgressRelay);
  g_mutex_init (&data->relay->mutex);
  data->relay->image = g_object_ref (self);
  data->relay->context = g_main_context_ref_thread_default ();
  g_task_set_task_data (task, data, (GDestroyNotify) package_data_free);
  g_task_run_in_thread (task, package_thread);
}

static gboolean
qvm_folder_image_package_finish (QvmMutableImage *image,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, image), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_folder_image_package_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
qvm_folder_image_mutable_image_iface_init (QvmMutableImageInterface *iface)
{
  iface->package = qvm_folder_image_package;
  iface->package_async = qvm_folder_image_package_async;
  iface->package_finish = qvm_folder_image_package_finish;
}

/**
 * qvm_folder_image_new_blank:
 * @folder: (type filename): the folder to keep the image in; created if
 *   missing
 * @size: the size of the disk in bytes, a multiple of 512
 * @machine: the machine definition of the image (copied)
 * @error: return location for a #GError
 *
 * Creates a blank image: a sparse `disk.img` of @size bytes in @folder,
 * which must not hold one already.
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 */
QvmFolderImage *
qvm_folder_image_new_blank (const char  *folder,
                            guint64      size,
                            QvmMachine  *machine,
                            GError     **error)
{
  g_autofree char *disk = NULL;
  g_autoptr(QvmMachine) copy = NULL;
  int fd;

  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (size == 0 || size % 512 != 0 || size > G_MAXINT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The disk size %" PRIu64 " is not a positive multiple of 512 bytes"),
                   size);
      return NULL;
    }

  if (g_mkdir_with_parents (folder, 0700) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, folder, "create");
      return NULL;
    }
  disk = g_build_filename (folder, QVM_ARCHIVE_DISK, NULL);
  fd = open (disk, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, disk, "create");
      return NULL;
    }
  if (ftruncate (fd, size) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, disk, "resize");
      close (fd);
      g_unlink (disk);
      return NULL;
    }
  close (fd);

  copy = qvm_machine_copy (machine);
  return folder_image_new (folder, copy);
}

/**
 * qvm_folder_image_new_from_archive:
 * @archive: (type filename): an image archive (`image.tar.zst`)
 * @folder: (type filename): the folder to extract it to; it must not exist
 *   (its parent must)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Extracts an image archive into a new folder to build a new image from it
 * (upstream's `NewMutableImageFromFile`). The archive is validated as a
 * [class@Qvm.ImageStore] does; its `layer.qcow2` is dropped, since packaging
 * writes a fresh one. Blocks while extracting.
 *
 * @archive must be a regular file: a named pipe, a device or a folder is
 * refused with %G_IO_ERROR_NOT_REGULAR_FILE before it is read. Cancelling
 * @cancellable ends the extraction at its next read with
 * %G_IO_ERROR_CANCELLED.
 *
 * Returns: (transfer full): the image, or %NULL with @error set, to
 *   %QVM_ERROR_MALFORMED_PAYLOAD if the archive is invalid; then @folder
 *   was not created or is removed again
 */
QvmFolderImage *
qvm_folder_image_new_from_archive (const char    *archive,
                                   const char    *folder,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(QvmMachine) machine = NULL;
  g_autofree char *layer = NULL;
  QvmArchiveLimits limits;

  g_return_val_if_fail (archive != NULL, NULL);
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file = g_file_new_for_path (archive);
  qvm_archive_limits_init (&limits);
  machine = qvm_image_extract_archive (file, folder, &limits, cancellable, error);
  if (machine == NULL)
    return NULL;

  layer = g_build_filename (folder, QVM_ARCHIVE_LAYER, NULL);
  if (g_unlink (layer) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, layer, "remove");
      qvm_fs_remove_tree (folder, NULL);
      return NULL;
    }

  return folder_image_new (folder, machine);
}

/**
 * qvm_folder_image_get_folder:
 * @image: a folder image
 *
 * Gets the folder that holds the image's `disk.img`.
 *
 * Returns: (type filename): the folder
 */
const char *
qvm_folder_image_get_folder (QvmFolderImage *image)
{
  g_return_val_if_fail (QVM_IS_FOLDER_IMAGE (image), NULL);

  return image->folder;
}

/**
 * qvm_folder_image_get_in_use:
 * @image: a folder image
 *
 * Tells whether a virtual machine uses the image: from
 * [method@Qvm.Image.acquire] to [method@Qvm.Image.release].
 *
 * Returns: %TRUE if the image is in use
 */
gboolean
qvm_folder_image_get_in_use (QvmFolderImage *image)
{
  g_return_val_if_fail (QVM_IS_FOLDER_IMAGE (image), FALSE);

  return image->in_use;
}

/**
 * qvm_folder_image_delete:
 * @image: a folder image
 * @error: return location for a #GError
 *
 * Deletes the image's folder and everything in it (upstream's `Dispose`).
 * The image cannot be used afterwards.
 *
 * Returns: %TRUE on success; %FALSE with @error set, to
 *   %QVM_ERROR_INVALID_STATE if the image is in use or being packaged
 */
gboolean
qvm_folder_image_delete (QvmFolderImage *image,
                         GError        **error)
{
  g_return_val_if_fail (QVM_IS_FOLDER_IMAGE (image), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (image->deleted)
    return TRUE;
  if (!check_made (image, error))
    return FALSE;
  if (image->in_use || g_atomic_int_get (&image->packaging))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                   _("The image in %s is in use or being packaged; it cannot be deleted"),
                   image->folder);
      return FALSE;
    }
  if (!qvm_fs_remove_tree (image->folder, error))
    return FALSE;
  image->deleted = TRUE;
  g_object_notify (G_OBJECT (image), "disk-file");
  return TRUE;
}
