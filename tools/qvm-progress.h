/* qvm-progress.h: progress lines a person can read
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Packaging reports its progress many times a second; printing each
 * report fills a screen with lines nobody can read, several showing the
 * same figure. A QvmProgressLimit lets through at most one line per
 * QVM_PROGRESS_INTERVAL, never the figure last shown, and the final one.
 * A pure function of its input (the time is passed in), for the tests.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* At most two lines a second. */
#define QVM_PROGRESS_INTERVAL (G_USEC_PER_SEC / 2)

typedef struct {
  gboolean shown;        /* a line was shown */
  guint64  last_figure;  /* the figure of that line */
  gint64   last_time;    /* when, monotonic µs */
} QvmProgressLimit;

/* Whether to show a line with @figure at @now (monotonic µs); @final for
 * the last report, which is shown unless its figure was. Records what it
 * lets through. */
gboolean qvm_progress_limit_check (QvmProgressLimit *limit,
                                   guint64           figure,
                                   gboolean          final,
                                   gint64            now);

G_END_DECLS
