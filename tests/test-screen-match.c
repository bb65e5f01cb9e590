/* test-screen-match.c: the pixel code behind wait_for_screen (suite 'unit')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pictures are made here: a "screen" of random grey blocks (a texture
 * that fits in one place only) with a flat background around it, so a
 * moved copy of it can be found and told apart.
 */

#include <math.h>

#include "qvm.h"
#include "qvm-screen-match-private.h"

#define WIDTH 160
#define HEIGHT 100

static void
fill_rect (GdkPixbuf *pixbuf,
           int        x,
           int        y,
           int        width,
           int        height,
           guint8     r,
           guint8     g,
           guint8     b)
{
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);

  for (int row = MAX (y, 0); row < MIN (y + height, gdk_pixbuf_get_height (pixbuf)); row++)
    for (int col = MAX (x, 0); col < MIN (x + width, gdk_pixbuf_get_width (pixbuf)); col++)
      {
        guint8 *p = pixels + row * rowstride + col * channels;
        p[0] = r;
        p[1] = g;
        p[2] = b;
      }
}

/* A flat screen with a 64x32 texture of 4x4 blocks at (@x, @y). */
static GdkPixbuf *
make_screen (int x,
             int y)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, WIDTH, HEIGHT);
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);

  gdk_pixbuf_fill (pixbuf, 0x202080ff);
  for (int by = 0; by < 32; by += 4)
    for (int bx = 0; bx < 64; bx += 4)
      {
        guint8 level = (guint8) g_rand_int_range (rand, 0, 256);
        fill_rect (pixbuf, x + bx, y + by, 4, 4, level, level, 255 - level);
      }
  return pixbuf;
}

/* Adds noise, uniform in [-@amplitude, @amplitude], to every sample. */
static void
add_noise (GdkPixbuf *pixbuf,
           int        amplitude)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);

  for (int y = 0; y < gdk_pixbuf_get_height (pixbuf); y++)
    for (int x = 0; x < gdk_pixbuf_get_width (pixbuf) * gdk_pixbuf_get_n_channels (pixbuf); x++)
      {
        int value = pixels[y * rowstride + x] + g_rand_int_range (rand, -amplitude, amplitude + 1);
        pixels[y * rowstride + x] = (guint8) CLAMP (value, 0, 255);
      }
}

static double
match_once (GdkPixbuf          *reference,
            const QvmMatchArea *areas,
            guint               n_areas,
            guint               margin,
            GdkPixbuf          *screen,
            QvmAreaMatch       *out)
{
  g_autoptr(QvmScreenMatcher) matcher = qvm_screen_matcher_new (reference, areas, n_areas, margin);

  return qvm_screen_matcher_match (matcher, screen, out);
}

/* The texture of make_screen (30, 20). */
static const QvmMatchArea texture_area = { 30, 20, 64, 32, FALSE };

static void
test_formula (void)
{
  g_assert_cmpfloat (qvm_screen_similarity_from_mse (0), ==, 1.0);
  g_assert_cmpfloat_with_epsilon (qvm_screen_similarity_from_mse (40), 0.9, 1e-12);
  g_assert_cmpfloat_with_epsilon (qvm_screen_similarity_from_mse (17.2), 0.96, 1e-12);
  g_assert_cmpfloat (qvm_screen_similarity_from_mse (1e6), ==, 0.0);
}

static void
test_grey_and_blur (void)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, 5, 5);
  g_autoptr(QvmGreyImage) grey = NULL;
  guint sum = 0;

  gdk_pixbuf_fill (pixbuf, 0x000000ff);
  fill_rect (pixbuf, 2, 2, 1, 1, 255, 255, 255);
  fill_rect (pixbuf, 0, 0, 1, 1, 255, 0, 0);
  grey = qvm_grey_image_new_from_pixbuf (pixbuf);
  g_assert_cmpuint (grey->pixels[2 * 5 + 2], ==, 255);
  g_assert_cmpuint (grey->pixels[0], ==, 77);   /* red weighs 0.299 */
  g_assert_cmpuint (grey->pixels[1], ==, 0);

  /* A white dot spreads to its 3x3 neighbourhood with weights 1 2 1. */
  grey->pixels[0] = 0;
  qvm_grey_image_blur (grey);
  g_assert_cmpuint (grey->pixels[2 * 5 + 2], ==, (255 * 4 + 8) / 16);
  g_assert_cmpuint (grey->pixels[1 * 5 + 2], ==, (255 * 2 + 8) / 16);
  g_assert_cmpuint (grey->pixels[1 * 5 + 1], ==, (255 + 8) / 16);
  g_assert_cmpuint (grey->pixels[0 * 5 + 2], ==, 0);
  for (int i = 0; i < 25; i++)
    sum += grey->pixels[i];
  g_assert_cmpuint (sum, >=, 250);
  g_assert_cmpuint (sum, <=, 260);

  /* A flat picture stays flat, edges included. */
  memset (grey->pixels, 99, 25);
  qvm_grey_image_blur (grey);
  for (int i = 0; i < 25; i++)
    g_assert_cmpuint (grey->pixels[i], ==, 99);
}

static void
test_identical (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) screen = make_screen (30, 20);
  QvmMatchArea whole = { 0, 0, WIDTH, HEIGHT, FALSE };
  QvmAreaMatch match;

  g_assert_cmpfloat (match_once (reference, &texture_area, 1, 50, screen, &match), ==, 1.0);
  g_assert_cmpint (match.x, ==, 30);
  g_assert_cmpint (match.y, ==, 20);
  g_assert_cmpfloat (match.similarity, ==, 1.0);

  g_assert_cmpfloat (match_once (reference, &whole, 1, 50, screen, &match), ==, 1.0);
  g_assert_cmpint (match.x, ==, 0);
  g_assert_cmpint (match.y, ==, 0);

  /* No match area: every screen matches. */
  g_assert_cmpfloat (match_once (reference, NULL, 0, 50, screen, NULL), ==, 1.0);
}

static void
test_shifted (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) screen = make_screen (37, 15);
  QvmAreaMatch match;

  /* Within the margin: found where it went. */
  g_assert_cmpfloat (match_once (reference, &texture_area, 1, 10, screen, &match), ==, 1.0);
  g_assert_cmpint (match.x, ==, 37);
  g_assert_cmpint (match.y, ==, 15);

  /* The margin is 7 exactly along x: still found. */
  g_assert_cmpfloat (match_once (reference, &texture_area, 1, 7, screen, &match), ==, 1.0);
  g_assert_cmpint (match.x, ==, 37);

  /* Outside the margin: not found, and not reported there. */
  g_assert_cmpfloat (match_once (reference, &texture_area, 1, 6, screen, &match), <, 0.96);
  g_assert_cmpint (ABS (match.x - 30), <=, 6);
  g_assert_cmpint (ABS (match.y - 20), <=, 6);

  /* No margin: only its own place. */
  g_assert_cmpfloat (match_once (reference, &texture_area, 1, 0, screen, &match), <, 0.96);
  g_assert_cmpint (match.x, ==, 30);
  g_assert_cmpint (match.y, ==, 20);
}

static void
test_margin_clamped (void)
{
  /* The texture at the bottom right corner: a margin reaching past the
   * screen's edges searches only the places on it. The area leaves out
   * the texture's outer pixels, whose blur differs with what surrounds
   * them. */
  g_autoptr(GdkPixbuf) reference = make_screen (WIDTH - 64, HEIGHT - 32);
  g_autoptr(GdkPixbuf) screen = make_screen (WIDTH - 64 - 3, HEIGHT - 32 - 2);
  QvmMatchArea corner = { WIDTH - 63, HEIGHT - 31, 62, 30, FALSE };
  g_autoptr(GdkPixbuf) small = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 40, 20);
  QvmAreaMatch match;

  g_assert_cmpfloat (match_once (reference, &corner, 1, 1000, screen, &match), ==, 1.0);
  g_assert_cmpint (match.x, ==, WIDTH - 63 - 3);
  g_assert_cmpint (match.y, ==, HEIGHT - 31 - 2);

  /* A screen too small for the area matches nothing. */
  gdk_pixbuf_fill (small, 0);
  g_assert_cmpfloat (match_once (reference, &corner, 1, 1000, small, &match), ==, 0.0);
}

static void
test_exclude (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) screen = make_screen (30, 20);
  QvmMatchArea areas[] = {
    texture_area,
    { 40, 24, 20, 16, TRUE },
  };
  QvmAreaMatch match;

  /* A change (a clock, a cursor) inside the excluded part. */
  fill_rect (screen, 42, 26, 16, 12, 255, 255, 255);
  g_assert_cmpfloat (match_once (reference, areas, 1, 0, screen, &match), <, 0.96);
  g_assert_cmpfloat (match_once (reference, areas, 2, 0, screen, &match), ==, 1.0);
  g_assert_cmpfloat (match.similarity, ==, 1.0);

  /* A change outside it still counts. */
  fill_rect (screen, 70, 30, 16, 12, 255, 255, 255);
  g_assert_cmpfloat (match_once (reference, areas, 2, 0, screen, &match), <, 0.96);
}

static void
test_noise (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) slight = make_screen (30, 20);
  g_autoptr(GdkPixbuf) noisy = make_screen (30, 20);
  double slight_score, noisy_score;

  /* A little noise passes the usual level (the blur averages it out);
   * much of it does not. */
  add_noise (slight, 8);
  add_noise (noisy, 60);
  slight_score = match_once (reference, &texture_area, 1, 10, slight, NULL);
  noisy_score = match_once (reference, &texture_area, 1, 10, noisy, NULL);
  g_assert_cmpfloat (slight_score, >=, 0.96);
  g_assert_cmpfloat (noisy_score, <, 0.96);
}

static void
test_several_areas (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) screen = make_screen (30, 20);
  QvmMatchArea areas[] = {
    { 30, 20, 28, 32, FALSE },
    { 66, 20, 28, 32, FALSE },
  };
  QvmAreaMatch matches[2];
  double score;

  /* The needle's score is its worst area's. (The areas keep apart: the
   * blur carries a change one pixel beyond it.) */
  fill_rect (screen, 62, 20, 32, 32, 0, 0, 0);
  score = match_once (reference, areas, 2, 0, screen, matches);
  g_assert_cmpfloat (matches[0].similarity, ==, 1.0);
  g_assert_cmpfloat (matches[1].similarity, <, 0.96);
  g_assert_cmpfloat (score, ==, matches[1].similarity);
}

static void
test_psnr (void)
{
  g_autoptr(GdkPixbuf) a = make_screen (30, 20);
  g_autoptr(GdkPixbuf) b = make_screen (30, 20);
  g_autoptr(GdkPixbuf) moved = make_screen (31, 20);
  g_autoptr(GdkPixbuf) smaller = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 10, 10);
  double one_dot, a_block, shifted;

  g_assert_true (isinf (qvm_screen_match_psnr (a, b)));

  fill_rect (b, 0, 0, 1, 1, 255, 255, 255);
  one_dot = qvm_screen_match_psnr (a, b);
  g_assert_true (isfinite (one_dot));
  fill_rect (b, 0, 0, 20, 20, 255, 255, 255);
  a_block = qvm_screen_match_psnr (a, b);
  shifted = qvm_screen_match_psnr (a, moved);
  g_assert_cmpfloat (a_block, <, one_dot);
  g_assert_cmpfloat (shifted, <, one_dot);
  /* A changed block is far below openQA's level of 47 dB. */
  g_assert_cmpfloat (a_block, <, 47.0);

  gdk_pixbuf_fill (smaller, 0);
  g_assert_cmpfloat (qvm_screen_match_psnr (a, smaller), ==, 0.0);
}

/* The public face: QvmNeedle and qvm_screen_psnr(). */
static void
test_needle (void)
{
  g_autoptr(GdkPixbuf) reference = make_screen (30, 20);
  g_autoptr(GdkPixbuf) moved = make_screen (37, 15);
  g_autoptr(QvmNeedle) needle = qvm_needle_new (reference, QVM_NEEDLE_DEFAULT_MATCH_LEVEL,
                                                QVM_NEEDLE_DEFAULT_MARGIN);
  g_autoptr(GError) error = NULL;
  int x = -1, y = -1;

  g_assert_true (qvm_needle_get_reference (needle) == reference);
  g_assert_cmpfloat (qvm_needle_get_match_level (needle), ==, 0.96);
  g_assert_cmpuint (qvm_needle_get_margin (needle), ==, 50);

  /* No area: the whole reference, which the moved screen is not. */
  g_assert_cmpfloat (qvm_needle_compare (needle, reference, &x, &y), ==, 1.0);
  g_assert_cmpint (x, ==, 0);
  g_assert_cmpint (y, ==, 0);
  g_assert_cmpfloat (qvm_needle_compare (needle, moved, NULL, NULL), <, 0.96);

  /* Areas outside the reference, or empty, are refused. */
  g_assert_false (qvm_needle_add_area (needle, WIDTH - 10, 0, 11, 10, QVM_SCREEN_AREA_MATCH, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (qvm_needle_add_area (needle, 0, 0, 0, 10, QVM_SCREEN_AREA_EXCLUDE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (qvm_needle_add_area (needle, -1, 0, 10, 10, QVM_SCREEN_AREA_MATCH, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* An exclude area alone leaves the whole reference to match. */
  g_assert_true (qvm_needle_add_area (needle, 0, 0, 10, 10, QVM_SCREEN_AREA_EXCLUDE, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (qvm_needle_compare (needle, moved, NULL, NULL), <, 0.96);

  /* The texture as a match area: found where it moved. */
  g_assert_true (qvm_needle_add_area (needle, 30, 20, 64, 32, QVM_SCREEN_AREA_MATCH, &error));
  g_assert_cmpfloat (qvm_needle_compare (needle, moved, &x, &y), ==, 1.0);
  g_assert_cmpint (x, ==, 37);
  g_assert_cmpint (y, ==, 15);

  g_assert_true (isinf (qvm_screen_psnr (reference, reference)));
  g_assert_cmpfloat (qvm_screen_psnr (reference, moved), <, QVM_STILL_SCREEN_DEFAULT_PSNR);

  /* A reference is kept for each reference taken. */
  qvm_needle_unref (qvm_needle_ref (needle));
  g_assert_true (G_TYPE_IS_BOXED (QVM_TYPE_NEEDLE));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/screen-match/formula", test_formula);
  g_test_add_func ("/screen-match/grey-and-blur", test_grey_and_blur);
  g_test_add_func ("/screen-match/identical", test_identical);
  g_test_add_func ("/screen-match/shifted", test_shifted);
  g_test_add_func ("/screen-match/margin-clamped", test_margin_clamped);
  g_test_add_func ("/screen-match/exclude", test_exclude);
  g_test_add_func ("/screen-match/noise", test_noise);
  g_test_add_func ("/screen-match/several-areas", test_several_areas);
  g_test_add_func ("/screen-match/psnr", test_psnr);
  g_test_add_func ("/screen-match/needle", test_needle);

  return g_test_run ();
}
