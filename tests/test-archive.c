/* test-archive.c: validated extraction of image archives, and packaging
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The hostile archives are made here with libarchive's writer, one per
 * rule; each must be refused with QVM_ERROR_MALFORMED_PAYLOAD, a message
 * naming the entry and the rule, and no file left behind.
 */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-archive-private.h"
#include "qvm-qcow2-private.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define PIB (G_GUINT64_CONSTANT (1) << 50)

#define MACHINE_JSON "{\"uuid\": \"52a5c0f4-7d3e-4a9b-9a43-1f2b3c4d5e6f\", \"memory\": 512}"

typedef enum {
  FILTER_ZSTD,
  FILTER_GZIP,
  FILTER_NONE,
} Filter;

typedef struct {
  guint64 offset;
  guint64 length;
} TestRegion;

typedef struct {
  const char *name;
  mode_t type;               /* 0: regular */
  const char *link;          /* symlink or hard link target */
  gboolean hardlink;
  guint64 size;              /* declared size; 0: data_len */
  const void *data;
  gsize data_len;
  guint64 data_offset;       /* sparse: one data region at this offset */
  gboolean sparse;
  /* sparse with many regions: data holds the whole file, holes as zeros */
  const TestRegion *regions;
  gsize n_regions;
} TestEntry;

typedef struct {
  char *root;                /* everything the test makes */
  char *archives;            /* the archives */
  char *parent;              /* where extraction folders are made */
  QvmArchiveLimits limits;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = g_dir_make_tmp ("qvm-archive-XXXXXX", &error);
  g_assert_no_error (error);
  f->archives = g_build_filename (f->root, "archives", NULL);
  f->parent = g_build_filename (f->root, "images", NULL);
  g_assert_cmpint (g_mkdir (f->archives, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (f->parent, 0700), ==, 0);
  qvm_archive_limits_init (&f->limits);
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, NULL, NULL));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  remove_tree (f->root);
  g_free (f->root);
  g_free (f->archives);
  g_free (f->parent);
}

/* The machine.json hook: any JSON object is a machine here (QvmMachine's
 * own validation is tested with the image store). */
static GObject *
validate_json_object (GBytes *json, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  GObject *machine;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (json, NULL), g_bytes_get_size (json),
                                   &local_error))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "invalid JSON: %s", local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "$: must be an object");
      return NULL;
    }
  machine = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data_full (machine, "json", g_bytes_ref (json), (GDestroyNotify) g_bytes_unref);
  return machine;
}

static char *
write_archive (Fixture         *f,
               const char      *file_name,
               Filter           filter,
               const TestEntry *entries,
               gsize            n_entries)
{
  g_autofree char *path = g_build_filename (f->archives, file_name, NULL);
  struct archive *a = archive_write_new ();

  switch (filter)
    {
    case FILTER_ZSTD:
      g_assert_cmpint (archive_write_add_filter_zstd (a), ==, ARCHIVE_OK);
      break;
    case FILTER_GZIP:
      g_assert_cmpint (archive_write_add_filter_gzip (a), ==, ARCHIVE_OK);
      break;
    case FILTER_NONE:
      break;
    }
  g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);

  for (gsize i = 0; i < n_entries; i++)
    {
      const TestEntry *e = &entries[i];
      struct archive_entry *ae = archive_entry_new ();
      guint64 size = e->size ? e->size : e->data_len;

      archive_entry_set_pathname (ae, e->name);
      archive_entry_set_perm (ae, 0644);
      archive_entry_set_mtime (ae, 1700000000, 0);
      if (e->hardlink)
        {
          archive_entry_set_filetype (ae, AE_IFREG);
          archive_entry_set_hardlink (ae, e->link);
          archive_entry_set_size (ae, 0);
        }
      else if (e->type != 0)
        {
          archive_entry_set_filetype (ae, e->type);
          if (e->link != NULL)
            archive_entry_set_symlink (ae, e->link);
          archive_entry_set_size (ae, 0);
        }
      else
        {
          archive_entry_set_filetype (ae, AE_IFREG);
          archive_entry_set_size (ae, size);
          if (e->regions != NULL)
            {
              for (gsize r = 0; r < e->n_regions; r++)
                archive_entry_sparse_add_entry (ae, e->regions[r].offset, e->regions[r].length);
              archive_entry_sparse_add_entry (ae, size, 0);
            }
          else if (e->sparse)
            {
              archive_entry_sparse_add_entry (ae, e->data_offset, e->data_len);
              if (e->data_offset + e->data_len < size)
                archive_entry_sparse_add_entry (ae, size, 0);
            }
        }
      g_assert_cmpint (archive_write_header (a, ae), ==, ARCHIVE_OK);
      if (e->type == 0 && !e->hardlink && e->data_len > 0)
        {
          if (e->sparse && e->data_offset > 0)
            {
              /* the pax writer skips hole bytes without reading them */
              static const guint8 zeros[1 << 20];
              guint64 hole = e->data_offset;

              while (hole > 0)
                {
                  gsize n = MIN (hole, sizeof zeros);

                  g_assert_cmpint (archive_write_data (a, zeros, n), ==, (la_ssize_t) n);
                  hole -= n;
                }
            }
          g_assert_cmpint (archive_write_data (a, e->data, e->data_len), ==, (la_ssize_t) e->data_len);
        }
      archive_entry_free (ae);
    }

  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
  return g_steal_pointer (&path);
}

static gboolean
extract_file (Fixture     *f,
              const char  *archive,
              const char  *folder,
              GObject    **machine,
              GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (archive);
  g_autoptr(GFileInputStream) stream = g_file_read (file, NULL, NULL);

  g_assert_nonnull (stream);
  return qvm_archive_extract (G_INPUT_STREAM (stream), folder, &f->limits, validate_json_object,
                              machine, NULL, error);
}

/* Extracts @archive, expects the rule's error, and checks that nothing was
 * left in the parent folder. */
static void
assert_refused (Fixture    *f,
                const char *archive,
                const char *entry,
                const char *rule)
{
  g_autofree char *folder = g_build_filename (f->parent, "image", NULL);
  g_auto(GStrv) before = testutil_list_folder (f->parent);
  g_auto(GStrv) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) machine = NULL;
  g_autofree char *expected_start = g_strdup_printf ("%s: ", entry);

  g_assert_false (extract_file (f, archive, folder, &machine, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_test_message ("refused: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, expected_start));
  g_assert_nonnull (strstr (error->message, rule));
  g_assert_null (machine);

  after = testutil_list_folder (f->parent);
  g_assert_true (g_strv_equal ((const char *const *) before, (const char *const *) after));
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
}

/* A valid image: a 64 MiB sparse disk with data at 1 MiB, a layer, a
 * machine. Entries may be replaced or added by the cases. */
static GBytes *
valid_layer (guint64 size)
{
  return qvm_qcow2_build_layer (size, "disk.img", "raw");
}

#define DISK_SIZE (64 * MIB)
static const char disk_data[] = "\xeb\x63\x90 a boot sector, more or less";

static void
valid_entries (TestEntry entries[3], GBytes *layer)
{
  entries[0] = (TestEntry) { .name = "machine.json", .data = MACHINE_JSON, .data_len = strlen (MACHINE_JSON) };
  entries[1] = (TestEntry) { .name = "layer.qcow2", .data = g_bytes_get_data (layer, NULL),
                             .data_len = g_bytes_get_size (layer) };
  entries[2] = (TestEntry) { .name = "disk.img", .size = DISK_SIZE, .sparse = TRUE,
                             .data = disk_data, .data_len = sizeof disk_data, .data_offset = MIB };
}

static void
test_valid (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;
  g_autofree char *folder = g_build_filename (f->parent, "image", NULL);
  g_autofree char *disk = g_build_filename (folder, "disk.img", NULL);
  g_autofree char *layer_path = g_build_filename (folder, "layer.qcow2", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GObject) machine = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  gsize len;
  struct stat st;

  valid_entries (entries, layer);
  archive = write_archive (f, "valid.tar.zst", FILTER_ZSTD, entries, 3);
  g_assert_true (extract_file (f, archive, folder, &machine, &error));
  g_assert_no_error (error);

  g_assert_nonnull (machine);
  g_assert_cmpmem (g_bytes_get_data (g_object_get_data (machine, "json"), NULL), strlen (MACHINE_JSON),
                   MACHINE_JSON, strlen (MACHINE_JSON));

  names = testutil_list_folder (folder);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "disk.img");
  g_assert_cmpstr (names[1], ==, "layer.qcow2");

  g_assert_cmpint (stat (disk, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, DISK_SIZE);
  /* sparse: one or two file system blocks, not 64 MiB */
  g_assert_cmpuint (st.st_blocks * 512, <=, 128 * 1024);
  g_assert_true (g_file_get_contents (disk, &contents, &len, NULL));
  g_assert_cmpmem (contents + MIB, sizeof disk_data, disk_data, sizeof disk_data);
  g_assert_true (contents[0] == 0 && memcmp (contents, contents + 1, MIB - 1) == 0);
  g_clear_pointer (&contents, g_free);

  g_assert_true (g_file_get_contents (layer_path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, g_bytes_get_data (layer, NULL), g_bytes_get_size (layer));
}

/* A disk stored without sparse entries (plain tar) extracts sparse too. */
static void
test_dense_disk_extracts_sparse (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (8 * MIB);
  g_autofree guint8 *dense = g_malloc0 (8 * MIB);
  TestEntry entries[3];
  g_autofree char *archive = NULL;
  g_autofree char *folder = g_build_filename (f->parent, "image", NULL);
  g_autofree char *disk = g_build_filename (folder, "disk.img", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GObject) machine = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  gsize len;

  memset (dense + 3 * MIB, 0xa5, 100000);
  valid_entries (entries, layer);
  entries[2] = (TestEntry) { .name = "disk.img", .data = dense, .data_len = 8 * MIB };
  archive = write_archive (f, "dense.tar.zst", FILTER_ZSTD, entries, 3);
  g_assert_true (extract_file (f, archive, folder, &machine, &error));
  g_assert_no_error (error);

  g_assert_cmpint (stat (disk, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, 8 * MIB);
  g_assert_cmpuint (st.st_blocks * 512, <=, 256 * 1024);
  g_assert_true (g_file_get_contents (disk, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, dense, 8 * MIB);
}

static void
refuse_with_entry (Fixture         *f,
                   const TestEntry *replacement,
                   int              replace_index,
                   const char      *entry,
                   const char      *rule)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[4];
  gsize n = 3;
  g_autofree char *archive = NULL;

  valid_entries (entries, layer);
  if (replace_index < 0)
    entries[n++] = *replacement;
  else
    entries[replace_index] = *replacement;
  archive = write_archive (f, "hostile.tar.zst", FILTER_ZSTD, entries, n);
  assert_refused (f, archive, entry, rule);
}

static void
test_refuse_other_name (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "README", .data = "hi", .data_len = 2 };

  refuse_with_entry (f, &e, -1, "README", "unexpected entry");
}

static void
test_refuse_slash (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "sub/disk.img", .data = "hi", .data_len = 2 };
  TestEntry dot = { .name = "./disk.img", .data = "hi", .data_len = 2 };

  refuse_with_entry (f, &e, 2, "sub/disk.img", "paths with “/” are not allowed");
  refuse_with_entry (f, &dot, 2, "./disk.img", "paths with “/” are not allowed");
}

static void
test_refuse_dotdot (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "../disk.img", .data = "hi", .data_len = 2 };
  TestEntry bare = { .name = "..", .data = "hi", .data_len = 2 };

  refuse_with_entry (f, &e, 2, "../disk.img", "paths with “..” are not allowed");
  refuse_with_entry (f, &bare, -1, "..", "paths with “..” are not allowed");
}

static void
test_refuse_absolute (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "/disk.img", .data = "hi", .data_len = 2 };

  refuse_with_entry (f, &e, 2, "/disk.img", "absolute paths are not allowed");
}

static void
test_refuse_control_characters (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "disk.img\nlayer.qcow2: fine", .data = "hi", .data_len = 2 };

  /* the newline is escaped: the message is one line */
  refuse_with_entry (f, &e, 2, "disk.img\\nlayer.qcow2: fine", "unexpected entry");
}

static void
test_refuse_symlink (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "disk.img", .type = AE_IFLNK, .link = "/etc/passwd" };

  refuse_with_entry (f, &e, 2, "disk.img", "symbolic links are not allowed");
}

static void
test_refuse_hardlink (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "disk.img", .hardlink = TRUE, .link = "layer.qcow2" };

  refuse_with_entry (f, &e, 2, "disk.img", "hard links are not allowed");
}

static void
test_refuse_device (Fixture *f, gconstpointer data)
{
  TestEntry chr = { .name = "disk.img", .type = AE_IFCHR };
  TestEntry blk = { .name = "disk.img", .type = AE_IFBLK };

  refuse_with_entry (f, &chr, 2, "disk.img", "device files are not allowed");
  refuse_with_entry (f, &blk, 2, "disk.img", "device files are not allowed");
}

static void
test_refuse_fifo (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "disk.img", .type = AE_IFIFO };

  refuse_with_entry (f, &e, 2, "disk.img", "named pipes (FIFOs) are not allowed");
}

static void
test_refuse_directory (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "disk.img", .type = AE_IFDIR };

  refuse_with_entry (f, &e, 2, "disk.img/", "directories are not allowed");
}

static void
test_refuse_duplicate (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "machine.json", .data = MACHINE_JSON, .data_len = strlen (MACHINE_JSON) };
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry disk_twice = { .name = "disk.img", .size = DISK_SIZE, .sparse = TRUE,
                           .data = disk_data, .data_len = sizeof disk_data, .data_offset = 0 };

  refuse_with_entry (f, &e, -1, "machine.json", "the archive holds this entry twice");
  /* the second disk.img would otherwise overwrite the first */
  refuse_with_entry (f, &disk_twice, -1, "disk.img", "the archive holds this entry twice");
}

static void
test_refuse_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;

  valid_entries (entries, layer);
  /* machine.json and disk.img only */
  entries[1] = entries[2];
  archive = write_archive (f, "missing.tar.zst", FILTER_ZSTD, entries, 2);
  assert_refused (f, archive, "layer.qcow2", "the archive does not hold this entry");
}

static void
test_refuse_sparse_bomb (Fixture *f, gconstpointer data)
{
  /* 1 PiB declared, one sector of data */
  TestEntry e = { .name = "disk.img", .size = PIB, .sparse = TRUE, .data = disk_data,
                  .data_len = sizeof disk_data, .data_offset = 0 };

  refuse_with_entry (f, &e, 2, "disk.img",
                     "the size of 1125899906842624 bytes is over the limit of 53687091200 bytes");
}

static void
test_refuse_entry_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (8 * MIB);
  TestEntry entries[3];
  g_autofree char *archive = NULL;

  f->limits.max_entry_size = 16 * MIB;
  valid_entries (entries, layer);
  entries[2] = (TestEntry) { .name = "disk.img", .size = 32 * MIB, .sparse = TRUE, .data = disk_data,
                             .data_len = sizeof disk_data, .data_offset = 0 };
  archive = write_archive (f, "entry-limit.tar.zst", FILTER_ZSTD, entries, 3);
  assert_refused (f, archive, "disk.img", "the size of 33554432 bytes is over the limit of 16777216 bytes");
}

static void
test_refuse_layer_virtual_size (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) big_layer = valid_layer (32 * MIB);
  TestEntry e = { .name = "layer.qcow2", .data = g_bytes_get_data (big_layer, NULL),
                  .data_len = g_bytes_get_size (big_layer) };
  TestEntry disk = { .name = "disk.img", .size = 8 * MIB, .sparse = TRUE, .data = disk_data,
                     .data_len = sizeof disk_data, .data_offset = 0 };
  TestEntry entries[3];
  g_autofree char *archive = NULL;

  f->limits.max_entry_size = 16 * MIB;
  valid_entries (entries, big_layer);
  entries[1] = e;
  entries[2] = disk;
  archive = write_archive (f, "layer-size.tar.zst", FILTER_ZSTD, entries, 3);
  assert_refused (f, archive, "layer.qcow2", "the virtual size 33554432 bytes is over the limit of 16777216 bytes");
}

static void
test_refuse_total_limit (Fixture *f, gconstpointer data)
{
  g_autofree guint8 *noise = g_malloc (3 * MIB);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  TestEntry e = { .name = "disk.img", .size = 8 * MIB, .sparse = TRUE, .data = noise,
                  .data_len = 3 * MIB, .data_offset = MIB };

  for (gsize i = 0; i < 3 * MIB / 4; i++)
    ((guint32 *) noise)[i] = g_rand_int (rand);
  /* each entry is within its limit, the data written is not */
  f->limits.max_total_size = 2 * MIB;
  refuse_with_entry (f, &e, 2, "disk.img", "the archive's data is over the limit of 2097152 bytes");
}

/* One byte of data in each 4 KiB block allocates the whole block: the
 * limit charges blocks, not bytes (1024 bytes here allocate 4 MiB; the
 * layer's three header clusters take 192 KiB of the 512 KiB). */
static void
test_refuse_total_limit_blocks (Fixture *f, gconstpointer data)
{
  const gsize size = 4 * MIB, stride = 4096, n = size / stride;
  g_autofree guint8 *disk = g_malloc0 (size);
  g_autofree TestRegion *regions = g_new (TestRegion, n);
  TestEntry e = { .name = "disk.img", .size = size, .data = disk, .data_len = size };

  for (gsize i = 0; i < n; i++)
    {
      disk[i * stride + 7] = 0xa5;
      regions[i] = (TestRegion) { i * stride + 7, 1 };
    }
  e.regions = regions;
  e.n_regions = n;
  f->limits.max_total_size = 512 * 1024;
  refuse_with_entry (f, &e, 2, "disk.img", "the archive's data is over the limit of 524288 bytes");
}

/* A valid header followed by a hole far larger than its virtual disk
 * could need: every copy of that layer would pay for the hole. */
static void
test_refuse_layer_hole (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (8 * MIB);
  TestEntry e = { .name = "layer.qcow2", .size = GIB, .sparse = TRUE,
                  .data = g_bytes_get_data (layer, NULL), .data_len = g_bytes_get_size (layer) };

  refuse_with_entry (f, &e, 1, "layer.qcow2",
                     "the file of 1073741824 bytes is larger than a qcow2 file of virtual size 8388608 can need");
}

static void
test_refuse_big_machine (Fixture *f, gconstpointer data)
{
  gsize size = 10 * MIB;
  g_autofree char *json = g_malloc (size);
  TestEntry e;

  /* valid JSON: one long string */
  memset (json, 'a', size);
  memcpy (json, "{\"a\":\"", 6);
  memcpy (json + size - 2, "\"}", 2);
  e = (TestEntry) { .name = "machine.json", .data = json, .data_len = size };
  refuse_with_entry (f, &e, 0, "machine.json", "the size of 10485760 bytes is over the limit of 1048576 bytes");
}

static void
test_refuse_invalid_machine (Fixture *f, gconstpointer data)
{
  TestEntry e = { .name = "machine.json", .data = "[1, 2]", .data_len = 6 };
  TestEntry garbage = { .name = "machine.json", .data = "{\"memory\": ", .data_len = 11 };

  refuse_with_entry (f, &e, 0, "machine.json", "$: must be an object");
  refuse_with_entry (f, &garbage, 0, "machine.json", "invalid JSON");
}

static void
refuse_layer (Fixture *f, GBytes *layer, const char *rule)
{
  TestEntry e = { .name = "layer.qcow2", .data = g_bytes_get_data (layer, NULL),
                  .data_len = g_bytes_get_size (layer) };

  refuse_with_entry (f, &e, 1, "layer.qcow2", rule);
}

static void
test_refuse_layer_backing_file (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (DISK_SIZE, "/etc/passwd", "raw");

  refuse_layer (f, layer, "the qcow2 backing file is “/etc/passwd”; it must be “disk.img”");
}

static void
test_refuse_layer_backing_format (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (DISK_SIZE, "disk.img", "qcow2");

  refuse_layer (f, layer, "the qcow2 backing format is “qcow2”; it must be “raw”");
}

static void
test_refuse_layer_dirty (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (DISK_SIZE, "disk.img", "raw");
  g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (layer, NULL), g_bytes_get_size (layer));
  g_autoptr(GBytes) dirty = NULL;

  copy[79] |= 1;
  dirty = g_bytes_new (copy, g_bytes_get_size (layer));
  refuse_layer (f, dirty, "the qcow2 dirty bit is set");
}

static void
test_refuse_layer_not_qcow2 (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) raw = g_bytes_new_static ("just some bytes", 15);

  refuse_layer (f, raw, "not a qcow2 file");
}

static void
test_refuse_disk_magic (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) qcow2 = qvm_qcow2_build_layer (GIB, "/etc/shadow", "raw");
  TestEntry e = { .name = "disk.img", .data = g_bytes_get_data (qcow2, NULL),
                  .data_len = g_bytes_get_size (qcow2) };
  TestEntry vmdk = { .name = "disk.img", .data = "KDMV\1\0\0\0", .data_len = 8 };

  refuse_with_entry (f, &e, 2, "disk.img", "the raw disk starts with a qcow/qcow2 header");
  refuse_with_entry (f, &vmdk, 2, "disk.img", "the raw disk starts with a VMDK header");
}

static void
refuse_file (Fixture *f, const char *path, const char *rule)
{
  assert_refused (f, path, "image archive", rule);
}

static void
test_refuse_gzip (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;

  valid_entries (entries, layer);
  archive = write_archive (f, "image.tar.gz", FILTER_GZIP, entries, 3);
  refuse_file (f, archive, "the archive must be a zstd-compressed tar, but it is gzip");
}

static void
test_refuse_plain_tar (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;

  valid_entries (entries, layer);
  archive = write_archive (f, "image.tar", FILTER_NONE, entries, 3);
  refuse_file (f, archive, "the archive must be a zstd-compressed tar, but it is uncompressed or unknown");
}

static void
test_refuse_empty (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->archives, "empty", NULL);

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  refuse_file (f, path, "the archive must be a zstd-compressed tar, but it is empty");
}

static void
test_refuse_zstd_not_tar (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->archives, "text.zst", NULL);
  g_autofree char *text = g_build_filename (f->archives, "text", NULL);
  const char *argv[] = { "zstd", "-q", "-f", text, "-o", path, NULL };
  int status;

  if (!testutil_have_program ("zstd"))
    {
      g_test_skip ("zstd is not installed");
      return;
    }
  g_assert_true (g_file_set_contents (text, "hello, this is not a tar archive\n", -1, NULL));
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  refuse_file (f, path, "the archive is not a valid zstd-compressed tar");
}

/* A valid archive, as qvm_archive_package() writes it, whose zstd stream
 * is then cut or damaged. */
static char *
valid_archive_bytes (Fixture *f, gsize *len)
{
  g_autofree char *source = g_build_filename (f->root, "source", NULL);
  g_autofree char *disk = g_build_filename (source, "disk.img", NULL);
  g_autofree char *archive = g_build_filename (f->archives, "good.tar.zst", NULL);
  g_autoptr(GBytes) json = g_bytes_new_static (MACHINE_JSON, strlen (MACHINE_JSON));
  g_autofree guint8 *noise = g_malloc (2 * MIB);
  g_autoptr(GRand) rand = g_rand_new_with_seed (2);
  g_autoptr(GError) error = NULL;
  char *contents;

  for (gsize i = 0; i < 2 * MIB / 4; i++)
    ((guint32 *) noise)[i] = g_rand_int (rand) & 0x0f0f0f0f;
  g_assert_cmpint (g_mkdir (source, 0700), ==, 0);
  g_assert_true (g_file_set_contents (disk, (const char *) noise, 2 * MIB, NULL));
  g_assert_true (qvm_archive_package (source, json, archive, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (archive, &contents, len, NULL));
  return contents;
}

static void
test_refuse_truncated (Fixture *f, gconstpointer data)
{
  gsize len;
  g_autofree char *contents = valid_archive_bytes (f, &len);
  g_autofree char *path = g_build_filename (f->archives, "truncated.tar.zst", NULL);

  g_assert_true (g_file_set_contents (path, contents, len * 3 / 4, NULL));
  assert_refused (f, path, "disk.img", "the archive is truncated or corrupt");
}

static void
test_refuse_corrupt (Fixture *f, gconstpointer data)
{
  gsize len;
  g_autofree char *contents = valid_archive_bytes (f, &len);
  g_autofree char *path = g_build_filename (f->archives, "corrupt.tar.zst", NULL);

  for (gsize i = len / 2; i < len / 2 + 64; i++)
    contents[i] ^= 0x5a;
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  assert_refused (f, path, "disk.img", "the archive is truncated or corrupt");
}

static void
test_folder_exists (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;
  g_autofree char *folder = g_build_filename (f->parent, "taken", NULL);
  g_autofree char *mine = g_build_filename (folder, "mine", NULL);
  g_autoptr(GObject) machine = NULL;
  g_autoptr(GError) error = NULL;

  valid_entries (entries, layer);
  archive = write_archive (f, "valid.tar.zst", FILTER_ZSTD, entries, 3);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_true (g_file_set_contents (mine, "keep", -1, NULL));

  /* an existing folder is never extracted into, nor removed */
  g_assert_false (extract_file (f, archive, folder, &machine, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_true (g_file_test (mine, G_FILE_TEST_IS_REGULAR));
}

static void
test_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) layer = valid_layer (DISK_SIZE);
  TestEntry entries[3];
  g_autofree char *archive = NULL;
  g_autofree char *folder = g_build_filename (f->parent, "image", NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GObject) machine = NULL;
  g_autoptr(GError) error = NULL;

  valid_entries (entries, layer);
  archive = write_archive (f, "valid.tar.zst", FILTER_ZSTD, entries, 3);
  file = g_file_new_for_path (archive);
  stream = g_file_read (file, NULL, NULL);
  g_cancellable_cancel (cancellable);
  g_assert_false (qvm_archive_extract (G_INPUT_STREAM (stream), folder, &f->limits, validate_json_object,
                                       &machine, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
}

typedef struct {
  guint64 done;
  guint64 total;
  guint calls;
} Progress;

static void
record_progress (guint64 done, guint64 total, gpointer user_data)
{
  Progress *progress = user_data;

  g_assert_cmpuint (done, >=, progress->done);
  g_assert_cmpuint (done, <=, total);
  progress->done = done;
  progress->total = total;
  progress->calls++;
}

/* Packaging: a sparse disk round-trips through qvm_archive_package() and
 * extraction, and GNU tar reads the result too. */
static void
test_package_round_trip (Fixture *f, gconstpointer data)
{
  g_autofree char *source = g_build_filename (f->root, "source", NULL);
  g_autofree char *disk = g_build_filename (source, "disk.img", NULL);
  g_autofree char *target = g_build_filename (f->archives, "image.tar.zst", NULL);
  g_autofree char *folder = g_build_filename (f->parent, "image", NULL);
  g_autofree char *extracted = g_build_filename (folder, "disk.img", NULL);
  g_autoptr(GBytes) json = g_bytes_new_static (MACHINE_JSON, strlen (MACHINE_JSON));
  g_autoptr(GObject) machine = NULL;
  g_autoptr(GError) error = NULL;
  static const guint64 offsets[] = { 0, 5 * MIB + 7, 200 * MIB, 256 * MIB - 4096 };
  Progress progress = { 0 };
  struct stat st;
  int fd;

  g_assert_cmpint (g_mkdir (source, 0700), ==, 0);
  fd = open (disk, O_WRONLY | O_CREAT | O_EXCL, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 256 * MIB), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      char marker[64];
      int n = g_snprintf (marker, sizeof marker, "marker %" G_GSIZE_FORMAT " at %" G_GUINT64_FORMAT, i, offsets[i]);

      g_assert_cmpint (pwrite (fd, marker, n, offsets[i]), ==, n);
    }
  g_assert_cmpint (close (fd), ==, 0);

  g_assert_true (qvm_archive_package (source, json, target, record_progress, &progress, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (progress.calls, >, 0);
  g_assert_cmpuint (progress.done, ==, progress.total);

  /* small: 256 MiB of mostly holes */
  g_assert_cmpint (stat (target, &st), ==, 0);
  g_test_message ("archive: %" G_GINT64_FORMAT " bytes", (gint64) st.st_size);
  g_assert_cmpint (st.st_size, <, 64 * 1024);

  g_assert_true (extract_file (f, target, folder, &machine, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (extracted, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, 256 * MIB);
  g_assert_cmpuint (st.st_blocks * 512, <=, 4 * 64 * 1024);

  fd = open (extracted, O_RDONLY);
  for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      char expected[64], got[64];
      int n = g_snprintf (expected, sizeof expected, "marker %" G_GSIZE_FORMAT " at %" G_GUINT64_FORMAT, i, offsets[i]);

      g_assert_cmpint (pread (fd, got, n, offsets[i]), ==, n);
      g_assert_cmpmem (got, n, expected, n);
    }
  close (fd);

  /* GNU tar, as upstream extracted them, lists the same three entries */
  if (testutil_have_program ("tar") && testutil_have_program ("zstd"))
    {
      const char *argv[] = { "tar", "--zstd", "-tf", target, NULL };
      g_autofree char *out = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                   &out, NULL, &status, NULL));
      g_assert_true (g_spawn_check_wait_status (status, NULL));
      g_assert_cmpstr (out, ==, "machine.json\nlayer.qcow2\ndisk.img\n");

      /* …and extracts a disk.img identical to ours */
      {
        g_autofree char *gnu = g_build_filename (f->root, "gnu", NULL);
        g_autofree char *gnu_disk = g_build_filename (gnu, "disk.img", NULL);
        const char *extract[] = { "tar", "--zstd", "-xf", target, "-C", gnu, NULL };
        const char *compare[] = { "cmp", disk, gnu_disk, NULL };

        g_assert_cmpint (g_mkdir (gnu, 0700), ==, 0);
        g_assert_true (g_spawn_sync (NULL, (char **) extract, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                     NULL, NULL, &status, NULL));
        g_assert_true (g_spawn_check_wait_status (status, NULL));
        g_assert_true (g_spawn_sync (NULL, (char **) compare, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                     NULL, NULL, &status, NULL));
        g_assert_true (g_spawn_check_wait_status (status, NULL));
      }
    }
}

static void
test_package_missing_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *target = g_build_filename (f->archives, "image.tar.zst", NULL);
  g_autoptr(GBytes) json = g_bytes_new_static (MACHINE_JSON, strlen (MACHINE_JSON));
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_false (qvm_archive_package (f->parent, json, target, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  names = testutil_list_folder (f->archives);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
}

static void
test_package_odd_size (Fixture *f, gconstpointer data)
{
  g_autofree char *disk = g_build_filename (f->parent, "disk.img", NULL);
  g_autofree char *target = g_build_filename (f->archives, "image.tar.zst", NULL);
  g_autoptr(GBytes) json = g_bytes_new_static (MACHINE_JSON, strlen (MACHINE_JSON));
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_true (g_file_set_contents (disk, "not a whole sector", -1, NULL));
  g_assert_false (qvm_archive_package (f->parent, json, target, NULL, NULL, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "is not a multiple of 512 bytes"));
  names = testutil_list_folder (f->archives);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
}

#define ADD(path, func) \
  g_test_add ("/archive/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("valid", test_valid);
  ADD ("dense-disk-extracts-sparse", test_dense_disk_extracts_sparse);
  ADD ("refuse/other-name", test_refuse_other_name);
  ADD ("refuse/slash", test_refuse_slash);
  ADD ("refuse/dotdot", test_refuse_dotdot);
  ADD ("refuse/absolute", test_refuse_absolute);
  ADD ("refuse/control-characters", test_refuse_control_characters);
  ADD ("refuse/symlink", test_refuse_symlink);
  ADD ("refuse/hardlink", test_refuse_hardlink);
  ADD ("refuse/device", test_refuse_device);
  ADD ("refuse/fifo", test_refuse_fifo);
  ADD ("refuse/directory", test_refuse_directory);
  ADD ("refuse/duplicate", test_refuse_duplicate);
  ADD ("refuse/missing", test_refuse_missing);
  ADD ("refuse/sparse-bomb", test_refuse_sparse_bomb);
  ADD ("refuse/entry-limit", test_refuse_entry_limit);
  ADD ("refuse/layer-virtual-size", test_refuse_layer_virtual_size);
  ADD ("refuse/total-limit", test_refuse_total_limit);
  ADD ("refuse/total-limit-blocks", test_refuse_total_limit_blocks);
  ADD ("refuse/layer-hole", test_refuse_layer_hole);
  ADD ("refuse/big-machine", test_refuse_big_machine);
  ADD ("refuse/invalid-machine", test_refuse_invalid_machine);
  ADD ("refuse/layer-backing-file", test_refuse_layer_backing_file);
  ADD ("refuse/layer-backing-format", test_refuse_layer_backing_format);
  ADD ("refuse/layer-dirty", test_refuse_layer_dirty);
  ADD ("refuse/layer-not-qcow2", test_refuse_layer_not_qcow2);
  ADD ("refuse/disk-magic", test_refuse_disk_magic);
  ADD ("refuse/gzip", test_refuse_gzip);
  ADD ("refuse/plain-tar", test_refuse_plain_tar);
  ADD ("refuse/empty", test_refuse_empty);
  ADD ("refuse/zstd-not-tar", test_refuse_zstd_not_tar);
  ADD ("refuse/truncated", test_refuse_truncated);
  ADD ("refuse/corrupt", test_refuse_corrupt);
  ADD ("folder-exists", test_folder_exists);
  ADD ("cancelled", test_cancelled);
  ADD ("package/round-trip", test_package_round_trip);
  ADD ("package/missing-disk", test_package_missing_disk);
  ADD ("package/odd-size", test_package_odd_size);

  return g_test_run ();
}
