/* qvm-qmp-await.c: typed awaits of the QMP client, for coroutine code
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The VM's life cycle talks to QEMU from coroutines; these turn the
 * client's _async/_finish pairs into calls that read top to bottom
 * (qvm-coroutine-gio-private.h explains the pattern).
 */

#include "config.h"

#include "qvm-coroutine-gio-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-fd-private.h"

typedef struct {
  GIOStream    *stream;
  guint         timeout_ms;
  GCancellable *cancellable;
} NewCall;

static void
new_begin (gpointer            data,
           GAsyncReadyCallback callback,
           gpointer            callback_data)
{
  NewCall *call = data;

  g_async_initable_new_async (QVM_TYPE_QMP_CLIENT, G_PRIORITY_DEFAULT, call->cancellable,
                              callback, callback_data,
                              "stream", call->stream, "timeout", call->timeout_ms, NULL);
}

QvmQmpClient *
qvm_qmp_client_await_new (GIOStream     *stream,
                          guint          timeout_ms,
                          GCancellable  *cancellable,
                          GError       **error)
{
  NewCall call = { stream, timeout_ms, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  result = qvm_coroutine_await (new_begin, &call);
  return qvm_qmp_client_new_finish (result, error);
}

typedef struct {
  QvmQmpClient *client;
  const char   *command;
  JsonObject   *arguments;
  GCancellable *cancellable;
} ExecuteCall;

static void
execute_begin (gpointer            data,
               GAsyncReadyCallback callback,
               gpointer            callback_data)
{
  ExecuteCall *call = data;

  qvm_qmp_client_execute_async (call->client, call->command, call->arguments,
                                call->cancellable, callback, callback_data);
}

JsonNode *
qvm_qmp_client_await_execute (QvmQmpClient  *client,
                              const char    *command,
                              JsonObject    *arguments,
                              GCancellable  *cancellable,
                              GError       **error)
{
  ExecuteCall call = { client, command, arguments, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);
  g_return_val_if_fail (command != NULL, NULL);

  result = qvm_coroutine_await (execute_begin, &call);
  return qvm_qmp_client_execute_finish (client, result, error);
}

QVM_DEFINE_AWAIT (qvm_qmp_client_await_close, QvmQmpClient, gboolean,
                  qvm_qmp_client_close_async, qvm_qmp_client_close_finish)

/* ---- Batches -------------------------------------------------------------- */

typedef struct {
  QvmQmpClient       *client;
  QvmQmpBatchCommand *commands;
  guint               n_commands;
  GCancellable       *cancellable;
  GTask              *all_answered;   /* completes once every command answered */
  guint               pending;
} Batch;

typedef struct {
  Batch              *batch;
  QvmQmpBatchCommand *command;
} BatchItem;

static void
batch_item_answered (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  BatchItem *item = data;
  Batch *batch = item->batch;

  item->command->answer = qvm_qmp_client_execute_finish (QVM_QMP_CLIENT (source), result,
                                                         &item->command->error);
  g_free (item);
  if (--batch->pending == 0)
    {
      g_autoptr(GTask) task = g_steal_pointer (&batch->all_answered);
      g_task_return_boolean (task, TRUE);
    }
}

static void
batch_begin (gpointer            data,
             GAsyncReadyCallback callback,
             gpointer            callback_data)
{
  Batch *batch = data;

  batch->all_answered = g_task_new (NULL, NULL, callback, callback_data);
  batch->pending = batch->n_commands;

  for (guint i = 0; i < batch->n_commands; i++)
    {
      QvmQmpBatchCommand *command = &batch->commands[i];
      GCancellable *cancellable = command->always ? NULL : batch->cancellable;
      BatchItem *item = g_new (BatchItem, 1);

      item->batch = batch;
      item->command = command;
      if (command->fd >= 0)
        qvm_qmp_client_execute_with_fd_async (batch->client, command->command,
                                              command->arguments, command->fd, cancellable,
                                              batch_item_answered, item);
      else
        qvm_qmp_client_execute_async (batch->client, command->command, command->arguments,
                                      cancellable, batch_item_answered, item);
    }
}

gboolean
qvm_qmp_client_await_batch (QvmQmpClient       *client,
                            QvmQmpBatchCommand *commands,
                            guint               n_commands,
                            GCancellable       *cancellable)
{
  Batch batch = { client, commands, n_commands, cancellable, NULL, 0 };
  g_autoptr(GAsyncResult) result = NULL;
  gboolean passes_fd = FALSE;
  gboolean all_ok = TRUE;

  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), FALSE);
  g_return_val_if_fail (commands != NULL && n_commands > 0, FALSE);

  for (guint i = 0; i < n_commands; i++)
    {
      g_return_val_if_fail (commands[i].command != NULL, FALSE);
      g_return_val_if_fail (commands[i].answer == NULL && commands[i].error == NULL, FALSE);
      g_return_val_if_fail (!(passes_fd && commands[i].fd >= 0), FALSE);
      passes_fd = passes_fd || commands[i].fd >= 0;
    }

  if (passes_fd)
    qvm_coroutine_mutex_lock (qvm_qmp_client_get_fd_mutex (client));
  result = qvm_coroutine_await (batch_begin, &batch);
  if (passes_fd)
    qvm_coroutine_mutex_unlock (qvm_qmp_client_get_fd_mutex (client));

  for (guint i = 0; i < n_commands; i++)
    all_ok = all_ok && commands[i].error == NULL;
  return all_ok;
}

void
qvm_qmp_batch_command_clear (QvmQmpBatchCommand *command)
{
  g_return_if_fail (command != NULL);

  g_clear_pointer (&command->answer, json_node_unref);
  g_clear_error (&command->error);
}
