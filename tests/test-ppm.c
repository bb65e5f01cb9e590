/* test-ppm.c: decoding QEMU's screenshots (qvm-ppm.c), no QEMU needed
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-ppm-private.h"

static GBytes *
bytes_of (const char *text,
          gsize       length)
{
  return g_bytes_new (text, length);
}

#define BYTES(literal) bytes_of (literal, sizeof literal - 1)

/* 2×1 pixels: red, then blue. */
#define PIXELS "\xff\x00\x00\x00\x00\xff"

typedef struct {
  const char *name;
  const char *data;
  gsize       length;
  guint       width;
  guint       height;
  gsize       offset;
} GoodHeader;

#define GOOD(name, header, w, h) { name, header PIXELS, sizeof header PIXELS - 1, w, h, sizeof header - 1 }

static const GoodHeader good_headers[] = {
  GOOD ("plain", "P6\n2 1\n255\n", 2, 1),
  GOOD ("spaces", "P6 2 1 255 ", 2, 1),
  GOOD ("comments", "P6\n# made by QEMU\n2 # width\n1\n255\n", 2, 1),
  GOOD ("tabs-and-crlf", "P6\t2\r\n1\t255\r", 2, 1),
};

static void
test_header_good (gconstpointer data)
{
  const GoodHeader *good = data;
  QvmPpmHeader header = { 0 };

  g_assert_true (qvm_ppm_parse_header ((const guint8 *) good->data, good->length, &header));
  g_assert_cmpuint (header.width, ==, good->width);
  g_assert_cmpuint (header.height, ==, good->height);
  g_assert_cmpuint (header.pixels_offset, ==, good->offset);
}

typedef struct {
  const char *name;
  const char *data;
  gsize       length;
} BadHeader;

#define BAD(name, literal) { name, literal, sizeof literal - 1 }

static const BadHeader bad_headers[] = {
  BAD ("empty", ""),
  BAD ("one-byte", "P"),
  BAD ("ascii-ppm", "P3\n2 1\n255\n255 0 0 0 0 255\n"),
  BAD ("grey", "P5\n2 1\n255\n\x00\xff"),
  BAD ("maxval-65535", "P6\n2 1\n65535\n" PIXELS PIXELS),
  BAD ("maxval-1", "P6\n2 1\n1\n" PIXELS),
  BAD ("width-0", "P6\n0 1\n255\n"),
  BAD ("height-0", "P6\n2 0\n255\n"),
  BAD ("no-height", "P6\n2\n"),
  BAD ("number-over-int", "P6\n2147483648 1\n255\n" PIXELS),
  BAD ("huge-digits", "P6\n99999999999999999999999 1\n255\n" PIXELS),
  BAD ("stride-over-int", "P6\n715827883 1\n255\n" PIXELS),
  BAD ("no-whitespace-after-maxval", "P6\n2 1\n255"),
  BAD ("short-pixels", "P6\n2 1\n255\n\xff\x00\x00\x00\x00"),
  BAD ("many-rows", "P6\n2 4294967295\n255\n" PIXELS),
  BAD ("comment-to-end", "P6\n# no newline after this"),
  BAD ("sign", "P6\n-2 1\n255\n" PIXELS),
};

static void
test_header_bad (gconstpointer data)
{
  const BadHeader *bad = data;
  QvmPpmHeader header = { 0 };
  g_autoptr(GBytes) bytes = bytes_of (bad->data, bad->length);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;

  g_assert_false (qvm_ppm_parse_header ((const guint8 *) bad->data, bad->length, &header));
  pixbuf = qvm_ppm_decode_p6 (bytes, &error);
  g_assert_null (pixbuf);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
}

/* The fast path shares the memory it was given: no copy of the pixels. */
static void
test_decode_shares_memory (void)
{
  g_autoptr(GBytes) bytes = BYTES ("P6\n2 1\n255\n" PIXELS);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = qvm_ppm_decode_p6 (bytes, &error);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  const guint8 *pixels;

  g_assert_no_error (error);
  g_assert_nonnull (pixbuf);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 2);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 1);
  g_assert_false (gdk_pixbuf_get_has_alpha (pixbuf));
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  g_assert_true (pixels == data + strlen ("P6\n2 1\n255\n"));
  g_assert_cmpmem (pixels, 6, PIXELS, 6);
}

static GdkPixbuf *
two_pixels (void)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 2, 1);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);

  memcpy (pixels, PIXELS, 6);
  return pixbuf;
}

static void
assert_two_pixels (GdkPixbuf *pixbuf)
{
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  int channels = gdk_pixbuf_get_n_channels (pixbuf);

  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 2);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 1);
  g_assert_cmpmem (pixels, 3, "\xff\x00\x00", 3);
  g_assert_cmpmem (pixels + channels, 3, "\x00\x00\xff", 3);
}

/* What the fast path refuses goes to gdk-pixbuf's loaders. */
static void
test_decode_fallback (void)
{
  g_autoptr(GdkPixbuf) source = two_pixels ();
  g_autofree char *png = NULL;
  gsize png_size = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) png_bytes = NULL;
  g_autoptr(GdkPixbuf) from_png = NULL;
  g_autoptr(GBytes) ascii = BYTES ("P3\n2 1\n255\n255 0 0 0 0 255\n");
  g_autoptr(GdkPixbuf) from_ascii = NULL;

  g_assert_true (gdk_pixbuf_save_to_buffer (source, &png, &png_size, "png", &error, NULL));
  g_assert_no_error (error);
  png_bytes = g_bytes_new (png, png_size);
  g_assert_null (qvm_ppm_decode_p6 (png_bytes, NULL));
  from_png = qvm_ppm_decode (png_bytes, &error);
  g_assert_no_error (error);
  assert_two_pixels (from_png);

  /* An ASCII PPM needs the PNM loader, which this gdk-pixbuf may lack. */
  from_ascii = qvm_ppm_decode (ascii, &error);
  if (from_ascii == NULL)
    {
      g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
      g_test_message ("no PNM loader: %s", error->message);
      g_clear_error (&error);
    }
  else
    {
      assert_two_pixels (from_ascii);
    }
}

static void
test_decode_garbage (void)
{
  /* The last two: a P6 header whose pixels are not all there, which
   * gdk-pixbuf's PNM loader would hand out as a picture. */
  static const char *garbage[] = { "", "not a picture at all", "P6\n2 1\n255\n",
                                   "P6\n2 1\n255\n\xff\x00\x00" };

  for (gsize i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      g_autoptr(GBytes) bytes = bytes_of (garbage[i], strlen (garbage[i]));
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = qvm_ppm_decode (bytes, &error);

      g_assert_null (pixbuf);
      g_assert_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED);
      g_assert_true (g_str_has_prefix (error->message, i == 0 ? "QEMU wrote an empty screenshot"
                                                              : "Cannot decode the screenshot: "));
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (good_headers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ppm/header/good/%s", good_headers[i].name);
      g_test_add_data_func (path, &good_headers[i], test_header_good);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_headers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ppm/header/bad/%s", bad_headers[i].name);
      g_test_add_data_func (path, &bad_headers[i], test_header_bad);
    }
  g_test_add_func ("/ppm/decode/shares-memory", test_decode_shares_memory);
  g_test_add_func ("/ppm/decode/fallback", test_decode_fallback);
  g_test_add_func ("/ppm/decode/garbage", test_decode_garbage);

  return g_test_run ();
}
