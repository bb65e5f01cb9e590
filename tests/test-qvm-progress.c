/* test-qvm-progress.c: the rate limit of qvm build's progress lines
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The times are given, not measured: what these check is the rule.
 */

#include "qvm-progress.h"

#define MS (G_USEC_PER_SEC / 1000)

/* The reports packaging made for a 9 MiB disk, all within 100 ms (as
 * issue 15 found them: 11 lines, "9 of 9 MiB" twice): the first and the
 * final line are shown, nothing between. */
static void
test_progress_burst (void)
{
  const guint64 figures[] = { 0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 9 };
  QvmProgressLimit limit = { 0 };
  guint shown = 0;

  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    {
      gboolean final = i + 1 == G_N_ELEMENTS (figures);

      if (qvm_progress_limit_check (&limit, figures[i], final, 1000 * MS + i * 10 * MS))
        shown++;
    }
  g_assert_cmpuint (shown, ==, 2);
  g_assert_cmpuint (limit.last_figure, ==, 9);
}

/* A slow packaging: one line per interval at most, each figure once. */
static void
test_progress_slow (void)
{
  QvmProgressLimit limit = { 0 };
  guint shown = 0;
  guint64 last = G_MAXUINT64;

  /* A report every 100 ms for 10 s, the figure growing by one each 300 ms. */
  for (gint64 t = 0; t <= 10 * G_USEC_PER_SEC; t += 100 * MS)
    {
      guint64 figure = (guint64) (t / (300 * MS));

      if (qvm_progress_limit_check (&limit, figure, FALSE, t))
        {
          g_assert_cmpuint (figure, !=, last);
          last = figure;
          shown++;
        }
    }
  /* 10 s at two lines a second, plus the first. */
  g_assert_cmpuint (shown, <=, 21);
  g_assert_cmpuint (shown, >=, 15);
}

/* The final figure is shown at once, but not when it was just shown. */
static void
test_progress_final (void)
{
  QvmProgressLimit limit = { 0 };

  g_assert_true (qvm_progress_limit_check (&limit, 3, FALSE, 0));
  g_assert_false (qvm_progress_limit_check (&limit, 4, FALSE, 1 * MS));
  g_assert_true (qvm_progress_limit_check (&limit, 5, TRUE, 2 * MS));
  g_assert_false (qvm_progress_limit_check (&limit, 5, TRUE, 10 * G_USEC_PER_SEC));
  g_assert_true (qvm_progress_limit_check (&limit, 6, FALSE, 10 * G_USEC_PER_SEC));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qvm-progress/burst", test_progress_burst);
  g_test_add_func ("/qvm-progress/slow", test_progress_slow);
  g_test_add_func ("/qvm-progress/final", test_progress_final);

  return g_test_run ();
}
