/* qvm-network.c: the network a virtual machine is attached to
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-network.h"

/**
 * QvmNetwork:
 *
 * The network a virtual machine is attached to.
 *
 * A network gives QEMU the value of its `-netdev` option
 * ([method@Qvm.Network.get_netdev]) and serves the guest's requests to the
 * metadata address, `http://169.254.169.254/`, with a handler of the caller
 * ([method@Qvm.Network.set_handler]). Only the virtual machine that holds the
 * network's netdev can reach that handler, so a handler knows which guest is
 * asking. Each network serves one virtual machine.
 *
 * [class@Qvm.UserNetwork] is the unprivileged implementation.
 *
 * When the machine is done, [method@Qvm.Network.release] stops the service
 * and removes what the network created.
 */

G_DEFINE_INTERFACE (QvmNetwork, qvm_network, G_TYPE_OBJECT)

static void
qvm_network_default_init (QvmNetworkInterface *iface)
{
}

/**
 * qvm_network_get_netdev: (virtual get_netdev)
 * @network: a network
 * @id: the id QEMU shall give the network backend, for example `net0`: a
 *   letter followed by letters, digits, `-`, `.` or `_`
 * @error: return location for an error
 *
 * Returns the value of QEMU's `-netdev` option that attaches a virtual
 * machine to @network, with its id set to @id. The string is escaped for
 * QEMU's option syntax; pass it as one argument.
 *
 * Once the network is released this fails with %QVM_ERROR_INVALID_STATE.
 *
 * Returns: (transfer full): the `-netdev` value, or %NULL with @error set
 */
char *
qvm_network_get_netdev (QvmNetwork  *network,
                        const char  *id,
                        GError     **error)
{
  QvmNetworkInterface *iface;

  g_return_val_if_fail (QVM_IS_NETWORK (network), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = QVM_NETWORK_GET_IFACE (network);
  g_return_val_if_fail (iface->get_netdev != NULL, NULL);

  return iface->get_netdev (network, id, error);
}

/**
 * qvm_network_set_handler: (virtual set_handler)
 * @network: a network
 * @callback: (nullable) (scope notified) (closure user_data) (destroy destroy):
 *   the handler of every request the guest sends to 169.254.169.254:80, or
 *   %NULL to answer all of them with 404 Not Found
 * @user_data: data passed to @callback
 * @destroy: (nullable): called on @user_data once @callback is replaced or the
 *   network is released
 *
 * Replaces the handler of the guest's metadata requests. It is called like a
 * handler of [method@Soup.Server.add_handler] registered for every path: it
 * sets the status and response of the message, or pauses it with
 * [method@Soup.ServerMessage.pause] and answers later. The request body has
 * been read in full when it runs.
 *
 * The handler runs in the thread-default main context that was current when
 * @network was created. Requests that break the network's limits (see
 * [class@Qvm.UserNetwork]) are answered by the network and never reach it.
 *
 * After [method@Qvm.Network.release] the handler is dropped, and a new one is
 * destroyed at once.
 */
void
qvm_network_set_handler (QvmNetwork         *network,
                         SoupServerCallback  callback,
                         gpointer            user_data,
                         GDestroyNotify      destroy)
{
  QvmNetworkInterface *iface;

  g_return_if_fail (QVM_IS_NETWORK (network));

  iface = QVM_NETWORK_GET_IFACE (network);
  g_return_if_fail (iface->set_handler != NULL);

  iface->set_handler (network, callback, user_data, destroy);
}

/**
 * qvm_network_release: (virtual release)
 * @network: a network
 *
 * Stops serving the guest, drops the handler and removes what the network
 * created (sockets, folders). Requests in progress are cut off. Calling it
 * again does nothing.
 *
 * After it, [method@Qvm.Network.get_netdev] fails with
 * %QVM_ERROR_INVALID_STATE.
 */
void
qvm_network_release (QvmNetwork *network)
{
  QvmNetworkInterface *iface;

  g_return_if_fail (QVM_IS_NETWORK (network));

  iface = QVM_NETWORK_GET_IFACE (network);
  g_return_if_fail (iface->release != NULL);

  iface->release (network);
}

/**
 * qvm_network_take_netdev_fd: (virtual take_netdev_fd)
 * @network: a network
 * @error: return location for an error
 *
 * Hands over the file descriptor that the `-netdev` value of @network names
 * as %QVM_NETWORK_NETDEV_FD, for example an open TAP device or one end of a
 * socket pair whose other end the network serves. The virtual machine calls
 * this once per QEMU start, after [method@Qvm.Network.get_netdev], and passes
 * the descriptor to QEMU under that number.
 *
 * A network that needs no descriptor (the default) returns -1 and leaves
 * @error unset.
 *
 * Returns: a file descriptor the caller owns, or -1: with @error set on
 *   failure, unset when the network needs none
 */
int
qvm_network_take_netdev_fd (QvmNetwork  *network,
                            GError     **error)
{
  QvmNetworkInterface *iface;

  g_return_val_if_fail (QVM_IS_NETWORK (network), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  iface = QVM_NETWORK_GET_IFACE (network);
  if (iface->take_netdev_fd == NULL)
    return -1;

  return iface->take_netdev_fd (network, error);
}
