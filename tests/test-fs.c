/* test-fs.c: the file system helpers (qvm-fs-private.h): tree removal,
 * sparse copies
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-fs-private.h"

typedef struct {
  char *root;
  char *stuck;      /* a file made undeletable, made deletable again at the end */
  int stuck_how;    /* 0 none, 1 its folder read-only, 2 immutable */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = g_dir_make_tmp ("qvm-fs-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
set_immutable (const char *path, gboolean immutable)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int flags = 0;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ioctl (fd, FS_IOC_GETFLAGS, &flags), ==, 0);
  flags = immutable ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
  g_assert_cmpint (ioctl (fd, FS_IOC_SETFLAGS, &flags), ==, 0);
  close (fd);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "rm", "-rf", f->root, NULL };

  if (f->stuck_how == 1)
    {
      g_autofree char *folder = g_path_get_dirname (f->stuck);

      g_assert_cmpint (g_chmod (folder, 0700), ==, 0);
    }
  else if (f->stuck_how == 2)
    set_immutable (f->stuck, FALSE);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, NULL, NULL));
  g_free (f->root);
  g_free (f->stuck);
}

static char *
make_file (const char *folder,
           const char *name)
{
  char *path = g_build_filename (folder, name, NULL);

  g_assert_true (g_file_set_contents (path, name, -1, NULL));
  return path;
}

static char *
make_folder (const char *parent,
             const char *name)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  return path;
}

/* What a virtual machine leaves: a folder of plain files and sockets. */
static void
test_folder_of_files (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = make_folder (f->root, "vm-1");
  g_autofree char *socket_path = g_build_filename (folder, "qmp.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;

  g_free (make_file (folder, "vnc.sock"));
  g_free (make_file (folder, "log"));
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, address, FALSE, &error));
  g_assert_no_error (error);

  g_assert_true (qvm_fs_remove_tree (folder, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (f->root, G_FILE_TEST_IS_DIR));
}

/* Gone already (someone removed it under a running machine): done. */
static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->root, "missing", NULL);
  g_autofree char *missing_parent = g_build_filename (f->root, "no", "such", "folder", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (qvm_fs_remove_tree (missing, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_fs_remove_tree (missing_parent, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_fs_remove_tree_at (AT_FDCWD, missing, &error));
  g_assert_no_error (error);
}

/* Sub-folders go; what links point to stays. */
static void
test_tree_and_links (Fixture *f, gconstpointer data)
{
  g_autofree char *outside = make_folder (f->root, "outside");
  g_autofree char *precious = make_file (outside, "precious");
  g_autofree char *tree = make_folder (f->root, "tree");
  g_autofree char *a = make_folder (tree, "a");
  g_autofree char *b = make_folder (a, "b");
  g_autofree char *file_link = g_build_filename (b, "file-link", NULL);
  g_autofree char *folder_link = g_build_filename (tree, "folder-link", NULL);
  g_autoptr(GError) error = NULL;

  g_free (make_file (b, "deep"));
  g_free (make_file (tree, "top"));
  g_assert_cmpint (symlink (precious, file_link), ==, 0);
  g_assert_cmpint (symlink (outside, folder_link), ==, 0);

  g_assert_true (qvm_fs_remove_tree (tree, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (tree, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (precious, G_FILE_TEST_IS_REGULAR));

  /* a plain file is removed as well */
  g_assert_true (qvm_fs_remove_tree (precious, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (precious, G_FILE_TEST_EXISTS));
}

/* An error names the whole path of the entry that stayed. */
static void
test_error_names_path (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = make_folder (f->root, "vm-2");
  g_autofree char *sub = make_folder (folder, "sub");
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;

  f->stuck = make_file (sub, "stuck");
  if (geteuid () != 0)
    {
      g_assert_cmpint (g_chmod (sub, 0500), ==, 0);
      f->stuck_how = 1;
    }
  else
    {
      int fd = open (f->stuck, O_RDONLY | O_CLOEXEC);
      int flags = 0;
      gboolean can = ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0 &&
                     (flags |= FS_IMMUTABLE_FL, ioctl (fd, FS_IOC_SETFLAGS, &flags) == 0);

      close (fd);
      if (!can)
        {
          g_test_skip ("root, and the file system has no immutable files");
          return;
        }
      f->stuck_how = 2;
    }

  g_assert_false (qvm_fs_remove_tree (folder, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_test_message ("%s", error->message);
  expected = g_strdup_printf ("%s: cannot remove: ", f->stuck);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_assert_true (g_file_test (f->stuck, G_FILE_TEST_EXISTS));
}

/* A file of 64 MiB with data in three places, two of them unaligned: the
 * copy has the same bytes and size and about as little data; where the
 * file system makes a reflink, that holds trivially. */
static void
test_clone_keeps_holes (Fixture *f, gconstpointer data)
{
  static const struct { guint64 offset; const char *text; } pieces[] = {
    { 0, "start" }, { 5 * 1024 * 1024 + 123, "middle" }, { 40 * 1024 * 1024 - 3, "across a block" },
  };
  const guint64 size = 64 * 1024 * 1024;
  g_autofree char *src_path = g_build_filename (f->root, "src", NULL);
  g_autofree char *dst_path = g_build_filename (f->root, "dst", NULL);
  g_autoptr(GError) error = NULL;
  guint64 position = 0, start, end;
  guint extents = 0;
  struct stat st;
  int src, dst;

  src = open (src_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (src, >=, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (pieces); i++)
    g_assert_true (qvm_fs_pwrite_all (src, pieces[i].text, strlen (pieces[i].text), pieces[i].offset, &error));
  g_assert_cmpint (ftruncate (src, size), ==, 0);

  /* the extents as qvm_fs_next_data() sees them: data, then only holes */
  while (position < size)
    {
      g_assert_true (qvm_fs_next_data (src, position, size, &start, &end, "src", &error));
      g_assert_no_error (error);
      g_assert_cmpuint (start, >=, position);
      g_assert_cmpuint (end, >=, start);
      if (end > start)
        extents++;
      position = end;
    }
  g_assert_cmpuint (extents, >=, 1);
  g_assert_cmpuint (start, ==, size);

  dst = open (dst_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (dst, >=, 0);
  g_assert_true (qvm_fs_clone_fd (src, dst, &error));
  g_assert_no_error (error);
  g_assert_cmpint (fstat (dst, &st), ==, 0);
  g_test_message ("copy: %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " allocated, %u extents",
                  (gint64) st.st_size, (gint64) st.st_blocks * 512, extents);
  g_assert_cmpuint (st.st_size, ==, size);
  g_assert_cmpuint (st.st_blocks * 512, <=, 1024 * 1024);
  for (gsize i = 0; i < G_N_ELEMENTS (pieces); i++)
    {
      char buffer[32] = { 0 };
      gsize len = strlen (pieces[i].text);

      g_assert_cmpint (pread (dst, buffer, len, pieces[i].offset), ==, (gssize) len);
      g_assert_cmpmem (buffer, len, pieces[i].text, len);
    }
  close (src);
  close (dst);
}

#define ADD(path, func) \
  g_test_add ("/fs/remove-tree/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("folder-of-files", test_folder_of_files);
  ADD ("missing", test_missing);
  ADD ("tree-and-links", test_tree_and_links);
  ADD ("error-names-path", test_error_names_path);
  g_test_add ("/fs/clone-keeps-holes", Fixture, NULL, fixture_setup, test_clone_keeps_holes, fixture_teardown);

  return g_test_run ();
}
