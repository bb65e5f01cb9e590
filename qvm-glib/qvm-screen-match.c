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

/* Inlined with a constant @channels, the loop is made vector code. */
static inline void
grey_row (const guint8 *in,
          guint8       *out,
          int           width,
          int           channels)
{
  /* 0.299, 0.587, 0.114 in 1/256ths (77 + 150 + 29 = 256), rounded. */
  for (int x = 0; x < width; x++, in += channels)
    out[x] = (guint8) ((77 * in[0] + 150 * in[1] + 29 * in[2] + 128) >> 8);
}

/* Fills @image, of @pixbuf's size already. */
static void
grey_from_pixbuf (GdkPixbuf    *pixbuf,
                  QvmGreyImage *image)
{
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);

  g_return_if_fail (gdk_pixbuf_get_bits_per_sample (pixbuf) == 8 && channels >= 3);

  for (int y = 0; y < image->height; y++)
    {
      const guint8 *in = pixels + (gsize) y * rowstride;
      guint8 *out = image->pixels + (gsize) y * image->width;

      if (channels == 3)
        grey_row (in, out, image->width, 3);
      else
        grey_row (in, out, image->width, channels);
    }
}

QvmGreyImage *
qvm_grey_image_new_from_pixbuf (GdkPixbuf *pixbuf)
{
  QvmGreyImage *image = grey_image_new (gdk_pixbuf_get_width (pixbuf),
                                        gdk_pixbuf_get_height (pixbuf));

  grey_from_pixbuf (pixbuf, image);
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

/* The blur with @rows, room for @image's size in guint16, as scratch. */
static void
blur_with (QvmGreyImage *image,
           guint16      *rows)
{
  int width = image->width;
  int height = image->height;

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

void
qvm_grey_image_blur (QvmGreyImage *image)
{
  g_autofree guint16 *rows = NULL;

  if (image->width == 0 || image->height == 0)
    return;
  rows = g_new (guint16, (gsize) image->width * image->height);
  blur_with (image, rows);
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

  /* Scratch for the screens, kept from one to the next: fresh memory
   * costs page faults, as much as the blur itself. */
  QvmGreyImage  screen;
  guint16      *blur_rows;
  gsize         scratch_pixels;
};

/* Makes the scratch screen @width x @height. */
static QvmGreyImage *
matcher_scratch (QvmScreenMatcher *matcher,
                 int               width,
                 int               height)
{
  gsize pixels = (gsize) width * height;

  if (pixels > matcher->scratch_pixels)
    {
      g_free (matcher->screen.pixels);
      g_free (matcher->blur_rows);
      matcher->screen.pixels = g_malloc (pixels);
      matcher->blur_rows = g_new (guint16, pixels);
      matcher->scratch_pixels = pixels;
    }
  matcher->screen.width = width;
  matcher->screen.height = height;
  return &matcher->screen;
}

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
  g_free (matcher->screen.pixels);
  g_free (matcher->blur_rows);
  g_free (matcher);
}

guint
qvm_screen_matcher_get_n_matches (QvmScreenMatcher *matcher)
{
  return matcher->n_matches;
}

/* The search of one area. Places are visited by rings of growing
 * (Chebyshev) distance from the area's own place, so that of equally good
 * places the nearest is kept. A place is skipped when a lower bound of its
 * SSE already passes the limit, and abandoned as soon as its partial SSE
 * does; the limit starts at the SSE of the place with the lowest bound
 * (a good guess, found cheaply), so that few places cost a full pass. */
typedef struct {
  const QvmGreyImage *reference;
  const QvmMatchArea *area;
  const QvmGreyImage *screen;
  int                 min_x;     /* the window of places searched */
  int                 min_y;
  int                 max_x;
  int                 max_y;
  guint64             limit;     /* a place must have an SSE ≤ this to win */
  gboolean            found;
  int                 best_x;
  int                 best_y;
  guint64             best_sse;

  /* For the lower bounds: the sums of each row of the area, the sum of
   * its squares, and prefix sums of the screen's rows in the window
   * (row r, column c: the sum of the window's row r up to column c). */
  guint64            *area_rows;
  double              area_norm;
  int                 prefix_width;
  guint64            *prefix;
  guint64            *prefix_squares;
} Search;

static void
search_prepare_bounds (Search *search)
{
  const QvmMatchArea *area = search->area;
  const QvmGreyImage *screen = search->screen;
  int rows = search->max_y - search->min_y + area->height;
  guint64 squares = 0;

  search->area_rows = g_new (guint64, area->height);
  for (int r = 0; r < area->height; r++)
    {
      const guint8 *a = search->reference->pixels + (gsize) (area->y + r) * search->reference->width + area->x;
      guint64 sum = 0;

      for (int x = 0; x < area->width; x++)
        {
          sum += a[x];
          squares += (guint) a[x] * a[x];
        }
      search->area_rows[r] = sum;
    }
  search->area_norm = sqrt ((double) squares);

  search->prefix_width = search->max_x - search->min_x + area->width + 1;
  search->prefix = g_new (guint64, (gsize) rows * search->prefix_width);
  search->prefix_squares = g_new (guint64, (gsize) rows * search->prefix_width);
  for (int r = 0; r < rows; r++)
    {
      const guint8 *in = screen->pixels + (gsize) (search->min_y + r) * screen->width + search->min_x;
      guint64 *sum = search->prefix + (gsize) r * search->prefix_width;
      guint64 *sum_squares = search->prefix_squares + (gsize) r * search->prefix_width;

      sum[0] = sum_squares[0] = 0;
      for (int c = 1; c < search->prefix_width; c++)
        {
          sum[c] = sum[c - 1] + in[c - 1];
          sum_squares[c] = sum_squares[c - 1] + (guint) in[c - 1] * in[c - 1];
        }
    }
}

static void
search_clear (Search *search)
{
  g_clear_pointer (&search->area_rows, g_free);
  g_clear_pointer (&search->prefix, g_free);
  g_clear_pointer (&search->prefix_squares, g_free);
}

/* A lower bound of the SSE at (@x, @y), the better of two: by rows,
 * Σ (Σ a − Σ b)² / width (Cauchy-Schwarz on each row), and by norms,
 * (‖a‖ − ‖b‖)² (the triangle inequality), lowered a little against
 * the rounding of doubles. */
static guint64
search_lower_bound (Search *search,
                    int     x,
                    int     y)
{
  int width = search->area->width;
  int c = x - search->min_x;
  guint64 by_rows = 0;
  guint64 squares = 0;
  double by_norms;

  for (int r = 0; r < search->area->height; r++)
    {
      gsize row = (gsize) (y - search->min_y + r) * search->prefix_width;
      guint64 sum = search->prefix[row + c + width] - search->prefix[row + c];
      gint64 d = (gint64) search->area_rows[r] - (gint64) sum;

      by_rows += (guint64) (d * d);
      squares += search->prefix_squares[row + c + width] - search->prefix_squares[row + c];
    }
  /* The SSE is a whole number: either bound may be rounded up. */
  by_rows = (by_rows + width - 1) / width;
  by_norms = search->area_norm - sqrt ((double) squares);
  by_norms *= by_norms;
  by_norms = ceil (by_norms - by_norms * 1e-12 - 1e-6);
  return MAX (by_rows, by_norms > 0 ? (guint64) by_norms : 0);
}

/* The place with the lowest bound, by a scan of the whole window. */
static void
search_best_guess (Search *search,
                   int    *out_x,
                   int    *out_y)
{
  guint64 lowest = G_MAXUINT64;

  for (int y = search->min_y; y <= search->max_y; y++)
    for (int x = search->min_x; x <= search->max_x; x++)
      {
        guint64 bound = search_lower_bound (search, x, y);

        if (bound < lowest)
          {
            lowest = bound;
            *out_x = x;
            *out_y = y;
          }
      }
}

/* Tries the place (@x, @y): it wins with an SSE within the limit, which
 * then drops below it, so that a later (farther) place must do better. */
static void
search_try (Search *search,
            int     x,
            int     y)
{
  guint64 sse;

  if (x < search->min_x || y < search->min_y || x > search->max_x || y > search->max_y)
    return;
  if (search->prefix != NULL && search_lower_bound (search, x, y) > search->limit)
    return;
  sse = area_sse (search->reference, search->area, search->screen, x, y, search->limit);
  if (sse > search->limit)
    return;

  search->found = TRUE;
  search->best_sse = sse;
  search->best_x = x;
  search->best_y = y;
  search->limit = sse > 0 ? sse - 1 : 0;
}

static gboolean
search_done (Search *search)
{
  return search->found && search->best_sse == 0;
}

/* Visits the window ring by ring around the area's place. */
static void
search_rings (Search *search)
{
  int x0 = search->area->x;
  int y0 = search->area->y;
  /* No ring beyond the window's farthest corner. */
  int farthest = MAX (MAX (x0 - search->min_x, search->max_x - x0),
                      MAX (y0 - search->min_y, search->max_y - y0));

  search_try (search, x0, y0);
  for (int d = 1; d <= farthest && !search_done (search); d++)
    {
      for (int dx = -d; dx <= d && !search_done (search); dx++)
        {
          search_try (search, x0 + dx, y0 - d);
          search_try (search, x0 + dx, y0 + d);
        }
      for (int dy = -d + 1; dy <= d - 1 && !search_done (search); dy++)
        {
          search_try (search, x0 - d, y0 + dy);
          search_try (search, x0 + d, y0 + dy);
        }
    }
}

/* Matches one area against a prepared (blanked, blurred) screen, within
 * @margin of its place and on the screen. */
static void
match_area (const QvmGreyImage *reference,
            const QvmMatchArea *area,
            const QvmGreyImage *screen,
            int                 margin,
            QvmAreaMatch       *out)
{
  Search search = { reference, area, screen, 0, };

  search.min_x = MAX (area->x - margin, 0);
  search.min_y = MAX (area->y - margin, 0);
  search.max_x = MIN ((gint64) area->x + margin, (gint64) screen->width - area->width);
  search.max_y = MIN ((gint64) area->y + margin, (gint64) screen->height - area->height);
  search.limit = G_MAXUINT64;

  out->x = area->x;
  out->y = area->y;
  out->similarity = 0.0;
  if (search.min_x > search.max_x || search.min_y > search.max_y)
    return;   /* the area does not fit on the screen within the margin */

  /* An unchanged screen ends the search at the first place; otherwise a
   * guess bounds the search. */
  search_try (&search, area->x, area->y);
  if (!search_done (&search) &&
      (search.min_x < search.max_x || search.min_y < search.max_y))
    {
      int guess_x = area->x, guess_y = area->y;

      search_prepare_bounds (&search);
      search_best_guess (&search, &guess_x, &guess_y);
      search.limit = area_sse (reference, area, screen, guess_x, guess_y, G_MAXUINT64);
      search.found = FALSE;
      search_rings (&search);
      search_clear (&search);
    }

  if (!search.found)
    return;
  out->x = search.best_x;
  out->y = search.best_y;
  out->similarity = qvm_screen_similarity_from_mse ((double) search.best_sse /
                                                    ((double) area->width * area->height));
}

/* Matches the scratch screen, filled with the screen's grey. */
static double
matcher_match_scratch (QvmScreenMatcher *matcher,
                       QvmAreaMatch     *out_matches)
{
  QvmGreyImage *prepared = &matcher->screen;
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
  if (prepared->width > 0 && prepared->height > 0)
    blur_with (prepared, matcher->blur_rows);

  for (guint i = 0; i < matcher->areas->len; i++)
    {
      const QvmMatchArea *area = &g_array_index (matcher->areas, QvmMatchArea, i);
      QvmAreaMatch match;

      if (area->exclude)
        continue;
      match_area (matcher->reference, area, prepared, matcher->margin, &match);
      lowest = MIN (lowest, match.similarity);
      if (out_matches != NULL)
        out_matches[n] = match;
      n++;
    }
  return lowest;
}

double
qvm_screen_matcher_match_grey (QvmScreenMatcher   *matcher,
                               const QvmGreyImage *screen,
                               QvmAreaMatch       *out_matches)
{
  QvmGreyImage *scratch = matcher_scratch (matcher, screen->width, screen->height);

  memcpy (scratch->pixels, screen->pixels, (gsize) screen->width * screen->height);
  return matcher_match_scratch (matcher, out_matches);
}

double
qvm_screen_matcher_match (QvmScreenMatcher *matcher,
                          GdkPixbuf        *screen,
                          QvmAreaMatch     *out_matches)
{
  grey_from_pixbuf (screen, matcher_scratch (matcher, gdk_pixbuf_get_width (screen),
                                             gdk_pixbuf_get_height (screen)));
  return matcher_match_scratch (matcher, out_matches);
}

/* ---- Still screens ---------------------------------------------------------- */

double
qvm_screen_match_psnr (GdkPixbuf *a,
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
