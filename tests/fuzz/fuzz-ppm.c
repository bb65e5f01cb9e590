/* fuzz-ppm.c: the screenshot header reader (qvm-ppm.c)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input stands for what QEMU wrote into the screenshot's memory file.
 * The fast path must never read outside it, and must agree with itself:
 * a header it accepts describes pixels that lie inside the input.
 * gdk-pixbuf's own loaders (the fallback) are not ours to fuzz.
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-ppm-private.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* A copy of exactly @size bytes, so that ASan sees any read past it. */
  g_autofree guint8 *copy = g_memdup2 (data, size);
  g_autoptr(GBytes) bytes = g_bytes_new_static (copy, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  QvmPpmHeader header = { 0 };
  gboolean parsed;

  fuzz_setup ();

  parsed = qvm_ppm_parse_header (copy, size, &header);
  pixbuf = qvm_ppm_decode_p6 (bytes, &error);
  fuzz_report ("ppm", error);

  fuzz_check (parsed == (pixbuf != NULL));
  if (pixbuf == NULL)
    {
      fuzz_check (g_error_matches (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED));
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  fuzz_check (header.width > 0 && header.height > 0);
  fuzz_check ((guint) gdk_pixbuf_get_width (pixbuf) == header.width);
  fuzz_check ((guint) gdk_pixbuf_get_height (pixbuf) == header.height);
  fuzz_check (header.pixels_offset <= size);
  fuzz_check ((guint64) header.width * 3 * header.height <= size - header.pixels_offset);
  fuzz_check (gdk_pixbuf_read_pixels (pixbuf) == copy + header.pixels_offset);
  /* Touch the last pixel byte: it must be inside the input. */
  fuzz_check (gdk_pixbuf_read_pixels (pixbuf)[(gsize) header.width * 3 * header.height - 1] ==
              copy[header.pixels_offset + (gsize) header.width * 3 * header.height - 1]);
  return 0;
}
