/* qvm-image-store-private.h: what the tests see of the image store
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qvm-image-store.h"

G_BEGIN_DECLS

/* How many times the store started loading an archive. */
guint qvm_image_store_get_n_loads (QvmImageStore *store);

G_END_DECLS
