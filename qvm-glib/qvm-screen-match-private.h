/* qvm-screen-match-private.h: comparing screens, pixel by pixel (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure code, no QEMU: the matching behind wait_for_screen and
 * wait_for_still_screen (qvm-vm-screen.c). A reference picture (a
 * "needle", after openQA) holds areas to match and areas to exclude. Both
 * pictures are turned grey, the exclude areas blanked in both, and
 * smoothed with a 3x3 Gaussian blur; each match area is then looked for
 * on the screen within a margin around its own place, by the sum of
 * squared differences. The similarity of an area is
 *
 *   mse = SSE / (width * height)
 *   similarity = CLAMP (0.9 + (40 - mse) / 380, 0, 1)
 *
 * and a needle's similarity is the lowest of its match areas'. The
 * formula is explained for users in docs/screen-matching.md.
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>

G_BEGIN_DECLS

/* A grey picture: one byte per pixel, rows without padding. */
typedef struct {
  int     width;
  int     height;
  guint8 *pixels;
} QvmGreyImage;

/* The grey of @pixbuf's RGB (its alpha ignored), with the weights of
 * ITU-R BT.601 (0.299, 0.587, 0.114). */
QvmGreyImage *qvm_grey_image_new_from_pixbuf (GdkPixbuf          *pixbuf);
QvmGreyImage *qvm_grey_image_copy            (const QvmGreyImage *image);
void          qvm_grey_image_free            (QvmGreyImage       *image);

/* Paints the part of the rectangle inside @image black. */
void          qvm_grey_image_blank           (QvmGreyImage       *image,
                                              int                 x,
                                              int                 y,
                                              int                 width,
                                              int                 height);

/* Smooths @image in place with the 3x3 kernel (1 2 1)ᵀ(1 2 1) / 16, the
 * edges repeated outwards. */
void          qvm_grey_image_blur            (QvmGreyImage       *image);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmGreyImage, qvm_grey_image_free)

/* One area of a reference, in its coordinates. */
typedef struct {
  int      x;
  int      y;
  int      width;
  int      height;
  gboolean exclude;   /* blanked in both pictures; else matched */
} QvmMatchArea;

/* Where the best place of a match area was found, and how well it fits. */
typedef struct {
  int    x;
  int    y;
  double similarity;
} QvmAreaMatch;

/* A reference prepared for matching against many screens: its blurred
 * grey, its areas, the search margin, and scratch memory for the screens
 * (so one matcher is used by one thread at a time). */
typedef struct _QvmScreenMatcher QvmScreenMatcher;

/* @areas must lie inside @reference and have a size (checked by the
 * caller); a matcher without match areas matches every screen. */
QvmScreenMatcher *qvm_screen_matcher_new     (GdkPixbuf          *reference,
                                              const QvmMatchArea *areas,
                                              guint               n_areas,
                                              guint               margin);
void              qvm_screen_matcher_free    (QvmScreenMatcher   *matcher);

/* Matches @screen (a pixbuf of any size): the needle's similarity, the
 * lowest of its match areas' (1 without match areas). @out_matches
 * (nullable) gets one QvmAreaMatch per match area, in the order given. */
double            qvm_screen_matcher_match   (QvmScreenMatcher   *matcher,
                                              GdkPixbuf          *screen,
                                              QvmAreaMatch       *out_matches);

/* The same for a screen already made grey (not blurred); @screen is left
 * as it was. */
double            qvm_screen_matcher_match_grey (QvmScreenMatcher   *matcher,
                                                 const QvmGreyImage *screen,
                                                 QvmAreaMatch       *out_matches);

/* How many match areas the matcher has. */
guint             qvm_screen_matcher_get_n_matches (QvmScreenMatcher *matcher);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmScreenMatcher, qvm_screen_matcher_free)

/* The similarity for a mean squared difference of blurred grey pixels. */
double qvm_screen_similarity_from_mse (double mse);

/* The peak signal-to-noise ratio of @b against @a over their RGB
 * channels, in dB: 10 log10 (255² · 3N / Σ Δ²). Infinite (INFINITY) for
 * identical pictures, 0 for pictures of different sizes. */
double qvm_screen_match_psnr (GdkPixbuf *a,
                        GdkPixbuf *b);

G_END_DECLS
