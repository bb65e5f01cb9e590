/* qvm-qmp-fd.c: QMP commands that pass a file descriptor
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "qvm-qmp-fd-private.h"

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
