/* qvm-archive.c: image archives (image.tar.zst), read (written in
 * qvm-archive-package.c)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Archives come from image authors, so extraction trusts nothing: every
 * entry is checked from its tar header before a byte of it is written, the
 * first bytes of the disk and the qcow2 header of the layer are held in
 * memory and checked before they reach the disk, and files are only ever
 * created, never opened, inside a folder this code has just made.
 */

#define _GNU_SOURCE
#include "config.h"

#include <inttypes.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "qvm-archive-private.h"
#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-qcow2-private.h"

#define READ_BUFFER_SIZE (1024 * 1024)
/* Disk data is written in chunks of this size; all-zero chunks are left
 * as holes, so an archive made without sparse entries still extracts to a
 * sparse disk. */
#define ZERO_CHUNK_SIZE (64 * 1024)
/* Data is charged by the file system block it lands in: one byte in a
 * block allocates all of it. */
#define DATA_BLOCK_SIZE (4 * 1024)

static const guint8 zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

void
qvm_archive_limits_init (QvmArchiveLimits *limits)
{
  limits->max_entry_size = QVM_ARCHIVE_DEFAULT_MAX_SIZE;
  limits->max_total_size = QVM_ARCHIVE_DEFAULT_MAX_SIZE;
  limits->max_machine_size = QVM_ARCHIVE_DEFAULT_MAX_MACHINE_SIZE;
}

/* ---- reading ---------------------------------------------------------- */

static GInputStream *
refuse_not_regular (GError     **error,
                    const char  *shown)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
               _("%s: an image archive must be a regular file"), shown);
  return NULL;
}

GInputStream *
qvm_archive_open (GFile         *source,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *shown = NULL;
  const char *path = g_file_peek_path (source);
  struct stat st;
  int fd;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  if (path == NULL)
    {
      /* Not a local file: ask its VFS what it is before reading it. */
      shown = g_file_get_parse_name (source);
      info = g_file_query_info (source, G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                G_FILE_QUERY_INFO_NONE, cancellable, error);
      if (info == NULL)
        return NULL;
      if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
        return refuse_not_regular (error, shown);
      return G_INPUT_STREAM (g_file_read (source, cancellable, error));
    }

  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer, for
   * ever; so would reading it. What is not a regular file is refused
   * before anything is read. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, path, "open");
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, path, "open");
      close (fd);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      return refuse_not_regular (error, path);
    }
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, path, "open");
      close (fd);
      return NULL;
    }
  return g_unix_input_stream_new (fd, TRUE);
}

typedef struct {
  GInputStream *stream;
  GCancellable *cancellable;
  guint8 *buffer;
  gboolean started;
  gboolean not_zstd;
  guint8 magic[4];
  gsize magic_len;
  GError *error;         /* an error of the stream itself (I/O, cancelled) */
} Source;

static la_ssize_t
source_read (struct archive *a,
             void           *data,
             const void    **buffer)
{
  Source *source = data;
  gssize n;

  if (source->error != NULL)
    return -1;

  if (!source->started)
    {
      /* The compression is checked here rather than trusted to libarchive's
       * bidders, so that a gzip or plain tar archive gets a precise message. */
      source->started = TRUE;
      if (!g_input_stream_read_all (source->stream, source->buffer, 4, &source->magic_len,
                                    source->cancellable, &source->error))
        {
          archive_set_error (a, EIO, "%s", source->error->message);
          return -1;
        }
      memcpy (source->magic, source->buffer, source->magic_len);
      if (source->magic_len < 4 || memcmp (source->buffer, zstd_magic, 4) != 0)
        {
          source->not_zstd = TRUE;
          archive_set_error (a, EINVAL, "not zstd");
          return -1;
        }
      *buffer = source->buffer;
      return source->magic_len;
    }

  if (g_cancellable_set_error_if_cancelled (source->cancellable, &source->error))
    {
      archive_set_error (a, ECANCELED, "%s", source->error->message);
      return -1;
    }
  n = g_input_stream_read (source->stream, source->buffer, READ_BUFFER_SIZE,
                           source->cancellable, &source->error);
  if (n < 0)
    {
      archive_set_error (a, EIO, "%s", source->error->message);
      return -1;
    }
  *buffer = source->buffer;
  return n;
}

typedef enum {
  ENTRY_DISK,
  ENTRY_LAYER,
  ENTRY_MACHINE,
  N_ENTRIES,
} EntryKind;

static const char *const entry_names[N_ENTRIES] = {
  QVM_ARCHIVE_DISK, QVM_ARCHIVE_LAYER, QVM_ARCHIVE_MACHINE,
};

typedef struct {
  EntryKind kind;
  const char *name;
  int fd;                     /* -1 for machine.json, which stays in memory */
  guint64 size;               /* as declared by the tar header */
  guint64 end;                /* end of the last data block seen */
  guint64 charged_blocks;     /* file system blocks up to the last one charged */
  guint8 *memory;             /* machine.json */
  /* The first bytes, held back until checked. */
  guint8 *prefix;
  gsize prefix_len;
  gsize prefix_known;
  gboolean prefix_checked;
} Entry;

typedef struct {
  const QvmArchiveLimits *limits;
  QvmArchiveMachineFunc validate_machine;
  GCancellable *cancellable;
  int parent_fd;
  int dir_fd;
  char *folder_name;
  gboolean folder_created;
  guint seen;                 /* bit per EntryKind */
  guint64 total_charged;      /* bytes of file system blocks written to */
  Entry entry;
  GObject *machine;
  Source source;
} Extract;

static void
entry_clear (Entry *entry)
{
  if (entry->fd >= 0)
    close (entry->fd);
  g_clear_pointer (&entry->memory, g_free);
  g_clear_pointer (&entry->prefix, g_free);
  memset (entry, 0, sizeof *entry);
  entry->fd = -1;
}

/* A name from the archive, safe to put in a message. */
static char *
printable_name (const char *name)
{
  g_autofree char *cut = NULL;

  if (name == NULL)
    return g_strdup (_("(no name)"));
  cut = g_strndup (name, 200);
  return g_strescape (cut, NULL);
}

static gboolean
reject (GError    **error,
        const char *name,
        const char *format,
        ...) G_GNUC_PRINTF (3, 4);

/* Sets a QVM_ERROR_MALFORMED_PAYLOAD error "NAME: RULE". */
static gboolean
reject (GError    **error,
        const char *name,
        const char *format,
        ...)
{
  g_autofree char *printable = printable_name (name);
  g_autofree char *rule = NULL;
  va_list args;

  va_start (args, format);
  rule = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "%s: %s", printable, rule);
  return FALSE;
}

static gboolean
reject_archive_error (Extract        *extract,
                      struct archive *a,
                      const char     *name,
                      GError        **error)
{
  if (extract->source.error != NULL)
    {
      /* The stream failed or was cancelled: not the author's fault. */
      g_propagate_error (error, g_steal_pointer (&extract->source.error));
      return FALSE;
    }
  return reject (error, name ? name : _("image archive"),
                 _("the archive is truncated or corrupt: %s"),
                 archive_error_string (a) ? archive_error_string (a) : _("unknown error"));
}

static gboolean
reject_not_zstd (Extract *extract,
                 GError **error)
{
  const guint8 *m = extract->source.magic;
  gsize len = extract->source.magic_len;
  const char *seen;

  if (len >= 2 && m[0] == 0x1f && m[1] == 0x8b)
    seen = "gzip";
  else if (len >= 4 && memcmp (m, "\xfd" "7zX", 4) == 0)
    seen = "xz";
  else if (len >= 3 && memcmp (m, "BZh", 3) == 0)
    seen = "bzip2";
  else if (len >= 4 && memcmp (m, "\x04\x22\x4d\x18", 4) == 0)
    seen = "lz4";
  else if (len == 0)
    seen = _("empty");
  else
    seen = _("uncompressed or unknown");

  return reject (error, _("image archive"),
                 _("the archive must be a zstd-compressed tar, but it is %s"), seen);
}

static gboolean
is_all_zero (const guint8 *data, gsize len)
{
  return len == 0 || (data[0] == 0 && memcmp (data, data + 1, len - 1) == 0);
}

/* Counts the file system blocks that writing @len bytes at @offset
 * allocates against the total limit. Writes to an entry only go forward,
 * so a block is charged once, whatever number of writes touch it. */
static gboolean
charge_blocks (Extract *extract,
               guint64  offset,
               gsize    len,
               GError **error)
{
  Entry *entry = &extract->entry;
  guint64 end = offset + len;
  guint64 first_block = MAX (offset / DATA_BLOCK_SIZE, entry->charged_blocks);
  guint64 end_block = end / DATA_BLOCK_SIZE + (end % DATA_BLOCK_SIZE != 0);
  guint64 charge = end_block > first_block ? (end_block - first_block) * DATA_BLOCK_SIZE : 0;

  if (charge > extract->limits->max_total_size - MIN (extract->total_charged,
                                                        extract->limits->max_total_size))
    return reject (error, entry->name,
                   _("the archive's data is over the limit of %" PRIu64 " bytes"),
                   extract->limits->max_total_size);
  extract->total_charged += charge;
  entry->charged_blocks = MAX (entry->charged_blocks, end_block);
  return TRUE;
}

/* Writes @len bytes at @offset, leaving all-zero chunks (aligned on the
 * file) as holes, and charges what it writes against the total limit. */
static gboolean
write_sparse (Extract      *extract,
              const guint8 *data,
              gsize         len,
              guint64       offset,
              GError      **error)
{
  Entry *entry = &extract->entry;

  while (len > 0)
    {
      gsize run = 0;
      gsize chunk = MIN (len, ZERO_CHUNK_SIZE - offset % ZERO_CHUNK_SIZE);

      /* skip a zero chunk */
      if (is_all_zero (data, chunk))
        {
          data += chunk;
          offset += chunk;
          len -= chunk;
          continue;
        }

      /* gather the following non-zero chunks into one write */
      while (run < len)
        {
          chunk = MIN (len - run, ZERO_CHUNK_SIZE - (offset + run) % ZERO_CHUNK_SIZE);
          if (run > 0 && is_all_zero (data + run, chunk))
            break;
          run += chunk;
        }

      if (!charge_blocks (extract, offset, run, error))
        return FALSE;
      if (!qvm_fs_pwrite_all (entry->fd, data, run, offset, error))
        {
          g_prefix_error (error, "%s: ", entry->name);
          return FALSE;
        }
      data += run;
      offset += run;
      len -= run;
    }

  return TRUE;
}

static gboolean
check_prefix (Extract *extract,
              GError **error)
{
  Entry *entry = &extract->entry;
  const char *format = NULL;

  switch (entry->kind)
    {
    case ENTRY_DISK:
      if (qvm_qcow2_has_image_magic (entry->prefix, entry->prefix_len, &format))
        return reject (error, entry->name,
                       _("the raw disk starts with a %s header; it must not look like another image format"),
                       format);
      return TRUE;
    case ENTRY_LAYER:
      return qvm_qcow2_check_layer (entry->prefix, entry->prefix_len, entry->name,
                                    QVM_ARCHIVE_DISK, "raw",
                                    extract->limits->max_entry_size, error) &&
             qvm_qcow2_check_layer_file_size (entry->prefix, entry->prefix_len, entry->name,
                                              entry->size, error);
    case ENTRY_MACHINE:
    case N_ENTRIES:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
release_prefix (Extract *extract,
                GError **error)
{
  Entry *entry = &extract->entry;

  if (!check_prefix (extract, error))
    return FALSE;
  entry->prefix_checked = TRUE;
  return write_sparse (extract, entry->prefix, entry->prefix_len, 0, error);
}

static gboolean
take_block (Extract      *extract,
            const guint8 *data,
            gsize         len,
            guint64       offset,
            GError      **error)
{
  Entry *entry = &extract->entry;

  if (offset < entry->end || offset > entry->size || len > entry->size - offset)
    return reject (error, entry->name, _("the entry's data lies outside its declared size"));
  entry->end = offset + len;

  if (entry->memory != NULL)
    {
      memcpy (entry->memory + offset, data, len);
      return TRUE;
    }

  if (!entry->prefix_checked)
    {
      if (offset < entry->prefix_len)
        {
          gsize in_prefix = MIN (len, entry->prefix_len - offset);

          memcpy (entry->prefix + offset, data, in_prefix);
          data += in_prefix;
          len -= in_prefix;
          offset += in_prefix;
        }
      /* what lies before this block is known: data or holes (zeros) */
      entry->prefix_known = MIN (entry->end, entry->prefix_len);
      if (entry->prefix_known < entry->prefix_len)
        return TRUE;
      if (!release_prefix (extract, error))
        return FALSE;
    }

  return write_sparse (extract, data, len, offset, error);
}

static gboolean
check_entry_header (Extract              *extract,
                    struct archive_entry *ae,
                    EntryKind            *kind,
                    GError              **error)
{
  const char *name = archive_entry_pathname (ae);
  g_auto(GStrv) components = NULL;
  mode_t type = archive_entry_filetype (ae);
  guint64 limit;
  gint64 size;
  int k;

  if (name == NULL || *name == '\0')
    return reject (error, NULL, _("entries must have a name"));
  if (name[0] == '/')
    return reject (error, name, _("absolute paths are not allowed"));
  components = g_strsplit (name, "/", -1);
  for (guint i = 0; components[i] != NULL; i++)
    if (strcmp (components[i], "..") == 0)
      return reject (error, name, _("paths with “..” are not allowed"));

  if (archive_entry_hardlink (ae) != NULL)
    return reject (error, name, _("hard links are not allowed"));
  if (archive_entry_symlink (ae) != NULL || type == AE_IFLNK)
    return reject (error, name, _("symbolic links are not allowed"));
  if (type == AE_IFDIR)
    return reject (error, name, _("directories are not allowed"));
  if (type == AE_IFCHR || type == AE_IFBLK)
    return reject (error, name, _("device files are not allowed"));
  if (type == AE_IFIFO)
    return reject (error, name, _("named pipes (FIFOs) are not allowed"));
  if (type != AE_IFREG)
    return reject (error, name, _("only regular files are allowed"));

  if (strchr (name, '/') != NULL)
    return reject (error, name, _("paths with “/” are not allowed"));

  for (k = 0; k < N_ENTRIES; k++)
    if (strcmp (name, entry_names[k]) == 0)
      break;
  if (k == N_ENTRIES)
    return reject (error, name,
                   _("unexpected entry; an image archive holds only disk.img, layer.qcow2 and machine.json"));

  if (extract->seen & (1u << k))
    return reject (error, name, _("the archive holds this entry twice"));
  extract->seen |= 1u << k;

  if (!archive_entry_size_is_set (ae) || archive_entry_size (ae) < 0)
    return reject (error, name, _("the entry has no size"));
  size = archive_entry_size (ae);
  limit = k == ENTRY_MACHINE ? extract->limits->max_machine_size : extract->limits->max_entry_size;
  if ((guint64) size > limit)
    return reject (error, name,
                   _("the size of %" PRId64 " bytes is over the limit of %" PRIu64 " bytes"),
                   size, limit);

  *kind = k;
  return TRUE;
}

static gboolean
open_entry (Extract   *extract,
            EntryKind  kind,
            guint64    size,
            GError   **error)
{
  Entry *entry = &extract->entry;

  entry_clear (entry);
  entry->kind = kind;
  entry->name = entry_names[kind];
  entry->size = size;

  if (kind == ENTRY_MACHINE)
    {
      entry->memory = g_malloc0 (size + 1);
      return TRUE;
    }

  entry->prefix_len = MIN (size, kind == ENTRY_DISK ? QVM_QCOW2_MAGIC_PREFIX : QVM_QCOW2_HEADER_WINDOW);
  entry->prefix = g_malloc0 (MAX (entry->prefix_len, 1));
  entry->fd = openat (extract->dir_fd, entry->name,
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (entry->fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, entry->name, "create");
      return FALSE;
    }
  return TRUE;
}

static gboolean
close_entry (Extract *extract,
             GError **error)
{
  Entry *entry = &extract->entry;

  if (entry->kind == ENTRY_MACHINE)
    {
      g_autoptr(GBytes) json = g_bytes_new_take (g_steal_pointer (&entry->memory), entry->size);
      g_autoptr(GError) local_error = NULL;
      GObject *machine;

      machine = extract->validate_machine (json, &local_error);
      if (machine == NULL)
        {
          /* every line of the validator's message names the entry */
          g_auto(GStrv) lines = g_strsplit (local_error->message, "\n", -1);
          g_autoptr(GString) message = g_string_new (NULL);

          for (guint i = 0; lines[i] != NULL; i++)
            if (lines[i][0] != '\0')
              g_string_append_printf (message, "%s%s: %s", message->len ? "\n" : "", entry->name, lines[i]);
          g_set_error_literal (error, local_error->domain, local_error->code, message->str);
          return FALSE;
        }
      extract->machine = machine;
      return TRUE;
    }

  /* the rest of the prefix, if any, is a hole */
  if (!entry->prefix_checked && !release_prefix (extract, error))
    return FALSE;

  if (ftruncate (entry->fd, entry->size) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, entry->name, "resize");
      return FALSE;
    }
  if (close (entry->fd) != 0)
    {
      entry->fd = -1;
      qvm_fs_set_error_from_errno (error, errno, entry->name, "write");
      return FALSE;
    }
  entry->fd = -1;
  return TRUE;
}

static gboolean
read_entry_data (Extract        *extract,
                 struct archive *a,
                 GError        **error)
{
  for (;;)
    {
      const void *data;
      size_t len;
      la_int64_t offset;
      int r;

      if (g_cancellable_set_error_if_cancelled (extract->cancellable, error))
        return FALSE;

      r = archive_read_data_block (a, &data, &len, &offset);
      if (r == ARCHIVE_EOF)
        return TRUE;
      if (r != ARCHIVE_OK)
        return reject_archive_error (extract, a, extract->entry.name, error);
      if (offset < 0)
        return reject (error, extract->entry.name, _("the entry's data lies outside its declared size"));
      if (!take_block (extract, data, len, offset, error))
        return FALSE;
    }
}

static gboolean
extract_entries (Extract        *extract,
                 struct archive *a,
                 GError        **error)
{
  gboolean first = TRUE;

  for (;;)
    {
      struct archive_entry *ae;
      EntryKind kind = N_ENTRIES;
      int r;

      if (g_cancellable_set_error_if_cancelled (extract->cancellable, error))
        return FALSE;

      r = archive_read_next_header (a, &ae);
      if (r == ARCHIVE_EOF)
        break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        {
          if (first && extract->source.error == NULL)
            return reject (error, _("image archive"), _("the archive is not a valid zstd-compressed tar: %s"),
                           archive_error_string (a) ? archive_error_string (a) : _("unknown error"));
          return reject_archive_error (extract, a, NULL, error);
        }

      if (first)
        {
          /* Belt and braces: zstd and nothing else, around a tar. */
          if (archive_filter_count (a) != 2 || archive_filter_code (a, 0) != ARCHIVE_FILTER_ZSTD)
            return reject (error, _("image archive"), _("the archive must be compressed with zstd only"));
          if ((archive_format (a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR)
            return reject (error, _("image archive"), _("the archive is not a tar"));
          first = FALSE;
        }

      if (!check_entry_header (extract, ae, &kind, error) ||
          !open_entry (extract, kind, archive_entry_size (ae), error) ||
          !read_entry_data (extract, a, error) ||
          !close_entry (extract, error))
        return FALSE;
    }

  if (first && extract->source.error != NULL)
    return reject_archive_error (extract, a, NULL, error);

  for (int k = 0; k < N_ENTRIES; k++)
    if (!(extract->seen & (1u << k)))
      return reject (error, entry_names[k], _("the archive does not hold this entry"));

  return TRUE;
}

static gboolean
make_folder (Extract    *extract,
             int         parent_fd,
             const char *name,
             const char *shown,
             GError    **error)
{
  extract->folder_name = g_strdup (name);
  extract->parent_fd = fcntl (parent_fd, F_DUPFD_CLOEXEC, 0);
  if (extract->parent_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, shown, "open the parent folder of");
      return FALSE;
    }
  if (mkdirat (extract->parent_fd, extract->folder_name, 0700) != 0)
    {
      qvm_fs_set_error_from_errno (error, errno, shown, "create");
      return FALSE;
    }
  extract->folder_created = TRUE;
  extract->dir_fd = openat (extract->parent_fd, extract->folder_name,
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (extract->dir_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, shown, "open");
      return FALSE;
    }
  return TRUE;
}

gboolean
qvm_archive_extract_at (GInputStream           *stream,
                        int                     parent_fd,
                        const char             *name,
                        const char             *shown,
                        const QvmArchiveLimits *limits,
                        QvmArchiveMachineFunc   validate_machine,
                        GObject               **machine,
                        int                    *folder_fd,
                        GCancellable           *cancellable,
                        GError                **error)
{
  Extract extract = { 0 };
  struct archive *a = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (parent_fd >= 0, FALSE);
  g_return_val_if_fail (name != NULL && strchr (name, '/') == NULL, FALSE);
  g_return_val_if_fail (shown != NULL, FALSE);
  g_return_val_if_fail (limits != NULL, FALSE);
  g_return_val_if_fail (validate_machine != NULL, FALSE);
  g_return_val_if_fail (machine != NULL, FALSE);

  extract.limits = limits;
  extract.validate_machine = validate_machine;
  extract.cancellable = cancellable;
  extract.parent_fd = -1;
  extract.dir_fd = -1;
  extract.entry.fd = -1;
  extract.source.stream = stream;
  extract.source.cancellable = cancellable;
  extract.source.buffer = g_malloc (READ_BUFFER_SIZE);

  if (!make_folder (&extract, parent_fd, name, shown, error))
    goto out;

  a = archive_read_new ();
  archive_read_support_filter_zstd (a);
  archive_read_support_format_tar (a);
  if (archive_read_open (a, &extract.source, NULL, source_read, NULL) != ARCHIVE_OK)
    {
      if (extract.source.not_zstd)
        reject_not_zstd (&extract, error);
      else if (extract.source.error != NULL)
        g_propagate_error (error, g_steal_pointer (&extract.source.error));
      else
        reject (error, _("image archive"), _("the archive is not a valid zstd-compressed tar: %s"),
                archive_error_string (a) ? archive_error_string (a) : _("unknown error"));
      goto out;
    }

  ok = extract_entries (&extract, a, error);

out:
  if (a != NULL)
    archive_read_free (a);
  entry_clear (&extract.entry);
  if (ok && folder_fd != NULL)
    *folder_fd = g_steal_fd (&extract.dir_fd);
  if (extract.dir_fd >= 0)
    close (extract.dir_fd);
  if (!ok && extract.folder_created)
    {
      g_autoptr(GError) cleanup_error = NULL;

      if (!qvm_fs_remove_tree_at (extract.parent_fd, extract.folder_name, &cleanup_error))
        g_warning ("Cannot remove %s after a failed extraction: %s", shown, cleanup_error->message);
    }
  if (extract.parent_fd >= 0)
    close (extract.parent_fd);
  g_free (extract.folder_name);
  g_free (extract.source.buffer);
  g_clear_error (&extract.source.error);

  if (ok)
    *machine = extract.machine;
  else
    g_clear_object (&extract.machine);
  return ok;
}

gboolean
qvm_archive_extract (GInputStream           *stream,
                     const char             *folder,
                     const QvmArchiveLimits *limits,
                     QvmArchiveMachineFunc   validate_machine,
                     GObject               **machine,
                     GCancellable           *cancellable,
                     GError                **error)
{
  g_autofree char *parent = NULL;
  g_autofree char *name = NULL;
  gboolean ok;
  int parent_fd;

  g_return_val_if_fail (folder != NULL, FALSE);

  parent = g_path_get_dirname (folder);
  name = g_path_get_basename (folder);
  parent_fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, parent, "open");
      return FALSE;
    }
  ok = qvm_archive_extract_at (stream, parent_fd, name, folder, limits, validate_machine,
                               machine, NULL, cancellable, error);
  close (parent_fd);
  return ok;
}
