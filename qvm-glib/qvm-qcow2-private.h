/* qvm-qcow2-private.h: a bounded qcow2 header reader and a layer writer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The reader never looks past this many bytes of a file: the header, its
 * extensions and the backing file name must all lie in this window. */
#define QVM_QCOW2_HEADER_WINDOW (64 * 1024)

/* Incompatible feature bits (docs/interop/qcow2.txt). */
#define QVM_QCOW2_INCOMPAT_DIRTY        (G_GUINT64_CONSTANT (1) << 0)
#define QVM_QCOW2_INCOMPAT_CORRUPT      (G_GUINT64_CONSTANT (1) << 1)
#define QVM_QCOW2_INCOMPAT_DATA_FILE    (G_GUINT64_CONSTANT (1) << 2)
#define QVM_QCOW2_INCOMPAT_COMPRESSION  (G_GUINT64_CONSTANT (1) << 3)
#define QVM_QCOW2_INCOMPAT_EXTENDED_L2  (G_GUINT64_CONSTANT (1) << 4)
#define QVM_QCOW2_INCOMPAT_KNOWN        (G_GUINT64_CONSTANT (0x1f))

#define QVM_QCOW2_AUTOCLEAR_RAW_DATA    (G_GUINT64_CONSTANT (1) << 1)

/* What the reader found in a qcow2 header. Strings are NUL-terminated
 * copies; a name that contained a NUL byte keeps it, so compare with the
 * _len fields when it matters. */
typedef struct {
  guint32 version;
  guint32 cluster_bits;
  guint64 virtual_size;
  guint32 crypt_method;
  guint64 incompatible_features;
  guint64 compatible_features;
  guint64 autoclear_features;
  guint32 refcount_order;
  guint32 header_length;
  guint8 compression_type;
  char *backing_file;            /* NULL when there is none */
  gsize backing_file_len;
  char *backing_format;          /* NULL when the extension is absent */
  gsize backing_format_len;
  gboolean has_data_file_extension;
  gboolean has_encryption_extension;
} QvmQcow2Header;

void qvm_qcow2_header_clear (QvmQcow2Header *header);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QvmQcow2Header, qvm_qcow2_header_clear)

/* Parses the header at the start of @data (at most @len bytes of the file's
 * start; pass min (file size, QVM_QCOW2_HEADER_WINDOW)). Pure: no I/O, never
 * reads outside @data. Structural problems are QVM_ERROR_MALFORMED_PAYLOAD
 * errors whose message starts with @name. */
gboolean qvm_qcow2_parse_header (const guint8   *data,
                                 gsize           len,
                                 const char     *name,
                                 QvmQcow2Header *header,
                                 GError        **error);

/* Parses the header and applies the rules of an image layer: backing file
 * exactly @backing_file, backing format exactly @backing_format, not dirty,
 * not corrupt, not encrypted, no external data file, no unknown
 * incompatible feature, virtual size at most @max_virtual_size. */
gboolean qvm_qcow2_check_layer (const guint8 *data,
                                gsize         len,
                                const char   *name,
                                const char   *backing_file,
                                const char   *backing_format,
                                guint64       max_virtual_size,
                                GError      **error);

/* The largest file an image with @header can legitimately be: its header
 * cluster, the L1, L2 and refcount tables and blocks for a fully written
 * virtual disk, every data cluster, and a few clusters of leeway. Internal
 * snapshots, which a layer has no use for, are not counted. */
guint64 qvm_qcow2_max_file_size (const QvmQcow2Header *header);

/* Parses the header and checks that a file of @file_size bytes is no
 * larger than qvm_qcow2_max_file_size(): a layer cannot legitimately hold
 * more, and whatever it holds beyond is a hole that copies of it (or the
 * data it hides) would pay for. */
gboolean qvm_qcow2_check_layer_file_size (const guint8 *data,
                                          gsize         len,
                                          const char   *name,
                                          guint64       file_size,
                                          GError      **error);

/* A complete, empty qcow2 version 3 file of @virtual_size bytes whose
 * backing file is @backing_file with format @backing_format: header,
 * refcount table and block, L1 table; 64 KiB clusters. */
GBytes *qvm_qcow2_build_layer (guint64     virtual_size,
                               const char *backing_file,
                               const char *backing_format);

/* TRUE when @data starts with the magic of an image format that QEMU could
 * probe (qcow2, QED, VMDK, VHDX, VPC, VDI, LUKS…); @format is set to its name.
 * Needs at least QVM_QCOW2_MAGIC_PREFIX bytes, or the whole file if shorter. */
#define QVM_QCOW2_MAGIC_PREFIX 128
gboolean qvm_qcow2_has_image_magic (const guint8 *data,
                                    gsize         len,
                                    const char  **format);

G_END_DECLS
