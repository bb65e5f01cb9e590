/* qvm-qmp-fd.c: QMP commands that pass a file descriptor
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-fd-private.h"
#include "qvm-qmp-io-private.h"

void
qvm_qmp_client_execute_with_fd_async (QvmQmpClient        *client,
                                      const char          *command,
                                      JsonObject          *arguments,
                                      int                  fd,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (QVM_IS_QMP_CLIENT (client));
  g_return_if_fail (command != NULL);
  g_return_if_fail (fd >= 0);

  if (!qvm_qmp_client_attach_fd (client, fd, &error))
    {
      /* Reported the way execute_async() reports, so one _finish() fits. */
      g_autoptr(GTask) task = g_task_new (client, cancellable, callback, user_data);

      g_task_set_source_tag (task, qvm_qmp_client_execute_async);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The command's bytes are the next ones queued: the descriptor travels
   * with its first byte. */
  qvm_qmp_client_execute_async (client, command, arguments, cancellable, callback, user_data);
  qvm_qmp_client_detach_unsent_fd (client);
}

gboolean
qvm_qmp_client_attach_fd (QvmQmpClient  *client,
                          int            fd,
                          GError       **error)
{
  QvmQmpIo *io = client->io;
  int copy;

  if (io == NULL || io->socket == NULL ||
      g_socket_get_family (io->socket) != G_SOCKET_FAMILY_UNIX)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("Descriptors can only be passed over a unix socket"));
      return FALSE;
    }
  if (io->fd >= 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           _("Another descriptor is waiting to be sent to QEMU"));
      return FALSE;
    }

  copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s", g_strerror (saved_errno));
      return FALSE;
    }

  io->fd = copy;
  io->fd_offset = io->out->len;
  return TRUE;
}

QvmCoroutineMutex *
qvm_qmp_client_get_fd_mutex (QvmQmpClient *client)
{
  return &client->fd_mutex;
}

void
qvm_qmp_client_detach_unsent_fd (QvmQmpClient *client)
{
  QvmQmpIo *io = client->io;

  /* Still waiting with no command after it: the command was not queued. */
  if (io != NULL && io->fd >= 0 && io->fd_offset >= io->out->len)
    {
      close (io->fd);
      io->fd = -1;
    }
}

