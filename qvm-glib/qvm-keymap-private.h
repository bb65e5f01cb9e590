/* qvm-keymap-private.h: which keys type a character, in QEMU's keyboard
 * layouts, and the names of the keys
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One key press that types a character: the key's number (QEMU's "number"
 * key value, the PC scancode with 0x80 for the E0 prefix) and the
 * modifiers held while it is pressed. */
typedef struct {
  guint    number;
  gboolean shift;
  gboolean altgr;
} QvmKeyStroke;

typedef struct _QvmKeymap QvmKeymap;

/* The folder QEMU reads its keymaps from, for the QEMU binary @qemu_path
 * (PREFIX/bin/qemu-… → PREFIX/share/qemu/keymaps); $QVM_QEMU_KEYMAPS
 * overrides it. */
char      *qvm_keymap_folder_for_qemu (const char    *qemu_path);

/* Loads the layout @layout ("en-us", "de"…) from @folder: QEMU's own
 * keymap file, so that what is typed is what QEMU's keyboard sends. */
QvmKeymap *qvm_keymap_load            (const char    *folder,
                                       const char    *layout,
                                       GError       **error);
/* Parses the text of a keymap file (for the tests and the fuzzer). */
QvmKeymap *qvm_keymap_parse           (const char    *text,
                                       const char    *layout,
                                       GError       **error);
void       qvm_keymap_free            (QvmKeymap     *keymap);

/* The key strokes that type @text, in order; an error naming the first
 * character the layout cannot type (and its position), before anything
 * would be sent. */
GArray    *qvm_keymap_strokes_for_text (QvmKeymap    *keymap,
                                        const char   *text,
                                        GError      **error);

/* The QEMU key code (QKeyCode, as QMP names it) for @name, a QKeyCode of
 * QEMU 7.2 or one of a few common aliases ("enter", "space", "escape",
 * "control", "super"…); NULL if there is none. */
const char *qvm_key_code_for_name     (const char    *name);

/* Splits @chord ("ctrl-alt-delete", "shift-f10", "a") into the key codes
 * to hold together; an error names a part that is no key. */
GStrv      qvm_key_chord_parse        (const char    *chord,
                                       GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmKeymap, qvm_keymap_free)

G_END_DECLS
