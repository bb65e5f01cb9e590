/* fuzz-make-seeds.c: writes the binary seeds of the fuzz corpora
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: fuzz-make-seeds CORPUS_FOLDER
 *
 * Writes CORPUS_FOLDER/qcow2/ (the first KiB of layers, valid and broken
 * one rule at a time, as in tests/test-qcow2.c) and CORPUS_FOLDER/archive/
 * (small image archives, valid and hostile one rule at a time, as in
 * tests/test-archive.c). Every file stays well under 20 KiB. The text seeds
 * come from make-seeds.py.
 */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-archive-private.h"
#include "qvm-fs-private.h"
#include "qvm-qcow2-private.h"

#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define SEED_HEADER_SIZE 1024

static const char machine_json[] =
  "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\", \"memory\": 512,"
  " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
  " \"keyboard\": {\"layout\": \"en-us\"}}\n";

static void
die (const char *what)
{
  fprintf (stderr, "fuzz-make-seeds: %s\n", what);
  exit (1);
}

static void
write_seed (const char *folder,
            const char *name,
            const void *data,
            gsize       length)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  g_autoptr(GError) error = NULL;

  if (length > 20 * 1024)
    die (name);
  if (!g_file_set_contents (path, data, length, &error))
    die (error->message);
  printf ("%s (%" G_GSIZE_FORMAT " bytes)\n", path, length);
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
put_be64 (guint8 *p, guint64 v)
{
  put_be32 (p, v >> 32);
  put_be32 (p + 4, (guint32) v);
}

/* The first @size bytes of a fresh layer. */
static guint8 *
layer_header (guint64     virtual_size,
              const char *backing_file,
              const char *backing_format,
              gsize       size)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (virtual_size, backing_file, backing_format);

  return g_memdup2 (g_bytes_get_data (layer, NULL), size);
}

/* ---- qcow2 ------------------------------------------------------------ */

static void
qcow2_seeds (const char *folder)
{
  const gsize n = SEED_HEADER_SIZE;
  g_autofree guint8 *valid = layer_header (4 * GIB, "disk.img", "raw", n);
  guint8 *h;

  write_seed (folder, "valid-layer", valid, n);

#define VARIANT(file, statements) \
  G_STMT_START { \
    h = g_memdup2 (valid, n); \
    statements; \
    write_seed (folder, file, h, n); \
    g_free (h); \
  } G_STMT_END

  VARIANT ("bad-magic", h[3] = 0);
  VARIANT ("bad-version-1", put_be32 (h + 4, 1));
  VARIANT ("version-2", { put_be32 (h + 4, 2); memset (h + 72, 0, 32 + 8 + 8); });
  VARIANT ("bad-cluster-bits-8", put_be32 (h + 20, 8));
  VARIANT ("bad-cluster-bits-22", put_be32 (h + 20, 22));
  VARIANT ("bad-dirty", put_be64 (h + 72, QVM_QCOW2_INCOMPAT_DIRTY));
  VARIANT ("bad-corrupt", put_be64 (h + 72, QVM_QCOW2_INCOMPAT_CORRUPT));
  VARIANT ("bad-data-file-bit", put_be64 (h + 72, QVM_QCOW2_INCOMPAT_DATA_FILE));
  VARIANT ("bad-unknown-feature", put_be64 (h + 72, G_GUINT64_CONSTANT (1) << 40));
  VARIANT ("compression-zstd", { put_be64 (h + 72, QVM_QCOW2_INCOMPAT_COMPRESSION); h[104] = 1; });
  VARIANT ("bad-compression-type", h[104] = 1);
  VARIANT ("extended-l2", put_be64 (h + 72, QVM_QCOW2_INCOMPAT_EXTENDED_L2));
  VARIANT ("bad-raw-data-autoclear", put_be64 (h + 88, QVM_QCOW2_AUTOCLEAR_RAW_DATA));
  VARIANT ("bad-encrypted", put_be32 (h + 32, 1));
  VARIANT ("bad-refcount-order", put_be32 (h + 96, 7));
  VARIANT ("bad-header-length-odd", put_be32 (h + 100, 107));
  VARIANT ("bad-header-length-huge", put_be32 (h + 100, 0x10000000));
  VARIANT ("bad-virtual-size", put_be64 (h + 24, G_MAXUINT64));
  VARIANT ("bad-backing-outside", put_be64 (h + 8, 0x20000));
  VARIANT ("bad-backing-overlap", put_be64 (h + 8, 16));
  VARIANT ("bad-backing-long", put_be32 (h + 16, 1024));
  VARIANT ("no-backing", { put_be64 (h + 8, 0); put_be32 (h + 16, 0); });
  /* the extension walk: a data file, an encryption header, the backing
   * format twice, a cut-short extension */
  VARIANT ("bad-data-file-extension", put_be32 (h + 112, 0x44415441u));
  VARIANT ("bad-encryption-extension", put_be32 (h + 112, 0x0537be77u));
  VARIANT ("bad-extension-cut", put_be32 (h + 116, 0x1000));
  VARIANT ("bad-backing-format-twice", { put_be32 (h + 128, 0xe2792acau); put_be32 (h + 132, 0); });
#undef VARIANT

  {
    g_autofree guint8 *other = layer_header (GIB, "../../etc/passwd", "qcow2", n);

    write_seed (folder, "bad-backing-file", other, n);
  }
  {
    g_autofree guint8 *nul = layer_header (GIB, "disk.img\n\\x", "raw\001", n);

    /* a NUL inside the name, whose offset is the low bytes of field 8 */
    nul[((gsize) nul[14] << 8 | nul[15]) + 4] = 0;
    write_seed (folder, "bad-backing-file-control", nul, n);
  }
  write_seed (folder, "truncated", valid, 100);
  write_seed (folder, "magic-vmdk", "KDMV\1\0\0\0", 8);
  write_seed (folder, "magic-vpc", "conectix\0\0\0\2\0\1\0\0", 16);
  {
    guint8 vdi[128] = { 0 };

    memcpy (vdi + 64, "\x7f\x10\xda\xbe", 4);
    write_seed (folder, "magic-vdi", vdi, sizeof vdi);
  }
  write_seed (folder, "empty", "", 0);
}

/* ---- archives --------------------------------------------------------- */

typedef struct {
  const char *name;
  mode_t type;               /* 0: regular file */
  const char *link;          /* symbolic or hard link target */
  gboolean hardlink;
  guint64 size;              /* declared; 0: the data's length */
  const void *data;
  gsize data_len;
  guint64 hole;              /* > 0: a sparse entry whose data starts there */
} SeedEntry;

typedef enum {
  FORMAT_PAX,
  FORMAT_GNU,
  FORMAT_USTAR,
} Format;

static void
write_archive (const char      *folder,
               const char      *name,
               int              filter,    /* ARCHIVE_FILTER_… */
               Format           format,
               const SeedEntry *entries,
               gsize            n_entries)
{
  struct archive *a = archive_write_new ();
  guint8 *buffer = g_malloc (1 << 20);
  size_t used = 0;

  if (filter == ARCHIVE_FILTER_ZSTD)
    archive_write_add_filter_zstd (a);
  else if (filter == ARCHIVE_FILTER_GZIP)
    archive_write_add_filter_gzip (a);
  if (format == FORMAT_PAX)
    archive_write_set_format_pax_restricted (a);
  else if (format == FORMAT_GNU)
    archive_write_set_format_gnutar (a);
  else
    archive_write_set_format_ustar (a);
  archive_write_set_bytes_in_last_block (a, 1);
  if (archive_write_open_memory (a, buffer, 1 << 20, &used) != ARCHIVE_OK)
    die (archive_error_string (a));

  for (gsize i = 0; i < n_entries; i++)
    {
      const SeedEntry *e = &entries[i];
      struct archive_entry *ae = archive_entry_new ();

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
          guint64 size = e->size ? e->size : e->hole + e->data_len;

          archive_entry_set_filetype (ae, AE_IFREG);
          archive_entry_set_size (ae, size);
          /* a declared size beyond the data makes the entry sparse */
          if (e->hole > 0 || size > e->data_len)
            {
              archive_entry_sparse_add_entry (ae, e->hole, e->data_len);
              if (e->hole + e->data_len < size)
                archive_entry_sparse_add_entry (ae, size, 0);
            }
        }
      if (archive_write_header (a, ae) != ARCHIVE_OK)
        die (archive_error_string (a));
      if (e->type == 0 && !e->hardlink && e->data_len > 0)
        {
          /* the pax writer skips the hole's bytes without looking at them */
          for (guint64 left = e->hole; left > 0;)
            {
              static const guint8 zeros[65536];
              gsize chunk = MIN (left, sizeof zeros);

              archive_write_data (a, zeros, chunk);
              left -= chunk;
            }
          archive_write_data (a, e->data, e->data_len);
        }
      archive_entry_free (ae);
    }

  if (archive_write_close (a) != ARCHIVE_OK)
    die (archive_error_string (a));
  archive_write_free (a);
  write_seed (folder, name, buffer, used);
  g_free (buffer);
}

static void
packaged_seed (const char *folder)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *work = g_dir_make_tmp ("qvm-fuzz-seeds-XXXXXX", &error);
  g_autofree char *disk = NULL;
  g_autofree char *target = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GBytes) machine = g_bytes_new_static (machine_json, sizeof machine_json - 1);
  guint8 boot[1024];
  gsize length;

  if (work == NULL)
    die (error->message);
  disk = g_build_filename (work, "disk.img", NULL);
  target = g_build_filename (work, "image.tar.zst", NULL);
  for (guint i = 0; i < sizeof boot; i++)
    boot[i] = (guint8) (i * 7 + 1);
  boot[510] = 0x55;
  boot[511] = 0xaa;
  if (!g_file_set_contents (disk, (const char *) boot, sizeof boot, &error) ||
      truncate (disk, 1 << 20) != 0 ||
      !qvm_archive_package (work, machine, target, NULL, NULL, NULL, &error) ||
      !g_file_get_contents (target, &contents, &length, &error))
    die (error != NULL ? error->message : g_strerror (errno));
  write_seed (folder, "valid-packaged.tar.zst", contents, length);
  qvm_fs_remove_tree (work, NULL);
}

static void
archive_seeds (const char *folder)
{
  g_autofree guint8 *layer = layer_header (1 << 20, "disk.img", "raw", SEED_HEADER_SIZE);
  g_autofree guint8 *bad_layer = layer_header (1 << 20, "/etc/shadow", "raw", SEED_HEADER_SIZE);
  g_autofree guint8 *qcow2_disk = layer_header (1 << 20, "disk.img", "raw", SEED_HEADER_SIZE);
  guint8 disk[4096];
  const char bad_machine[] = "{\"uuid\": \"x\", \"memory\": -1}";

  for (guint i = 0; i < sizeof disk; i++)
    disk[i] = (guint8) (i * 13 + 5);

#define DISK { QVM_ARCHIVE_DISK, 0, NULL, FALSE, 0, disk, sizeof disk, 0 }
#define LAYER { QVM_ARCHIVE_LAYER, 0, NULL, FALSE, 0, layer, SEED_HEADER_SIZE, 0 }
#define MACHINE { QVM_ARCHIVE_MACHINE, 0, NULL, FALSE, 0, machine_json, sizeof machine_json - 1, 0 }
#define SEED(file, format, ...) \
  G_STMT_START { \
    const SeedEntry entries[] = { __VA_ARGS__ }; \
    write_archive (folder, file, ARCHIVE_FILTER_ZSTD, format, entries, G_N_ELEMENTS (entries)); \
  } G_STMT_END

  packaged_seed (folder);
  SEED ("valid-pax.tar.zst", FORMAT_PAX, DISK, LAYER, MACHINE);
  SEED ("valid-gnu.tar.zst", FORMAT_GNU, MACHINE, LAYER, DISK);
  SEED ("valid-ustar.tar.zst", FORMAT_USTAR, LAYER, MACHINE, DISK);
  SEED ("valid-sparse-disk.tar.zst", FORMAT_PAX,
        { QVM_ARCHIVE_DISK, 0, NULL, FALSE, 1 << 20, disk, sizeof disk, 65536 }, LAYER, MACHINE);
  SEED ("bad-symlink.tar.zst", FORMAT_PAX, { QVM_ARCHIVE_DISK, AE_IFLNK, "/etc/passwd", FALSE, 0, NULL, 0, 0 },
        LAYER, MACHINE);
  SEED ("bad-hardlink.tar.zst", FORMAT_PAX, MACHINE, { QVM_ARCHIVE_DISK, 0, QVM_ARCHIVE_MACHINE, TRUE, 0, NULL, 0, 0 },
        LAYER);
  SEED ("bad-directory.tar.zst", FORMAT_PAX, { "disk.img", AE_IFDIR, NULL, FALSE, 0, NULL, 0, 0 }, LAYER, MACHINE);
  SEED ("bad-fifo.tar.zst", FORMAT_USTAR, { "disk.img", AE_IFIFO, NULL, FALSE, 0, NULL, 0, 0 }, LAYER, MACHINE);
  SEED ("bad-device.tar.zst", FORMAT_USTAR, { "disk.img", AE_IFCHR, NULL, FALSE, 0, NULL, 0, 0 }, LAYER, MACHINE);
  SEED ("bad-dotdot.tar.zst", FORMAT_PAX, { "../disk.img", 0, NULL, FALSE, 0, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-dotdot-deep.tar.zst", FORMAT_GNU, { "x/../../disk.img", 0, NULL, FALSE, 0, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-absolute.tar.zst", FORMAT_PAX, { "/tmp/disk.img", 0, NULL, FALSE, 0, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-slash.tar.zst", FORMAT_PAX, { "sub/disk.img", 0, NULL, FALSE, 0, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-control-name.tar.zst", FORMAT_PAX, { "disk.img\n\033[31m", 0, NULL, FALSE, 0, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-other-name.tar.zst", FORMAT_PAX, DISK, LAYER, MACHINE, { "README", 0, NULL, FALSE, 0, "hi", 2, 0 });
  SEED ("bad-duplicate.tar.zst", FORMAT_PAX, DISK, LAYER, DISK, MACHINE);
  SEED ("bad-missing-machine.tar.zst", FORMAT_PAX, DISK, LAYER);
  SEED ("bad-sparse-bomb.tar.zst", FORMAT_PAX,
        { QVM_ARCHIVE_DISK, 0, NULL, FALSE, G_GUINT64_CONSTANT (1) << 50, disk, 16, 0 }, LAYER, MACHINE);
  SEED ("bad-big-machine.tar.zst", FORMAT_PAX, DISK, LAYER,
        { QVM_ARCHIVE_MACHINE, 0, NULL, FALSE, 2 << 20, machine_json, sizeof machine_json - 1, 0 });
  SEED ("bad-invalid-machine.tar.zst", FORMAT_PAX, DISK, LAYER,
        { QVM_ARCHIVE_MACHINE, 0, NULL, FALSE, 0, bad_machine, sizeof bad_machine - 1, 0 });
  SEED ("bad-layer-backing.tar.zst", FORMAT_PAX, DISK,
        { QVM_ARCHIVE_LAYER, 0, NULL, FALSE, 0, bad_layer, SEED_HEADER_SIZE, 0 }, MACHINE);
  SEED ("bad-layer-not-qcow2.tar.zst", FORMAT_PAX, DISK,
        { QVM_ARCHIVE_LAYER, 0, NULL, FALSE, 0, disk, sizeof disk, 0 }, MACHINE);
  SEED ("bad-disk-magic.tar.zst", FORMAT_PAX,
        { QVM_ARCHIVE_DISK, 0, NULL, FALSE, 0, qcow2_disk, SEED_HEADER_SIZE, 0 }, LAYER, MACHINE);

  {
    const SeedEntry entries[] = { DISK, LAYER, MACHINE };

    write_archive (folder, "bad-gzip.tar.gz", ARCHIVE_FILTER_GZIP, FORMAT_PAX, entries, 3);
    write_archive (folder, "bad-plain.tar", ARCHIVE_FILTER_NONE, FORMAT_USTAR, entries, 3);
  }
  write_seed (folder, "bad-empty", "", 0);
  {
    /* zstd, but not a tar */
    static const char text[] = "hello, this is not a tar\n";
    guint8 frame[256];
    size_t length = ZSTD_compress (frame, sizeof frame, text, sizeof text - 1, 3);

    if (ZSTD_isError (length))
      die (ZSTD_getErrorName (length));
    write_seed (folder, "bad-zstd-not-tar.zst", frame, length);
  }
  {
    g_autofree char *path = g_build_filename (folder, "valid-pax.tar.zst", NULL);
    g_autofree char *contents = NULL;
    gsize length;

    if (!g_file_get_contents (path, &contents, &length, NULL))
      die (path);
    write_seed (folder, "bad-truncated.tar.zst", contents, length / 2);
    contents[length / 2] ^= 0x55;
    write_seed (folder, "bad-corrupt.tar.zst", contents, length);
  }
#undef SEED
#undef DISK
#undef LAYER
#undef MACHINE
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *qcow2 = NULL;
  g_autofree char *archive = NULL;

  if (argc != 2)
    {
      fprintf (stderr, "Usage: %s CORPUS_FOLDER\n", argv[0]);
      return 2;
    }
  qcow2 = g_build_filename (argv[1], "qcow2", NULL);
  archive = g_build_filename (argv[1], "archive", NULL);
  if (g_mkdir_with_parents (qcow2, 0755) != 0 || g_mkdir_with_parents (archive, 0755) != 0)
    die (g_strerror (errno));

  qcow2_seeds (qcow2);
  archive_seeds (archive);
  return 0;
}
