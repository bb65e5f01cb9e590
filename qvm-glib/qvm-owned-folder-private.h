/* qvm-owned-folder-private.h: private folders that a dead owner's
 * successor can recognise and remove
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The file in every owned folder whose lock says its owner is alive. */
#define QVM_OWNED_FOLDER_MARK ".qvm-owner"

/* Makes a new folder `@parent/@prefix` + 6 random characters, mode 0700,
 * holding QVM_OWNED_FOLDER_MARK locked (flock) on a descriptor stored in
 * @lock_fd. The lock lasts as long as the descriptor: close it (or die)
 * and the folder becomes a leftover that qvm_owned_folder_sweep() removes.
 * Returns the folder's path. */
char  *qvm_owned_folder_make  (const char  *parent,
                               const char  *prefix,
                               int         *lock_fd,
                               GError     **error);

/* Removes every folder `@parent/@prefix??????` of this user whose mark is
 * not locked: what an owner that died without cleaning up left. Folders
 * without a mark are never touched. Problems are logged, not returned:
 * a leftover that cannot be removed must not stop a new owner. Returns
 * how many folders were removed. */
guint  qvm_owned_folder_sweep (const char  *parent,
                               const char  *prefix);

G_END_DECLS
