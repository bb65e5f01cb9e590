/* qmp-test-util.c: helpers shared by the QMP client tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "qmp-test-util.h"

void
qmp_test_wait_for (gboolean *flag)
{
  GMainContext *context = g_main_context_get_thread_default ();

  while (!*flag)
    g_main_context_iteration (context, TRUE);
}

void
qmp_test_drain (void)
{
  GMainContext *context = g_main_context_get_thread_default ();

  while (g_main_context_iteration (context, FALSE))
    ;
}

void
qmp_test_call_clear (QmpTestCall *call)
{
  g_clear_pointer (&call->result, json_node_unref);
  g_clear_error (&call->error);
  call->done = FALSE;
}

void
qmp_test_on_executed (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  QmpTestCall *call = data;

  g_assert_false (call->done);
  call->result = qvm_qmp_client_execute_finish (QVM_QMP_CLIENT (source), result, &call->error);
  g_assert_true ((call->result == NULL) != (call->error == NULL));
  if (call->recorder != NULL)
    call->events_seen = call->recorder->names->len;
  call->done = TRUE;
}

typedef struct {
  gboolean      done;
  QvmQmpClient *client;
  GError       *error;
} NewData;

static void
on_client_made (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  NewData *made = data;

  made->client = qvm_qmp_client_new_finish (result, &made->error);
  made->done = TRUE;
}

QvmQmpClient *
qmp_test_client_new (GIOStream *stream,
                     GError   **error)
{
  NewData made = { FALSE, NULL, NULL };

  qvm_qmp_client_new_async (stream, NULL, on_client_made, &made);
  qmp_test_wait_for (&made.done);
  if (made.error != NULL)
    g_propagate_error (error, made.error);
  return made.client;
}

JsonNode *
qmp_test_execute (QvmQmpClient *client,
                  const char   *command,
                  JsonObject   *arguments,
                  GError      **error)
{
  QmpTestCall call = { 0 };

  qvm_qmp_client_execute_async (client, command, arguments, NULL, qmp_test_on_executed, &call);
  qmp_test_wait_for (&call.done);
  if (call.error != NULL)
    g_propagate_error (error, call.error);
  return call.result;
}

static void
on_event (QvmQmpClient *client,
          const char   *name,
          JsonObject   *data,
          gint64        timestamp,
          gpointer      user_data)
{
  QmpTestRecorder *recorder = user_data;

  g_assert_false (recorder->closed);
  g_ptr_array_add (recorder->names, g_strdup (name));
  g_array_append_val (recorder->timestamps, timestamp);
}

static void
on_closed (QvmQmpClient *client,
           GError       *reason,
           gpointer      user_data)
{
  QmpTestRecorder *recorder = user_data;

  g_assert_true (qvm_qmp_client_is_closed (client));
  recorder->closed = TRUE;
  recorder->closed_count++;
  recorder->events_when_closed = recorder->names->len;
  g_clear_error (&recorder->closed_reason);
  if (reason != NULL)
    recorder->closed_reason = g_error_copy (reason);
}

void
qmp_test_recorder_attach (QmpTestRecorder *recorder,
                          QvmQmpClient    *client)
{
  recorder->client = g_object_ref (client);
  recorder->names = g_ptr_array_new_with_free_func (g_free);
  recorder->timestamps = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_signal_connect (client, "event", G_CALLBACK (on_event), recorder);
  g_signal_connect (client, "closed", G_CALLBACK (on_closed), recorder);
}

void
qmp_test_recorder_clear (QmpTestRecorder *recorder)
{
  if (recorder->client != NULL)
    g_signal_handlers_disconnect_by_data (recorder->client, recorder);
  g_clear_object (&recorder->client);
  g_clear_pointer (&recorder->names, g_ptr_array_unref);
  g_clear_pointer (&recorder->timestamps, g_array_unref);
  g_clear_error (&recorder->closed_reason);
}
