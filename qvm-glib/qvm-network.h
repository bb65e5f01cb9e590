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
 * QVM_NETWORK_NETDEV_FD:
 *
 * The file descriptor number, in QEMU's process, of the descriptor that
 * [method@Qvm.Network.take_netdev_fd] hands over. A network whose `-netdev`
 * value names a descriptor (`fd=5`) names this one.
 */
#define QVM_NETWORK_NETDEV_FD 5

/**
 * QvmNetworkInterface:
 * @g_iface: the parent interface
 * @get_netdev: returns the value of QEMU's `-netdev` option for this network,
 *   or %NULL with an error once the network is released
 * @set_handler: replaces the handler of the guest's requests to
 *   169.254.169.254:80
 * @release: stops serving the guest and frees the network's resources;
 *   must be idempotent
 * @take_netdev_fd: optional; hands over the file descriptor that the
 *   `-netdev` value names as fd %QVM_NETWORK_NETDEV_FD (a TAP device, or a
 *   socket the library serves the guest's network on), or -1 when the
 *   network needs none
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
  int   (*take_netdev_fd) (QvmNetwork      *network,
                           GError         **error);

  /*< private >*/
  gpointer padding[7];
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
QVM_AVAILABLE_IN_ALL
int   qvm_network_take_netdev_fd (QvmNetwork      *network,
                                  GError         **error);

G_END_DECLS
