/* qvm-user-network-private.h: internals of QvmUserNetwork for the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qvm-user-network.h"

G_BEGIN_DECLS

/* The file name of the unix socket inside the network's private folder. */
#define QVM_USER_NETWORK_SOCKET_NAME "metadata.sock"

/* Whether QEMU accepts @id as the id of a netdev. */
gboolean  qvm_netdev_id_is_valid              (const char     *id);

/* The -netdev value for a user-mode network whose metadata connections run
 * @helper with @socket_path as its argument; a pure function of its input. */
char     *qvm_user_network_build_netdev       (const char     *id,
                                               const char     *helper,
                                               const char     *socket_path);

/* The helper program QEMU runs per metadata connection: $QVM_GUESTFWD, else
 * the installed one. */
char     *qvm_user_network_find_helper        (void);

/* How many guest connections the network is serving right now. */
guint     qvm_user_network_get_n_connections  (QvmUserNetwork *self);

G_END_DECLS
