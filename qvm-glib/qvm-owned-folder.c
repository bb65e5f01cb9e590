/* qvm-owned-folder.c: private folders that a dead owner's successor can
 * recognise and remove
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A process killed without teardown (SIGKILL, the OOM killer, a crash)
 * leaves its socket and network folders behind. Each such folder holds a
 * mark file locked with flock() for as long as its owner lives: the kernel
 * drops the lock when the owner dies, whatever killed it, and unlike a
 * recorded pid a lock cannot be confused by pid reuse or by a namespace.
 */

#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-owned-folder-private.h"

#define RANDOM_LENGTH 6 /* what g_mkdtemp() puts in place of XXXXXX */
#define MAKE_ATTEMPTS 8

static gboolean
same_file (const struct stat *a,
           const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether the mark open as @fd is still the one at @folder's mark: a
 * sweeper may have removed a folder whose mark was made but not yet
 * locked. */
static gboolean
mark_still_in_place (const char *folder,
                     int         fd)
{
  g_autofree char *mark = g_build_filename (folder, QVM_OWNED_FOLDER_MARK, NULL);
  struct stat by_path, by_fd;

  return lstat (mark, &by_path) == 0 && fstat (fd, &by_fd) == 0 && same_file (&by_path, &by_fd);
}

/* Creates and locks the mark in the new @folder; -1 with errno set, or
 * with errno 0 when a sweeper took the folder away meanwhile. */
static int
lock_new_folder (const char *folder)
{
  g_autofree char *mark = g_build_filename (folder, QVM_OWNED_FOLDER_MARK, NULL);
  int fd = open (mark, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

  if (fd < 0)
    return -1;
  /* Blocking: only a sweeper can hold it, and only briefly. */
  while (flock (fd, LOCK_EX) != 0)
    {
      if (errno != EINTR)
        {
          int saved_errno = errno;

          close (fd);
          errno = saved_errno;
          return -1;
        }
    }
  if (!mark_still_in_place (folder, fd))
    {
      close (fd);
      errno = 0;
      return -1;
    }
  return fd;
}

char *
qvm_owned_folder_make (const char  *parent,
                       const char  *prefix,
                       int         *lock_fd,
                       GError     **error)
{
  g_return_val_if_fail (parent != NULL, NULL);
  g_return_val_if_fail (prefix != NULL, NULL);
  g_return_val_if_fail (lock_fd != NULL, NULL);

  for (int attempt = 0; attempt < MAKE_ATTEMPTS; attempt++)
    {
      g_autofree char *folder = g_strdup_printf ("%s/%sXXXXXX", parent, prefix);
      int fd;

      if (g_mkdtemp_full (folder, 0700) == NULL)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       _("Cannot make a private folder in “%s”: %s"), parent, g_strerror (saved_errno));
          return NULL;
        }
      fd = lock_new_folder (folder);
      if (fd >= 0)
        {
          *lock_fd = fd;
          return g_steal_pointer (&folder);
        }
      if (errno != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       _("Cannot mark the private folder “%s” as in use: %s"), folder, g_strerror (saved_errno));
          qvm_fs_remove_tree (folder, NULL);
          return NULL;
        }
      /* Swept away before it was locked: take another name. */
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               _("Cannot make a private folder in “%s”: it was removed %d times while being made"),
               parent, MAKE_ATTEMPTS);
  return NULL;
}

static gboolean
is_candidate_name (const char *name,
                   const char *prefix)
{
  gsize prefix_length = strlen (prefix);

  if (!g_str_has_prefix (name, prefix) || strlen (name) != prefix_length + RANDOM_LENGTH)
    return FALSE;
  for (const char *c = name + prefix_length; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c))
      return FALSE;
  return TRUE;
}

/* Whether @name in @parent_fd is a folder of this user whose mark nobody
 * holds; if so, returns the mark's descriptor, locked, in @mark_fd so that
 * no one can take the folder while it is removed. */
static gboolean
is_abandoned (int         parent_fd,
              const char *name,
              int        *mark_fd)
{
  struct stat st;
  int folder_fd, fd;

  folder_fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (folder_fd < 0)
    return FALSE;
  if (fstat (folder_fd, &st) != 0 || st.st_uid != geteuid ())
    {
      close (folder_fd);
      return FALSE;
    }
  fd = openat (folder_fd, QVM_OWNED_FOLDER_MARK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  close (folder_fd);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid () ||
      flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      return FALSE;
    }
  *mark_fd = fd;
  return TRUE;
}

guint
qvm_owned_folder_sweep (const char *parent,
                        const char *prefix)
{
  DIR *dir;
  struct dirent *entry;
  g_autoptr(GPtrArray) abandoned = g_ptr_array_new_with_free_func (g_free);
  guint removed = 0;

  g_return_val_if_fail (parent != NULL, 0);
  g_return_val_if_fail (prefix != NULL && *prefix != '\0', 0);

  dir = opendir (parent);
  if (dir == NULL)
    return 0;
  while ((entry = readdir (dir)) != NULL)
    if (is_candidate_name (entry->d_name, prefix))
      g_ptr_array_add (abandoned, g_strdup (entry->d_name));

  for (guint i = 0; i < abandoned->len; i++)
    {
      const char *name = abandoned->pdata[i];
      g_autoptr(GError) error = NULL;
      int mark_fd;

      if (!is_abandoned (dirfd (dir), name, &mark_fd))
        continue;
      if (qvm_fs_remove_tree_at (dirfd (dir), name, &error))
        {
          g_debug ("Removed %s/%s, left by an owner that died", parent, name);
          removed++;
        }
      else
        g_message ("Could not remove %s/%s, left by an owner that died: %s", parent, name, error->message);
      close (mark_fd);
    }
  closedir (dir);
  return removed;
}
