/* qvm.h: the only header users of qvm-glib include
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define QVM_INSIDE

#include "qvm-version-macros.h"
#include "qvm-enum-types.h"
#include "qvm-error.h"
#include "qvm-machine-options.h"
#include "qvm-machine.h"
#include "qvm-network.h"
#include "qvm-user-network.h"
#include "qvm-qmp-client.h"
#include "qvm-image.h"
#include "qvm-mutable-image.h"
#include "qvm-image-store.h"
#include "qvm-folder-image.h"
#include "qvm-virtual-machine.h"
#include "qvm-console-stream.h"
#include "qvm-console.h"

#undef QVM_INSIDE
