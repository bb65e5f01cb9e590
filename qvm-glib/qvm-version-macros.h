/* qvm-version-macros.h: symbol visibility and availability annotations
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <glib.h>

#ifndef _QVM_EXTERN
# define _QVM_EXTERN __attribute__((visibility ("default"))) extern
#endif

/* Every public symbol carries one of these, so the shared library exports
 * exactly the documented API (it is built with -fvisibility=hidden). */
#define QVM_AVAILABLE_IN_ALL _QVM_EXTERN
#define QVM_AVAILABLE_IN_0_1 _QVM_EXTERN
