/* qvm-fs-private.h: small file system helpers shared by the image code
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Removes @path and, if it is a folder, everything below it, without ever
 * following a symbolic link. A missing @path (or parent) is not an error,
 * nor is an entry that vanishes meanwhile: the caller wants it gone. An
 * error names the full path of the entry that could not be removed. This
 * is also what removes a folder of plain files, such as QEMU's sockets. */
gboolean qvm_fs_remove_tree (const char *path,
                             GError    **error);

/* Same, for the entry @name of the folder open as @dirfd; errors name the
 * entries relative to that folder. */
gboolean qvm_fs_remove_tree_at (int         dirfd,
                                const char *name,
                                GError    **error);

/* Copies the whole content of @src_fd into the empty file @dst_fd: a
 * reflink (FICLONE) when the file system offers one, else the data
 * extents only (SEEK_DATA/SEEK_HOLE), each copied in the kernel where it
 * can be: the holes of the source stay holes. */
gboolean qvm_fs_clone_fd (int      src_fd,
                          int      dst_fd,
                          GError **error);

/* The first data extent of @fd at or after @position, below @size:
 * [@data_start, @data_end), both @size when there is no more data; all of
 * the rest when the file system cannot tell holes. Errors name @what. */
gboolean qvm_fs_next_data (int          fd,
                           guint64      position,
                           guint64      size,
                           guint64     *data_start,
                           guint64     *data_end,
                           const char  *what,
                           GError     **error);

/* pwrite() until everything is written or an error occurs. */
gboolean qvm_fs_pwrite_all (int           fd,
                            const void   *data,
                            gsize         len,
                            guint64       offset,
                            GError      **error);

/* A random name for a file or folder: @prefix, 16 hex digits, @suffix. */
char *qvm_fs_random_name (const char *prefix,
                          const char *suffix);

/* A GError from errno, naming @what ("disk.img", a path…). */
void qvm_fs_set_error_from_errno (GError    **error,
                                  int         saved_errno,
                                  const char *what,
                                  const char *action);

G_END_DECLS
