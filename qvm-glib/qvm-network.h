/* qvm-network.h: the network a virtual machine is attached to
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "qvm-version-macros.h"

G_BEGIN_DECLS

#define QVM_TYPE_NETWORK (qvm_network_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (QvmNetwork, qvm_network, QVM, NETWORK, GObject)

/**
 * QvmNetworkInterface:
 * @g_iface: the parent interface
 * @get_netdev: returns the value of QEMU's `-netdev` option for this network,
 *   or %NULL with an error once the network is released
 * @set_handler: replaces the handler of the guest's requests to
 *   169.254.169.254:80
 * @release: stops serving the guest and frees the network's resources;
 *   must be idempotent
 *
 * The virtual methods of [iface@Qvm.Network].
 */
struct _QvmNetworkInterface
{
  GTypeInterface g_iface;

  char *(*get_netdev)  (QvmNetwork         *network,
                        const char         *id,
                        GError            **error);
  void  (*set_handler) (QvmNetwork         *network,
                        SoupServerCallback  callback,
                        gpointer            user_data,
                        GDestroyNotify      destroy);
  void  (*release)     (QvmNetwork         *network);

  /*< private >*/
  gpointer padding[8];
};

QVM_AVAILABLE_IN_ALL
char *qvm_network_get_netdev  (QvmNetwork         *network,
                               const char         *id,
                               GError            **error);
QVM_AVAILABLE_IN_ALL
void  qvm_network_set_handler (QvmNetwork         *network,
                               SoupServerCallback  callback,
                               gpointer            user_data,
                               GDestroyNotify      destroy);
QVM_AVAILABLE_IN_ALL
void  qvm_network_release     (QvmNetwork         *network);

G_END_DECLS
