/* qvm-archive-package.c: image archives (image.tar.zst), written
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qvm_archive_package(): machine.json, the disk (its data regions only,
 * as sparse entries) and the layer, streamed through zstd into a file
 * made beside the target and renamed over it when complete. Reading is
 * qvm-archive.c's.
 */

#define _GNU_SOURCE
#include "config.h"

#include <inttypes.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "qvm-archive-private.h"
#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-qcow2-private.h"

#define PACKAGE_CHUNK (1024 * 1024)

typedef struct {
  guint64 offset;
  guint64 length;
} Region;

/* The data regions of @fd, from SEEK_DATA/SEEK_HOLE; the whole file when
 * the file system cannot tell. */
static GArray *
find_data_regions (int      fd,
                   guint64  size,
                   GError **error)
{
  g_autoptr(GArray) regions = g_array_new (FALSE, FALSE, sizeof (Region));
  guint64 position = 0;

  while (position < size)
    {
      Region region;
      guint64 data_end;

      if (!qvm_fs_next_data (fd, position, size, &region.offset, &data_end, QVM_ARCHIVE_DISK, error))
        return NULL;
      region.length = data_end - region.offset;
      if (region.length > 0)
        g_array_append_val (regions, region);
      position = data_end;
    }

  return g_steal_pointer (&regions);
}

/* The tar stream from libarchive is compressed here with libzstd rather
 * than with libarchive's zstd filter, which cannot turn on zstd's frame
 * checksum: with it, a damaged archive is detected when it is read. */
typedef struct {
  ZSTD_CCtx *cctx;
  int fd;
  guint8 *out;
  gsize out_size;
  GError *error;
} Compressor;

static gboolean
compressor_flush (Compressor     *compressor,
                  ZSTD_inBuffer  *in,
                  ZSTD_EndDirective mode)
{
  for (;;)
    {
      ZSTD_outBuffer out = { compressor->out, compressor->out_size, 0 };
      size_t remaining = ZSTD_compressStream2 (compressor->cctx, &out, in, mode);

      if (ZSTD_isError (remaining))
        {
          g_set_error (&compressor->error, QVM_ERROR, QVM_ERROR_FAILED, _("cannot compress: %s"),
                       ZSTD_getErrorName (remaining));
          return FALSE;
        }
      if (out.pos > 0)
        {
          ssize_t n;
          gsize written = 0;

          while (written < out.pos)
            {
              n = write (compressor->fd, compressor->out + written, out.pos - written);
              if (n < 0 && errno == EINTR)
                continue;
              if (n <= 0)
                {
                  qvm_fs_set_error_from_errno (&compressor->error, n < 0 ? errno : EIO, NULL, "write");
                  return FALSE;
                }
              written += n;
            }
        }
      if (mode == ZSTD_e_end ? remaining == 0 : in->pos == in->size)
        return TRUE;
    }
}

static la_ssize_t
compressor_write (struct archive *a,
                  void           *data,
                  const void     *buffer,
                  size_t          length)
{
  Compressor *compressor = data;
  ZSTD_inBuffer in = { buffer, length, 0 };

  if (!compressor_flush (compressor, &in, ZSTD_e_continue))
    {
      archive_set_error (a, EIO, "%s", compressor->error->message);
      return -1;
    }
  return length;
}

static int
compressor_close (struct archive *a,
                  void           *data)
{
  Compressor *compressor = data;
  ZSTD_inBuffer in = { NULL, 0, 0 };

  if (compressor->error != NULL)
    return ARCHIVE_FATAL;
  if (!compressor_flush (compressor, &in, ZSTD_e_end))
    {
      archive_set_error (a, EIO, "%s", compressor->error->message);
      return ARCHIVE_FATAL;
    }
  return ARCHIVE_OK;
}

static void
compressor_init (Compressor *compressor,
                 int         fd)
{
  compressor->cctx = ZSTD_createCCtx ();
  compressor->fd = fd;
  compressor->out_size = ZSTD_CStreamOutSize ();
  compressor->out = g_malloc (compressor->out_size);
  /* Level 3 is the zstd command's default, as upstream used. */
  ZSTD_CCtx_setParameter (compressor->cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter (compressor->cctx, ZSTD_c_checksumFlag, 1);
  /* Worker threads compress while this thread reads the disk; a libzstd
   * built without threads refuses and compresses here. */
  if (ZSTD_isError (ZSTD_CCtx_setParameter (compressor->cctx, ZSTD_c_nbWorkers,
                                            (int) g_get_num_processors ())))
    g_debug ("libzstd has no worker threads; compressing in one thread");
}

static void
compressor_clear (Compressor *compressor)
{
  g_clear_pointer (&compressor->cctx, ZSTD_freeCCtx);
  g_clear_pointer (&compressor->out, g_free);
  g_clear_error (&compressor->error);
}

typedef struct {
  struct archive *archive;
  Compressor compressor;
  QvmArchiveProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
  guint64 done;
  guint64 total;
} Package;

static gboolean
package_error (Package    *package,
               const char *what,
               GError    **error)
{
  if (package->compressor.error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&package->compressor.error), "%s: ", what);
      return FALSE;
    }
  g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED, _("%s: cannot write the archive: %s"),
               what, archive_error_string (package->archive) ?
               archive_error_string (package->archive) : _("unknown error"));
  return FALSE;
}

static struct archive_entry *
new_entry (const char *name,
           guint64     size)
{
  struct archive_entry *ae = archive_entry_new ();

  archive_entry_set_pathname (ae, name);
  archive_entry_set_filetype (ae, AE_IFREG);
  archive_entry_set_perm (ae, 0644);
  archive_entry_set_size (ae, size);
  archive_entry_set_mtime (ae, g_get_real_time () / G_USEC_PER_SEC, 0);
  return ae;
}

static gboolean
write_bytes (Package      *package,
             const char   *name,
             const guint8 *data,
             gsize         len,
             gboolean      count,
             GError      **error)
{
  gboolean first = TRUE;

  /* an empty write still lets the pax writer emit a sparse map */
  while (len > 0 || first)
    {
      first = FALSE;
      if (len == 0)
        {
          if (archive_write_data (package->archive, data, 0) < 0)
            return package_error (package, name, error);
          break;
        }
      la_ssize_t n = archive_write_data (package->archive, data, MIN (len, PACKAGE_CHUNK));

      if (n <= 0)
        return package_error (package, name, error);
      data += n;
      len -= n;
      if (count)
        {
          package->done += n;
          if (package->progress != NULL)
            package->progress (package->done, package->total, package->progress_data);
        }
    }
  return TRUE;
}

static gboolean
write_memory_entry (Package    *package,
                    const char *name,
                    GBytes     *bytes,
                    GError    **error)
{
  struct archive_entry *ae = new_entry (name, g_bytes_get_size (bytes));
  int r = archive_write_header (package->archive, ae);

  archive_entry_free (ae);
  if (r != ARCHIVE_OK)
    return package_error (package, name, error);
  return write_bytes (package, name, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), TRUE, error);
}

static gboolean
write_disk_entry (Package *package,
                  int      fd,
                  guint64  size,
                  GArray  *regions,
                  GError **error)
{
  static const guint8 zeros[PACKAGE_CHUNK];
  g_autofree guint8 *buffer = g_malloc (PACKAGE_CHUNK);
  struct archive_entry *ae = new_entry (QVM_ARCHIVE_DISK, size);
  guint64 position = 0;
  int r;

  for (guint i = 0; i < regions->len; i++)
    {
      Region *region = &g_array_index (regions, Region, i);

      archive_entry_sparse_add_entry (ae, region->offset, region->length);
    }
  /* GNU sparse maps end with the file's size, so that readers see the
   * trailing hole (and a file without data is still a sparse one). */
  if (regions->len == 0 ||
      g_array_index (regions, Region, regions->len - 1).offset +
      g_array_index (regions, Region, regions->len - 1).length < size)
    archive_entry_sparse_add_entry (ae, size, 0);

  r = archive_write_header (package->archive, ae);
  archive_entry_free (ae);
  if (r != ARCHIVE_OK)
    return package_error (package, QVM_ARCHIVE_DISK, error);

  for (guint i = 0; i < regions->len; i++)
    {
      Region *region = &g_array_index (regions, Region, i);
      guint64 end = region->offset + region->length;

      /* The pax writer wants the holes too, but only counts them. */
      while (position < region->offset)
        {
          gsize len = MIN (region->offset - position, PACKAGE_CHUNK);

          if (!write_bytes (package, QVM_ARCHIVE_DISK, zeros, len, FALSE, error))
            return FALSE;
          position += len;
        }

      while (position < end)
        {
          gsize len = MIN (end - position, PACKAGE_CHUNK);
          ssize_t n = pread (fd, buffer, len, position);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              qvm_fs_set_error_from_errno (error, n < 0 ? errno : EIO, QVM_ARCHIVE_DISK, "read");
              return FALSE;
            }
          if (g_cancellable_set_error_if_cancelled (package->cancellable, error))
            return FALSE;
          if (!write_bytes (package, QVM_ARCHIVE_DISK, buffer, n, TRUE, error))
            return FALSE;
          position += n;
        }
    }

  /* The trailing hole too: the pax writer emits the sparse map on the
   * first write, which a disk without data would otherwise never make. */
  do
    {
      gsize len = MIN (size - position, PACKAGE_CHUNK);

      if (!write_bytes (package, QVM_ARCHIVE_DISK, zeros, len, FALSE, error))
        return FALSE;
      position += len;
    }
  while (position < size);

  return TRUE;
}

gboolean
qvm_archive_package (const char             *folder,
                     GBytes                 *machine_json,
                     const char             *target,
                     QvmArchiveProgressFunc  progress,
                     gpointer                progress_data,
                     GCancellable           *cancellable,
                     GError                **error)
{
  g_autofree char *disk_path = g_build_filename (folder, QVM_ARCHIVE_DISK, NULL);
  g_autofree char *temp_path = g_strdup_printf ("%s.XXXXXX", target);
  g_autoptr(GArray) regions = NULL;
  g_autoptr(GBytes) layer = NULL;
  Package package = { 0 };
  struct stat st;
  int disk_fd = -1, out_fd = -1;
  gboolean temp_created = FALSE;
  gboolean ok = FALSE;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (machine_json != NULL, FALSE);
  g_return_val_if_fail (target != NULL, FALSE);

  package.progress = progress;
  package.progress_data = progress_data;
  package.cancellable = cancellable;

  disk_fd = open (disk_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (disk_fd < 0 || fstat (disk_fd, &st) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, disk_path, "open");
      goto out;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED, _("%s: not a regular file"), disk_path);
      goto out;
    }
  /* qcow2 counts the virtual disk in 512-byte sectors */
  if (st.st_size % 512 != 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                   _("%s: the size %" PRId64 " is not a multiple of 512 bytes"),
                   disk_path, (gint64) st.st_size);
      goto out;
    }

  regions = find_data_regions (disk_fd, st.st_size, error);
  if (regions == NULL)
    goto out;

  layer = qvm_qcow2_build_layer (st.st_size, QVM_ARCHIVE_DISK, "raw");
  package.total = g_bytes_get_size (machine_json) + g_bytes_get_size (layer);
  for (guint i = 0; i < regions->len; i++)
    package.total += g_array_index (regions, Region, i).length;

  out_fd = g_mkstemp_full (temp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (out_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, target, "create");
      goto out;
    }
  temp_created = TRUE;

  compressor_init (&package.compressor, out_fd);
  package.archive = archive_write_new ();
  if (archive_write_set_format_pax_restricted (package.archive) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block (package.archive, PACKAGE_CHUNK) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block (package.archive, 1) != ARCHIVE_OK ||
      archive_write_open (package.archive, &package.compressor, NULL,
                          compressor_write, compressor_close) != ARCHIVE_OK)
    {
      package_error (&package, target, error);
      goto out;
    }

  /* The small entries first: a reader validates them before it writes the
   * disk. */
  if (!write_memory_entry (&package, QVM_ARCHIVE_MACHINE, machine_json, error) ||
      !write_memory_entry (&package, QVM_ARCHIVE_LAYER, layer, error) ||
      !write_disk_entry (&package, disk_fd, st.st_size, regions, error))
    goto out;

  /* libarchive ignores what the close callback returns: the last
   * compressed bytes, written there, may have failed unnoticed. */
  if (archive_write_close (package.archive) != ARCHIVE_OK ||
      package.compressor.error != NULL)
    {
      package_error (&package, target, error);
      goto out;
    }
  /* No fsync(): like tar and zstd, the archive reaches the disk when the
   * kernel writes it back; a caller that needs it durable syncs it. */
  if (close (out_fd) != 0)
    {
      out_fd = -1;
      qvm_fs_set_error_from_errno (error, errno, target, "write");
      goto out;
    }
  out_fd = -1;
  if (rename (temp_path, target) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, target, "rename");
      goto out;
    }
  temp_created = FALSE;
  ok = TRUE;

out:
  if (package.archive != NULL)
    archive_write_free (package.archive);
  compressor_clear (&package.compressor);
  if (out_fd >= 0)
    close (out_fd);
  if (temp_created)
    unlink (temp_path);
  if (disk_fd >= 0)
    close (disk_fd);
  return ok;
}
