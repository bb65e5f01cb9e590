/* qvm-screen-match.c: comparing screens, pixel by pixel
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The method is openQA's (os-autoinst's needles), written anew for a
 * GdkPixbuf: grey, exclude areas blanked, 3x3 Gaussian blur, then a search
 * for each match area within its margin by the sum of squared
 * differences (SSE). The search visits places by rings of growing
 * distance from the area's own place and gives up on a place as soon as
 * its partial SSE passes the best one so far: on an unchanged screen the
 * first place costs one pass over the area and ends the search.
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include "qvm-screen-match-private.h"

/* ---- Grey pictures ---------------------------------------------------------- */

static QvmGreyImage *
grey_image_new (int width,
                int height)
{
  QvmGreyImage *image = g_new (QvmGreyImage, 1);

  image->width = width;
  image->height = height;
  image->pixels = g_malloc ((gsize) width * height);
  return image;
}

QvmGreyImage *
qvm_grey_image_new_from_pixbuf (GdkPixbuf *pixbuf)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  QvmGreyImage *image = grey_image_new (width, height);

  g_return_val_if_fail (gdk_pixbuf_get_bits_per_sample (pixbuf) == 8 && channels >= 3, image);

  for (int y = 0; y < height; y++)
    {
      const guint8 *in = pixels + (gsize) y * rowstride;
      guint8 *out = image->pixels + (gsize) y * width;

      /* 0.299, 0.587, 0.114 in 1/256ths (77 + 150 + 29 = 256), rounded. */
      for (int x = 0; x < width; x++, in += channels)
        out[x] = (guint8) ((77 * in[0] + 150 * in[1] + 29 * in[2] + 128) >> 8);
    }
  return image;
}

QvmGreyImage *
qvm_grey_image_copy (const QvmGreyImage *image)
{
  QvmGreyImage *copy = grey_image_new (image->width, image->height);

  memcpy (copy->pixels, image->pixels, (gsize) image->width * image->height);
  return copy;
}

void
qvm_grey_image_free (QvmGreyImage *image)
{
  if (image == NULL)
    return;
  g_free (image->pixels);
  g_free (image);
}

void
qvm_grey_image_blank (QvmGreyImage *image,
                      int           x,
                      int           y,
                      int           width,
                      int           height)
{
  int x0 = CLAMP (x, 0, image->width);
  int y0 = CLAMP (y, 0, image->height);
  int x1 = CLAMP ((gint64) x + width, 0, image->width);
  int y1 = CLAMP ((gint64) y + height, 0, image->height);

  for (int row = y0; row < y1; row++)
    memset (image->pixels + (gsize) row * image->width + x0, 0, x1 - x0);
}

/* Horizontal pass: (1 2 1) of one row, into 0..1020. */
static void
blur_row (const guint8 *in,
          guint16      *out,
          int           width)
{
  if (width == 1)
    {
      out[0] = 4 * in[0];
      return;
    }
  out[0] = 3 * in[0] + in[1];
  for (int x = 1; x < width - 1; x++)
    out[x] = in[x - 1] + 2 * in[x] + in[x + 1];
  out[width - 1] = in[width - 2] + 3 * in[width - 1];
}

void
qvm_grey_image_blur (QvmGreyImage *image)
{
  int width = image->width;
  int height = image->height;
  g_autofree guint16 *rows = NULL;

  if (width == 0 || height == 0)
    return;

  rows = g_new (guint16, (gsize) width * height);
  for (int y = 0; y < height; y++)
    blur_row (image->pixels + (gsize) y * width, rows + (gsize) y * width, width);

  /* Vertical pass, (1 2 1) again: 0..4080, divided by 16, rounded. */
  for (int y = 0; y < height; y++)
    {
      const guint16 *up = rows + (gsize) MAX (y - 1, 0) * width;
      const guint16 *mid = rows + (gsize) y * width;
      const guint16 *down = rows + (gsize) MIN (y + 1, height - 1) * width;
      guint8 *out = image->pixels + (gsize) y * width;

      for (int x = 0; x < width; x++)
        out[x] = (guint8) ((up[x] + 2 * mid[x] + down[x] + 8) >> 4);
    }
}

/* ---- Similarity ----------------------------------------------------------- */

double
qvm_screen_similarity_from_mse (double mse)
{
  return CLAMP (0.9 + (40.0 - mse) / 380.0, 0.0, 1.0);
}

/* The squared differences of one row, in chunks short enough for 32 bits
 * (4096 · 255² < 2³²), which the compiler turns into vector code. */
static guint64
row_sse (const guint8 *a,
         const guint8 *b,
         int           width)
{
  guint64 sum = 0;

  for (int start = 0; start < width; start += 4096)
    {
      int end = MIN (start + 4096, width);
      guint32 chunk = 0;

      for (int x = start; x < end; x++)
        {
          int d = (int) a[x] - (int) b[x];
          chunk += (guint32) (d * d);
        }
      sum += chunk;
    }
  return sum;
}

/* The SSE of @area of @reference against the same size at (@sx, @sy) of
 * @screen; stops once it passes @limit (the result is then > @limit). */
static guint64
area_sse (const QvmGreyImage *reference,
          const QvmMatchArea *area,
          const QvmGreyImage *screen,
          int                 sx,
          int                 sy,
          guint64             limit)
{
  guint64 sse = 0;

  for (int row = 0; row < area->height; row++)
    {
      const guint8 *a = reference->pixels + (gsize) (area->y + row) * reference->width + area->x;
      const guint8 *b = screen->pixels + (gsize) (sy + row) * screen->width + sx;

      sse += row_sse (a, b, area->width);
      if (sse > limit)
        break;
    }
  return sse;
}

/* ---- Matchers --------------------------------------------------------------- */

struct _QvmScreenMatcher {
  QvmGreyImage *reference;   /* grey, excludes blanked, blurred */
  GArray       *areas;       /* of QvmMatchArea, excludes and matches */
  guint         n_matches;
  int           margin;
};

QvmScreenMatcher *
qvm_screen_matcher_new (GdkPixbuf          *reference,
                        const QvmMatchArea *areas,
                        guint               n_areas,
                        guint               margin)
{
  QvmScreenMatcher *matcher = g_new0 (QvmScreenMatcher, 1);

  matcher->reference = qvm_grey_image_new_from_pixbuf (reference);
  matcher->areas = g_array_sized_new (FALSE, FALSE, sizeof (QvmMatchArea), n_areas);
  g_array_append_vals (matcher->areas, areas, n_areas);
  matcher->margin = (int) MIN (margin, G_MAXINT / 4);

  for (guint i = 0; i < n_areas; i++)
    {
      if (areas[i].exclude)
        qvm_grey_image_blank (matcher->reference, areas[i].x, areas[i].y,
                              areas[i].width, areas[i].height);
      else
        matcher->n_matches++;
    }
  qvm_grey_image_blur (matcher->reference);
  return matcher;
}

void
qvm_screen_matcher_free (QvmScreenMatcher *matcher)
{
  if (matcher == NULL)
    return;
  qvm_grey_image_free (matcher->reference);
  g_array_unref (matcher->areas);
  g_free (matcher);
}

guint
qvm_screen_matcher_get_n_matches (QvmScreenMatcher *matcher)
{
  return matcher->n_matches;
}

typedef struct {
  const QvmGreyImage *reference;
  const QvmMatchArea *area;
  const QvmGreyImage *screen;
  int                 max_x;     /* the last places the area fits at */
  int                 max_y;
  guint64             best_sse;
  int                 best_x;
  int                 best_y;
} Search;

/* Tries the place (@x, @y): kept when better than the best so far, so
 * that of equal places the first (nearest) one stays. */
static void
search_try (Search *search,
            int     x,
            int     y)
{
  guint64 sse;

  if (x < 0 || y < 0 || x > search->max_x || y > search->max_y)
    return;
  sse = area_sse (search->reference, search->area, search->screen, x, y, search->best_sse);
  if (sse < search->best_sse)
    {
      search->best_sse = sse;
      search->best_x = x;
      search->best_y = y;
    }
}

/* Looks for @area within @margin of its place, ring by ring outwards
 * (rings of equal Chebyshev distance), until a perfect fit. */
static void
search_area (Search *search,
             int     margin)
{
  int x0 = search->area->x;
  int y0 = search->area->y;
  /* No ring beyond the farthest place on the screen. */
  int farthest = MAX (MAX (x0, search->max_x - x0), MAX (y0, search->max_y - y0));

  margin = MIN (margin, farthest);
  for (int d = 0; d <= margin && search->best_sse > 0; d++)
    {
      if (d == 0)
        {
          search_try (search, x0, y0);
          continue;
        }
      for (int dx = -d; dx <= d && search->best_sse > 0; dx++)
        {
          search_try (search, x0 + dx, y0 - d);
          search_try (search, x0 + dx, y0 + d);
        }
      for (int dy = -d + 1; dy <= d - 1 && search->best_sse > 0; dy++)
        {
          search_try (search, x0 - d, y0 + dy);
          search_try (search, x0 + d, y0 + dy);
        }
    }
}

/* Matches one area against a prepared (blanked, blurred) screen. */
static void
match_area (QvmScreenMatcher   *matcher,
            const QvmMatchArea *area,
            const QvmGreyImage *screen,
            QvmAreaMatch       *out)
{
  Search search = {
    matcher->reference, area, screen,
    screen->width - area->width, screen->height - area->height,
    G_MAXUINT64, area->x, area->y,
  };

  out->x = area->x;
  out->y = area->y;
  out->similarity = 0.0;
  if (search.max_x < 0 || search.max_y < 0)
    return;   /* the screen is too small for the area */

  search_area (&search, matcher->margin);
  if (search.best_sse == G_MAXUINT64)
    return;   /* no place within the margin fits on this screen */

  out->x = search.best_x;
  out->y = search.best_y;
  out->similarity = qvm_screen_similarity_from_mse ((double) search.best_sse /
                                                    ((double) area->width * area->height));
}

double
qvm_screen_matcher_match_grey (QvmScreenMatcher   *matcher,
                               const QvmGreyImage *screen,
                               QvmAreaMatch       *out_matches)
{
  g_autoptr(QvmGreyImage) prepared = qvm_grey_image_copy (screen);
  double lowest = 1.0;
  guint n = 0;

  /* Excluded in both, at the reference's coordinates, as openQA does:
   * the blanks blur alike on both sides. */
  for (guint i = 0; i < matcher->areas->len; i++)
    {
      const QvmMatchArea *area = &g_array_index (matcher->areas, QvmMatchArea, i);

      if (area->exclude)
        qvm_grey_image_blank (prepared, area->x, area->y, area->width, area->height);
    }
  qvm_grey_image_blur (prepared);

  for (guint i = 0; i < matcher->areas->len; i++)
    {
      const QvmMatchArea *area = &g_array_index (matcher->areas, QvmMatchArea, i);
      QvmAreaMatch match;

      if (area->exclude)
        continue;
      match_area (matcher, area, prepared, &match);
      lowest = MIN (lowest, match.similarity);
      if (out_matches != NULL)
        out_matches[n] = match;
      n++;
    }
  return lowest;
}

double
qvm_screen_matcher_match (QvmScreenMatcher *matcher,
                          GdkPixbuf        *screen,
                          QvmAreaMatch     *out_matches)
{
  g_autoptr(QvmGreyImage) grey = qvm_grey_image_new_from_pixbuf (screen);

  return qvm_screen_matcher_match_grey (matcher, grey, out_matches);
}

/* ---- Still screens ---------------------------------------------------------- */

double
qvm_screen_psnr (GdkPixbuf *a,
                 GdkPixbuf *b)
{
  int width = gdk_pixbuf_get_width (a);
  int height = gdk_pixbuf_get_height (a);
  int channels_a = gdk_pixbuf_get_n_channels (a);
  int channels_b = gdk_pixbuf_get_n_channels (b);
  const guint8 *pixels_a = gdk_pixbuf_read_pixels (a);
  const guint8 *pixels_b = gdk_pixbuf_read_pixels (b);
  guint64 sse = 0;

  if (width != gdk_pixbuf_get_width (b) || height != gdk_pixbuf_get_height (b))
    return 0.0;

  for (int y = 0; y < height; y++)
    {
      const guint8 *row_a = pixels_a + (gsize) y * gdk_pixbuf_get_rowstride (a);
      const guint8 *row_b = pixels_b + (gsize) y * gdk_pixbuf_get_rowstride (b);
      guint64 row = 0;

      for (int x = 0; x < width; x++, row_a += channels_a, row_b += channels_b)
        for (int c = 0; c < 3; c++)
          {
            int d = (int) row_a[c] - (int) row_b[c];
            row += (guint64) (d * d);
          }
      sse += row;
    }

  if (sse == 0)
    return INFINITY;
  return 10.0 * log10 (255.0 * 255.0 * 3.0 * width * height / (double) sse);
}
