/* qvm-image-private.h: what the image classes share (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "qvm-archive-private.h"
#include "qvm-machine.h"

G_BEGIN_DECLS

/* Reads the image archive @source and extracts it into @folder, which must
 * not exist, within @limits (see qvm_archive_extract()); machine.json is
 * validated as QvmMachine does. Returns the machine (transfer full), or
 * NULL with @error set, and then no @folder. Blocks. */
QvmMachine *qvm_image_extract_archive (GFile                  *source,
                                       const char             *folder,
                                       const QvmArchiveLimits *limits,
                                       GCancellable           *cancellable,
                                       GError                **error);

G_END_DECLS
