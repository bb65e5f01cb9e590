/* test-keymap.c: which keys type a character, read from QEMU's keymaps
 * (suite 'unit')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Uses the keymaps of Debian's qemu-system-data (/usr/share/qemu/keymaps),
 * the ones the QEMU under test reads.
 */

#include <string.h>

#include "qvm.h"
#include "qvm-keymap-private.h"
#include "testutil.h"

#define KEYMAPS "/usr/share/qemu/keymaps"

static QvmKeymap *
load (const char *layout)
{
  g_autoptr(GError) error = NULL;
  QvmKeymap *keymap = qvm_keymap_load (KEYMAPS, layout, &error);

  g_assert_no_error (error);
  g_assert_nonnull (keymap);
  return keymap;
}

static void
assert_stroke (GArray   *strokes,
               guint     index,
               guint     number,
               gboolean  shift,
               gboolean  altgr)
{
  const QvmKeyStroke *stroke = &g_array_index (strokes, QvmKeyStroke, index);

  g_assert_cmpuint (stroke->number, ==, number);
  g_assert_cmpint (stroke->shift, ==, shift);
  g_assert_cmpint (stroke->altgr, ==, altgr);
}

static void
test_en_us (void)
{
  g_autoptr(QvmKeymap) keymap = load ("en-us");
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) strokes = qvm_keymap_strokes_for_text (keymap, "Hz, !\n\t", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (strokes->len, ==, 7);
  assert_stroke (strokes, 0, 0x23, TRUE, FALSE);   /* H */
  assert_stroke (strokes, 1, 0x2c, FALSE, FALSE);  /* z */
  assert_stroke (strokes, 2, 0x33, FALSE, FALSE);  /* , */
  assert_stroke (strokes, 3, 0x39, FALSE, FALSE);  /* space */
  assert_stroke (strokes, 4, 0x02, TRUE, FALSE);   /* ! */
  assert_stroke (strokes, 5, 0x1c, FALSE, FALSE);  /* Return */
  assert_stroke (strokes, 6, 0x0f, FALSE, FALSE);  /* Tab */
}

/* The same characters, other keys: what the layout says. */
static void
test_de (void)
{
  g_autoptr(QvmKeymap) keymap = load ("de");
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) strokes = qvm_keymap_strokes_for_text (keymap, "z@ä€Ä", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (strokes->len, ==, 5);
  assert_stroke (strokes, 0, 0x15, FALSE, FALSE);  /* z where en-us has y */
  assert_stroke (strokes, 1, 0x10, FALSE, TRUE);   /* @ is AltGr+Q */
  assert_stroke (strokes, 2, 0x28, FALSE, FALSE);  /* ä */
  assert_stroke (strokes, 3, 0x12, FALSE, TRUE);   /* € is AltGr+E */
  assert_stroke (strokes, 4, 0x28, TRUE, FALSE);   /* Ä */
}

/* A character the layout has no key for is an error that names it and
 * its place; so is text that is not UTF-8. */
static void
test_cannot_type (void)
{
  g_autoptr(QvmKeymap) keymap = load ("en-us");
  g_autoptr(GError) error = NULL;
  GArray *strokes = qvm_keymap_strokes_for_text (keymap, "abcä", &error);

  g_assert_null (strokes);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "“ä”"));
  g_assert_nonnull (strstr (error->message, "U+00E4"));
  g_assert_nonnull (strstr (error->message, "character 4"));
  g_assert_nonnull (strstr (error->message, "en-us"));
  g_clear_error (&error);

  strokes = qvm_keymap_strokes_for_text (keymap, "a\xff", &error);
  g_assert_null (strokes);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
}

/* Every layout QEMU 7.2 ships (the ones the machine schema admits) loads
 * and types the digits. */
static void
test_every_layout (void)
{
  g_autoptr(GDir) dir = g_dir_open (KEYMAPS, 0, NULL);
  const char *name;
  guint loaded = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmKeymap) keymap = NULL;
      g_autoptr(GArray) strokes = NULL;

      if (g_str_equal (name, "common") || g_str_equal (name, "modifiers"))
        continue;
      keymap = qvm_keymap_load (KEYMAPS, name, &error);
      g_assert_no_error (error);
      /* The digits, in every layout but two whose keys type other
       * digits: Thai, and QEMU 7.2's "et", which xkb made Ethiopic, not
       * Estonian. An error there is the right answer. */
      strokes = qvm_keymap_strokes_for_text (keymap, "0123456789", &error);
      if (g_str_equal (name, "th") || g_str_equal (name, "et"))
        g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
      else
        g_assert_no_error (error);
      loaded++;
    }
  g_assert_cmpuint (loaded, >=, 30);
}

static void
test_bad_keymaps (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (qvm_keymap_load (KEYMAPS, "../keymaps/en-us", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_clear_error (&error);
  g_assert_null (qvm_keymap_load (KEYMAPS, "xx-none", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "xx-none"));
  g_clear_error (&error);
  g_assert_null (qvm_keymap_parse ("# only a comment\nmap 0x409\nnothing here\n", "empty", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_clear_error (&error);
  /* Lines that need NumLock, numbers out of range: skipped, not misread. */
  {
    g_autoptr(QvmKeymap) keymap = qvm_keymap_parse ("a 0x1e numlock\na 0x1ff\nb 0x30\n", "t", &error);
    g_autoptr(GArray) strokes = NULL;

    g_assert_no_error (error);
    g_assert_null (qvm_keymap_strokes_for_text (keymap, "a", &error));
    g_clear_error (&error);
    strokes = qvm_keymap_strokes_for_text (keymap, "b", &error);
    assert_stroke (strokes, 0, 0x30, FALSE, FALSE);
  }
}

static void
test_chords (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) reboot = qvm_key_chord_parse ("ctrl-alt-delete", &error);
  g_auto(GStrv) aliases = qvm_key_chord_parse ("Control-Alt-Del", NULL);
  g_auto(GStrv) single = qvm_key_chord_parse ("ret", NULL);
  const char *expected[] = { "ctrl", "alt", "delete", NULL };

  g_assert_no_error (error);
  g_assert_cmpstrv (reboot, expected);
  g_assert_cmpstrv (aliases, expected);
  g_assert_cmpstr (single[0], ==, "ret");
  g_assert_null (single[1]);
  g_assert_cmpstr (qvm_key_code_for_name ("space"), ==, "spc");
  g_assert_null (qvm_key_code_for_name ("unmapped"));

  g_assert_null (qvm_key_chord_parse ("ctrl-bogus", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "“bogus”"));
  g_clear_error (&error);
  g_assert_null (qvm_key_chord_parse ("ctrl--a", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_FAILED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keymap/en-us", test_en_us);
  g_test_add_func ("/keymap/de", test_de);
  g_test_add_func ("/keymap/cannot-type", test_cannot_type);
  g_test_add_func ("/keymap/every-layout", test_every_layout);
  g_test_add_func ("/keymap/bad-keymaps", test_bad_keymaps);
  g_test_add_func ("/keymap/chords", test_chords);

  return g_test_run ();
}
