/* qvm-qmp-calls.c: QvmQmpClient's commands, from sending to their answer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * execute_async() queues a command and leaves it in the client's table of
 * calls, keyed by the command's id; the call ends with the reply matched
 * to it here (an error reply becomes a QVM_QMP_ERROR), its cancellation,
 * its timeout, or the end of the connection (qvm_qmp_client_shut_down()).
 * The blocking execute() and the helpers of every blocking call are here
 * too.
 */

#include "config.h"

#include <string.h>

#include "qvm-coroutine-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-io-private.h"

static const struct {
  const char *name;
  QvmQmpError code;
} error_classes[] = {
  { "GenericError", QVM_QMP_ERROR_GENERIC_ERROR },
  { "CommandNotFound", QVM_QMP_ERROR_COMMAND_NOT_FOUND },
  { "DeviceNotFound", QVM_QMP_ERROR_DEVICE_NOT_FOUND },
  { "DeviceNotActive", QVM_QMP_ERROR_DEVICE_NOT_ACTIVE },
  { "KVMMissingCap", QVM_QMP_ERROR_KVM_MISSING_CAP },
};

GError *
qvm_qmp_error_new_from_reply (const char *error_class,
                              const char *desc)
{
  for (gsize i = 0; i < G_N_ELEMENTS (error_classes); i++)
    if (g_str_equal (error_classes[i].name, error_class))
      return g_error_new_literal (QVM_QMP_ERROR, error_classes[i].code, desc);

  /* Translators: the first %s is QEMU's description of an error, the
   * second the name of its QMP error class. */
  return g_error_new (QVM_QMP_ERROR, QVM_QMP_ERROR_UNKNOWN,
                      _("%s (QMP error class %s)"), desc, error_class);
}

void
qvm_qmp_call_free (gpointer data)
{
  QvmQmpCall *call = data;

  if (call->cancel_source != NULL)
    {
      g_source_destroy (call->cancel_source);
      g_source_unref (call->cancel_source);
    }
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_source_unref (call->timeout_source);
    }
  g_free (call->command);
  g_object_unref (call->task);
  g_free (call);
}

gboolean
qvm_qmp_client_dispatch_reply (QvmQmpClient   *self,
                               QvmQmpMessage  *message,
                               GError        **error)
{
  QvmQmpCall *call;
  gint64 id;

  if (message->id == NULL)
    {
      /* QEMU answers without an id only when it could not read a command,
       * which means we sent it something broken. */
      /* Translators: %s is QEMU's error message, or "{}". */
      g_set_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL, _("QEMU sent a reply without an id: %s"),
                   message->kind == QVM_QMP_MESSAGE_ERROR ? message->error_desc : "{}");
      return FALSE;
    }

  id = JSON_NODE_HOLDS_VALUE (message->id) && json_node_get_value_type (message->id) == G_TYPE_INT64
       ? json_node_get_int (message->id) : 0;
  if (id <= 0 || (guint64) id >= self->next_id)
    {
      g_autofree char *text = json_to_string (message->id, FALSE);
      g_autofree char *excerpt = qvm_qmp_excerpt (text, strlen (text));

      /* Translators: %s is the id QEMU sent. */
      g_set_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL,
                   _("QEMU sent a reply to a command that was never sent (id %s)"), excerpt);
      return FALSE;
    }

  call = g_hash_table_lookup (self->calls, &id);
  if (call == NULL)
    {
      /* Cancelled or timed out: its caller has had its answer. */
      g_debug ("Dropped the late QMP reply to command %" G_GINT64_FORMAT, id);
      return TRUE;
    }

  g_hash_table_steal (self->calls, &id);
  if (message->kind == QVM_QMP_MESSAGE_RETURN)
    qvm_task_return_pointer (call->task, json_node_copy (message->value),
                             (GDestroyNotify) json_node_unref);
  else
    qvm_task_return_error (call->task,
                           qvm_qmp_error_new_from_reply (message->error_class, message->error_desc));
  qvm_qmp_call_free (call);
  return TRUE;
}

/* ---- Commands --------------------------------------------------------- */

static gboolean
on_call_cancelled (GCancellable *cancellable,
                   gpointer      data)
{
  QvmQmpCall *call = data;
  QvmQmpClient *self = call->client;
  GError *error = NULL;

  g_hash_table_steal (self->calls, &call->id);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (call->task, error);
  qvm_qmp_call_free (call);
  return G_SOURCE_REMOVE;
}

static gboolean
on_call_timed_out (gpointer data)
{
  QvmQmpCall *call = data;
  QvmQmpClient *self = call->client;

  g_hash_table_steal (self->calls, &call->id);
  /* Translators: %s is a QMP command, %u a number of milliseconds. */
  g_task_return_new_error (call->task, QVM_ERROR, QVM_ERROR_TIMED_OUT,
                           _("QEMU did not answer the QMP command “%s” within %u ms"),
                           call->command, self->timeout_ms);
  qvm_qmp_call_free (call);
  return G_SOURCE_REMOVE;
}

/**
 * qvm_qmp_client_execute_async:
 * @client: a #QvmQmpClient
 * @command: the QMP command, e.g. `query-status`
 * @arguments: (nullable): the command's arguments
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (nullable): called with the reply
 * @user_data: data for @callback
 *
 * Sends @command to QEMU. Any number of commands may be in flight; each
 * reply is matched to its command by id.
 *
 * Cancelling @cancellable completes the call at once with
 * %G_IO_ERROR_CANCELLED (QEMU still runs the command; its reply is
 * dropped). When [property@Qvm.QmpClient:timeout] is not 0 and QEMU does
 * not answer in time, the call fails with %QVM_ERROR_TIMED_OUT. When the
 * connection ends first, it fails with %QVM_ERROR_CLOSED (or
 * %QVM_ERROR_PROTOCOL when QEMU broke the protocol); on a closed client it
 * fails at once.
 *
 * Events QEMU sends before the reply are emitted as
 * [signal@Qvm.QmpClient::event] before @callback runs.
 */
void
qvm_qmp_client_execute_async (QvmQmpClient        *client,
                              const char          *command,
                              JsonObject          *arguments,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *text = NULL;
  QvmQmpCall *call;
  gsize length;

  g_return_if_fail (QVM_IS_QMP_CLIENT (client));
  g_return_if_fail (command != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_qmp_client_execute_async);
  g_task_set_name (task, "[qvm] QMP execute");

  if (client->state == CLIENT_STATE_NEW)
    {
      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               _("The QMP client is not initialized"));
      return;
    }
  if (client->state == CLIENT_STATE_CLOSED || client->io->write_error != NULL)
    {
      g_task_return_error (task, qvm_qmp_client_closed_error (client));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  call = g_new0 (QvmQmpCall, 1);
  call->client = client;
  call->id = client->next_id++;
  call->command = g_strdup (command);
  call->task = g_steal_pointer (&task);
  g_hash_table_insert (client->calls, &call->id, call);

  if (cancellable != NULL)
    {
      call->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (call->cancel_source, G_SOURCE_FUNC (on_call_cancelled), call, NULL);
      g_source_set_static_name (call->cancel_source, "[qvm] QMP call cancelled");
      g_source_attach (call->cancel_source, client->context);
    }
  if (client->timeout_ms != 0)
    {
      call->timeout_source = g_timeout_source_new (client->timeout_ms);
      g_source_set_callback (call->timeout_source, on_call_timed_out, call, NULL);
      g_source_set_static_name (call->timeout_source, "[qvm] QMP call timeout");
      g_source_attach (call->timeout_source, client->context);
    }

  text = qvm_qmp_build_command (command, arguments, call->id, &length);
  g_byte_array_append (client->io->out, (const guint8 *) text, length);
  qvm_qmp_io_kick_writer (client->io);
}

/**
 * qvm_qmp_client_execute_finish:
 * @client: a #QvmQmpClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.QmpClient.execute_async]. A QMP error reply is a
 * %QVM_QMP_ERROR whose message is QEMU's description.
 *
 * Returns: (transfer full): the `return` member of QEMU's reply (often an
 *   empty object), or %NULL on error
 */
JsonNode *
qvm_qmp_client_execute_finish (QvmQmpClient  *client,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_qmp_client_execute_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The blocking variants: start the asynchronous operation, then iterate
 * @context until it completes. */
void
qvm_qmp_on_sync_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  SyncData *sync = data;

  sync->result = g_object_ref (result);
}

void
qvm_qmp_run_until_done (GMainContext *context,
                        SyncData     *sync)
{
  while (sync->result == NULL)
    g_main_context_iteration (context, TRUE);
}

gboolean
qvm_qmp_client_acquire_context (QvmQmpClient  *client,
                                GError       **error)
{
  if (!g_main_context_acquire (client->context))
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                           _("The QMP client’s main context belongs to another thread"));
      return FALSE;
    }
  g_main_context_push_thread_default (client->context);
  return TRUE;
}

void
qvm_qmp_client_release_context (QvmQmpClient *client)
{
  g_main_context_pop_thread_default (client->context);
  g_main_context_release (client->context);
}

/**
 * qvm_qmp_client_execute:
 * @client: a #QvmQmpClient
 * @command: the QMP command, e.g. `query-status`
 * @arguments: (nullable): the command's arguments
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.QmpClient.execute_async], for scripts.
 * It iterates the client's main context until the reply arrives, so the
 * client's signals (and, for a client made with [ctor@Qvm.QmpClient.new_sync] or
 * [func@Qvm.QmpClient.connect_sync], only those) are emitted meanwhile. For
 * a client made with the asynchronous constructors in an application's main
 * context, other sources of that context run too: prefer the asynchronous
 * form there. Not to be called from a coroutine.
 *
 * Returns: (transfer full): the `return` member of QEMU's reply, or %NULL
 *   on error
 */
JsonNode *
qvm_qmp_client_execute (QvmQmpClient  *client,
                        const char    *command,
                        JsonObject    *arguments,
                        GCancellable  *cancellable,
                        GError       **error)
{
  SyncData sync = { NULL };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);
  g_return_val_if_fail (command != NULL, NULL);
  g_return_val_if_fail (qvm_coroutine_self () == NULL, NULL);

  if (client->context == NULL)
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                           _("The QMP client is not initialized"));
      return NULL;
    }
  if (!qvm_qmp_client_acquire_context (client, error))
    return NULL;
  qvm_qmp_client_execute_async (client, command, arguments, cancellable, qvm_qmp_on_sync_done, &sync);
  qvm_qmp_run_until_done (client->context, &sync);
  qvm_qmp_client_release_context (client);

  result = sync.result;
  return qvm_qmp_client_execute_finish (client, result, error);
}
