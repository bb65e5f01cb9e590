/* bench-screen.c: how long one screen comparison takes
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures, milliseconds per call, for the pixel code
 * of wait_for_screen and wait_for_still_screen on a 720x400 screen (the
 * size of a VGA text mode, SeaBIOS's) of random "glyphs":
 *
 *   _build/bench/bench-screen [--seconds S]
 *
 * The goal of issue 13 is ≤ 2 ms for one comparison of a 720x400 area.
 */

#include <time.h>

#include "qvm-screen-match-private.h"

#define SCREEN_WIDTH 720
#define SCREEN_HEIGHT 400

/* Cells of 9x16 pixels, like a VGA font's, with random pixels lit in
 * about a third of them, on a black screen. @shift_x/@shift_y move them. */
static GdkPixbuf *
make_text_screen (int shift_x,
                  int shift_y)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, SCREEN_WIDTH, SCREEN_HEIGHT);
  g_autoptr(GRand) rand = g_rand_new_with_seed (400);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);

  gdk_pixbuf_fill (pixbuf, 0x000000ff);
  for (int cy = 0; cy < SCREEN_HEIGHT; cy += 16)
    for (int cx = 0; cx < SCREEN_WIDTH; cx += 9)
      {
        if (g_rand_int_range (rand, 0, 3) != 0)
          continue;
        for (int y = 2; y < 14; y++)
          for (int x = 1; x < 8; x++)
            {
              int px = cx + x + shift_x, py = cy + y + shift_y;
              gboolean lit = g_rand_boolean (rand);

              if (lit && px >= 0 && py >= 0 && px < SCREEN_WIDTH && py < SCREEN_HEIGHT)
                memset (pixels + py * rowstride + px * 3, 0xaa, 3);
            }
      }
  return pixbuf;
}

typedef double (*BenchFunc) (gpointer data);

static double
thread_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

typedef struct {
  double wall_ms;   /* per call */
  double cpu_ms;    /* per call, this thread's CPU time */
} Figure;

/* Runs @func for about @seconds. The machine is shared: the CPU time is
 * the figure that a loaded machine does not inflate. */
static Figure
measure (BenchFunc func,
         gpointer  data,
         double    seconds)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + (gint64) (seconds * G_USEC_PER_SEC);
  double cpu_start = thread_cpu_ms ();
  guint64 calls = 0;
  double sink = 0;

  do
    {
      sink += func (data);
      calls++;
    }
  while (g_get_monotonic_time () < end);

  if (sink < 0)
    g_print ("(impossible)\n");
  return (Figure) {
    (g_get_monotonic_time () - start) / 1000.0 / calls,
    (thread_cpu_ms () - cpu_start) / calls,
  };
}

typedef struct {
  QvmScreenMatcher *matcher;
  GdkPixbuf        *screen;
  GdkPixbuf        *other;
  QvmGreyImage     *grey;
  QvmAreaMatch      match;
} Case;

static double
run_match (gpointer data)
{
  Case *c = data;

  return qvm_screen_matcher_match (c->matcher, c->screen, &c->match);
}

static double
run_match_grey (gpointer data)
{
  Case *c = data;

  return qvm_screen_matcher_match_grey (c->matcher, c->grey, &c->match);
}

static double
run_psnr (gpointer data)
{
  Case *c = data;

  return qvm_screen_psnr (c->screen, c->other);
}

static void
report (const char *what,
        BenchFunc   func,
        Case       *c,
        double      seconds)
{
  Figure figure = measure (func, c, seconds);

  g_print ("%-54s %7.3f %7.3f  (similarity %.4f at %d,%d)\n", what, figure.wall_ms,
           figure.cpu_ms, c->match.similarity, c->match.x, c->match.y);
}

int
main (int argc, char *argv[])
{
  double seconds = 1.0;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Time per figure", "S" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- screen comparison times");
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) reference = make_text_screen (0, 0);
  g_autoptr(GdkPixbuf) same = make_text_screen (0, 0);
  g_autoptr(GdkPixbuf) moved = make_text_screen (30, 20);
  g_autoptr(GdkPixbuf) blank = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, SCREEN_WIDTH, SCREEN_HEIGHT);
  g_autoptr(QvmGreyImage) same_grey = NULL;
  QvmMatchArea whole = { 0, 0, SCREEN_WIDTH, SCREEN_HEIGHT, FALSE };
  QvmMatchArea line = { 99, 160, 360, 32, FALSE };
  QvmMatchArea with_exclude[] = { whole, { 0, 0, 720, 16, TRUE } };
  Case c = { 0 };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  gdk_pixbuf_fill (blank, 0x000000ff);
  same_grey = qvm_grey_image_new_from_pixbuf (same);

  g_print ("Screen %dx%d, %.1f s per figure; milliseconds per comparison:\n",
           SCREEN_WIDTH, SCREEN_HEIGHT, seconds);
  g_print ("%-54s %7s %7s\n", "", "wall", "CPU");

  c.matcher = qvm_screen_matcher_new (reference, &whole, 1, 50);
  c.screen = same;
  c.grey = same_grey;
  report ("720x400 area, same screen (grey + blur + compare)", run_match, &c, seconds);
  report ("720x400 area, same screen, from grey (blur + compare)", run_match_grey, &c, seconds);
  c.screen = moved;
  report ("720x400 area, screen changed (grey + blur + compare)", run_match, &c, seconds);
  qvm_screen_matcher_free (c.matcher);

  c.matcher = qvm_screen_matcher_new (reference, with_exclude, 2, 50);
  c.screen = same;
  report ("720x400 area with an excluded line, same screen", run_match, &c, seconds);
  qvm_screen_matcher_free (c.matcher);

  c.matcher = qvm_screen_matcher_new (reference, &line, 1, 50);
  c.screen = same;
  report ("360x32 area, margin 50, in place", run_match, &c, seconds);
  c.screen = moved;
  report ("360x32 area, margin 50, moved by (30, 20)", run_match, &c, seconds);
  c.screen = blank;
  report ("360x32 area, margin 50, not there (blank screen)", run_match, &c, seconds);
  qvm_screen_matcher_free (c.matcher);

  c.screen = same;
  c.other = moved;
  {
    Figure figure = measure (run_psnr, &c, seconds);

    g_print ("%-54s %7.3f %7.3f  (%.1f dB)\n", "PSNR of two 720x400 screens",
             figure.wall_ms, figure.cpu_ms, qvm_screen_psnr (same, moved));
  }

  return 0;
}
