/* qvm-vm-screen.c: waiting until a QvmVirtualMachine's screen shows something
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QvmNeedle, a reference picture with areas (after openQA's needles), and
 * the two waits that poll screenshots: until a needle matches, and until
 * the screen stays still. The pixels are compared by qvm-screen-match.c;
 * screenshots come from qvm-vm-output.c. The blocking forms are in
 * qvm-vm-sync.c.
 */

#include "config.h"

#include <math.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-screen-match-private.h"
#include "qvm-vm-private.h"

/* How often the screen is looked at, from the start of one screenshot to
 * the start of the next: a change is seen at most this long, plus one
 * screenshot and one comparison (a few ms), after it is drawn. */
#define SCREEN_POLL_MS 100

/* ---- QvmNeedle -------------------------------------------------------------- */

/**
 * QvmNeedle:
 *
 * What [method@Qvm.VirtualMachine.wait_for_screen_async] waits for: a
 * reference picture (usually cut from an earlier screenshot), its areas,
 * the similarity a screen must reach and how far each area may have moved.
 * It works as openQA's needles do; the comparison is explained in
 * [Screen matching](screen-matching.html).
 *
 * A needle without a match area matches its whole reference. A wait
 * reads the needle when it starts: changing the needle later does not
 * change waits already started.
 */
struct _QvmNeedle {
  grefcount  ref_count;
  GdkPixbuf *reference;
  double     match_level;
  guint      margin;
  GArray    *areas;       /* of QvmMatchArea */
};

G_DEFINE_BOXED_TYPE (QvmNeedle, qvm_needle, qvm_needle_ref, qvm_needle_unref)

/**
 * qvm_needle_new:
 * @reference: the picture to look for, e.g. a screenshot
 * @match_level: the similarity, from 0 to 1, that each match area must
 *   reach, such as %QVM_NEEDLE_DEFAULT_MATCH_LEVEL (0.96)
 * @margin: how far, in pixels, each match area is looked for around its
 *   place in @reference, such as %QVM_NEEDLE_DEFAULT_MARGIN (50)
 *
 * Makes a needle of @reference, without areas yet: add them with
 * [method@Qvm.Needle.add_area]. @reference is kept (not copied): do not
 * change its pixels afterwards.
 *
 * Returns: (transfer full): a new needle
 */
QvmNeedle *
qvm_needle_new (GdkPixbuf *reference,
                double     match_level,
                guint      margin)
{
  QvmNeedle *needle;

  g_return_val_if_fail (GDK_IS_PIXBUF (reference), NULL);
  g_return_val_if_fail (gdk_pixbuf_get_bits_per_sample (reference) == 8, NULL);
  g_return_val_if_fail (match_level >= 0.0 && match_level <= 1.0, NULL);

  needle = g_new0 (QvmNeedle, 1);
  g_ref_count_init (&needle->ref_count);
  needle->reference = g_object_ref (reference);
  needle->match_level = match_level;
  needle->margin = margin;
  needle->areas = g_array_new (FALSE, FALSE, sizeof (QvmMatchArea));
  return needle;
}

/**
 * qvm_needle_ref:
 * @needle: a needle
 *
 * Takes a reference to @needle.
 *
 * Returns: (transfer full): @needle, with one more reference
 */
QvmNeedle *
qvm_needle_ref (QvmNeedle *needle)
{
  g_return_val_if_fail (needle != NULL, NULL);

  g_ref_count_inc (&needle->ref_count);
  return needle;
}

/**
 * qvm_needle_unref:
 * @needle: (transfer full): a needle
 *
 * Drops a reference to @needle, freeing it with the last.
 */
void
qvm_needle_unref (QvmNeedle *needle)
{
  g_return_if_fail (needle != NULL);

  if (!g_ref_count_dec (&needle->ref_count))
    return;
  g_object_unref (needle->reference);
  g_array_unref (needle->areas);
  g_free (needle);
}

/**
 * qvm_needle_add_area:
 * @needle: a needle
 * @x: the left edge of the area in the reference, in pixels
 * @y: its top edge
 * @width: its width, at least 1
 * @height: its height, at least 1
 * @kind: whether the area is matched or excluded
 * @error: return location for a #GError
 *
 * Adds an area of the reference to @needle. Each match area is looked for
 * on its own, within the needle's margin of its place; exclude areas are
 * blanked, at their place, on the reference and on the screen before the
 * comparison. Fails with %G_IO_ERROR_INVALID_ARGUMENT when the area is
 * empty or does not lie inside the reference.
 *
 * Returns: %TRUE when the area was added
 */
gboolean
qvm_needle_add_area (QvmNeedle          *needle,
                     int                 x,
                     int                 y,
                     int                 width,
                     int                 height,
                     QvmScreenAreaKind   kind,
                     GError            **error)
{
  QvmMatchArea area = { x, y, width, height, kind == QVM_SCREEN_AREA_EXCLUDE };
  int reference_width, reference_height;

  g_return_val_if_fail (needle != NULL, FALSE);
  g_return_val_if_fail (kind == QVM_SCREEN_AREA_MATCH || kind == QVM_SCREEN_AREA_EXCLUDE, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  reference_width = gdk_pixbuf_get_width (needle->reference);
  reference_height = gdk_pixbuf_get_height (needle->reference);
  if (width < 1 || height < 1 || x < 0 || y < 0 ||
      width > reference_width - x || height > reference_height - y)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The area %dx%d at (%d, %d) does not lie inside the needle's %dx%d reference"),
                   width, height, x, y, reference_width, reference_height);
      return FALSE;
    }
  g_array_append_val (needle->areas, area);
  return TRUE;
}

/**
 * qvm_needle_get_reference:
 * @needle: a needle
 *
 * Gets the picture @needle's areas are cut from.
 *
 * Returns: (transfer none): the reference picture of @needle
 */
GdkPixbuf *
qvm_needle_get_reference (QvmNeedle *needle)
{
  g_return_val_if_fail (needle != NULL, NULL);

  return needle->reference;
}

/**
 * qvm_needle_get_match_level:
 * @needle: a needle
 *
 * Gets the match level given to [ctor@Qvm.Needle.new].
 *
 * Returns: the similarity, from 0 to 1, each match area must reach
 */
double
qvm_needle_get_match_level (QvmNeedle *needle)
{
  g_return_val_if_fail (needle != NULL, 0.0);

  return needle->match_level;
}

/**
 * qvm_needle_get_margin:
 * @needle: a needle
 *
 * Gets the margin given to [ctor@Qvm.Needle.new].
 *
 * Returns: how far, in pixels, each match area is looked for
 */
guint
qvm_needle_get_margin (QvmNeedle *needle)
{
  g_return_val_if_fail (needle != NULL, 0);

  return needle->margin;
}

/* A matcher for what @needle holds now: its match areas, or its whole
 * reference when it has none. */
static QvmScreenMatcher *
needle_make_matcher (QvmNeedle *needle)
{
  g_autoptr(GArray) areas = g_array_copy (needle->areas);
  gboolean has_match = FALSE;

  for (guint i = 0; i < areas->len; i++)
    has_match |= !g_array_index (areas, QvmMatchArea, i).exclude;
  if (!has_match)
    {
      QvmMatchArea whole = {
        0, 0, gdk_pixbuf_get_width (needle->reference), gdk_pixbuf_get_height (needle->reference), FALSE,
      };
      g_array_prepend_val (areas, whole);
    }
  return qvm_screen_matcher_new (needle->reference, (QvmMatchArea *) areas->data, areas->len,
                                 needle->margin);
}

/* The needle's similarity on @screen, and where its first match area was
 * found. */
static double
matcher_compare (QvmScreenMatcher *matcher,
                 GdkPixbuf        *screen,
                 int              *x,
                 int              *y)
{
  g_autofree QvmAreaMatch *matches = g_new (QvmAreaMatch, qvm_screen_matcher_get_n_matches (matcher));
  double similarity = qvm_screen_matcher_match (matcher, screen, matches);

  *x = matches[0].x;
  *y = matches[0].y;
  return similarity;
}

/**
 * qvm_needle_compare:
 * @needle: a needle
 * @screen: a screenshot
 * @x: (out) (optional): where the first match area was found on @screen
 *   (its left edge)
 * @y: (out) (optional): its top edge
 *
 * Compares @needle with @screen once, as each look of
 * [method@Qvm.VirtualMachine.wait_for_screen_async] does: @needle matches
 * when the result reaches its match level. A screen too small for an
 * area scores 0.
 *
 * Returns: the similarity, from 0 to 1: the lowest of the match areas'
 */
double
qvm_needle_compare (QvmNeedle *needle,
                    GdkPixbuf *screen,
                    int       *x,
                    int       *y)
{
  g_autoptr(QvmScreenMatcher) matcher = NULL;
  int found_x, found_y;
  double similarity;

  g_return_val_if_fail (needle != NULL, 0.0);
  g_return_val_if_fail (GDK_IS_PIXBUF (screen), 0.0);

  matcher = needle_make_matcher (needle);
  similarity = matcher_compare (matcher, screen, &found_x, &found_y);
  if (x != NULL)
    *x = found_x;
  if (y != NULL)
    *y = found_y;
  return similarity;
}

/**
 * qvm_screen_psnr:
 * @a: a screenshot
 * @b: another one
 *
 * How much @b differs from @a, as the peak signal-to-noise ratio over
 * their red, green and blue samples: 10 log10 (255² · 3N / Σ Δ²) dB for N
 * pixels. Identical pictures give infinity, pictures of different sizes
 * 0; [method@Qvm.VirtualMachine.wait_for_still_screen_async] takes two
 * screenshots under %QVM_STILL_SCREEN_DEFAULT_PSNR (47 dB) to differ.
 *
 * Returns: the ratio in dB
 */
double
qvm_screen_psnr (GdkPixbuf *a,
                 GdkPixbuf *b)
{
  g_return_val_if_fail (GDK_IS_PIXBUF (a), 0.0);
  g_return_val_if_fail (GDK_IS_PIXBUF (b), 0.0);

  return qvm_screen_match_psnr (a, b);
}

/* ---- Polling the screen ---------------------------------------------------- */

/* What a wait tells when the machine ended under it: the machine's own
 * error, or that it was done. Between QEMU's exit and "done" that error is
 * on its way from end_error to error (neither holds it), so the wait waits
 * for "done", which every ending machine reaches. */
static GError *
machine_gone_error (QvmVirtualMachine *self,
                    GCancellable      *cancellable)
{
  GError *local_error = NULL;

  while (self->phase != QVM_VM_PHASE_DONE)
    if (!qvm_wait_queue_wait (&self->done_queue, -1, cancellable, &local_error))
      return local_error;

  if (self->error != NULL)
    return g_error_copy (self->error);
  return g_error_new (QVM_ERROR, QVM_ERROR_INVALID_STATE,
                      _("The virtual machine %s was done before its screen showed what was waited for"),
                      self->id);
}

/* A deadline in monotonic µs for @timeout_ms from now; 0 for none. */
static gint64
deadline_after (guint timeout_ms)
{
  return timeout_ms > 0 ? g_get_monotonic_time () + (gint64) timeout_ms * 1000 : 0;
}

static gboolean
deadline_passed (gint64 deadline)
{
  return deadline != 0 && g_get_monotonic_time () >= deadline;
}

/* The next screenshot, taken no sooner than @not_before (monotonic µs);
 * NULL with @error set when the machine ends or never started, or on
 * cancellation. A machine still starting is waited for, until @deadline
 * (%QVM_ERROR_TIMED_OUT then). */
static GdkPixbuf *
next_screenshot (QvmVirtualMachine  *self,
                 gint64              not_before,
                 gint64              deadline,
                 GCancellable       *cancellable,
                 GError            **error)
{
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      g_autoptr(GError) local_error = NULL;

      if (qvm_vm_phase_is_ending (self->phase))
        {
          g_propagate_error (error, machine_gone_error (self, cancellable));
          return NULL;
        }
      if (self->phase == QVM_VM_PHASE_NEW || self->phase == QVM_VM_PHASE_CREATED)
        {
          g_set_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                       _("The virtual machine %s was not started"), self->id);
          return NULL;
        }
      if (now >= not_before && qvm_vm_phase_has_guest (self->phase))
        {
          /* Already in the machine's coroutine: no task per look. */
          GdkPixbuf *screen = qvm_vm_take_screenshot (self, cancellable, &local_error);

          if (screen != NULL)
            return screen;
          if (!qvm_vm_phase_is_ending (self->phase))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return NULL;
            }
          continue;   /* it ended meanwhile: tell that instead */
        }
      if (!qvm_vm_phase_has_guest (self->phase) && deadline_passed (deadline))
        {
          g_set_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT,
                       _("The virtual machine %s was not running before the wait for its screen timed out"),
                       self->id);
          return NULL;
        }

      /* Woken early by the machine's end, which the loop then reports. */
      if (!qvm_wait_queue_wait (&self->done_queue,
                                (int) MAX ((not_before - now) / 1000, SCREEN_POLL_MS / 10),
                                cancellable, &local_error) &&
          !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
}

/* ---- wait_for_screen ---------------------------------------------------------- */

typedef struct {
  QvmScreenMatcher *matcher;
  double            match_level;
  guint             timeout_ms;
} ScreenWait;

static void
screen_wait_free (gpointer data)
{
  ScreenWait *wait = data;

  qvm_screen_matcher_free (wait->matcher);
  g_free (wait);
}

typedef struct {
  double similarity;
  int    x;
  int    y;
} ScreenFound;

static void
wait_for_screen_co (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  ScreenWait *wait = task_data;
  gint64 deadline = deadline_after (wait->timeout_ms);
  gint64 next = 0;
  double best = 0.0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gint64 asked = g_get_monotonic_time ();
      g_autoptr(GdkPixbuf) screen = next_screenshot (self, next, deadline, cancellable, &error);
      ScreenFound found;

      if (screen == NULL)
        {
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      /* From the start of this screenshot: at @next if it waited. */
      next = MAX (asked, next) + SCREEN_POLL_MS * 1000;

      found.similarity = matcher_compare (wait->matcher, screen, &found.x, &found.y);
      if (found.similarity >= wait->match_level)
        {
          qvm_task_return_pointer (task, g_memdup2 (&found, sizeof found), g_free);
          return;
        }
      best = MAX (best, found.similarity);

      if (deadline_passed (deadline))
        {
          qvm_task_return_error (task, g_error_new (QVM_ERROR, QVM_ERROR_TIMED_OUT,
                                                    _("The screen of the virtual machine %s did not match within %u ms: the best similarity was %.4f, under %.4f"),
                                                    self->id, wait->timeout_ms, best,
                                                    wait->match_level));
          return;
        }
    }
}

/* Runs @body as a GTask of @vm whose task data @data is freed with
 * @data_free, also when the machine cannot run tasks. */
static void
run_screen_task (QvmVirtualMachine    *vm,
                 gpointer              source_tag,
                 gpointer              data,
                 GDestroyNotify        data_free,
                 QvmCoroutineTaskFunc  body,
                 GCancellable         *cancellable,
                 GAsyncReadyCallback   callback,
                 gpointer              user_data)
{
  GError *error = NULL;
  g_autoptr(GTask) task = NULL;

  if (!qvm_vm_check_constructed (vm, &error))
    {
      data_free (data);
      g_task_report_error (vm, callback, user_data, source_tag, error);
      return;
    }
  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, data_free);
  qvm_coroutine_run_task (task, body);
}

/**
 * qvm_virtual_machine_wait_for_screen_async:
 * @vm: a virtual machine
 * @needle: what to wait for
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the screen matched, or the wait
 *   failed
 * @user_data: data for @callback
 *
 * Waits until the guest's screen shows @needle: screenshots are taken
 * every 100 ms and compared with it (see [method@Qvm.Needle.compare]),
 * until one reaches the needle's match level. The first is taken at once,
 * so a screen that already matches returns after one screenshot.
 *
 * A machine still starting is waited for. The wait fails with
 * %QVM_ERROR_TIMED_OUT after @timeout_ms (its message gives the best
 * similarity seen), with the machine's error
 * ([method@Qvm.VirtualMachine.get_error]) when it ends meanwhile, or
 * %QVM_ERROR_INVALID_STATE when it was never started or ended without
 * an error. Waiting does nothing to the machine.
 */
void
qvm_virtual_machine_wait_for_screen_async (QvmVirtualMachine   *vm,
                                           QvmNeedle           *needle,
                                           guint                timeout_ms,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  ScreenWait *wait;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (needle != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  wait = g_new0 (ScreenWait, 1);
  wait->matcher = needle_make_matcher (needle);
  wait->match_level = needle->match_level;
  wait->timeout_ms = timeout_ms;
  run_screen_task (vm, qvm_virtual_machine_wait_for_screen_async, wait, screen_wait_free,
                   wait_for_screen_co, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_wait_for_screen_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @similarity: (out) (optional): the similarity of the screen that
 *   matched, from the needle's match level to 1
 * @x: (out) (optional): where the needle's first match area was found
 *   on that screen (its left edge; its place in the reference when it
 *   did not move)
 * @y: (out) (optional): its top edge
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.wait_for_screen_async].
 *
 * Returns: %TRUE when the screen matched; %FALSE with @error set
 *   otherwise
 */
gboolean
qvm_virtual_machine_wait_for_screen_finish (QvmVirtualMachine  *vm,
                                            GAsyncResult       *result,
                                            double             *similarity,
                                            int                *x,
                                            int                *y,
                                            GError            **error)
{
  g_autofree ScreenFound *found = NULL;

  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_wait_for_screen_async), FALSE);

  found = g_task_propagate_pointer (G_TASK (result), error);
  if (found == NULL)
    return FALSE;
  if (similarity != NULL)
    *similarity = found->similarity;
  if (x != NULL)
    *x = found->x;
  if (y != NULL)
    *y = found->y;
  return TRUE;
}

/* ---- wait_for_still_screen ---------------------------------------------------- */

typedef struct {
  guint  still_ms;
  double psnr_threshold;
  guint  timeout_ms;
} StillWait;

static void
wait_for_still_screen_co (GTask        *task,
                          gpointer      source_object,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  StillWait *wait = task_data;
  gint64 deadline = deadline_after (wait->timeout_ms);
  g_autoptr(GdkPixbuf) still = NULL;   /* the screen since the last change */
  gint64 still_since = 0;
  gint64 next = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) screen = next_screenshot (self, next, deadline, cancellable, &error);
      gint64 now = g_get_monotonic_time ();

      if (screen == NULL)
        {
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      next = now + SCREEN_POLL_MS * 1000;

      /* Compared with the first screen of the still spell, not the one
       * before: a slow change adds up. */
      if (still == NULL || qvm_screen_match_psnr (still, screen) < wait->psnr_threshold)
        {
          g_set_object (&still, screen);
          still_since = now;
        }
      if (now - still_since >= (gint64) wait->still_ms * 1000)
        {
          qvm_task_return_boolean (task, TRUE);
          return;
        }

      if (deadline_passed (deadline))
        {
          qvm_task_return_error (task, g_error_new (QVM_ERROR, QVM_ERROR_TIMED_OUT,
                                                    _("The screen of the virtual machine %s did not stay still for %u ms within %u ms"),
                                                    self->id, wait->still_ms, wait->timeout_ms));
          return;
        }
    }
}

/**
 * qvm_virtual_machine_wait_for_still_screen_async:
 * @vm: a virtual machine
 * @still_ms: how long the screen must not change, in milliseconds
 * @psnr_threshold: the peak signal-to-noise ratio, in dB, under which a
 *   screenshot differs from the one before (see [func@Qvm.screen_psnr]);
 *   0 for %QVM_STILL_SCREEN_DEFAULT_PSNR (47 dB)
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the screen stayed still, or the
 *   wait failed
 * @user_data: data for @callback
 *
 * Waits until the guest's screen has not changed for @still_ms, as
 * openQA's `wait_still_screen`: screenshots are taken every 100 ms, each
 * compared with the first of the current still spell, and a difference
 * starts a new spell. Fails as
 * [method@Qvm.VirtualMachine.wait_for_screen_async] does:
 * %QVM_ERROR_TIMED_OUT after @timeout_ms, the machine's error when it
 * ends meanwhile.
 */
void
qvm_virtual_machine_wait_for_still_screen_async (QvmVirtualMachine   *vm,
                                                 guint                still_ms,
                                                 double               psnr_threshold,
                                                 guint                timeout_ms,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  StillWait *wait;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (psnr_threshold >= 0.0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  wait = g_new0 (StillWait, 1);
  wait->still_ms = still_ms;
  wait->psnr_threshold = psnr_threshold > 0.0 ? psnr_threshold : QVM_STILL_SCREEN_DEFAULT_PSNR;
  wait->timeout_ms = timeout_ms;
  run_screen_task (vm, qvm_virtual_machine_wait_for_still_screen_async, wait, g_free,
                   wait_for_still_screen_co, cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_wait_for_still_screen_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.wait_for_still_screen_async].
 *
 * Returns: %TRUE when the screen stayed still; %FALSE with @error set
 *   otherwise
 */
gboolean
qvm_virtual_machine_wait_for_still_screen_finish (QvmVirtualMachine  *vm,
                                                  GAsyncResult       *result,
                                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_wait_for_still_screen_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
