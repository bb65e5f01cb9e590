/* qvm-keymap.c: which keys type a character, in QEMU's keyboard layouts,
 * and the names of the keys
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU's keymap files (PREFIX/share/qemu/keymaps/LAYOUT, made by
 * qemu-keymap from xkb) list, for each X keysym a layout can produce, the
 * key number and the modifiers that produce it ("at 0x10 altgr" in "de").
 * Read backwards, that says which key to press for a character: the
 * machine's own layout decides, so a guest configured for the same layout
 * sees the character that was meant. Only plain, Shift and AltGr levels
 * are used; entries that need NumLock or other state are skipped.
 */

#include "config.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-keymap-private.h"

#define KEYMAP_MAX_SIZE (256 * 1024) /* QEMU's largest is about 20 KiB */

struct _QvmKeymap
{
  char *layout;
  GHashTable *strokes;  /* gunichar → QvmKeyStroke, the fewest modifiers */
};

/* The X keysym names of the characters a keymap file can name: ASCII and
 * Latin-1 by code point, then the few others the layouts use for text. */
static const char * const ascii_keysyms[0x7f - 0x20] = {
  "space", "exclam", "quotedbl", "numbersign", "dollar", "percent", "ampersand",
  "apostrophe", "parenleft", "parenright", "asterisk", "plus", "comma", "minus",
  "period", "slash", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "colon",
  "semicolon", "less", "equal", "greater", "question", "at", "A", "B", "C", "D",
  "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T",
  "U", "V", "W", "X", "Y", "Z", "bracketleft", "backslash", "bracketright",
  "asciicircum", "underscore", "grave", "a", "b", "c", "d", "e", "f", "g", "h",
  "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x",
  "y", "z", "braceleft", "bar", "braceright", "asciitilde",
};

static const char * const latin1_keysyms[0x100 - 0xa0] = {
  "nobreakspace", "exclamdown", "cent", "sterling", "currency", "yen", "brokenbar",
  "section", "diaeresis", "copyright", "ordfeminine", "guillemotleft", "notsign",
  "hyphen", "registered", "macron", "degree", "plusminus", "twosuperior",
  "threesuperior", "acute", "mu", "paragraph", "periodcentered", "cedilla",
  "onesuperior", "masculine", "guillemotright", "onequarter", "onehalf",
  "threequarters", "questiondown", "Agrave", "Aacute", "Acircumflex", "Atilde",
  "Adiaeresis", "Aring", "AE", "Ccedilla", "Egrave", "Eacute", "Ecircumflex",
  "Ediaeresis", "Igrave", "Iacute", "Icircumflex", "Idiaeresis", "ETH", "Ntilde",
  "Ograve", "Oacute", "Ocircumflex", "Otilde", "Odiaeresis", "multiply", "Oslash",
  "Ugrave", "Uacute", "Ucircumflex", "Udiaeresis", "Yacute", "THORN", "ssharp",
  "agrave", "aacute", "acircumflex", "atilde", "adiaeresis", "aring", "ae",
  "ccedilla", "egrave", "eacute", "ecircumflex", "ediaeresis", "igrave", "iacute",
  "icircumflex", "idiaeresis", "eth", "ntilde", "ograve", "oacute", "ocircumflex",
  "otilde", "odiaeresis", "division", "oslash", "ugrave", "uacute", "ucircumflex",
  "udiaeresis", "yacute", "thorn", "ydiaeresis",
};

static const struct {
  gunichar    character;
  const char *keysym;
} other_keysyms[] = {
  { '\n', "Return" }, { '\t', "Tab" }, { '\b', "BackSpace" }, { 0x1b, "Escape" },
  { 0x20ac, "EuroSign" }, { 0x152, "OE" }, { 0x153, "oe" }, { 0x178, "Ydiaeresis" },
  { 0x160, "Scaron" }, { 0x161, "scaron" }, { 0x17d, "Zcaron" }, { 0x17e, "zcaron" },
  { 0x10c, "Ccaron" }, { 0x10d, "ccaron" }, { 0x106, "Cacute" }, { 0x107, "cacute" },
  { 0x110, "Dstroke" }, { 0x111, "dstroke" }, { 0x141, "Lstroke" }, { 0x142, "lstroke" },
  { 0x104, "Aogonek" }, { 0x105, "aogonek" }, { 0x118, "Eogonek" }, { 0x119, "eogonek" },
  { 0x15a, "Sacute" }, { 0x15b, "sacute" }, { 0x179, "Zacute" }, { 0x17a, "zacute" },
  { 0x17b, "Zabovedot" }, { 0x17c, "zabovedot" }, { 0x143, "Nacute" }, { 0x144, "nacute" },
  { 0x11e, "Gbreve" }, { 0x11f, "gbreve" }, { 0x130, "Iabovedot" }, { 0x131, "idotless" },
  { 0x15e, "Scedilla" }, { 0x15f, "scedilla" }, { 0x158, "Rcaron" }, { 0x159, "rcaron" },
  { 0x11a, "Ecaron" }, { 0x11b, "ecaron" }, { 0x16e, "Uring" }, { 0x16f, "uring" },
};

/* keysym name → the character it types, built once. */
static GHashTable *
get_keysym_characters (void)
{
  static GHashTable *characters;

  if (g_once_init_enter (&characters))
    {
      GHashTable *table = g_hash_table_new (g_str_hash, g_str_equal);

      for (guint i = 0; i < G_N_ELEMENTS (ascii_keysyms); i++)
        g_hash_table_insert (table, (gpointer) ascii_keysyms[i], GUINT_TO_POINTER (0x20 + i));
      for (guint i = 0; i < G_N_ELEMENTS (latin1_keysyms); i++)
        g_hash_table_insert (table, (gpointer) latin1_keysyms[i], GUINT_TO_POINTER (0xa0 + i));
      for (guint i = 0; i < G_N_ELEMENTS (other_keysyms); i++)
        g_hash_table_insert (table, (gpointer) other_keysyms[i].keysym,
                             GUINT_TO_POINTER (other_keysyms[i].character));
      g_once_init_leave (&characters, table);
    }
  return characters;
}

static guint
stroke_cost (const QvmKeyStroke *stroke)
{
  return (stroke->shift ? 1 : 0) + (stroke->altgr ? 2 : 0);
}

static void
add_stroke (QvmKeymap          *keymap,
            gunichar            character,
            const QvmKeyStroke *stroke)
{
  QvmKeyStroke *known = g_hash_table_lookup (keymap->strokes, GUINT_TO_POINTER (character));

  if (known == NULL)
    g_hash_table_insert (keymap->strokes, GUINT_TO_POINTER (character),
                         g_memdup2 (stroke, sizeof *stroke));
  else if (stroke_cost (stroke) < stroke_cost (known))
    *known = *stroke;
}

/* One line "keysym number [modifier…]"; other lines are skipped. */
static void
parse_line (QvmKeymap  *keymap,
            const char *line)
{
  g_auto(GStrv) words = g_strsplit_set (line, " \t", -1);
  QvmKeyStroke stroke = { 0, FALSE, FALSE };
  gboolean add_upper = FALSE;
  guint n_words = g_strv_length (words);
  gpointer character;
  guint64 number;
  char *end;

  if (n_words < 2 || words[0][0] == '#' || g_str_equal (words[0], "map") ||
      g_str_equal (words[0], "include"))
    return;
  number = g_ascii_strtoull (words[1], &end, 0);
  if (*end != '\0' || end == words[1] || number == 0 || number > 0xff)
    return;
  stroke.number = (guint) number;
  for (guint i = 2; i < n_words; i++)
    {
      if (g_str_equal (words[i], "shift"))
        stroke.shift = TRUE;
      else if (g_str_equal (words[i], "altgr"))
        stroke.altgr = TRUE;
      else if (g_str_equal (words[i], "addupper"))
        add_upper = TRUE;
      else if (words[i][0] != '\0')
        return; /* needs NumLock or another state this does not set */
    }
  if (!g_hash_table_lookup_extended (get_keysym_characters (), words[0], NULL, &character))
    return;
  add_stroke (keymap, GPOINTER_TO_UINT (character), &stroke);
  if (add_upper && g_unichar_islower (GPOINTER_TO_UINT (character)) && !stroke.shift)
    {
      stroke.shift = TRUE;
      add_stroke (keymap, g_unichar_toupper (GPOINTER_TO_UINT (character)), &stroke);
    }
}

QvmKeymap *
qvm_keymap_parse (const char  *text,
                  const char  *layout,
                  GError     **error)
{
  g_autoptr(QvmKeymap) keymap = g_new0 (QvmKeymap, 1);
  g_auto(GStrv) lines = NULL;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (layout != NULL, NULL);

  keymap->layout = g_strdup (layout);
  keymap->strokes = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    parse_line (keymap, g_strstrip (lines[i]));

  if (g_hash_table_size (keymap->strokes) == 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                   _("The keymap of layout “%s” names no key that types a character"), layout);
      return NULL;
    }
  return g_steal_pointer (&keymap);
}

QvmKeymap *
qvm_keymap_load (const char  *folder,
                 const char  *layout,
                 GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (layout != NULL, NULL);

  /* The layout comes from a validated machine definition; still, it names
   * a file: no path of its own. */
  if (strchr (layout, '/') != NULL || layout[0] == '.' || layout[0] == '\0')
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("“%s” is not a keyboard layout"), layout);
      return NULL;
    }
  path = g_build_filename (folder, layout, NULL);
  if (!g_file_get_contents (path, &text, &length, error))
    {
      g_prefix_error (error, _("Cannot read QEMU's keymap of layout “%s”: "), layout);
      return NULL;
    }
  if (length > KEYMAP_MAX_SIZE || memchr (text, '\0', length) != NULL)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                   _("%s is not a QEMU keymap (too large, or not text)"), path);
      return NULL;
    }
  return qvm_keymap_parse (text, layout, error);
}

void
qvm_keymap_free (QvmKeymap *keymap)
{
  if (keymap == NULL)
    return;
  g_free (keymap->layout);
  g_clear_pointer (&keymap->strokes, g_hash_table_unref);
  g_free (keymap);
}

char *
qvm_keymap_folder_for_qemu (const char *qemu_path)
{
  const char *from_environment = g_getenv ("QVM_QEMU_KEYMAPS");
  g_autofree char *bin = NULL;
  g_autofree char *prefix = NULL;

  if (from_environment != NULL && *from_environment != '\0')
    return g_strdup (from_environment);
  bin = g_path_get_dirname (qemu_path);
  prefix = g_path_get_dirname (bin);
  return g_build_filename (prefix, "share", "qemu", "keymaps", NULL);
}

GArray *
qvm_keymap_strokes_for_text (QvmKeymap   *keymap,
                             const char  *text,
                             GError     **error)
{
  g_autoptr(GArray) strokes = g_array_new (FALSE, FALSE, sizeof (QvmKeyStroke));
  guint position = 0;

  g_return_val_if_fail (keymap != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_FAILED, _("The text to type is not valid UTF-8"));
      return NULL;
    }
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), position++)
    {
      gunichar character = g_utf8_get_char (p);
      QvmKeyStroke *stroke = g_hash_table_lookup (keymap->strokes, GUINT_TO_POINTER (character));

      if (stroke == NULL)
        {
          char shown[8] = { 0 };

          if (g_unichar_isprint (character))
            g_unichar_to_utf8 (character, shown);
          g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                       _("The keyboard layout “%s” cannot type “%s” (U+%04X, character %u of the text); "
                         "nothing was typed"),
                       keymap->layout, shown, character, position + 1);
          return NULL;
        }
      g_array_append_val (strokes, *stroke);
    }
  return g_steal_pointer (&strokes);
}

/* QEMU 7.2's QKeyCode values (qapi/ui.json), as query-qmp-schema lists
 * them; "unmapped" is left out. */
static const char * const key_codes[] = {
  "shift", "shift_r", "alt", "alt_r", "ctrl", "ctrl_r", "menu", "esc", "1", "2", "3",
  "4", "5", "6", "7", "8", "9", "0", "minus", "equal", "backspace", "tab", "q", "w",
  "e", "r", "t", "y", "u", "i", "o", "p", "bracket_left", "bracket_right", "ret", "a",
  "s", "d", "f", "g", "h", "j", "k", "l", "semicolon", "apostrophe", "grave_accent",
  "backslash", "z", "x", "c", "v", "b", "n", "m", "comma", "dot", "slash", "asterisk",
  "spc", "caps_lock", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10",
  "num_lock", "scroll_lock", "kp_divide", "kp_multiply", "kp_subtract", "kp_add",
  "kp_enter", "kp_decimal", "sysrq", "kp_0", "kp_1", "kp_2", "kp_3", "kp_4", "kp_5",
  "kp_6", "kp_7", "kp_8", "kp_9", "less", "f11", "f12", "print", "home", "pgup", "pgdn",
  "end", "left", "up", "down", "right", "insert", "delete", "stop", "again", "props",
  "undo", "front", "copy", "open", "paste", "find", "cut", "lf", "help", "meta_l",
  "meta_r", "compose", "pause", "ro", "hiragana", "henkan", "yen", "muhenkan",
  "katakanahiragana", "kp_comma", "kp_equals", "power", "sleep", "wake", "audionext",
  "audioprev", "audiostop", "audioplay", "audiomute", "volumeup", "volumedown",
  "mediaselect", "mail", "calculator", "computer", "ac_home", "ac_back", "ac_forward",
  "ac_refresh", "ac_bookmarks", "lang1", "lang2",
};

static const struct {
  const char *alias;
  const char *key_code;
} key_aliases[] = {
  { "enter", "ret" }, { "return", "ret" }, { "space", "spc" }, { "escape", "esc" },
  { "control", "ctrl" }, { "del", "delete" }, { "ins", "insert" }, { "pageup", "pgup" },
  { "pagedown", "pgdn" }, { "super", "meta_l" }, { "win", "meta_l" }, { "altgr", "alt_r" },
  { "period", "dot" }, { "printscreen", "print" },
};

const char *
qvm_key_code_for_name (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (key_codes); i++)
    if (g_str_equal (name, key_codes[i]))
      return key_codes[i];
  for (guint i = 0; i < G_N_ELEMENTS (key_aliases); i++)
    if (g_str_equal (name, key_aliases[i].alias))
      return key_aliases[i].key_code;
  return NULL;
}

GStrv
qvm_key_chord_parse (const char  *chord,
                     GError     **error)
{
  g_auto(GStrv) names = NULL;
  g_autoptr(GStrvBuilder) codes = g_strv_builder_new ();

  g_return_val_if_fail (chord != NULL, NULL);

  names = g_strsplit (chord, "-", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *lower = g_ascii_strdown (names[i], -1);
      const char *code = qvm_key_code_for_name (lower);

      if (code == NULL)
        {
          g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                       _("“%s” in the keys “%s” is not a key (QEMU's key names: “a”, “ret”, "
                         "“ctrl”, “alt”, “f2”, “delete”…)"),
                       names[i], chord);
          return NULL;
        }
      g_strv_builder_add (codes, code);
    }
  return g_strv_builder_end (codes);
}
