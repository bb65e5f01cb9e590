/* qvm-progress.c: progress lines a person can read
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-progress.h"

gboolean
qvm_progress_limit_check (QvmProgressLimit *limit,
                          guint64           figure,
                          gboolean          final,
                          gint64            now)
{
  if (limit->shown && figure == limit->last_figure)
    return FALSE;
  if (limit->shown && !final && now - limit->last_time < QVM_PROGRESS_INTERVAL)
    return FALSE;

  limit->shown = TRUE;
  limit->last_figure = figure;
  limit->last_time = now;
  return TRUE;
}
