/* qvm-qmp-fd-private.h: QMP commands that pass a file descriptor (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Some QMP commands (add-fd, getfd) take a descriptor sent with SCM_RIGHTS
 * over the monitor socket. QEMU keeps the descriptors of the last message
 * that carried some and hands them to the next command that asks, so the
 * descriptor must travel with the bytes of that very command. The client
 * must have been made on a GSocketConnection of a unix socket.
 */

#pragma once

#include "qvm-coroutine-private.h"
#include "qvm-qmp-client.h"

G_BEGIN_DECLS

/* Like qvm_qmp_client_execute_async(), with @fd (duplicated: the caller
 * keeps its own) sent along with the command's first byte. Finish with
 * qvm_qmp_client_execute_finish(). Fails with G_IO_ERROR_NOT_SUPPORTED
 * when the client's stream is not a unix socket. */
void qvm_qmp_client_execute_with_fd_async (QvmQmpClient        *client,
                                           const char          *command,
                                           JsonObject          *arguments,
                                           int                  fd,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);

/* The two hooks in qvm-qmp-client.c behind it: attach a copy of @fd to the
 * first byte of the next command queued (G_IO_ERROR_BUSY while another
 * one waits), and drop it again when no command was queued after all. */
gboolean qvm_qmp_client_attach_fd        (QvmQmpClient  *client,
                                          int            fd,
                                          GError       **error);
void     qvm_qmp_client_detach_unsent_fd (QvmQmpClient  *client);

/* QEMU keeps the descriptors of the last message that carried some until a
 * command takes them, and with out-of-band mode on it reads on while earlier
 * commands wait: a second add-fd sent before the first one ran would swap
 * their descriptors. Whoever sends a descriptor holds this lock until the
 * command that takes it has answered (transfer none). */
QvmCoroutineMutex *qvm_qmp_client_get_fd_mutex (QvmQmpClient *client);

G_END_DECLS
