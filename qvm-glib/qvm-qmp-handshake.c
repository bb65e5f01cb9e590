/* qvm-qmp-handshake.c: a QvmQmpClient comes to be
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The greeting QEMU sends, qmp_capabilities, bounded by the client's
 * timeout (a QEMU that never greets cannot hang a start), as the
 * GAsyncInitable of the class; the constructors on a stream and on a
 * socket path.
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-coroutine-gio-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-fd-private.h"
#include "qvm-qmp-io-private.h"

static QvmQmpMessage *
read_greeting (QvmQmpClient  *self,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autofree char *buffer = g_malloc (READ_CHUNK_SIZE);

  while (g_queue_is_empty (&self->parsed))
    {
      gssize n = qvm_qmp_io_read (self->io, buffer, READ_CHUNK_SIZE, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        {
          g_set_error_literal (error, QVM_ERROR, QVM_ERROR_CLOSED,
                               _("The QMP connection was closed before QEMU’s greeting"));
          return NULL;
        }
      if (!qvm_qmp_parser_feed (self->parser, buffer, n, &self->parsed, error))
        return NULL;
    }

  return g_queue_pop_head (&self->parsed);
}

static gboolean
store_greeting (QvmQmpClient   *self,
                QvmQmpMessage  *greeting,
                GError        **error)
{
  guint n_capabilities;

  if (greeting->kind != QVM_QMP_MESSAGE_GREETING)
    {
      g_autofree char *text = json_to_string (greeting->root, FALSE);
      g_autofree char *excerpt = qvm_qmp_excerpt (text, strlen (text));

      /* Translators: %s is an excerpt of the message. */
      g_set_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL,
                   _("Expected the QMP greeting, got %s"), excerpt);
      return FALSE;
    }

  self->qemu_version = g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                                        greeting->version_major, greeting->version_minor,
                                        greeting->version_micro);
  self->qemu_package = g_strdup (greeting->package);
  n_capabilities = json_array_get_length (greeting->capabilities);
  self->capabilities = g_new0 (char *, n_capabilities + 1);
  for (guint i = 0; i < n_capabilities; i++)
    self->capabilities[i] = g_strdup (json_array_get_string_element (greeting->capabilities, i));
  return TRUE;
}

static gboolean
negotiate_capabilities (QvmQmpClient  *self,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) enable = json_array_new ();
  g_autoptr(JsonNode) reply = NULL;

  /* Out-of-band execution only changes something for commands sent with
   * "exec-oob", which this client does not; enabling it is what QEMU's
   * documentation asks clients that understand it to do. */
  if (g_strv_contains ((const char * const *) self->capabilities, "oob"))
    json_array_add_string_element (enable, "oob");
  json_object_set_array_member (arguments, "enable", g_steal_pointer (&enable));

  reply = qvm_qmp_client_await_execute (self, "qmp_capabilities", arguments, cancellable, error);
  return reply != NULL;
}

static void
chain_cancel (GCancellable *cancellable,
              gpointer      data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static gboolean
on_handshake_timeout (gpointer data)
{
  QvmQmpClient *self = data;

  self->handshake_timed_out = TRUE;
  g_cancellable_cancel (self->handshake_cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
handshake (QvmQmpClient  *self,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(QvmQmpMessage) greeting = NULL;

  greeting = read_greeting (self, cancellable, error);
  if (greeting == NULL || !store_greeting (self, greeting, error))
    return FALSE;

  self->io->reader_started = TRUE;
  qvm_coroutine_enter (self->io->reader);
  if (self->state == CLIENT_STATE_CLOSED)
    {
      g_propagate_error (error, qvm_qmp_client_closed_error (self));
      return FALSE;
    }

  return negotiate_capabilities (self, cancellable, error);
}

static void
init_co (GTask        *task,
         gpointer      source_object,
         gpointer      task_data,
         GCancellable *cancellable)
{
  QvmQmpClient *self = source_object;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) timeout_source = NULL;
  gulong cancel_handler = 0;
  gboolean ok;

  /* One cancellable for the whole handshake, cancelled by the caller's,
   * by the timeout, or by close(). */
  self->handshake_cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (chain_cancel),
                                            self->handshake_cancellable, NULL);
  if (self->timeout_ms != 0)
    {
      timeout_source = g_timeout_source_new (self->timeout_ms);
      g_source_set_callback (timeout_source, on_handshake_timeout, self, NULL);
      g_source_set_static_name (timeout_source, "[qvm] QMP handshake timeout");
      g_source_attach (timeout_source, self->context);
    }

  ok = handshake (self, self->handshake_cancellable, &error);

  if (timeout_source != NULL)
    g_source_destroy (timeout_source);
  if (cancel_handler != 0)
    g_cancellable_disconnect (cancellable, cancel_handler);

  if (!ok && self->handshake_timed_out)
    {
      g_clear_error (&error);
      /* Translators: %u is a number of milliseconds. */
      error = g_error_new (QVM_ERROR, QVM_ERROR_TIMED_OUT,
                           _("The QMP handshake did not complete within %u ms"), self->timeout_ms);
    }
  else if (!ok && self->state == CLIENT_STATE_CLOSED &&
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           (cancellable == NULL || !g_cancellable_is_cancelled (cancellable)))
    {
      /* Closed while the handshake waited. */
      g_clear_error (&error);
      error = qvm_qmp_client_closed_error (self);
    }
  g_clear_object (&self->handshake_cancellable);

  if (!ok)
    {
      qvm_qmp_client_shut_down (self, NULL, g_error_copy (error), FALSE);
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->state = CLIENT_STATE_READY;
  qvm_task_return_boolean (task, TRUE);
}

static void
qvm_qmp_client_init_async (GAsyncInitable      *initable,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  QvmQmpClient *self = QVM_QMP_CLIENT (initable);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, qvm_qmp_client_init_async);
  g_task_set_name (task, "[qvm] QMP handshake");

  if (self->state != CLIENT_STATE_NEW)
    {
      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               _("The QMP client was already initialized"));
      return;
    }
  if (self->stream == NULL)
    {
      g_task_return_new_error (task, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                               _("The QMP client has no stream"));
      return;
    }

  self->state = CLIENT_STATE_HANDSHAKE;
  self->context = g_main_context_ref_thread_default ();
  self->io = qvm_qmp_io_new (self->stream);
  self->io->client = self;
  /* Created here, on the caller's stack, so they are bound to its context. */
  self->io->reader = qvm_coroutine_new (qvm_qmp_reader_co, qvm_qmp_io_ref (self->io), 0);
  self->io->writer = qvm_coroutine_new (qvm_qmp_writer_co, qvm_qmp_io_ref (self->io), 0);

  qvm_coroutine_run_task (task, init_co);
}

static gboolean
qvm_qmp_client_init_finish (GAsyncInitable  *initable,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, initable), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_qmp_client_init_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
qvm_qmp_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = qvm_qmp_client_init_async;
  iface->init_finish = qvm_qmp_client_init_finish;
}

/* ---- Construction ----------------------------------------------------- */

/**
 * qvm_qmp_client_new_async:
 * @stream: a stream connected to a QMP monitor, e.g. a
 *   #GSocketConnection on one end of a socket pair whose other end QEMU
 *   has as `-chardev socket,fd=N`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (nullable): called when the client is ready
 * @user_data: data for @callback
 *
 * Makes a QMP client on @stream: reads QEMU's greeting, then negotiates
 * capabilities (enabling `oob` when QEMU offers it). The client owns
 * @stream from now on and closes it when it closes.
 *
 * The client's callbacks and signals run in the thread-default main context
 * of the caller. To bound the handshake in time, make the client with
 * g_async_initable_new_async() and set [property@Qvm.QmpClient:timeout].
 */
void
qvm_qmp_client_new_async (GIOStream           *stream,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (G_IS_IO_STREAM (stream));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_async_initable_new_async (QVM_TYPE_QMP_CLIENT, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data, "stream", stream, NULL);
}

/**
 * qvm_qmp_client_new_finish:
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Qvm.QmpClient.new_async].
 *
 * Returns: (transfer full): the ready client, or %NULL on error
 */
QvmQmpClient *
qvm_qmp_client_new_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (result);
  GObject *object;

  g_return_val_if_fail (G_IS_ASYNC_INITABLE (source), NULL);

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
  return object != NULL ? QVM_QMP_CLIENT (object) : NULL;
}

/**
 * qvm_qmp_client_new_sync:
 * @stream: a stream connected to a QMP monitor
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [func@Qvm.QmpClient.new_async], for scripts. Its
 * name ends in `_sync` like [func@Qvm.QmpClient.connect_sync] and GIO's
 * blocking constructors (g_dbus_connection_new_sync()).
 *
 * The client gets a private main context of its own, which only the
 * blocking calls ([method@Qvm.QmpClient.execute],
 * [method@Qvm.QmpClient.close]) iterate: the client's signals, and the
 * callbacks of asynchronous calls made on it, are dispatched while one of
 * them runs, and at no other time. Use [func@Qvm.QmpClient.new_async] for
 * a client that lives in an application's main loop.
 *
 * Returns: (transfer full): the ready client, or %NULL on error
 */
QvmQmpClient *
qvm_qmp_client_new_sync (GIOStream     *stream,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  SyncData sync = { NULL };

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (qvm_coroutine_self () == NULL, NULL);

  g_main_context_push_thread_default (context);
  qvm_qmp_client_new_async (stream, cancellable, qvm_qmp_on_sync_done, &sync);
  qvm_qmp_run_until_done (context, &sync);
  g_main_context_pop_thread_default (context);

  result = sync.result;
  return qvm_qmp_client_new_finish (result, error);
}

static void
connect_co (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  QvmQmpClient *client;

  connection = qvm_await_socket_client_connect (socket_client, G_SOCKET_CONNECTABLE (address),
                                                cancellable, &error);
  if (connection == NULL)
    {
      /* Translators: the first %s is a file name, the second the reason. */
      g_prefix_error (&error, _("Could not connect to the QMP socket “%s”: "), path);
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  client = qvm_qmp_client_await_new (G_IO_STREAM (connection), 0, cancellable, &error);
  if (client == NULL)
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  qvm_task_return_pointer (task, client, g_object_unref);
}

/**
 * qvm_qmp_client_connect_async:
 * @socket_path: the file name of QEMU's QMP socket (a unix socket)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (nullable): called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to the QMP monitor listening on @socket_path, e.g. QEMU's
 * `-chardev socket,id=qmp,path=…,server=on,wait=off` with
 * `-mon chardev=qmp,mode=control`, and makes a client on the connection as
 * [func@Qvm.QmpClient.new_async] does.
 */
void
qvm_qmp_client_connect_async (const char          *socket_path,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (socket_path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_qmp_client_connect_async);
  g_task_set_name (task, "[qvm] QMP connect");
  g_task_set_task_data (task, g_strdup (socket_path), g_free);
  qvm_coroutine_run_task (task, connect_co);
}

/**
 * qvm_qmp_client_connect_finish:
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Qvm.QmpClient.connect_async].
 *
 * Returns: (transfer full): the ready client, or %NULL on error
 */
QvmQmpClient *
qvm_qmp_client_connect_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_qmp_client_connect_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * qvm_qmp_client_connect_sync:
 * @socket_path: the file name of QEMU's QMP socket (a unix socket)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [func@Qvm.QmpClient.connect_async], for scripts;
 * like [ctor@Qvm.QmpClient.new_sync], the client gets a private main context.
 * (It is not called `connect`, which would hide g_signal_connect() in
 * Python.)
 *
 * Returns: (transfer full): the ready client, or %NULL on error
 */
QvmQmpClient *
qvm_qmp_client_connect_sync (const char    *socket_path,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  SyncData sync = { NULL };

  g_return_val_if_fail (socket_path != NULL, NULL);
  g_return_val_if_fail (qvm_coroutine_self () == NULL, NULL);

  g_main_context_push_thread_default (context);
  qvm_qmp_client_connect_async (socket_path, cancellable, qvm_qmp_on_sync_done, &sync);
  qvm_qmp_run_until_done (context, &sync);
  g_main_context_pop_thread_default (context);

  result = sync.result;
  return qvm_qmp_client_connect_finish (result, error);
}

