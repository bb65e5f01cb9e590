/* qvm-image-store.c: loads image archives once, hands out instances
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The store: its folder and lock, the table of loaded (or loading) images,
 * loads in worker threads and the copies of a layer that instances are.
 * The instances themselves are QvmStoreImage, in qvm-store-image.c.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm-archive-private.h"
#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-image-private.h"
#include "qvm-image-store.h"
#include "qvm-image-store-private.h"
#include "qvm-store-image-private.h"
#include "qvm-util-private.h"

/**
 * QvmImageStore:
 *
 * Loads image archives once, validates them, and hands out copy-on-write
 * instances of them (upstream's image `Manager`).
 *
 * An image archive (`image.tar.zst`) is a zstd-compressed tar holding
 * exactly `disk.img` (a raw disk, stored sparse), `layer.qcow2` (an empty
 * qcow2 layer whose backing file is `disk.img`, format `raw`) and
 * `machine.json` (a [class@Qvm.Machine]). Extraction refuses everything else
 * with %QVM_ERROR_MALFORMED_PAYLOAD errors that name the entry and the rule:
 * other names, paths, links, devices, a name twice, sizes over
 * [property@Qvm.ImageStore:max-size] or data over
 * [property@Qvm.ImageStore:max-data], a damaged or non-zstd archive, a layer
 * with another backing file or format, a dirty, corrupt, encrypted or
 * externally stored layer, a disk that looks like another image format, and
 * a `machine.json` over 1 MiB or invalid.
 *
 * [method@Qvm.ImageStore.instance_async] loads the archive the first time
 * an image id is asked for; requests for the same id while it loads wait
 * for that one load. A failed load leaves nothing on disk and is forgotten,
 * so the next request tries again. Each instance is a private copy of
 * `layer.qcow2` next to `disk.img` (a reflink where the file system offers
 * one), so creating one costs the same whatever the disk size; releasing it
 * deletes the copy. Images stay loaded while unused, until
 * [method@Qvm.ImageStore.collect].
 *
 * The store's folder must belong to the caller's user and must not be
 * writable by its group or by others: whoever else could write to it could
 * swap an image's files for their own after the store checked them. The
 * store opens the folder once and makes, opens and deletes everything in it
 * relative to that descriptor, never by path; an instance is only handed
 * out if its path still leads to the file the store made.
 *
 * The store owns its folder: it marks it with a `.qvm-image-store` file
 * locked for the store's lifetime, so that a second store (in this process
 * or another) cannot use it at the same time. Images are not kept across
 * stores: a new store deletes what it finds in its folder (the leftovers of
 * a process that crashed), and a store that is finalized deletes its
 * images. A folder that holds other files and no mark is refused, so that
 * pointing a store at the wrong folder deletes nothing.
 */

#define STORE_MARK ".qvm-image-store"

typedef struct _StoreImage StoreImage;

struct _QvmImageStore
{
  GObject parent_instance;

  char *folder;
  int dir_fd;                 /* the folder, as validated; everything is opened from it */
  int lock_fd;
  QvmArchiveLimits limits;

  GMutex mutex;               /* guards images and every StoreImage's state */
  GHashTable *images;         /* image id → StoreImage */
  guint n_loads;

  GError *init_error;         /* why constructed() could not set it up */
};

/* One loaded (or loading) image archive. */
struct _StoreImage
{
  gatomicrefcount ref_count;
  char *id;
  char *source_uri;           /* of the archive it was loaded from */
  char *source_identity;      /* of that file when it was loaded: see source_identity() */
  char *name;                 /* of its folder, in the store's folder */
  char *folder;               /* the same, as a path */
  int dir_fd;                 /* its folder, as extracted; set once loaded */
  QvmMachine *machine;        /* set once loaded */
  gboolean loaded;
  guint users;               /* instances and requests waiting for the load */
  GPtrArray *waiters;         /* Waiter: the requests waiting for the load */
  /* The load is cancelled once every request waiting for it is: this
   * counts those not cancelled (atomically: the cancelled handlers run in
   * whatever thread cancels). At zero the load is doomed and no request
   * may join it any more. */
  gint live_waiters;
  GCancellable *load_cancellable;
};

/* A request waiting for a load, and its handler on the request's
 * cancellable. */
typedef struct {
  GTask *task;
  gulong cancelled_handler;
} Waiter;

static void
waiter_free (gpointer data)
{
  Waiter *waiter = data;

  g_object_unref (waiter->task);
  g_free (waiter);
}

static StoreImage *
store_image_ref (StoreImage *image)
{
  g_atomic_ref_count_inc (&image->ref_count);
  return image;
}

static void
store_image_unref (StoreImage *image)
{
  if (!g_atomic_ref_count_dec (&image->ref_count))
    return;
  g_free (image->id);
  g_free (image->source_uri);
  g_free (image->source_identity);
  g_free (image->name);
  g_free (image->folder);
  if (image->dir_fd >= 0)
    close (image->dir_fd);
  g_clear_object (&image->machine);
  g_clear_pointer (&image->waiters, g_ptr_array_unref);
  g_clear_object (&image->load_cancellable);
  g_free (image);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreImage, store_image_unref)

/* Deletes the files of an image no one uses any more, from the store's
 * folder open as @store_fd. */
static void
store_image_delete (StoreImage *image,
                    int         store_fd)
{
  g_autoptr(GError) error = NULL;
  struct stat by_name, loaded;

  /* what is there now by that name may not be what was loaded */
  if (image->dir_fd >= 0 &&
      fstatat (store_fd, image->name, &by_name, AT_SYMLINK_NOFOLLOW) == 0 &&
      fstat (image->dir_fd, &loaded) == 0 &&
      (by_name.st_dev != loaded.st_dev || by_name.st_ino != loaded.st_ino))
    {
      g_message ("Image store: not deleting %s, which replaced the folder of the image %s",
                 image->folder, image->id);
      return;
    }
  if (!qvm_fs_remove_tree_at (store_fd, image->name, &error))
    g_warning ("Cannot delete the image %s: %s", image->id, error->message);
}

/* One instance's use of a loaded image, handed to the instance and
 * ended when it is released. */
typedef struct {
  QvmImageStore *store;       /* a ref: the store outlives what its instances use */
  StoreImage *image;
} StoreUse;

static void
store_use_end (gpointer data)
{
  StoreUse *use = data;

  g_mutex_lock (&use->store->mutex);
  use->image->users--;
  g_mutex_unlock (&use->store->mutex);

  store_image_unref (use->image);
  g_object_unref (use->store);
  g_free (use);
}

/* ---- the store -------------------------------------------------------- */

enum {
  PROP_0,
  PROP_FOLDER,
  PROP_MAX_SIZE,
  PROP_MAX_DATA,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void qvm_image_store_initable_iface_init (GInitableIface *iface);
static void qvm_image_store_constructed (GObject *object);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmImageStore, qvm_image_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, qvm_image_store_initable_iface_init))

static void
qvm_image_store_finalize (GObject *object)
{
  QvmImageStore *self = QVM_IMAGE_STORE (object);
  GHashTableIter iter;
  StoreImage *image;

  /* Instances and loads hold a ref on the store, so no image is in use
   * now; the images are of no use to a later store either. */
  if (self->images != NULL)
    {
      g_hash_table_iter_init (&iter, self->images);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &image))
        store_image_delete (image, self->dir_fd);
      g_hash_table_unref (self->images);
    }

  if (self->lock_fd >= 0)
    close (self->lock_fd);
  if (self->dir_fd >= 0)
    close (self->dir_fd);
  g_mutex_clear (&self->mutex);
  g_free (self->folder);
  g_clear_error (&self->init_error);

  G_OBJECT_CLASS (qvm_image_store_parent_class)->finalize (object);
}

static void
qvm_image_store_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QvmImageStore *self = QVM_IMAGE_STORE (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      g_value_set_string (value, self->folder);
      break;
    case PROP_MAX_SIZE:
      g_value_set_uint64 (value, qvm_image_store_get_max_size (self));
      break;
    case PROP_MAX_DATA:
      g_value_set_uint64 (value, qvm_image_store_get_max_data (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_image_store_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  QvmImageStore *self = QVM_IMAGE_STORE (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      self->folder = g_value_dup_string (value);
      break;
    case PROP_MAX_SIZE:
      qvm_image_store_set_max_size (self, g_value_get_uint64 (value));
      break;
    case PROP_MAX_DATA:
      qvm_image_store_set_max_data (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_image_store_class_init (QvmImageStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->constructed = qvm_image_store_constructed;
  object_class->finalize = qvm_image_store_finalize;
  object_class->get_property = qvm_image_store_get_property;
  object_class->set_property = qvm_image_store_set_property;

  /**
   * QvmImageStore:folder:
   *
   * The folder the store keeps its images in; the store owns it.
   */
  properties[PROP_FOLDER] =
    g_param_spec_string ("folder", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmImageStore:max-size:
   *
   * The largest size, in bytes, of `disk.img` and `layer.qcow2` (holes
   * included) and of the layer's virtual disk, in archives loaded from now
   * on. 50 GiB by default.
   */
  properties[PROP_MAX_SIZE] =
    g_param_spec_uint64 ("max-size", NULL, NULL, 0, G_MAXUINT64, QVM_ARCHIVE_DEFAULT_MAX_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmImageStore:max-data:
   *
   * The most data, in bytes, one archive may write to the store's folder
   * (holes do not count; data counts by the 4 KiB block it allocates), in
   * archives loaded from now on. 50 GiB by default.
   */
  properties[PROP_MAX_DATA] =
    g_param_spec_uint64 ("max-data", NULL, NULL, 0, G_MAXUINT64, QVM_ARCHIVE_DEFAULT_MAX_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qvm_image_store_init (QvmImageStore *self)
{
  self->dir_fd = -1;
  self->lock_fd = -1;
  g_mutex_init (&self->mutex);
  qvm_archive_limits_init (&self->limits);
  self->images = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) store_image_unref);
}

/* The names in the folder open as @dirfd, but the store's mark; and
 * whether the mark is there. */
static GPtrArray *
list_folder_at (int         dirfd,
                const char *shown,
                gboolean   *has_mark,
                GError    **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;
  int fd;

  /* a descriptor of its own, so that listing starts at the beginning */
  fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  dir = fd >= 0 ? fdopendir (fd) : NULL;
  if (dir == NULL)
    {
      qvm_fs_set_error_from_errno (error, errno, shown, "list");
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  *has_mark = FALSE;
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (strcmp (entry->d_name, STORE_MARK) == 0)
        *has_mark = TRUE;
      else
        g_ptr_array_add (names, g_strdup (entry->d_name));
    }
  closedir (dir);
  return g_steal_pointer (&names);
}

/* Deletes @names from the folder: images of an earlier store, which no
 * one can use any more. */
static gboolean
remove_leftovers (QvmImageStore *self,
                  GPtrArray     *names,
                  GError       **error)
{
  for (guint i = 0; i < names->len; i++)
    {
      g_message ("Image store %s: deleting %s, left by an earlier store", self->folder,
                 (const char *) names->pdata[i]);
      if (!qvm_fs_remove_tree_at (self->dir_fd, names->pdata[i], error))
        return FALSE;
    }
  return TRUE;
}

/* The store's folder must be the caller's alone: whoever else may write
 * to it can swap an image's files for their own after they were checked. */
static gboolean
check_folder_owner (QvmImageStore  *self,
                    GError        **error)
{
  struct stat st;

  if (fstat (self->dir_fd, &st) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, self->folder, "inspect");
      return FALSE;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("The image store folder %s belongs to user %u, not to this process's user %u; "
                     "refusing to use it"),
                   self->folder, (guint) st.st_uid, (guint) geteuid ());
      return FALSE;
    }
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("The image store folder %s can be written by %s (mode %04o); refusing to use it"),
                   self->folder, (st.st_mode & S_IWOTH) ? _("other users") : _("its group"),
                   (guint) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

/* Run once, from constructed(), so that g_object_new() makes a working
 * store too. */
static gboolean
set_up (QvmImageStore  *self,
        GError        **error)
{
  g_autoptr(GPtrArray) names = NULL;
  gboolean has_mark = FALSE;

  if (self->folder == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("The image store needs a folder"));
      return FALSE;
    }
  /* Made when missing, but not its parents (docs/errors.md, "Folders"):
   * a mistyped path must not become a tree of folders. */
  if (g_mkdir (self->folder, 0700) != 0 && errno != EEXIST)
    {
      int saved_errno = errno;
      g_autofree char *parent = g_path_get_dirname (self->folder);

      if (saved_errno == ENOENT && !g_file_test (parent, G_FILE_TEST_IS_DIR))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     _("Cannot create the image store %s: there is no folder %s"), self->folder, parent);
      else
        qvm_fs_set_error_from_errno (error, saved_errno, self->folder, "create");
      return FALSE;
    }
  /* Checked and used through this descriptor only, never by path again. */
  self->dir_fd = open (self->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dir_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, self->folder, "open");
      return FALSE;
    }
  if (!check_folder_owner (self, error))
    return FALSE;

  names = list_folder_at (self->dir_fd, self->folder, &has_mark, error);
  if (names == NULL)
    return FALSE;
  if (names->len > 0 && !has_mark)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY,
                   _("The folder %s holds files but is not an image store; refusing to use it"),
                   self->folder);
      return FALSE;
    }

  self->lock_fd = openat (self->dir_fd, STORE_MARK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (self->lock_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, self->folder, "create the mark of");
      return FALSE;
    }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      if (errno == EWOULDBLOCK)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                     _("The image store %s is in use by another store"), self->folder);
      else
        qvm_fs_set_error_from_errno (error, errno, self->folder, "lock");
      return FALSE;
    }

  /* what an earlier store left; listed again now that the lock is held */
  g_clear_pointer (&names, g_ptr_array_unref);
  names = list_folder_at (self->dir_fd, self->folder, &has_mark, error);
  return names != NULL && remove_leftovers (self, names, error);
}

static void
qvm_image_store_constructed (GObject *object)
{
  QvmImageStore *self = QVM_IMAGE_STORE (object);

  G_OBJECT_CLASS (qvm_image_store_parent_class)->constructed (object);

  if (!set_up (self, &self->init_error))
    g_debug ("Image store not usable: %s", self->init_error->message);
}

/* The work is done in constructed(): init tells how it went. */
static gboolean
qvm_image_store_initable_init (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  QvmImageStore *self = QVM_IMAGE_STORE (initable);

  if (self->init_error == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (self->init_error));
  return FALSE;
}

static void
qvm_image_store_initable_iface_init (GInitableIface *iface)
{
  iface->init = qvm_image_store_initable_init;
}

/**
 * qvm_image_store_new:
 * @folder: (type filename): the folder to keep images in; created if missing,
 *   but its parent folder must exist
 * @error: return location for a #GError
 *
 * Creates an image store in @folder. The store locks the folder for its
 * lifetime and deletes what an earlier store left there; see
 * [class@Qvm.ImageStore].
 *
 * Returns: (transfer full): the store, or %NULL with @error set: to
 *   %G_IO_ERROR_NOT_FOUND if the parent of @folder does not exist, to
 *   %G_IO_ERROR_BUSY if another store uses @folder, to
 *   %G_IO_ERROR_NOT_EMPTY if @folder holds files and was never a store, to
 *   %G_IO_ERROR_PERMISSION_DENIED if @folder belongs to another user or
 *   its group or other users may write to it
 */
QvmImageStore *
qvm_image_store_new (const char  *folder,
                     GError     **error)
{
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (QVM_TYPE_IMAGE_STORE, NULL, error, "folder", folder, NULL);
}

/**
 * qvm_image_store_get_folder:
 * @store: an image store
 *
 * Gets the folder the store keeps its images in.
 *
 * Returns: (type filename): the folder
 */
const char *
qvm_image_store_get_folder (QvmImageStore *store)
{
  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), NULL);

  return store->folder;
}

/**
 * qvm_image_store_get_max_size:
 * @store: an image store
 *
 * Gets [property@Qvm.ImageStore:max-size].
 *
 * Returns: the largest disk size in bytes
 */
guint64
qvm_image_store_get_max_size (QvmImageStore *store)
{
  guint64 value;

  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), 0);

  g_mutex_lock (&store->mutex);
  value = store->limits.max_entry_size;
  g_mutex_unlock (&store->mutex);
  return value;
}

/**
 * qvm_image_store_set_max_size:
 * @store: an image store
 * @max_size: the largest disk size in bytes
 *
 * Sets [property@Qvm.ImageStore:max-size].
 */
void
qvm_image_store_set_max_size (QvmImageStore *store,
                              guint64        max_size)
{
  gboolean changed;

  g_return_if_fail (QVM_IS_IMAGE_STORE (store));

  g_mutex_lock (&store->mutex);
  changed = store->limits.max_entry_size != max_size;
  store->limits.max_entry_size = max_size;
  g_mutex_unlock (&store->mutex);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (store), properties[PROP_MAX_SIZE]);
}

/**
 * qvm_image_store_get_max_data:
 * @store: an image store
 *
 * Gets [property@Qvm.ImageStore:max-data].
 *
 * Returns: the most data one archive may write, in bytes
 */
guint64
qvm_image_store_get_max_data (QvmImageStore *store)
{
  guint64 value;

  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), 0);

  g_mutex_lock (&store->mutex);
  value = store->limits.max_total_size;
  g_mutex_unlock (&store->mutex);
  return value;
}

/**
 * qvm_image_store_set_max_data:
 * @store: an image store
 * @max_data: the most data one archive may write, in bytes
 *
 * Sets [property@Qvm.ImageStore:max-data].
 */
void
qvm_image_store_set_max_data (QvmImageStore *store,
                              guint64        max_data)
{
  gboolean changed;

  g_return_if_fail (QVM_IS_IMAGE_STORE (store));

  g_mutex_lock (&store->mutex);
  changed = store->limits.max_total_size != max_data;
  store->limits.max_total_size = max_data;
  g_mutex_unlock (&store->mutex);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (store), properties[PROP_MAX_DATA]);
}

/* Whether @path names the file open as @fd: the path an instance is
 * handed out as must lead to the file made for it, not to one that was
 * put in its place since. */
static gboolean
path_is_fd (const char *path,
            int         fd)
{
  struct stat by_path, by_fd;

  return stat (path, &by_path) == 0 && fstat (fd, &by_fd) == 0 &&
         by_path.st_dev == by_fd.st_dev && by_path.st_ino == by_fd.st_ino;
}

/* A new, empty instance file in the image's folder, by a fresh name;
 * O_EXCL makes a clash (or anything planted) an error. */
static int
create_instance_file (StoreImage *image,
                      char      **name,
                      GError    **error)
{
  int fd = -1;

  for (int attempt = 0; attempt < 8 && fd < 0; attempt++)
    {
      g_free (*name);
      *name = qvm_fs_random_name ("instance-", ".qcow2");
      fd = openat (image->dir_fd, *name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    {
      g_autofree char *path = g_build_filename (image->folder, *name, NULL);

      qvm_fs_set_error_from_errno (error, errno, path, "create");
    }
  return fd;
}

/* A request for an instance of a loaded image. */
typedef struct {
  StoreImage *image;
  GFile *source;              /* the request's; NULL if it waited for the load of it */
} InstanceRequest;

static void
instance_request_free (InstanceRequest *request)
{
  store_image_unref (request->image);
  g_clear_object (&request->source);
  g_free (request);
}

/* What tells one file from another, and a file from itself rewritten:
 * device, inode, size and modification time; for a file of another VFS,
 * its id, size and entity tag, as far as the VFS knows them. */
static char *
source_identity (GFile         *source,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GFileInfo) info = NULL;
  const char *path = g_file_peek_path (source);
  struct stat st;

  if (path != NULL)
    {
      if (stat (path, &st) != 0)
        {
          qvm_fs_set_error_from_errno (error, errno, path, "inspect");
          return NULL;
        }
      return g_strdup_printf ("%ju:%ju:%jd:%jd.%09ld", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino,
                              (intmax_t) st.st_size, (intmax_t) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
  info = g_file_query_info (source, G_FILE_ATTRIBUTE_ID_FILE "," G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_ETAG_VALUE, G_FILE_QUERY_INFO_NONE, cancellable, error);
  if (info == NULL)
    return NULL;
  return g_strdup_printf ("%s:%" G_GINT64_FORMAT ":%s",
                          g_file_info_get_attribute_string (info, G_FILE_ATTRIBUTE_ID_FILE),
                          g_file_info_get_size (info), g_file_info_get_etag (info));
}

/* Whether @source (NULL: nothing to check) is still the file @image was
 * loaded from. One that is gone is fine: the image was read in full. */
static gboolean
source_is_unchanged (StoreImage    *image,
                     GFile         *source,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *identity = NULL;
  g_autofree char *shown = NULL;

  if (source == NULL || image->source_identity == NULL)
    return TRUE;
  identity = source_identity (source, cancellable, &local_error);
  if (identity == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return TRUE;
  if (identity == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (g_str_equal (identity, image->source_identity))
    return TRUE;

  shown = g_file_get_parse_name (source);
  g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
               _("The image “%s” was loaded from %s, which has changed since: give the new "
                 "archive an id of its own, or collect the old image first"),
               image->id, shown);
  return FALSE;
}

/* Copies the layer of @image, both opened from the folder the load made
 * (never by path: the folder checked is the folder used); returns the
 * path of the copy. */
static char *
copy_layer (StoreImage  *image,
            GError     **error)
{
  g_autofree char *name = NULL;
  g_autofree char *disk_file = NULL;
  int layer_fd, instance_fd;
  gboolean ok;

  layer_fd = openat (image->dir_fd, QVM_ARCHIVE_LAYER, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (layer_fd < 0)
    {
      g_autofree char *layer = g_build_filename (image->folder, QVM_ARCHIVE_LAYER, NULL);

      qvm_fs_set_error_from_errno (error, errno, layer, "open");
      return NULL;
    }
  instance_fd = create_instance_file (image, &name, error);
  if (instance_fd < 0)
    {
      close (layer_fd);
      return NULL;
    }
  disk_file = g_build_filename (image->folder, name, NULL);

  ok = qvm_fs_clone_fd (layer_fd, instance_fd, error);
  if (ok && !path_is_fd (disk_file, instance_fd))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The image folder %s was moved or replaced after it was loaded; "
                     "refusing to make an instance there"), image->folder);
      ok = FALSE;
    }
  if (close (instance_fd) != 0 && ok)
    {
      qvm_fs_set_error_from_errno (error, errno, disk_file, "write");
      ok = FALSE;
    }
  close (layer_fd);
  if (!ok)
    {
      unlinkat (image->dir_fd, name, 0);
      return NULL;
    }
  return g_steal_pointer (&disk_file);
}

/* Creates an instance of a loaded image: a copy of its layer, in its
 * folder, since the layer names its backing file relative to itself. */
static void
instance_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  QvmImageStore *self = source_object;
  InstanceRequest *request = task_data;
  StoreImage *image = request->image;
  g_autofree char *disk_file = NULL;
  GError *error = NULL;
  QvmImage *instance;
  StoreUse *use;

  if (source_is_unchanged (image, request->source, cancellable, &error))
    disk_file = copy_layer (image, &error);
  if (disk_file == NULL)
    {
      g_mutex_lock (&self->mutex);
      image->users--;
      g_mutex_unlock (&self->mutex);
      g_task_return_error (task, error);
      return;
    }

  use = g_new0 (StoreUse, 1);
  use->store = g_object_ref (self);
  use->image = store_image_ref (image);
  /* the use holds the image, and so its folder's descriptor, until the
   * instance is released */
  instance = qvm_store_image_new (disk_file, image->dir_fd, image->machine, store_use_end, use);
  g_task_return_pointer (task, instance, g_object_unref);
}

/* Runs the request @task for a loaded image in a worker thread; @source,
 * when not NULL, is checked against the file the image was loaded from. */
static void
start_instance (GTask      *task,
                StoreImage *image,
                GFile      *source)
{
  InstanceRequest *request;

  if (g_task_return_error_if_cancelled (task))
    {
      QvmImageStore *self = g_task_get_source_object (task);

      g_mutex_lock (&self->mutex);
      image->users--;
      g_mutex_unlock (&self->mutex);
      return;
    }
  request = g_new0 (InstanceRequest, 1);
  request->image = store_image_ref (image);
  request->source = source != NULL ? g_object_ref (source) : NULL;
  g_task_set_task_data (task, request, (GDestroyNotify) instance_request_free);
  g_task_run_in_thread (task, instance_thread);
}

typedef struct {
  GFile *source;
  int store_fd;               /* the store's (the load holds a ref on the store) */
  char *name;                 /* of the image's folder */
  char *folder;               /* the same, as a path, for messages */
  QvmArchiveLimits limits;
  GCancellable *cancellable;  /* the image's load_cancellable */
  int folder_fd;              /* the folder extracted, once loaded */
  char *source_identity;      /* of the source, as it was read */
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_object_unref (data->source);
  if (data->folder_fd >= 0)
    close (data->folder_fd);
  g_free (data->name);
  g_free (data->folder);
  g_free (data->source_identity);
  g_object_unref (data->cancellable);
  g_free (data);
}

static GObject *
machine_from_json (GBytes  *json,
                   GError **error)
{
  return G_OBJECT (qvm_machine_new_from_bytes (json, error));
}

/* Cancelled only when every request that waits for it is. */
static void
load_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadData *data = task_data;
  g_autoptr(GInputStream) stream = NULL;
  GError *error = NULL;
  GObject *machine = NULL;

  stream = qvm_archive_open (data->source, data->cancellable, &error);
  if (stream != NULL)
    data->source_identity = source_identity (data->source, data->cancellable, &error);
  if (stream == NULL || data->source_identity == NULL ||
      !qvm_archive_extract_at (stream, data->store_fd, data->name, data->folder, &data->limits,
                               machine_from_json, &machine, &data->folder_fd,
                               data->cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, machine, g_object_unref);
}

/* In the context of the request that started the load. */
static void
load_done (GObject      *source_object,
           GAsyncResult *result,
           gpointer      user_data)
{
  QvmImageStore *self = QVM_IMAGE_STORE (source_object);
  g_autoptr(StoreImage) image = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiters = NULL;
  QvmMachine *machine;

  machine = g_task_propagate_pointer (G_TASK (result), &error);

  g_mutex_lock (&self->mutex);
  waiters = g_steal_pointer (&image->waiters);
  if (machine != NULL)
    {
      LoadData *data = g_task_get_task_data (G_TASK (result));

      image->dir_fd = g_steal_fd (&data->folder_fd);
      image->source_identity = g_steal_pointer (&data->source_identity);
      image->machine = machine;
      image->loaded = TRUE;
    }
  else
    {
      /* not cached: the next request loads again */
      if (g_hash_table_lookup (self->images, image->id) == image)
        g_hash_table_remove (self->images, image->id);
      image->users -= waiters->len;
    }
  g_mutex_unlock (&self->mutex);

  if (machine == NULL)
    g_debug ("Image store %s: loading %s failed: %s", self->folder, image->id, error->message);

  for (guint i = 0; i < waiters->len; i++)
    {
      Waiter *w = waiters->pdata[i];
      GTask *waiter = w->task;

      if (w->cancelled_handler != 0)
        g_cancellable_disconnect (g_task_get_cancellable (waiter), w->cancelled_handler);

      if (machine != NULL)
        start_instance (waiter, image, NULL);
      else
        g_task_return_error (waiter, g_error_copy (error));
    }
}

/* Counts one more request waiting for @image's load, unless every one
 * so far was cancelled (then the load is cancelled, or about to be).
 * Under the store's mutex. */
static gboolean
join_load (StoreImage *image)
{
  for (;;)
    {
      gint live = g_atomic_int_get (&image->live_waiters);

      if (live == 0)
        return FALSE;
      if (g_atomic_int_compare_and_exchange (&image->live_waiters, live, live + 1))
        return TRUE;
    }
}

/* In the thread that cancels a waiting request: the last one cancels the
 * load, which ends at its next read and removes what it wrote. */
static void
waiter_cancelled (GCancellable *cancellable,
                  gpointer      data)
{
  StoreImage *image = data;

  if (g_atomic_int_dec_and_test (&image->live_waiters))
    g_cancellable_cancel (image->load_cancellable);
}

/* Under the store's mutex. The handler takes no lock, so that connecting
 * to a cancellable that is cancelled already (which runs it at once) is
 * safe here; load_done() disconnects it. */
static void
add_waiter (StoreImage *image,
            GTask      *task)
{
  Waiter *waiter = g_new0 (Waiter, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  waiter->task = g_object_ref (task);
  g_ptr_array_add (image->waiters, waiter);
  if (cancellable != NULL)
    waiter->cancelled_handler = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled),
                                                       store_image_ref (image),
                                                       (GDestroyNotify) store_image_unref);
}

/* A new, loading image for @image_id, in the table. Under the mutex. */
static StoreImage *
new_store_image (QvmImageStore *store,
                 const char    *image_id,
                 const char    *source_uri)
{
  g_autofree char *name = qvm_fs_random_name ("image-", "");
  StoreImage *image = g_new0 (StoreImage, 1);

  g_atomic_ref_count_init (&image->ref_count);
  image->id = g_strdup (image_id);
  image->source_uri = g_strdup (source_uri);
  image->name = g_steal_pointer (&name);
  image->folder = g_build_filename (store->folder, image->name, NULL);
  image->dir_fd = -1;
  image->waiters = g_ptr_array_new_with_free_func (waiter_free);
  /* the request that starts the load; join_load() counts the others */
  image->live_waiters = 1;
  image->load_cancellable = g_cancellable_new ();
  g_hash_table_insert (store->images, image->id, image);
  store->n_loads++;
  return image;
}

/* The task that loads @image from @source. Under the mutex. */
static GTask *
new_load (QvmImageStore *store,
          StoreImage    *image,
          GFile         *source)
{
  LoadData *data = g_new0 (LoadData, 1);
  GTask *load;

  data->source = g_object_ref (source);
  data->store_fd = store->dir_fd;
  data->name = g_strdup (image->name);
  data->folder = g_strdup (image->folder);
  data->folder_fd = -1;
  data->limits = store->limits;
  data->cancellable = g_object_ref (image->load_cancellable);
  load = g_task_new (store, NULL, load_done, store_image_ref (image));
  g_task_set_source_tag (load, load_thread);
  g_task_set_task_data (load, data, (GDestroyNotify) load_data_free);
  return load;
}

/**
 * qvm_image_store_instance_async:
 * @store: an image store
 * @image_id: (nullable): a name that identifies the archive, such as its
 *   URL; %NULL for the URI of @source
 * @source: the image archive, a file or any #GFile that can be read
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the instance
 * @user_data: data for @callback
 *
 * Creates an instance of the image @image_id, loading it from @source if
 * the store does not hold it yet. Requests for an @image_id that is being
 * loaded wait for that load; @source is read only once. The loading and the
 * copying run in worker threads; @callback runs in the thread-default main
 * context of the caller.
 *
 * The caller decides what @image_id means; one id always names the same
 * archive. A request for an @image_id the store holds with a @source of
 * another URI, or with a @source that has changed since it was loaded
 * (its device, inode, size or modification time; for other file systems,
 * its id, size and entity tag), fails with %QVM_ERROR_INVALID_STATE: give
 * the new archive an id of its own, or [method@Qvm.ImageStore.collect] the
 * old image first. A @source deleted after the load is fine: the image
 * was read in full. Cancelling @cancellable ends this request
 * with %G_IO_ERROR_CANCELLED, at the latest when the load it waits for is
 * done. The load goes on while another request waits for it (and then
 * stays loaded); once every request waiting for it is cancelled, the load
 * is cancelled too, between two reads of @source, and leaves nothing on
 * disk.
 *
 * @source must be a regular file: a named pipe, a device or a folder is
 * refused with %G_IO_ERROR_NOT_REGULAR_FILE before it is read.
 */
void
qvm_image_store_instance_async (QvmImageStore       *store,
                                const char          *image_id,
                                GFile               *source,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) load = NULL;
  g_autofree char *source_uri = NULL;
  StoreImage *image;

  g_return_if_fail (QVM_IS_IMAGE_STORE (store));
  g_return_if_fail (G_IS_FILE (source));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_image_store_instance_async);
  if (store->init_error != NULL)
    {
      g_task_return_error (task, g_error_copy (store->init_error));
      return;
    }
  source_uri = g_file_get_uri (source);
  if (image_id == NULL)
    image_id = source_uri;

  g_mutex_lock (&store->mutex);
  image = g_hash_table_lookup (store->images, image_id);
  if (image != NULL && !g_str_equal (image->source_uri, source_uri))
    {
      g_autofree char *loaded_from = g_strdup (image->source_uri);

      g_mutex_unlock (&store->mutex);
      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               _("The image “%s” is loaded from %s already, not from %s: "
                                 "one id must always name the same archive"),
                               image_id, loaded_from, source_uri);
      return;
    }
  if (image != NULL && !image->loaded && !join_load (image))
    {
      /* its load is being cancelled: this request loads anew */
      g_hash_table_remove (store->images, image_id);
      image = NULL;
    }
  if (image == NULL)
    {
      image = new_store_image (store, image_id, source_uri);
      load = new_load (store, image, source);
    }
  image->users++;
  if (!image->loaded)
    add_waiter (image, task);
  store_image_ref (image);
  g_mutex_unlock (&store->mutex);

  if (load != NULL)
    g_task_run_in_thread (load, load_thread);
  else if (image->loaded)
    start_instance (task, image, source);
  store_image_unref (image);
}

/**
 * qvm_image_store_instance_finish:
 * @store: an image store
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.ImageStore.instance_async].
 *
 * Returns: (transfer full): a new instance of the image, with format
 *   `qcow2`; call [method@Qvm.Image.release] when done with it. %NULL with
 *   @error set, to %QVM_ERROR_MALFORMED_PAYLOAD if the archive is invalid
 */
QvmImage *
qvm_image_store_instance_finish (QvmImageStore  *store,
                                 GAsyncResult   *result,
                                 GError        **error)
{
  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), NULL);
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_image_store_instance_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * qvm_image_store_instance:
 * @store: an image store
 * @image_id: (nullable): a name that identifies the archive; %NULL for the
 *   URI of @source
 * @source: the image archive
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.ImageStore.instance_async]: loads the
 * archive if needed and returns an instance. It runs a main context of its
 * own meanwhile, so it works from a script with no main loop and from any
 * thread, and no other source of the caller's context runs during the
 * call.
 *
 * Returns: (transfer full): a new instance of the image; %NULL with @error
 *   set, as [method@Qvm.ImageStore.instance_finish]
 */
QvmImage *
qvm_image_store_instance (QvmImageStore  *store,
                          const char     *image_id,
                          GFile          *source,
                          GCancellable   *cancellable,
                          GError        **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), NULL);
  g_return_val_if_fail (G_IS_FILE (source), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  qvm_sync_begin (&sync, context);
  qvm_image_store_instance_async (store, image_id, source, cancellable, qvm_sync_store_result, &sync);
  return qvm_image_store_instance_finish (store, qvm_sync_end (&sync), error);
}

/**
 * qvm_image_store_collect:
 * @store: an image store
 *
 * Deletes the images no instance uses (upstream's garbage collection).
 * Images being loaded are kept. This deletes files: call it when the host
 * needs the space or is idle.
 *
 * Returns: the number of images deleted
 */
guint
qvm_image_store_collect (QvmImageStore *store)
{
  g_autoptr(GPtrArray) unused = g_ptr_array_new_with_free_func ((GDestroyNotify) store_image_unref);
  GHashTableIter iter;
  StoreImage *image;

  g_return_val_if_fail (QVM_IS_IMAGE_STORE (store), 0);

  g_mutex_lock (&store->mutex);
  g_hash_table_iter_init (&iter, store->images);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &image))
    if (image->loaded && image->users == 0)
      {
        g_ptr_array_add (unused, store_image_ref (image));
        g_hash_table_iter_remove (&iter);
      }
  g_mutex_unlock (&store->mutex);

  for (guint i = 0; i < unused->len; i++)
    store_image_delete (unused->pdata[i], store->dir_fd);
  return unused->len;
}

guint
qvm_image_store_get_n_loads (QvmImageStore *store)
{
  guint n;

  g_mutex_lock (&store->mutex);
  n = store->n_loads;
  g_mutex_unlock (&store->mutex);
  return n;
}
