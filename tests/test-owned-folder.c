/* test-owned-folder.c: private folders swept once their owner is gone
 * (suite 'unit')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm-owned-folder-private.h"
#include "testutil.h"

typedef struct {
  char *parent;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->parent = g_dir_make_tmp ("qvm-test-owned-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  testutil_remove_tree (fixture->parent);
  g_free (fixture->parent);
}

static char *
make_owned (Fixture *fixture,
            int     *lock_fd)
{
  g_autoptr(GError) error = NULL;
  char *folder = qvm_owned_folder_make (fixture->parent, "qvm-", lock_fd, &error);

  g_assert_no_error (error);
  g_assert_nonnull (folder);
  g_assert_true (g_file_test (folder, G_FILE_TEST_IS_DIR));
  return folder;
}

/* A live owner's folder stays; once its lock is dropped, it goes with
 * everything in it. */
static void
test_sweep_after_owner (Fixture       *fixture,
                        gconstpointer  data)
{
  int lock_fd = -1;
  g_autofree char *folder = make_owned (fixture, &lock_fd);
  g_autofree char *socket = g_build_filename (folder, "vnc.sock", NULL);

  g_assert_true (g_file_set_contents (socket, "", 0, NULL));
  g_assert_cmpuint (qvm_owned_folder_sweep (fixture->parent, "qvm-"), ==, 0);
  g_assert_true (g_file_test (socket, G_FILE_TEST_EXISTS));

  close (lock_fd);
  g_assert_cmpuint (qvm_owned_folder_sweep (fixture->parent, "qvm-"), ==, 1);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (testutil_count_entries (fixture->parent), ==, 0);
}

/* What does not look like an owned folder is never removed: no mark, a
 * name of another shape or prefix, a symbolic link to an abandoned one. */
static void
test_sweep_spares_others (Fixture       *fixture,
                          gconstpointer  data)
{
  int lock_fd = -1;
  g_autofree char *unmarked = g_build_filename (fixture->parent, "qvm-abc123", NULL);
  g_autofree char *longer = g_build_filename (fixture->parent, "qvm-backup-2026", NULL);
  g_autofree char *link = g_build_filename (fixture->parent, "qvm-link00", NULL);
  g_autofree char *elsewhere = g_build_filename (fixture->parent, "elsewhere", NULL);
  g_autofree char *abandoned = NULL;
  g_autofree char *mark = NULL;

  g_assert_cmpint (g_mkdir (unmarked, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (longer, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (elsewhere, 0700), ==, 0);
  abandoned = qvm_owned_folder_make (elsewhere, "qvm-", &lock_fd, NULL);
  g_assert_nonnull (abandoned);
  close (lock_fd);
  g_assert_cmpint (symlink (abandoned, link), ==, 0);
  mark = g_build_filename (longer, QVM_OWNED_FOLDER_MARK, NULL);
  g_assert_true (g_file_set_contents (mark, "", 0, NULL));

  g_assert_cmpuint (qvm_owned_folder_sweep (fixture->parent, "qvm-"), ==, 0);
  g_assert_cmpuint (testutil_count_entries (fixture->parent), ==, 4);
  g_assert_true (g_file_test (abandoned, G_FILE_TEST_IS_DIR));
  /* Swept where it really lives. */
  g_assert_cmpuint (qvm_owned_folder_sweep (elsewhere, "qvm-"), ==, 1);
}

/* The lock is what counts: another descriptor of the same process (as a
 * second process would) cannot take a live folder. */
static void
test_lock_is_exclusive (Fixture       *fixture,
                        gconstpointer  data)
{
  int lock_fd = -1;
  g_autofree char *folder = make_owned (fixture, &lock_fd);
  g_autofree char *mark = g_build_filename (folder, QVM_OWNED_FOLDER_MARK, NULL);
  int other = open (mark, O_RDWR | O_CLOEXEC);

  g_assert_cmpint (other, >=, 0);
  g_assert_cmpint (flock (other, LOCK_EX | LOCK_NB), ==, -1);
  close (other);
  close (lock_fd);
}

static void
test_make_in_missing_parent (void)
{
  g_autoptr(GError) error = NULL;
  int lock_fd = -1;
  g_autofree char *folder = qvm_owned_folder_make ("/nonexistent/qvm", "qvm-", &lock_fd, &error);

  g_assert_null (folder);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/qvm"));
  g_assert_cmpint (lock_fd, ==, -1);
  g_assert_cmpuint (qvm_owned_folder_sweep ("/nonexistent/qvm", "qvm-"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/owned-folder/sweep-after-owner", Fixture, NULL,
              fixture_set_up, test_sweep_after_owner, fixture_tear_down);
  g_test_add ("/owned-folder/sweep-spares-others", Fixture, NULL,
              fixture_set_up, test_sweep_spares_others, fixture_tear_down);
  g_test_add ("/owned-folder/lock-is-exclusive", Fixture, NULL,
              fixture_set_up, test_lock_is_exclusive, fixture_tear_down);
  g_test_add_func ("/owned-folder/make-in-missing-parent", test_make_in_missing_parent);

  return g_test_run ();
}
