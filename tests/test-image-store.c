/* test-image-store.c: folder images, packaging, the image store and its
 * instances
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-image-store-private.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define DISK_SIZE (3 * GIB)
#define CHUNK (256 * 1024)

/* Where the test writes known bytes: scattered over the disk, some not
 * aligned, one at the very end. */
static const guint64 offsets[] = {
  0, 4096 * 100 + 17, 100 * MIB, GIB - 300000, GIB + 12345, 2 * GIB + 7 * MIB, DISK_SIZE - CHUNK,
};

typedef struct {
  char *root;
  char *store_folder;
  char *archive;
  QvmMachine *machine;
  GAsyncResult *result;
  guint64 progress_done;
  guint64 progress_total;
  guint progress_calls;
} Fixture;

static void
fill_chunk (guint8 *chunk, gsize index)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (index + 1);

  for (gsize i = 0; i < CHUNK / 4; i++)
    ((guint32 *) chunk)[i] = g_rand_int (rand) & 0x3f3f3f3f;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = g_dir_make_tmp ("qvm-image-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->store_folder = g_build_filename (f->root, "store", NULL);
  f->archive = g_build_filename (f->root, "image.tar.zst", NULL);
  f->machine = qvm_machine_new_random ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "rm", "-rf", f->root, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, NULL, NULL));
  g_free (f->root);
  g_free (f->store_folder);
  g_free (f->archive);
  g_clear_object (&f->machine);
  g_assert_null (f->result);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (slot);
}

static GThread *main_thread;

static void
on_progress (QvmMutableImage *image, guint64 done, guint64 total, Fixture *f)
{
  /* Emitted in the caller's thread, never in the packaging worker. */
  g_assert_true (g_thread_self () == main_thread);
  g_assert_cmpuint (done, >=, f->progress_done);
  g_assert_cmpuint (done, <=, total);
  f->progress_done = done;
  f->progress_total = total;
  f->progress_calls++;
}

/* A blank image with known bytes written through its disk file, packaged
 * with package_async() to f->archive. */
static void
make_archive (Fixture *f)
{
  g_autofree char *folder = g_build_filename (f->root, "build", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc (CHUNK);
  const char *disk;
  int fd;

  image = qvm_folder_image_new_blank (folder, DISK_SIZE, f->machine, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_image_get_format (QVM_IMAGE (image)), ==, "raw");
  g_assert_true (qvm_machine_equal (qvm_image_get_machine (QVM_IMAGE (image)), f->machine));

  disk = qvm_image_get_disk_file (QVM_IMAGE (image));
  g_assert_true (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_no_error (error);
  g_assert_true (qvm_folder_image_get_in_use (image));
  fd = open (disk, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      fill_chunk (chunk, i);
      g_assert_cmpint (pwrite (fd, chunk, CHUNK, offsets[i]), ==, CHUNK);
    }
  g_assert_cmpint (close (fd), ==, 0);

  /* in use: no packaging */
  g_assert_false (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), f->archive, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (g_file_test (f->archive, G_FILE_TEST_EXISTS));
  qvm_image_release (QVM_IMAGE (image));
  g_assert_false (qvm_folder_image_get_in_use (image));

  g_signal_connect (image, "progress", G_CALLBACK (on_progress), f);
  qvm_mutable_image_package_async (QVM_MUTABLE_IMAGE (image), f->archive, NULL, store_result, &f->result);
  /* one packaging at a time, and no use while it runs */
  g_assert_false (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), f->archive, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "being packaged"));
  g_clear_error (&error);
  g_assert_false (qvm_folder_image_get_in_use (image));

  result = wait_for (&f->result);
  g_assert_true (qvm_mutable_image_package_finish (QVM_MUTABLE_IMAGE (image), result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->progress_calls, >, 0);
  /* every byte of data, plus the layer and the machine */
  g_assert_cmpuint (f->progress_total, >=, G_N_ELEMENTS (offsets) * CHUNK);
  g_assert_cmpuint (f->progress_done, ==, f->progress_total);

  g_assert_true (qvm_folder_image_delete (image, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  g_assert_null (qvm_image_get_disk_file (QVM_IMAGE (image)));
}

/* A blank image of @size bytes packaged to f->archive: an archive that
 * loads fast. */
static void
package_blank (Fixture *f,
               guint64  size)
{
  g_autofree char *folder = g_build_filename (f->root, "build", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GError) error = NULL;

  image = qvm_folder_image_new_blank (folder, size, f->machine, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), f->archive, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_folder_image_delete (image, &error));
  g_assert_no_error (error);
}

static QvmImage *
get_instance (Fixture       *f,
              QvmImageStore *store,
              const char    *id,
              const char    *archive,
              GError       **error)
{
  g_autoptr(GFile) source = g_file_new_for_path (archive);
  g_autoptr(GAsyncResult) result = NULL;

  qvm_image_store_instance_async (store, id, source, NULL, store_result, &f->result);
  result = wait_for (&f->result);
  return qvm_image_store_instance_finish (store, result, error);
}

static void
assert_known_bytes (const char *disk)
{
  g_autofree guint8 *expected = g_malloc (CHUNK);
  g_autofree guint8 *got = g_malloc (CHUNK);
  struct stat st;
  int fd = open (disk, O_RDONLY);

  g_assert_cmpint (fd, >=, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      fill_chunk (expected, i);
      g_assert_cmpint (pread (fd, got, CHUNK, offsets[i]), ==, CHUNK);
      g_assert_cmpmem (got, CHUNK, expected, CHUNK);
    }
  /* and zeros in between */
  g_assert_cmpint (pread (fd, got, CHUNK, GIB / 2), ==, CHUNK);
  g_assert_true (got[0] == 0 && memcmp (got, got + 1, CHUNK - 1) == 0);

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, DISK_SIZE);
  /* sparse: the data written plus at most a block on each side of each run */
  g_test_message ("disk.img uses %" G_GUINT64_FORMAT " bytes for %" G_GSIZE_FORMAT " bytes of data",
                  (guint64) st.st_blocks * 512, G_N_ELEMENTS (offsets) * CHUNK);
  g_assert_cmpuint (st.st_blocks * 512, >=, G_N_ELEMENTS (offsets) * CHUNK);
  g_assert_cmpuint (st.st_blocks * 512, <=, G_N_ELEMENTS (offsets) * (CHUNK + 2 * 64 * 1024));
  close (fd);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) first = NULL;
  g_autoptr(QvmImage) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *first_path = NULL;
  g_autofree char *first_contents = NULL;
  g_autofree char *second_contents = NULL;
  gsize first_len, second_len;
  int fd;

  make_archive (f);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);

  first = get_instance (f, store, "image-1", f->archive, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_image_get_format (first), ==, "qcow2");
  g_assert_true (qvm_machine_equal (qvm_image_get_machine (first), f->machine));

  /* the instance lives next to the image's disk.img, its backing file */
  first_path = g_strdup (qvm_image_get_disk_file (first));
  folder = g_path_get_dirname (first_path);
  g_assert_true (g_str_has_prefix (folder, f->store_folder));
  disk = g_build_filename (folder, "disk.img", NULL);
  assert_known_bytes (disk);

  /* QEMU reads the same bytes through the instance */
  if (testutil_have_program ("qemu-img"))
    {
      g_autofree char *original = g_build_filename (f->root, "original.img", NULL);
      g_autofree guint8 *chunk = g_malloc (CHUNK);
      const char *argv[] = { "qemu-img", "compare", "-f", "qcow2", "-F", "raw", first_path, original, NULL };
      g_autofree char *out = NULL;
      int status;

      fd = open (original, O_WRONLY | O_CREAT | O_EXCL, 0644);
      g_assert_cmpint (ftruncate (fd, DISK_SIZE), ==, 0);
      for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++)
        {
          fill_chunk (chunk, i);
          g_assert_cmpint (pwrite (fd, chunk, CHUNK, offsets[i]), ==, CHUNK);
        }
      close (fd);
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                   &out, NULL, &status, NULL));
      g_test_message ("qemu-img compare: %s", out);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
    }

  /* a second instance: another file, loaded once */
  second = get_instance (f, store, "image-1", f->archive, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 1);
  g_assert_cmpstr (qvm_image_get_disk_file (first), !=, qvm_image_get_disk_file (second));
  g_assert_true (g_file_get_contents (first_path, &first_contents, &first_len, NULL));
  g_assert_true (g_file_get_contents (qvm_image_get_disk_file (second), &second_contents, &second_len, NULL));
  g_assert_cmpmem (first_contents, first_len, second_contents, second_len);

  /* writing one leaves the other as it was */
  fd = open (first_path, O_WRONLY);
  g_assert_cmpint (pwrite (fd, "scribble", 8, 200000), ==, 8);
  close (fd);
  g_clear_pointer (&second_contents, g_free);
  g_assert_true (g_file_get_contents (qvm_image_get_disk_file (second), &second_contents, &second_len, NULL));
  g_assert_cmpmem (first_contents, first_len, second_contents, second_len);

  /* release deletes the instance's file only */
  qvm_image_release (first);
  g_assert_null (qvm_image_get_disk_file (first));
  g_assert_false (g_file_test (first_path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (qvm_image_get_disk_file (second), G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (disk, G_FILE_TEST_IS_REGULAR));

  /* in use by the second instance: kept */
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 0);
  g_assert_true (g_file_test (folder, G_FILE_TEST_IS_DIR));
  qvm_image_release (second);
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 1);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));

  /* collected images load again */
  g_clear_object (&first);
  first = get_instance (f, store, "image-1", f->archive, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 2);
}

static void
test_concurrent_load_once (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GFile) source = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *results[3] = { NULL, NULL, NULL };
  QvmImage *instances[3];

  make_archive (f);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  source = g_file_new_for_path (f->archive);

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    qvm_image_store_instance_async (store, "shared", source, NULL, store_result, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GAsyncResult) result = wait_for (&results[i]);

      instances[i] = qvm_image_store_instance_finish (store, result, &error);
      g_assert_no_error (error);
    }

  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 1);
  for (guint i = 1; i < G_N_ELEMENTS (results); i++)
    {
      g_autofree char *folder = g_path_get_dirname (qvm_image_get_disk_file (instances[i]));
      g_autofree char *first_folder = g_path_get_dirname (qvm_image_get_disk_file (instances[0]));

      g_assert_cmpstr (folder, ==, first_folder);
      g_assert_cmpstr (qvm_image_get_disk_file (instances[i]), !=, qvm_image_get_disk_file (instances[0]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autofree char *path = g_strdup (qvm_image_get_disk_file (instances[i]));

      /* dropping an instance without release() deletes its file too */
      g_object_unref (instances[i]);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 1);
}

static void
test_failed_load_not_cached (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autofree char *bad = g_build_filename (f->root, "bad.tar.zst", NULL);
  g_autoptr(GFile) bad_file = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  GAsyncResult *results[2] = { NULL, NULL };

  g_assert_true (g_file_set_contents (bad, "\x1f\x8b this is not it", -1, NULL));
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  bad_file = g_file_new_for_path (bad);

  /* two requests wait for the same failing load; both get its error */
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    qvm_image_store_instance_async (store, "flaky", bad_file, NULL, store_result, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GAsyncResult) result = wait_for (&results[i]);
      g_autoptr(GError) load_error = NULL;

      g_assert_null (qvm_image_store_instance_finish (store, result, &load_error));
      g_assert_error (load_error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
      g_assert_nonnull (strstr (load_error->message, "gzip"));
    }
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 1);

  /* nothing left on disk but the store's mark */
  names = testutil_list_folder (f->store_folder);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, ".qvm-image-store");

  /* the same id with a good source loads again */
  make_archive (f);
  instance = get_instance (f, store, "flaky", f->archive, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 2);
  qvm_image_release (instance);
}

static void
test_missing_source (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = qvm_image_store_new (f->store_folder, NULL);
  g_autofree char *missing = g_build_filename (f->root, "missing.tar.zst", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImage) instance = get_instance (f, store, "missing", missing, &error);

  g_assert_null (instance);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* Extracts f->archive with tar, runs @change in its folder and packs it
 * again with tar's @tar_options; FALSE (the test skipped) without zstd. */
static gboolean
repack_archive (Fixture    *f,
                const char *change,
                const char *tar_options)
{
  g_autofree char *tar_dir = g_build_filename (f->root, "tar", NULL);
  g_autofree char *command = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (!testutil_have_program ("zstd"))
    {
      g_test_skip ("zstd is not installed");
      return FALSE;
    }
  g_assert_cmpint (g_mkdir (tar_dir, 0700), ==, 0);
  command = g_strdup_printf ("cd '%s' && tar --zstd -xf '%s' && %s && "
                             "tar --zstd %s -cf '%s' machine.json layer.qcow2 disk.img && cd / && rm -rf '%s'",
                             tar_dir, f->archive, change, tar_options, f->archive, tar_dir);
  {
    const char *argv[] = { "sh", "-c", command, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 NULL, &err, &status, &error));
  }
  g_assert_no_error (error);
  g_test_message ("tar: %s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return TRUE;
}

/* machine.json is validated by QvmMachine: its JSON paths reach the
 * caller, after the entry name. */
static void
test_invalid_machine (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;

  /* Package a valid image, then swap its machine.json for a bad one with
   * the archive writer the library uses. */
  package_blank (f, 64 * MIB);

  if (!repack_archive (f, "printf '{\"version\": 1, \"memory\": -5}' > machine.json", ""))
    return;

  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  instance = get_instance (f, store, "bad-machine", f->archive, &error);
  g_assert_null (instance);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_test_message ("%s", error->message);
  {
    g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

    /* one line per problem, each naming the entry, then the JSON path */
    g_assert_cmpuint (g_strv_length (lines), >=, 2);
    for (guint i = 0; lines[i] != NULL; i++)
      g_assert_true (g_str_has_prefix (lines[i], "machine.json: "));
    g_assert_nonnull (strstr (error->message, "machine.json: memory: -5 is less than the minimum 0"));
    g_assert_nonnull (strstr (error->message, "\"uuid\""));
  }
}

static void
test_folder_image_from_archive (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->root, "rebuilt", NULL);
  g_autofree char *second = g_build_filename (f->root, "second.tar.zst", NULL);
  g_autofree char *layer = NULL;
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;

  make_archive (f);
  image = qvm_folder_image_new_from_archive (f->archive, folder, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_machine_equal (qvm_image_get_machine (QVM_IMAGE (image)), f->machine));
  assert_known_bytes (qvm_image_get_disk_file (QVM_IMAGE (image)));
  layer = g_build_filename (folder, "layer.qcow2", NULL);
  g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));

  /* in use: not deleted */
  g_assert_true (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_no_error (error);
  g_assert_false (qvm_folder_image_delete (image, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_clear_error (&error);
  qvm_image_release (QVM_IMAGE (image));

  /* packaged again, blocking this time, it loads in a store */
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), second, NULL, &error));
  g_assert_no_error (error);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  instance = get_instance (f, store, "second", second, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_machine_equal (qvm_image_get_machine (instance), f->machine));
  qvm_image_release (instance);

  /* an existing folder is refused and kept */
  g_assert_null (qvm_folder_image_new_from_archive (f->archive, folder, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_true (g_file_test (folder, G_FILE_TEST_IS_DIR));
}

static void
test_new_blank_invalid (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->root, "blank", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (qvm_folder_image_new_blank (folder, 1000, f->machine, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  image = qvm_folder_image_new_blank (folder, MIB, f->machine, &error);
  g_assert_no_error (error);
  /* one disk per folder */
  g_assert_null (qvm_folder_image_new_blank (folder, MIB, f->machine, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

/* A store deletes what an earlier (crashed) store left, refuses a folder
 * another store uses, and refuses a folder that was never a store. */
/* A layer that is a valid header followed by a hole as large as its
 * virtual disk passes every check; its instances must keep the hole
 * rather than write it as data (where the folder has no reflinks, as on
 * ext4 or tmpfs). */
static void
test_sparse_layer_instance (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  package_blank (f, 256 * MIB);
  if (!repack_archive (f, "truncate -s 256M layer.qcow2", "--sparse"))
    return;

  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  instance = get_instance (f, store, "sparse-layer", f->archive, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (qvm_image_get_disk_file (instance), &st), ==, 0);
  g_test_message ("instance: %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " allocated",
                  (gint64) st.st_size, (gint64) st.st_blocks * 512);
  g_assert_cmpuint (st.st_size, ==, 256 * MIB);
  g_assert_cmpuint (st.st_blocks * 512, <=, MIB);
  qvm_image_release (instance);
}

/* A named pipe (or a folder) as the archive is refused before it is
 * opened for reading, which would wait for a writer for ever. */
static void
test_fifo_archive (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->root, "image.tar.zst.fifo", NULL);
  g_autofree char *folder = g_build_filename (f->root, "from-fifo", NULL);
  g_autoptr(QvmImageStore) store = qvm_image_store_new (f->store_folder, NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  instance = get_instance (f, store, "fifo", fifo, &error);
  g_assert_null (instance);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, fifo));
  g_assert_nonnull (strstr (error->message, "an image archive must be a regular file"));
  g_clear_error (&error);

  instance = get_instance (f, store, "folder", f->root, &error);
  g_assert_null (instance);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);

  image = qvm_folder_image_new_from_archive (fifo, folder, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));

  names = testutil_list_folder (f->store_folder);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
}

/* A load whose only request is cancelled is cancelled too: it ends with
 * G_IO_ERROR_CANCELLED, leaves nothing behind and is not cached. A load
 * that another request still waits for goes on. */
static void
test_cancelled_load (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GFile) source = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_build_filename (f->root, "from-archive", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_auto(GStrv) names = NULL;
  GAsyncResult *results[2] = { NULL, NULL };

  package_blank (f, 64 * MIB);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  source = g_file_new_for_path (f->archive);

  g_cancellable_cancel (cancellable);
  qvm_image_store_instance_async (store, "cancelled", source, cancellable, store_result, &f->result);
  result = wait_for (&f->result);
  g_assert_null (qvm_image_store_instance_finish (store, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  /* the load is over when the request's callback runs: nothing is left */
  names = testutil_list_folder (f->store_folder);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, ".qvm-image-store");
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 0);

  /* one of two requests cancelled: the other gets its instance */
  g_cancellable_reset (cancellable);
  qvm_image_store_instance_async (store, "cancelled", source, cancellable, store_result, &results[0]);
  qvm_image_store_instance_async (store, "cancelled", source, NULL, store_result, &results[1]);
  g_cancellable_cancel (cancellable);
  result = wait_for (&results[0]);
  g_assert_null (qvm_image_store_instance_finish (store, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  result = wait_for (&results[1]);
  instance = qvm_image_store_instance_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (instance);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 2);
  qvm_image_release (instance);

  /* a folder image's extraction as well */
  image = qvm_folder_image_new_from_archive (f->archive, folder, cancellable, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
}

/* A store folder another user owns or may write to is refused: they
 * could swap an image's files after the store checked them. */
static void
test_store_folder_permissions (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (f->store_folder, 0700), ==, 0);
  g_assert_cmpint (chmod (f->store_folder, 0707), ==, 0);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f->store_folder));
  g_assert_nonnull (strstr (error->message, "can be written by other users (mode 0707)"));
  g_clear_error (&error);

  g_assert_cmpint (chmod (f->store_folder, 0770), ==, 0);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "can be written by its group (mode 0770)"));
  g_clear_error (&error);
  /* refused before anything was created in it, even the mark */
  {
    g_auto(GStrv) names = testutil_list_folder (f->store_folder);

    g_assert_cmpuint (g_strv_length (names), ==, 0);
  }

  g_assert_cmpint (chmod (f->store_folder, 0755), ==, 0);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  g_clear_object (&store);

  if (geteuid () != 0)
    {
      g_test_message ("not root: a folder of another user is not tried");
      return;
    }
  g_assert_cmpint (chmod (f->store_folder, 0700), ==, 0);
  g_assert_cmpint (chown (f->store_folder, 65534, 65534), ==, 0);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "belongs to user 65534, not to this process's user 0"));
}

/* Another user cannot swap an image's folder in a store folder that is
 * the caller's alone; were it swapped all the same (here, by the test),
 * the store makes no instance backed by what took its place. */
static void
test_swapped_image_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *image_folder = NULL;
  g_autofree char *moved = g_build_filename (f->root, "moved", NULL);
  g_autofree char *planted_layer = NULL;
  g_autofree char *planted_disk = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) planted = NULL;
  g_auto(GStrv) kept = NULL;

  package_blank (f, 64 * MIB);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  instance = get_instance (f, store, "swapped", f->archive, &error);
  g_assert_no_error (error);
  image_folder = g_path_get_dirname (qvm_image_get_disk_file (instance));
  qvm_image_release (instance);
  g_clear_object (&instance);

  /* the loaded folder moves away; another, with a layer of someone else's
   * choosing, takes its name */
  g_assert_cmpint (g_rename (image_folder, moved), ==, 0);
  g_assert_cmpint (g_mkdir (image_folder, 0700), ==, 0);
  planted_layer = g_build_filename (image_folder, "layer.qcow2", NULL);
  planted_disk = g_build_filename (image_folder, "disk.img", NULL);
  g_assert_true (g_file_set_contents (planted_layer, "planted layer", -1, NULL));
  g_assert_true (g_file_set_contents (planted_disk, "planted disk", -1, NULL));

  instance = get_instance (f, store, "swapped", f->archive, &error);
  g_assert_null (instance);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, image_folder));
  g_assert_nonnull (strstr (error->message, "was moved or replaced after it was loaded"));

  /* no instance in either folder; the planted one is not deleted either */
  planted = testutil_list_folder (image_folder);
  g_assert_cmpuint (g_strv_length (planted), ==, 2);
  kept = testutil_list_folder (moved);
  g_assert_cmpuint (g_strv_length (kept), ==, 2);
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 1);
  g_assert_true (g_file_test (planted_layer, G_FILE_TEST_IS_REGULAR));
}

static void
test_store_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *mark = g_build_filename (f->store_folder, ".qvm-image-store", NULL);
  g_autofree char *leftover = g_build_filename (f->store_folder, "image-0123456789abcdef", NULL);
  g_autofree char *leftover_disk = g_build_filename (leftover, "disk.img", NULL);
  g_autofree char *other = g_build_filename (f->root, "home", NULL);
  g_autofree char *precious = g_build_filename (other, "precious.txt", NULL);
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImageStore) second = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_cmpint (g_mkdir_with_parents (leftover, 0700), ==, 0);
  g_assert_true (g_file_set_contents (mark, "", 0, NULL));
  g_assert_true (g_file_set_contents (leftover_disk, "old", -1, NULL));

  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_image_store_get_folder (store), ==, f->store_folder);
  g_assert_false (g_file_test (leftover, G_FILE_TEST_EXISTS));
  names = testutil_list_folder (f->store_folder);
  g_assert_cmpuint (g_strv_length (names), ==, 1);

  second = qvm_image_store_new (f->store_folder, &error);
  g_assert_null (second);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);

  /* once the first is gone, the folder is free */
  g_clear_object (&store);
  second = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);

  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
  g_assert_true (g_file_set_contents (precious, "keep me", -1, NULL));
  g_clear_object (&store);
  store = qvm_image_store_new (other, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY);
  g_assert_true (g_file_test (precious, G_FILE_TEST_IS_REGULAR));
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  guint64 max_size = 0;

  make_archive (f);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_image_store_get_max_size (store), ==, 50 * GIB);
  g_assert_cmpuint (qvm_image_store_get_max_data (store), ==, 50 * GIB);

  g_object_set (store, "max-size", 2 * GIB, NULL);
  g_object_get (store, "max-size", &max_size, NULL);
  g_assert_cmpuint (max_size, ==, 2 * GIB);
  instance = get_instance (f, store, "too-big", f->archive, &error);
  g_assert_null (instance);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "over the limit of 2147483648 bytes"));
  g_clear_error (&error);

  qvm_image_store_set_max_size (store, 50 * GIB);
  qvm_image_store_set_max_data (store, MIB);
  instance = get_instance (f, store, "too-much-data", f->archive, &error);
  g_assert_null (instance);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_true (g_str_has_prefix (error->message, "disk.img: "));
  g_assert_nonnull (strstr (error->message, "the archive's data is over the limit of 1048576 bytes"));

  names = testutil_list_folder (f->store_folder);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
}

/* The GFile accessor names the file the path getter names, a new object
 * each time; neither marks the image in use. */
static void
assert_disk_accessors (QvmImage *image)
{
  g_autoptr(GFile) disk = qvm_image_get_disk (image);
  g_autoptr(GFile) again = qvm_image_get_disk (image);

  g_assert_nonnull (disk);
  g_assert_cmpstr (g_file_peek_path (disk), ==, qvm_image_get_disk_file (image));
  g_assert_true (disk != again);
  g_assert_true (g_file_equal (disk, again));
}

/* A folder image: in use from acquire() to release(), once at a time,
 * and again after release; the getters change nothing. */
static void
test_folder_image_acquire (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->root, "build", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GError) error = NULL;
  guint notified = 0;

  image = qvm_folder_image_new_blank (folder, MIB, f->machine, &error);
  g_assert_no_error (error);
  g_signal_connect (image, "notify::in-use", G_CALLBACK (testutil_count_notify), &notified);

  /* asking for the disk has no effect: it can still be packaged */
  assert_disk_accessors (QVM_IMAGE (image));
  g_assert_false (qvm_folder_image_get_in_use (image));
  g_assert_cmpuint (notified, ==, 0);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), f->archive, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_no_error (error);
  g_assert_true (qvm_folder_image_get_in_use (image));
  g_assert_cmpuint (notified, ==, 1);

  /* twice: refused, and still in use */
  g_assert_false (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, folder));
  g_clear_error (&error);
  g_assert_true (qvm_folder_image_get_in_use (image));
  g_assert_cmpuint (notified, ==, 1);

  /* after release: free, and usable again */
  qvm_image_release (QVM_IMAGE (image));
  g_assert_false (qvm_folder_image_get_in_use (image));
  g_assert_cmpuint (notified, ==, 2);
  g_assert_true (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 3);
  qvm_image_release (QVM_IMAGE (image));

  /* once deleted, nothing to use */
  g_assert_true (qvm_folder_image_delete (image, &error));
  g_assert_no_error (error);
  g_assert_null (qvm_image_get_disk (QVM_IMAGE (image)));
  g_assert_false (qvm_image_acquire (QVM_IMAGE (image), &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "deleted"));
  g_assert_false (qvm_folder_image_get_in_use (image));
}

/* A store instance: one use, which release ends for good. */
static void
test_instance_acquire (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->root, "build", NULL);
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImage) instance = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  image = qvm_folder_image_new_blank (folder, MIB, f->machine, &error);
  g_assert_no_error (error);
  g_assert_true (qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), f->archive, NULL, &error));
  g_assert_no_error (error);
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  instance = get_instance (f, store, "acquire", f->archive, &error);
  g_assert_no_error (error);

  /* the getters first: they do not count as the use */
  assert_disk_accessors (instance);
  path = g_strdup (qvm_image_get_disk_file (instance));
  g_assert_true (qvm_image_acquire (instance, &error));
  g_assert_no_error (error);

  g_assert_false (qvm_image_acquire (instance, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  /* the image is in use until release; then the instance is gone */
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 0);
  qvm_image_release (instance);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_null (qvm_image_get_disk_file (instance));
  g_assert_null (qvm_image_get_disk (instance));
  g_assert_false (qvm_image_acquire (instance, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "released"));
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 1);
}

/* An implementation that leaves acquire() to the interface: usable while
 * it has a disk file. */
#define TEST_TYPE_PLAIN_IMAGE (test_plain_image_get_type ())
G_DECLARE_FINAL_TYPE (TestPlainImage, test_plain_image, TEST, PLAIN_IMAGE, GObject)

struct _TestPlainImage
{
  GObject parent_instance;
  gboolean released;
};

static const char *
test_plain_image_get_disk_file (QvmImage *image)
{
  return TEST_PLAIN_IMAGE (image)->released ? NULL : "/plain/disk.img";
}

static const char *
test_plain_image_get_format (QvmImage *image)
{
  return "raw";
}

static QvmMachine *
test_plain_image_get_machine (QvmImage *image)
{
  return NULL;
}

static void
test_plain_image_release (QvmImage *image)
{
  TEST_PLAIN_IMAGE (image)->released = TRUE;
}

static void
test_plain_image_iface_init (QvmImageInterface *iface)
{
  iface->get_disk_file = test_plain_image_get_disk_file;
  iface->get_format = test_plain_image_get_format;
  iface->get_machine = test_plain_image_get_machine;
  iface->release = test_plain_image_release;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestPlainImage, test_plain_image, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_IMAGE, test_plain_image_iface_init))

static void
test_plain_image_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
test_plain_image_class_init (TestPlainImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_plain_image_get_property;
  g_object_class_override_property (object_class, 1, "disk-file");
  g_object_class_override_property (object_class, 2, "format");
  g_object_class_override_property (object_class, 3, "machine");
}

static void
test_plain_image_init (TestPlainImage *self)
{
}

static void
test_default_acquire (Fixture *f, gconstpointer data)
{
  g_autoptr(QvmImage) image = g_object_new (TEST_TYPE_PLAIN_IMAGE, NULL);
  g_autoptr(GError) error = NULL;

  assert_disk_accessors (image);
  g_assert_true (qvm_image_acquire (image, &error));
  g_assert_no_error (error);
  qvm_image_release (image);
  g_assert_null (qvm_image_get_disk (image));
  g_assert_false (qvm_image_acquire (image, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

static void
other_async (void)
{
}

/* A result of the right object but from another call. */
static GAsyncResult *
foreign_result (gpointer source)
{
  GAsyncResult *result = NULL;
  g_autoptr(GTask) task = g_task_new (source, NULL, store_result, &result);

  g_task_set_source_tag (task, other_async);
  g_task_return_boolean (task, TRUE);
  g_clear_object (&task);
  return wait_for (&result);
}

/* The _finish functions check the source tag (a programmer error). */
static void
test_finish_checks_tag (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->root, "build", NULL);
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);
  image = qvm_folder_image_new_blank (folder, MIB, f->machine, &error);
  g_assert_no_error (error);

  result = foreign_result (store);
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_null (qvm_image_store_instance_finish (store, result, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_clear_object (&result);

  result = foreign_result (image);
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_false (qvm_mutable_image_package_finish (QVM_MUTABLE_IMAGE (image), result, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
}

/* One id names one archive: another file, or the same file rewritten, is
 * an error rather than the old image; a NULL id is the file's URI; a file
 * deleted after its load still gives instances. */
static void
test_id_names_one_archive (Fixture *f, gconstpointer data)
{
  g_autofree char *other = g_build_filename (f->root, "other.tar.zst", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) other_file = g_file_new_for_path (other);
  gsize length;
  QvmImage *instance;

  package_blank (f, 16 * MIB);
  g_assert_true (g_file_get_contents (f->archive, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (other, contents, length, NULL));
  store = qvm_image_store_new (f->store_folder, &error);
  g_assert_no_error (error);

  instance = get_instance (f, store, "one", f->archive, &error);
  g_assert_no_error (error);
  g_clear_object (&instance);

  instance = get_instance (f, store, "one", other, &error);
  g_assert_null (instance);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "other.tar.zst"));
  g_assert_nonnull (strstr (error->message, "image.tar.zst"));
  g_clear_error (&error);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 1);

  /* No id: keyed by the URI, loaded once per file. */
  for (guint i = 0; i < 2; i++)
    {
      instance = get_instance (f, store, NULL, other, &error);
      g_assert_no_error (error);
      g_clear_object (&instance);
    }
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 2);

  /* Rewritten in place (a new file by the same name): refused. */
  g_assert_true (g_file_set_contents (f->archive, contents, length, NULL));
  instance = get_instance (f, store, "one", f->archive, &error);
  g_assert_null (instance);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "changed"));
  g_clear_error (&error);

  /* Deleted after the load: the image was read in full. */
  g_assert_cmpint (g_unlink (f->archive), ==, 0);
  instance = get_instance (f, store, "one", f->archive, &error);
  g_assert_no_error (error);
  g_clear_object (&instance);

  /* The blocking form, with no main loop running. */
  instance = qvm_image_store_instance (store, NULL, other_file, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (QVM_IS_IMAGE (instance));
  g_clear_object (&instance);
  g_assert_cmpuint (qvm_image_store_get_n_loads (store), ==, 2);
  g_assert_cmpuint (qvm_image_store_collect (store), ==, 2);
}

#define ADD(path, func) \
  g_test_add ("/image-store/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();

  ADD ("round-trip", test_round_trip);
  ADD ("concurrent-load-once", test_concurrent_load_once);
  ADD ("failed-load-not-cached", test_failed_load_not_cached);
  ADD ("missing-source", test_missing_source);
  ADD ("invalid-machine", test_invalid_machine);
  ADD ("sparse-layer-instance", test_sparse_layer_instance);
  ADD ("fifo-archive", test_fifo_archive);
  ADD ("cancelled-load", test_cancelled_load);
  ADD ("store-folder-permissions", test_store_folder_permissions);
  ADD ("swapped-image-folder", test_swapped_image_folder);
  ADD ("folder-image-from-archive", test_folder_image_from_archive);
  ADD ("new-blank-invalid", test_new_blank_invalid);
  ADD ("store-folder", test_store_folder);
  ADD ("limits", test_limits);
  ADD ("folder-image-acquire", test_folder_image_acquire);
  ADD ("instance-acquire", test_instance_acquire);
  ADD ("default-acquire", test_default_acquire);
  ADD ("finish-checks-tag", test_finish_checks_tag);
  ADD ("id-names-one-archive", test_id_names_one_archive);

  return g_test_run ();
}
