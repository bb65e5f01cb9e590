/* qvm-qmp-client-private.h: QvmQmpClient internals shared with the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qvm-qmp-client.h"

G_BEGIN_DECLS

/* The GError for a QMP error reply: the code maps @error_class (unknown
 * classes give QVM_QMP_ERROR_UNKNOWN, whose message names the class), the
 * message is @desc. */
GError *qvm_qmp_error_new_from_reply (const char *error_class,
                                      const char *desc);

/* How many commands wait for a reply (not counting cancelled ones). */
guint qvm_qmp_client_get_pending_count (QvmQmpClient *client);

G_END_DECLS
