/* qvm-ppm.c: decoding the screenshots QEMU writes
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The installed gdk-pixbuf (2.42) has a PNM loader, but the library keeps
 * its own reader for the one form QEMU writes: the loader copies every
 * pixel, where this wraps the mapped memory file as it is, and gdk-pixbuf
 * builds without its "other" loaders (PNM among them) by default, so the
 * loader may be missing elsewhere. The loader stays the fallback for any
 * other format.
 */

#include "config.h"

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-ppm-private.h"

/* Reads one header number after whitespace and comments; FALSE when there
 * is none, or it is 0 or over G_MAXINT. */
static gboolean
read_number (const guint8 *data,
             gsize         size,
             gsize        *offset,
             guint        *out)
{
  guint64 value = 0;
  gsize start;

  while (*offset < size)
    {
      if (g_ascii_isspace (data[*offset]))
        (*offset)++;
      else if (data[*offset] == '#')
        while (*offset < size && data[*offset] != '\n')
          (*offset)++;
      else
        break;
    }

  start = *offset;
  while (*offset < size && g_ascii_isdigit (data[*offset]) && value <= G_MAXINT)
    value = value * 10 + (data[(*offset)++] - '0');

  if (*offset == start || value == 0 || value > G_MAXINT)
    return FALSE;
  *out = value;
  return TRUE;
}

/* The fields of a P6 header: FALSE unless @data starts with one. */
static gboolean
parse_fields (const guint8 *data,
              gsize         size,
              guint        *width,
              guint        *height,
              guint        *maxval,
              gsize        *pixels_offset)
{
  gsize offset = 2;

  if (size < 2 || data[0] != 'P' || data[1] != '6')
    return FALSE;
  if (!read_number (data, size, &offset, width) ||
      !read_number (data, size, &offset, height) ||
      !read_number (data, size, &offset, maxval))
    return FALSE;
  /* Exactly one whitespace byte ends the header. */
  if (offset >= size || !g_ascii_isspace (data[offset]))
    return FALSE;

  *pixels_offset = offset + 1;
  return TRUE;
}

gboolean
qvm_ppm_parse_header (const guint8 *data,
                      gsize         size,
                      QvmPpmHeader *header)
{
  guint width, height, maxval;
  gsize offset;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (header != NULL, FALSE);

  if (!parse_fields (data, size, &width, &height, &maxval, &offset) || maxval != 255)
    return FALSE;

  /* The row stride must fit an int for gdk-pixbuf, the pixels the data. */
  if (width > G_MAXINT / 3 || (guint64) width * 3 * height > size - offset)
    return FALSE;

  header->width = width;
  header->height = height;
  header->pixels_offset = offset;
  return TRUE;
}

/* A P6 header of the form QEMU writes whose pixels are not all there: no
 * loader may "decode" it (gdk-pixbuf's PNM loader returns a picture for a
 * truncated file). */
static gboolean
is_broken_p6 (const guint8 *data,
              gsize         size)
{
  guint width, height, maxval;
  gsize offset;
  QvmPpmHeader header;

  return parse_fields (data, size, &width, &height, &maxval, &offset) && maxval == 255 &&
         !qvm_ppm_parse_header (data, size, &header);
}

GdkPixbuf *
qvm_ppm_decode_p6 (GBytes  *bytes,
                   GError **error)
{
  gsize size;
  const guint8 *data;
  QvmPpmHeader header;
  g_autoptr(GBytes) pixels = NULL;

  g_return_val_if_fail (bytes != NULL, NULL);

  data = g_bytes_get_data (bytes, &size);
  if (!qvm_ppm_parse_header (data, size, &header))
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("The screenshot is not a binary PPM with 8 bits per sample"));
      return NULL;
    }

  pixels = g_bytes_new_from_bytes (bytes, header.pixels_offset,
                                   (gsize) header.width * 3 * header.height);
  return gdk_pixbuf_new_from_bytes (pixels, GDK_COLORSPACE_RGB, FALSE, 8,
                                    header.width, header.height, header.width * 3);
}

GdkPixbuf *
qvm_ppm_decode (GBytes  *bytes,
                GError **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  GdkPixbuf *pixbuf;

  g_return_val_if_fail (bytes != NULL, NULL);

  pixbuf = qvm_ppm_decode_p6 (bytes, NULL);
  if (pixbuf != NULL)
    return pixbuf;

  if (g_bytes_get_size (bytes) == 0)
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("QEMU wrote an empty screenshot"));
      return NULL;
    }
  if (is_broken_p6 (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes)))
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("Cannot decode the screenshot: it is cut short or too large"));
      return NULL;
    }

  loader = gdk_pixbuf_loader_new ();
  if (!gdk_pixbuf_loader_write_bytes (loader, bytes, error) ||
      !gdk_pixbuf_loader_close (loader, error))
    {
      /* The loader's own errors are GDK_PIXBUF_ERROR; a screenshot nobody
       * can read is QEMU's failure. */
      g_autoptr(GError) loader_error = error != NULL ? g_steal_pointer (error) : NULL;

      g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED, _("Cannot decode the screenshot: %s"),
                   loader_error != NULL ? loader_error->message : _("unknown format"));
      /* A loader that failed half-way must still be closed. */
      gdk_pixbuf_loader_close (loader, NULL);
      return NULL;
    }
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                           _("Cannot decode the screenshot: no picture in it"));
      return NULL;
    }
  return g_object_ref (pixbuf);
}
