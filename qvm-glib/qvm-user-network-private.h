/* qvm-user-network-private.h: internals of QvmUserNetwork, for its files
 * (qvm-user-network.c, qvm-user-network-limits.c) and the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <libsoup/soup.h>

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

/* The statuses the network answers by itself; libsoup 3.2 has no name for
 * 431 (RFC 6585). */
#define STATUS_BAD_REQUEST 400
#define STATUS_CONTENT_TOO_LARGE 413
#define STATUS_HEADER_FIELDS_TOO_LARGE 431

/* The addresses libsoup reports for guest requests: the metadata address the
 * guest connected to, and an unknown peer (slirp does not tell us). */
#define METADATA_ADDRESS "169.254.169.254"
#define METADATA_PORT 80
#define UNKNOWN_GUEST_ADDRESS "0.0.0.0"

/* The handler set by the caller; shared with requests running it, so that
 * replacing it from inside the handler destroys its data only afterwards. */
typedef struct {
  SoupServerCallback callback;
  gpointer user_data;
  GDestroyNotify destroy;
} Handler;

/* Shared with every connection's weak reference, which may outlive the
 * network (a paused message keeps libsoup's connection alive). */
typedef struct {
  gint n_open;
} ConnectionCount;

struct _QvmUserNetwork
{
  GObject parent_instance;

  char *folder;
  char *private_folder;
  int private_folder_lock; /* holds its owner mark: see qvm-owned-folder.c */
  char *socket_path;
  char *helper;

  GMainContext *context;
  SoupServer *server;
  GSocket *listener;
  GSource *accept_source;
  GSocketAddress *local_address;
  GSocketAddress *remote_address;
  GCancellable *cancellable;
  ConnectionCount *connections;

  Handler *handler;

  guint max_header_size;
  guint max_body_size;
  guint max_connections;
  guint idle_timeout;
  gboolean tokens_required;
  struct _QvmMetadataTokens *tokens;   /* the live tokens, while required */

  gboolean released;
  GError *init_error;       /* why constructed() could not set it up */
};

/* qvm-user-network-limits.c: the limits on a request, checked from
 * libsoup's "request-started" on (headers, Content-Length, Range, body). */
void      qvm_user_network_on_request_started (SoupServer        *server,
                                               SoupServerMessage *msg,
                                               gpointer           user_data);
/* After the handler: a plain Range fitted to the answer's body. */
void      qvm_user_network_fit_range_to_answer (SoupServerMessage *msg);

/* How many guest connections the network is serving right now. */
guint     qvm_user_network_get_n_connections  (QvmUserNetwork *self);

G_END_DECLS
