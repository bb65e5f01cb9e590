/* test-folders.c: the one rule for the folders constructors are given
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As mkdir(1) without -p: a constructor makes at most the last folder of a
 * path (the image store's own folder; the private folders of a network and
 * of a virtual machine inside the folder given), never a missing parent,
 * which is G_IO_ERROR_NOT_FOUND naming it. A folder given as NULL is the
 * user's runtime folder. (qvm --outbox follows the rule too:
 * test-qvm-tool.)
 */

#include <string.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "testutil.h"

typedef struct {
  char           *folder;
  char           *socket_folder;
  QvmFolderImage *image;
  QvmUserNetwork *network;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  testutil_make_vm_parts ("qvm-test-folders-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  if (fixture->network != NULL)
    qvm_network_release (QVM_NETWORK (fixture->network));
  g_clear_object (&fixture->network);
  g_clear_object (&fixture->image);
  testutil_remove_tree (fixture->folder);
  g_free (fixture->folder);
  g_free (fixture->socket_folder);
}

static void
test_store_folder (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *first = g_build_filename (fixture->folder, "a", NULL);
  g_autofree char *deep = g_build_filename (first, "b", "store", NULL);
  g_autofree char *parent = g_path_get_dirname (deep);
  g_autofree char *made = g_build_filename (fixture->folder, "store", NULL);
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GError) error = NULL;

  store = qvm_image_store_new (deep, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, parent));
  g_assert_false (g_file_test (first, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* The last level is made. */
  store = qvm_image_store_new (made, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (made, G_FILE_TEST_IS_DIR));
}

static void
test_network_folder (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fixture->folder, "a", "b", NULL);
  g_autofree char *first = g_build_filename (fixture->folder, "a", NULL);
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(GError) error = NULL;

  network = qvm_user_network_new (missing, &error);
  g_assert_null (network);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_assert_false (g_file_test (first, G_FILE_TEST_EXISTS));
}

static QvmVirtualMachine *
new_vm (Fixture     *fixture,
        const char  *socket_folder,
        GError     **error)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (512);

  return qvm_virtual_machine_new (options, QVM_IMAGE (fixture->image), QVM_NETWORK (fixture->network),
                                  socket_folder, NULL, NULL, error);
}

/* A missing socket folder is said to be missing (it used to be "is not a
 * folder"); a file is not a folder; nothing is created. */
static void
test_vm_socket_folder (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fixture->folder, "nowhere", NULL);
  g_autofree char *file = g_build_filename (fixture->folder, "file", NULL);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;

  vm = new_vm (fixture, missing, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("Socket folder “%s” does not exist", missing);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  vm = new_vm (fixture, file, &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
  g_assert_nonnull (strstr (error->message, "is not a folder"));
}

/* NULL is the user's runtime folder, as for a network. */
static void
test_vm_default_socket_folder (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *runtime = g_canonicalize_filename (g_get_user_runtime_dir (), NULL);
  g_autofree char *folder = NULL;

  if (!g_file_test (runtime, G_FILE_TEST_IS_DIR))
    g_assert_cmpint (g_mkdir_with_parents (runtime, 0700), ==, 0);

  vm = new_vm (fixture, NULL, &error);
  g_assert_no_error (error);
  g_object_get (vm, "socket-folder", &folder, NULL);
  g_assert_cmpstr (folder, ==, runtime);

  /* The machine owns the image and the network now. */
  g_clear_object (&vm);
  g_clear_object (&fixture->network);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/folders/image-store", test_store_folder);
  ADD ("/folders/user-network", test_network_folder);
  ADD ("/folders/virtual-machine", test_vm_socket_folder);
  ADD ("/folders/virtual-machine-default", test_vm_default_socket_folder);
#undef ADD

  return g_test_run ();
}
