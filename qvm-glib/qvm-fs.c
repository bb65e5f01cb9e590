/* qvm-fs.c: small file system helpers shared by the image code
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"

void
qvm_fs_set_error_from_errno (GError    **error,
                             int         saved_errno,
                             const char *what,
                             const char *action)
{
  if (what == NULL)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 /* Translators: "cannot write: No space left on device" */
                 _("cannot %s: %s"), action, g_strerror (saved_errno));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 /* Translators: "disk.img: cannot create: No space left on device" */
                 _("%s: cannot %s: %s"), what, action, g_strerror (saved_errno));
}

static gboolean remove_tree_at (int         dirfd,
                                const char *name,
                                const char *shown,
                                GError    **error);

/* Empties the folder open as @dirfd (taken), shown in errors as @shown. */
static gboolean
remove_children (int         dirfd,
                 const char *shown,
                 GError    **error)
{
  DIR *dir;
  struct dirent *entry;
  gboolean ok = TRUE;

  dir = fdopendir (dirfd);
  if (dir == NULL)
    {
      int saved_errno = errno;

      close (dirfd);
      qvm_fs_set_error_from_errno (error, saved_errno, shown, "list");
      return FALSE;
    }

  while (ok && (errno = 0, entry = readdir (dir)) != NULL)
    {
      g_autofree char *child = NULL;

      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      child = g_build_filename (shown, entry->d_name, NULL);
      ok = remove_tree_at (dirfd, entry->d_name, child, error);
    }
  closedir (dir);
  return ok;
}

/* Removes the entry @name of @dirfd, a tree if it is a folder; errors name
 * it @shown, so that they say where they happened. */
static gboolean
remove_tree_at (int         dirfd,
                const char *name,
                const char *shown,
                GError    **error)
{
  int child, unlink_errno;

  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return TRUE;
  unlink_errno = errno;
  /* Linux says EISDIR for a folder, POSIX allows EPERM */
  if (unlink_errno != EISDIR && unlink_errno != EPERM)
    {
      qvm_fs_set_error_from_errno (error, unlink_errno, shown, "remove");
      return FALSE;
    }

  child = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (child < 0)
    {
      int saved_errno = errno;

      /* gone between the two calls: what the caller wanted */
      if (saved_errno == ENOENT)
        return TRUE;
      /* not a folder after all: the EPERM was the answer */
      if (saved_errno == ENOTDIR || saved_errno == ELOOP)
        qvm_fs_set_error_from_errno (error, unlink_errno, shown, "remove");
      else
        qvm_fs_set_error_from_errno (error, saved_errno, shown, "open");
      return FALSE;
    }
  if (!remove_children (child, shown, error))
    return FALSE;
  if (unlinkat (dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    {
      qvm_fs_set_error_from_errno (error, errno, shown, "remove");
      return FALSE;
    }
  return TRUE;
}

gboolean
qvm_fs_remove_tree_at (int         dirfd,
                       const char *name,
                       GError    **error)
{
  return remove_tree_at (dirfd, name, name, error);
}

gboolean
qvm_fs_remove_tree (const char *path,
                    GError    **error)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  int dirfd;
  gboolean ok;

  dirfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      qvm_fs_set_error_from_errno (error, errno, parent, "open");
      return FALSE;
    }
  ok = remove_tree_at (dirfd, base, path, error);
  close (dirfd);
  return ok;
}

gboolean
qvm_fs_next_data (int          fd,
                  guint64      position,
                  guint64      size,
                  guint64     *data_start,
                  guint64     *data_end,
                  const char  *what,
                  GError     **error)
{
  off_t data, hole;

  if (position >= size)
    {
      *data_start = *data_end = size;
      return TRUE;
    }
  data = lseek (fd, position, SEEK_DATA);
  if (data < 0 && errno == ENXIO)
    {
      *data_start = *data_end = size;
      return TRUE;
    }
  if (data < 0 && errno == EINVAL)
    {
      /* a file system that cannot tell: all data */
      *data_start = position;
      *data_end = size;
      return TRUE;
    }
  if (data >= 0)
    hole = lseek (fd, data, SEEK_HOLE);
  if (data < 0 || hole < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, what, "seek");
      return FALSE;
    }
  *data_start = MIN ((guint64) data, size);
  *data_end = MIN ((guint64) hole, size);
  return TRUE;
}

/* Copies @len bytes at @offset of @src_fd to the same offset of @dst_fd:
 * in the kernel where it can, else through a buffer. */
static gboolean
copy_extent (int      src_fd,
             int      dst_fd,
             guint64  offset,
             guint64  len,
             GError **error)
{
  off_t in_offset = offset, out_offset = offset;
  guint64 end = offset + len;

  while ((guint64) in_offset < end)
    {
      ssize_t n = copy_file_range (src_fd, &in_offset, dst_fd, &out_offset,
                                   end - in_offset, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
        {
          /* Old kernels or odd file systems: a plain copy. */
          char buffer[64 * 1024];
          ssize_t r = pread (src_fd, buffer, MIN (sizeof buffer, end - in_offset), in_offset);

          if (r < 0 && errno == EINTR)
            continue;
          if (r <= 0)
            {
              qvm_fs_set_error_from_errno (error, r < 0 ? errno : EIO, "layer", "read");
              return FALSE;
            }
          if (!qvm_fs_pwrite_all (dst_fd, buffer, r, out_offset, error))
            return FALSE;
          in_offset += r;
          out_offset += r;
          continue;
        }
      if (n <= 0)
        {
          qvm_fs_set_error_from_errno (error, n < 0 ? errno : EIO, "layer", "copy");
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
qvm_fs_clone_fd (int      src_fd,
                 int      dst_fd,
                 GError **error)
{
  struct stat st;
  guint64 position = 0;

  if (ioctl (dst_fd, FICLONE, src_fd) == 0)
    return TRUE;

  if (fstat (src_fd, &st) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, "layer", "read");
      return FALSE;
    }

  /* Extent by extent: copy_file_range() over a hole writes zeros (on ext4,
   * for one), and a layer that is mostly hole must stay so in every copy. */
  while (position < (guint64) st.st_size)
    {
      guint64 data_start, data_end;

      if (!qvm_fs_next_data (src_fd, position, st.st_size, &data_start, &data_end, "layer", error))
        return FALSE;
      if (data_end > data_start &&
          !copy_extent (src_fd, dst_fd, data_start, data_end - data_start, error))
        return FALSE;
      position = data_end;
    }

  /* the trailing hole */
  if (ftruncate (dst_fd, st.st_size) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, "layer", "resize");
      return FALSE;
    }
  return TRUE;
}

gboolean
qvm_fs_pwrite_all (int         fd,
                   const void *data,
                   gsize       len,
                   guint64     offset,
                   GError    **error)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = pwrite (fd, p, MIN (len, (gsize) G_MAXSSIZE), offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          qvm_fs_set_error_from_errno (error, n < 0 ? errno : EIO, NULL, "write");
          return FALSE;
        }
      p += n;
      len -= n;
      offset += n;
    }
  return TRUE;
}

char *
qvm_fs_random_name (const char *prefix,
                    const char *suffix)
{
  return g_strdup_printf ("%s%08x%08x%s", prefix, g_random_int (), g_random_int (), suffix);
}
