/* qvm-qcow2.c: a bounded qcow2 header reader and a layer writer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The reader runs on untrusted image archives, so it is a pure function of a
 * bounded buffer (easy to fuzz) and mirrors what QEMU 7.2 itself reads when it
 * opens the file: the same header fields and the same header extension walk,
 * so that QEMU cannot see a backing file or format that this reader missed.
 * Layout reference: QEMU's docs/interop/qcow2.txt.
 */

#include "config.h"

#include <inttypes.h>

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qcow2-private.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LENGTH 72
#define QCOW2_V3_HEADER_LENGTH 104
#define QCOW2_MAX_BACKING_FILE_NAME 1023
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21

#define EXT_END              0x00000000u
#define EXT_BACKING_FORMAT   0xe2792acau
#define EXT_FEATURE_TABLE    0x6803f857u
#define EXT_ENCRYPTION       0x0537be77u
#define EXT_DATA_FILE        0x44415441u

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static guint64
read_be64 (const guint8 *p)
{
  return ((guint64) read_be32 (p) << 32) | read_be32 (p + 4);
}

static void
write_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
write_be64 (guint8 *p, guint64 v)
{
  write_be32 (p, v >> 32);
  write_be32 (p + 4, (guint32) v);
}

/* Unlike g_strndup(), keeps NUL bytes inside the name. */
static char *
copy_bytes (const guint8 *data, gsize len)
{
  char *copy = g_malloc (len + 1);

  memcpy (copy, data, len);
  copy[len] = '\0';
  return copy;
}

static gboolean
malformed (GError **error, const char *name, const char *rule)
{
  g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "%s: %s", name, rule);
  return FALSE;
}

void
qvm_qcow2_header_clear (QvmQcow2Header *header)
{
  g_clear_pointer (&header->backing_file, g_free);
  g_clear_pointer (&header->backing_format, g_free);
  memset (header, 0, sizeof *header);
}

/* Walks the header extensions as QEMU's qcow2_read_extensions() does: from
 * the end of the header up to @end (the backing file name or the end of the
 * first cluster), stopping at an end marker. */
static gboolean
parse_extensions (const guint8   *data,
                  gsize           len,
                  const char     *name,
                  guint64         start,
                  guint64         end,
                  QvmQcow2Header *header,
                  GError        **error)
{
  guint64 offset = start;

  while (offset < end)
    {
      guint32 type, ext_len;

      if (offset + 8 > end)
        return malformed (error, name, _("a qcow2 header extension is cut short"));
      if (offset + 8 > len)
        return malformed (error, name, _("the qcow2 header extensions do not fit in the first 64 KiB"));

      type = read_be32 (data + offset);
      ext_len = read_be32 (data + offset + 4);
      offset += 8;

      if (type == EXT_END)
        return TRUE;
      if (ext_len > end - offset)
        return malformed (error, name, _("a qcow2 header extension is larger than the header"));
      if (offset + ext_len > len)
        return malformed (error, name, _("the qcow2 header extensions do not fit in the first 64 KiB"));

      switch (type)
        {
        case EXT_BACKING_FORMAT:
          if (header->backing_format != NULL)
            return malformed (error, name, _("the qcow2 backing format is given twice"));
          header->backing_format = copy_bytes (data + offset, ext_len);
          header->backing_format_len = ext_len;
          break;
        case EXT_DATA_FILE:
          header->has_data_file_extension = TRUE;
          break;
        case EXT_ENCRYPTION:
          header->has_encryption_extension = TRUE;
          break;
        default:
          /* Feature names, bitmaps and unknown extensions are ignored by
           * QEMU as well. */
          break;
        }

      offset += ((guint64) ext_len + 7) & ~G_GUINT64_CONSTANT (7);
    }

  return TRUE;
}

gboolean
qvm_qcow2_parse_header (const guint8   *data,
                        gsize           len,
                        const char     *name,
                        QvmQcow2Header *header,
                        GError        **error)
{
  guint64 backing_offset, cluster_size, extensions_end;
  guint32 backing_size;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (header != NULL, FALSE);

  memset (header, 0, sizeof *header);
  len = MIN (len, QVM_QCOW2_HEADER_WINDOW);

  if (len < QCOW2_V2_HEADER_LENGTH || read_be32 (data) != QCOW2_MAGIC)
    return malformed (error, name, _("not a qcow2 file (no qcow2 magic)"));

  header->version = read_be32 (data + 4);
  if (header->version != 2 && header->version != 3)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: qcow2 version %u is not supported (only 2 and 3)"),
                   name, header->version);
      return FALSE;
    }

  backing_offset = read_be64 (data + 8);
  backing_size = read_be32 (data + 16);
  header->cluster_bits = read_be32 (data + 20);
  header->virtual_size = read_be64 (data + 24);
  header->crypt_method = read_be32 (data + 32);

  if (header->cluster_bits < QCOW2_MIN_CLUSTER_BITS || header->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: qcow2 cluster bits %u are out of range (9 to 21)"),
                   name, header->cluster_bits);
      return FALSE;
    }
  cluster_size = G_GUINT64_CONSTANT (1) << header->cluster_bits;

  if (header->version == 2)
    {
      header->header_length = QCOW2_V2_HEADER_LENGTH;
      header->refcount_order = 4;
    }
  else
    {
      if (len < QCOW2_V3_HEADER_LENGTH)
        return malformed (error, name, _("the qcow2 version 3 header is cut short"));
      header->incompatible_features = read_be64 (data + 72);
      header->compatible_features = read_be64 (data + 80);
      header->autoclear_features = read_be64 (data + 88);
      header->refcount_order = read_be32 (data + 96);
      header->header_length = read_be32 (data + 100);

      if (header->header_length < QCOW2_V3_HEADER_LENGTH || header->header_length % 8 != 0)
        return malformed (error, name, _("the qcow2 header length is invalid"));
      if (header->header_length > cluster_size)
        return malformed (error, name, _("the qcow2 header is larger than a cluster"));
      if (header->header_length > len)
        return malformed (error, name, _("the qcow2 header does not fit in the first 64 KiB"));
      if (header->header_length > QCOW2_V3_HEADER_LENGTH)
        header->compression_type = data[QCOW2_V3_HEADER_LENGTH];
    }

  if (header->refcount_order > 6)
    return malformed (error, name, _("the qcow2 refcount order is above 6"));

  /* QEMU stops the extension walk at the backing file name, if any, and
   * otherwise at the end of the first cluster. */
  extensions_end = cluster_size;
  if (backing_offset != 0)
    {
      if (backing_offset > cluster_size || backing_size > QCOW2_MAX_BACKING_FILE_NAME ||
          backing_offset + backing_size > cluster_size)
        return malformed (error, name, _("the qcow2 backing file name lies outside the first cluster"));
      if (backing_offset + backing_size > len)
        return malformed (error, name, _("the qcow2 backing file name does not fit in the first 64 KiB"));
      if (backing_offset < header->header_length)
        return malformed (error, name, _("the qcow2 backing file name overlaps the header"));
      extensions_end = backing_offset;
      header->backing_file = copy_bytes (data + backing_offset, backing_size);
      header->backing_file_len = backing_size;
    }

  return parse_extensions (data, len, name, header->header_length, extensions_end, header, error);
}

/* Quotes a name from the file for an error message, escaping what is not
 * printable so that a hostile name cannot forge message lines. */
static char *
quote_name (const char *value, gsize value_len)
{
  g_autoptr(GString) quoted = g_string_new ("“");
  g_autofree char *valid = NULL;

  for (gsize i = 0; i < MIN (value_len, 256); i++)
    {
      guchar c = value[i];

      if (c < 0x20 || c == 0x7f || c == '\\')
        g_string_append_printf (quoted, "\\%03o", c);
      else
        g_string_append_c (quoted, c);
    }
  g_string_append (quoted, value_len > 256 ? "…”" : "”");
  valid = g_utf8_make_valid (quoted->str, quoted->len);
  return g_steal_pointer (&valid);
}

gboolean
qvm_qcow2_check_layer (const guint8 *data,
                       gsize         len,
                       const char   *name,
                       const char   *backing_file,
                       const char   *backing_format,
                       guint64       max_virtual_size,
                       GError      **error)
{
  g_auto(QvmQcow2Header) header = { 0 };
  guint64 unknown;

  if (!qvm_qcow2_parse_header (data, len, name, &header, error))
    return FALSE;

  if (header.incompatible_features & QVM_QCOW2_INCOMPAT_DIRTY)
    return malformed (error, name, _("the qcow2 dirty bit is set"));
  if (header.incompatible_features & QVM_QCOW2_INCOMPAT_CORRUPT)
    return malformed (error, name, _("the qcow2 corrupt bit is set"));
  if ((header.incompatible_features & QVM_QCOW2_INCOMPAT_DATA_FILE) ||
      (header.autoclear_features & QVM_QCOW2_AUTOCLEAR_RAW_DATA) ||
      header.has_data_file_extension)
    return malformed (error, name, _("an external qcow2 data file is not allowed"));

  unknown = header.incompatible_features & ~QVM_QCOW2_INCOMPAT_KNOWN;
  if (unknown != 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: unknown qcow2 incompatible features 0x%" PRIx64),
                   name, unknown);
      return FALSE;
    }
  if ((header.incompatible_features & QVM_QCOW2_INCOMPAT_COMPRESSION) ?
      header.compression_type != 1 : header.compression_type != 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: qcow2 compression type %u is not supported"),
                   name, header.compression_type);
      return FALSE;
    }

  if (header.crypt_method != 0 || header.has_encryption_extension)
    return malformed (error, name, _("an encrypted qcow2 file is not allowed"));

  if (header.virtual_size > max_virtual_size)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the virtual size %" PRIu64 " bytes is over the limit of %"
                     PRIu64 " bytes"),
                   name, header.virtual_size, max_virtual_size);
      return FALSE;
    }

  if (header.backing_file == NULL)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the qcow2 file has no backing file; it must be “%s”"),
                   name, backing_file);
      return FALSE;
    }
  if (header.backing_file_len != strlen (backing_file) ||
      memcmp (header.backing_file, backing_file, header.backing_file_len) != 0)
    {
      g_autofree char *quoted = quote_name (header.backing_file, header.backing_file_len);

      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the qcow2 backing file is %s; it must be “%s”"),
                   name, quoted, backing_file);
      return FALSE;
    }

  if (header.backing_format == NULL)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the qcow2 backing format is not given; it must be “%s”"),
                   name, backing_format);
      return FALSE;
    }
  if (header.backing_format_len != strlen (backing_format) ||
      memcmp (header.backing_format, backing_format, header.backing_format_len) != 0)
    {
      g_autofree char *quoted = quote_name (header.backing_format, header.backing_format_len);

      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the qcow2 backing format is %s; it must be “%s”"),
                   name, quoted, backing_format);
      return FALSE;
    }

  return TRUE;
}

static guint64
div_round_up (guint64 a,
              guint64 b)
{
  return a / b + (a % b != 0);
}

/* Leeway, in clusters, for what a sound image may hold besides its tables
 * and data: header extensions past the first cluster, a refcount table
 * that QEMU grew and left behind, a cluster or two leaked on a crash. */
#define FILE_SIZE_SLACK_CLUSTERS 8

guint64
qvm_qcow2_max_file_size (const QvmQcow2Header *header)
{
  guint64 cluster_size = G_GUINT64_CONSTANT (1) << header->cluster_bits;
  /* an extended L2 entry takes 16 bytes, a plain one 8 */
  guint64 l2_entry = (header->incompatible_features & QVM_QCOW2_INCOMPAT_EXTENDED_L2) ? 16 : 8;
  guint64 data_clusters = div_round_up (header->virtual_size, cluster_size);
  guint64 l2_tables = div_round_up (data_clusters, cluster_size / l2_entry);
  guint64 l1_clusters = div_round_up (l2_tables * 8, cluster_size);
  guint64 refcounts_per_block = cluster_size * 8 >> header->refcount_order;
  guint64 fixed = 1 + l1_clusters + l2_tables + data_clusters + FILE_SIZE_SLACK_CLUSTERS;
  guint64 total = fixed;

  /* the refcount blocks and table count themselves too: a few rounds
   * reach the fixed point, since each block covers thousands of clusters */
  for (int round = 0; round < 4; round++)
    {
      guint64 blocks = div_round_up (total, refcounts_per_block);

      total = fixed + blocks + div_round_up (blocks * 8, cluster_size);
    }

  if (total > G_MAXUINT64 >> header->cluster_bits)
    return G_MAXUINT64;
  return total << header->cluster_bits;
}

gboolean
qvm_qcow2_check_layer_file_size (const guint8 *data,
                                 gsize         len,
                                 const char   *name,
                                 guint64       file_size,
                                 GError      **error)
{
  g_auto(QvmQcow2Header) header = { 0 };
  guint64 max_size;

  if (!qvm_qcow2_parse_header (data, len, name, &header, error))
    return FALSE;
  max_size = qvm_qcow2_max_file_size (&header);
  if (file_size > max_size)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the file of %" PRIu64 " bytes is larger than a qcow2 file of "
                     "virtual size %" PRIu64 " can need (%" PRIu64 " bytes)"),
                   name, file_size, header.virtual_size, max_size);
      return FALSE;
    }
  return TRUE;
}

/* The writer: cluster 0 holds the header, its extensions and the backing
 * file name; cluster 1 the refcount table; cluster 2 the refcount block
 * (16-bit refcounts); clusters 3… the L1 table, all zero (nothing allocated,
 * every read falls through to the backing file). This is what
 * `qemu-img create -f qcow2 -b … -F raw` lays out as well. */
#define LAYER_CLUSTER_BITS 16
#define LAYER_CLUSTER_SIZE (1u << LAYER_CLUSTER_BITS)
#define LAYER_HEADER_LENGTH 112

GBytes *
qvm_qcow2_build_layer (guint64     virtual_size,
                       const char *backing_file,
                       const char *backing_format)
{
  /* Each L2 table maps cluster_size / 8 clusters. */
  const guint64 bytes_per_l1_entry = (guint64) LAYER_CLUSTER_SIZE * (LAYER_CLUSTER_SIZE / 8);
  guint64 l1_entries = (virtual_size + bytes_per_l1_entry - 1) / bytes_per_l1_entry;
  guint64 l1_clusters = MAX (1, (l1_entries * 8 + LAYER_CLUSTER_SIZE - 1) / LAYER_CLUSTER_SIZE);
  guint64 n_clusters = 3 + l1_clusters;
  gsize backing_file_len = strlen (backing_file);
  gsize backing_format_len = strlen (backing_format);
  gsize offset;
  guint8 *file;

  /* One refcount block of 16-bit entries covers 32768 clusters (2 GiB of
   * file), far more than an L1 table for any virtual size QEMU accepts. */
  g_return_val_if_fail (n_clusters <= LAYER_CLUSTER_SIZE / 2, NULL);
  g_return_val_if_fail (backing_file_len <= QCOW2_MAX_BACKING_FILE_NAME, NULL);
  g_return_val_if_fail (backing_format_len < 256, NULL);

  file = g_malloc0 (n_clusters * LAYER_CLUSTER_SIZE);

  write_be32 (file + 0, QCOW2_MAGIC);
  write_be32 (file + 4, 3);
  /* 8: backing file offset and 16: size, filled in below */
  write_be32 (file + 20, LAYER_CLUSTER_BITS);
  write_be64 (file + 24, virtual_size);
  write_be32 (file + 32, 0);                                  /* no encryption */
  write_be32 (file + 36, (guint32) l1_entries);
  write_be64 (file + 40, 3 * (guint64) LAYER_CLUSTER_SIZE);   /* L1 table */
  write_be64 (file + 48, 1 * (guint64) LAYER_CLUSTER_SIZE);   /* refcount table */
  write_be32 (file + 56, 1);                                  /* refcount table clusters */
  write_be32 (file + 60, 0);                                  /* no snapshots */
  write_be64 (file + 64, 0);
  write_be64 (file + 72, 0);                                  /* incompatible features */
  write_be64 (file + 80, 1);                                  /* lazy refcounts, as upstream */
  write_be64 (file + 88, 0);                                  /* autoclear features */
  write_be32 (file + 96, 4);                                  /* 16-bit refcounts */
  write_be32 (file + 100, LAYER_HEADER_LENGTH);
  /* 104: compression type 0 (zlib) and padding stay zero */

  offset = LAYER_HEADER_LENGTH;
  write_be32 (file + offset, EXT_BACKING_FORMAT);
  write_be32 (file + offset + 4, backing_format_len);
  memcpy (file + offset + 8, backing_format, backing_format_len);
  offset += 8 + ((backing_format_len + 7) & ~(gsize) 7);
  write_be32 (file + offset, EXT_END);
  write_be32 (file + offset + 4, 0);
  offset += 8;

  write_be64 (file + 8, offset);
  write_be32 (file + 16, backing_file_len);
  memcpy (file + offset, backing_file, backing_file_len);

  /* Refcount table: one block, at cluster 2. */
  write_be64 (file + 1 * LAYER_CLUSTER_SIZE, 2 * (guint64) LAYER_CLUSTER_SIZE);

  /* Refcount block: every cluster of the file is used once. */
  for (guint64 i = 0; i < n_clusters; i++)
    {
      guint8 *entry = file + 2 * LAYER_CLUSTER_SIZE + 2 * i;

      entry[0] = 0;
      entry[1] = 1;
    }

  return g_bytes_new_take (file, n_clusters * LAYER_CLUSTER_SIZE);
}

typedef struct {
  gsize offset;
  const char *magic;
  gsize magic_len;
  const char *format;
} ImageMagic;

/* Formats QEMU's probing recognises by their first bytes. */
static const ImageMagic image_magics[] = {
  { 0, "QFI\xfb", 4, "qcow/qcow2" },
  { 0, "QED\0", 4, "QED" },
  { 0, "KDMV", 4, "VMDK" },
  { 0, "COWD", 4, "VMDK" },
  { 0, "# Disk DescriptorFile", 21, "VMDK" },
  { 0, "vhdxfile", 8, "VHDX" },
  { 0, "conectix", 8, "VPC" },
  { 64, "\x7f\x10\xda\xbe", 4, "VDI" },
  { 0, "<<< Oracle VM VirtualBox Disk Image >>>", 39, "VDI" },
  { 0, "LUKS\xba\xbe", 6, "LUKS" },
  { 0, "WithoutFreeSpace", 16, "Parallels" },
  { 0, "WithouFreSpacExt", 16, "Parallels" },
  { 0, "Bochs Virtual HD Image", 22, "Bochs" },
  { 0, "#!/bin/sh\n#V2.0 Format\n", 23, "cloop" },
};

gboolean
qvm_qcow2_has_image_magic (const guint8 *data,
                           gsize         len,
                           const char  **format)
{
  for (gsize i = 0; i < G_N_ELEMENTS (image_magics); i++)
    {
      const ImageMagic *m = &image_magics[i];

      if (len >= m->offset + m->magic_len &&
          memcmp (data + m->offset, m->magic, m->magic_len) == 0)
        {
          if (format != NULL)
            *format = m->format;
          return TRUE;
        }
    }

  return FALSE;
}
