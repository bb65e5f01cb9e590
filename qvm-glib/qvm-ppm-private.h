/* qvm-ppm-private.h: decoding the screenshots QEMU writes (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU's screendump writes a binary PPM (P6, 8 bits per sample). A
 * screenshot can come from a hostile guest's framebuffer only in its
 * pixels, but the header is parsed with the same care as any input.
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* Where a P6 header with maxval 255 puts the picture. */
typedef struct {
  guint width;
  guint height;
  gsize pixels_offset;   /* the first byte of the first pixel */
} QvmPpmHeader;

/* Parses a P6 header (comments and any whitespace allowed between fields,
 * as netpbm's own reader allows) and checks that @size holds all its
 * pixels. FALSE for anything else: another format, maxval other than 255,
 * a width or height of 0 or over G_MAXINT, a short file. Pure. */
gboolean   qvm_ppm_parse_header (const guint8 *data,
                                 gsize         size,
                                 QvmPpmHeader *header);

/* A P6 / 255 picture as a pixbuf that shares @bytes' memory (no copy: a
 * screenshot is mapped from QEMU's memory file); NULL with
 * QVM_ERROR_QEMU_FAILED when @bytes is not one. */
GdkPixbuf *qvm_ppm_decode_p6    (GBytes       *bytes,
                                 GError      **error);

/* A screenshot in any format: the P6 fast path, else gdk-pixbuf's own
 * loaders (16-bit or ASCII PNM, or a QEMU that writes PNG). */
GdkPixbuf *qvm_ppm_decode       (GBytes       *bytes,
                                 GError      **error);

G_END_DECLS
