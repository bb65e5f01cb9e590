/* qvm-qmp-client.c: a QEMU Machine Protocol client
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two coroutines per connection do the I/O: a reader that parses what QEMU
 * sends (qvm-qmp-parser.c) and dispatches replies and events, and a writer
 * that only runs when the socket is full. execute_async() needs no
 * coroutine of its own: it queues its command (writing it at once when the
 * socket takes it) and waits in a table of calls keyed by the command id.
 * Replies and events leave the reader through qvm_coroutine_invoke_later()
 * (qvm_task_return_*() uses it too), so they reach the caller in the order
 * QEMU sent them, on the main stack.
 *
 * This file dispatches what QEMU sends and ends the connection; commands
 * and the matching of their replies are qvm-qmp-calls.c, the I/O
 * qvm-qmp-io.c, the handshake qvm-qmp-handshake.c, descriptor passing
 * qvm-qmp-fd.c.
 * The coroutines share a small QvmQmpIo with the client rather than a
 * reference on it: dropping the last reference on an open client closes
 * the connection; the coroutines wake up (cancelled), see that, and go.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-coroutine-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-fd-private.h"
#include "qvm-qmp-io-private.h"

enum {
  PROP_0,
  PROP_STREAM,
  PROP_QEMU_VERSION,
  PROP_QEMU_PACKAGE,
  PROP_CAPABILITIES,
  PROP_CLOSED,
  PROP_TIMEOUT,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/**
 * QvmQmpClient:
 *
 * A client for the QEMU Machine Protocol (QMP), QEMU's JSON control
 * channel.
 *
 * Make one on a stream connected to QEMU's monitor with
 * [func@Qvm.QmpClient.new_async] (for a VM, one end of a socket pair whose
 * other end QEMU gets as `-chardev socket,id=qmp,fd=N` with
 * `-mon chardev=qmp,mode=control`: there is no socket file to wait for),
 * or on a socket path with [func@Qvm.QmpClient.connect_async]. The client
 * reads QEMU's greeting and negotiates capabilities before it is handed
 * out.
 *
 * Then [method@Qvm.QmpClient.execute_async] runs commands; any number may
 * be in flight. Errors QEMU answers with are in the %QVM_QMP_ERROR domain;
 * a connection that ends or a peer that breaks the protocol (garbage,
 * messages over 16 MiB, JSON that is not QMP) gives %QVM_ERROR_CLOSED or
 * %QVM_ERROR_PROTOCOL, closes the client and emits
 * [signal@Qvm.QmpClient::closed]. QEMU's events are emitted as the detailed
 * [signal@Qvm.QmpClient::event] signal, in order with the replies.
 *
 * ```python
 * def on_status(client, result):
 *     status = client.execute_finish(result).get_object()
 *     print(status.get_string_member('status'))
 *
 * def on_connected(source, result):
 *     client = Qvm.QmpClient.connect_finish(result)
 *     client.connect('event::SHUTDOWN', lambda c, name, data, ts: loop.quit())
 *     client.execute_async('query-status', None, None, on_status)
 *
 * Qvm.QmpClient.connect_async('/run/vm/qmp.sock', None, on_connected)
 * ```
 *
 * A client is used from the thread that owns the main context it was made
 * in; its callbacks and signals run in that context.
 */

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmQmpClient, qvm_qmp_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, qvm_qmp_async_initable_iface_init))

/**
 * qvm_qmp_error_quark:
 *
 * The quark of the %QVM_QMP_ERROR error domain.
 *
 * Returns: the error domain quark
 */
GQuark
qvm_qmp_error_quark (void)
{
  qvm_i18n_init ();
  return g_quark_from_static_string ("qvm-qmp-error-quark");
}

/* ---- Closing ---------------------------------------------------------- */

typedef struct {
  QvmQmpClient *client;
  GError       *reason;
} ClosedEmission;

static gboolean
emit_closed (gpointer data)
{
  ClosedEmission *emission = data;

  g_object_notify_by_pspec (G_OBJECT (emission->client), properties[PROP_CLOSED]);
  g_signal_emit (emission->client, signals[SIGNAL_CLOSED], 0, emission->reason);
  return G_SOURCE_REMOVE;
}

static void
closed_emission_free (gpointer data)
{
  ClosedEmission *emission = data;

  g_object_unref (emission->client);
  g_clear_error (&emission->reason);
  g_free (emission);
}

/* Ends the connection once: wakes the coroutines so they leave, fails
 * every pending call with a copy of @pending_error, and emits ::closed with
 * @reason (NULL for a clean end) unless @emit is FALSE (dispose). Takes
 * both errors. Safe from the main stack and from a coroutine. */
void
qvm_qmp_client_shut_down (QvmQmpClient *self,
                          GError       *reason,
                          GError       *pending_error,
                          gboolean      emit)
{
  g_autoptr(GError) owned_reason = reason;
  g_autoptr(GError) owned_pending_error = pending_error;
  g_autoptr(GHashTable) calls = NULL;
  GHashTableIter iter;
  QvmQmpCall *call;
  QvmQmpIo *io = self->io;

  if (self->state == CLIENT_STATE_CLOSED)
    return;

  g_debug ("QMP connection closed%s%s", reason ? ": " : "", reason ? reason->message : "");
  self->state = CLIENT_STATE_CLOSED;
  self->close_reason = reason != NULL ? g_error_copy (reason) : NULL;
  if (self->handshake_cancellable != NULL)
    g_cancellable_cancel (self->handshake_cancellable);

  calls = g_steal_pointer (&self->calls);
  self->calls = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, qvm_qmp_call_free);
  g_hash_table_iter_init (&iter, calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    qvm_task_return_error (call->task, g_error_copy (pending_error));

  if (io != NULL)
    {
      io->closing = TRUE;
      io->client = NULL;
      g_cancellable_cancel (io->cancellable);
      /* QEMU sees the end of the stream now, even though the stream is
       * closed only when the coroutines let go of it. */
      if (io->socket != NULL)
        g_socket_shutdown (io->socket, TRUE, TRUE, NULL);
      /* A coroutine that never ran must be entered to return; one that
       * waits (on the socket, or the writer for work) wakes up cancelled. */
      if (io->reader != NULL && !io->reader_started)
        {
          io->reader_started = TRUE;
          qvm_coroutine_enter (io->reader);
        }
      if (io->writer != NULL && !io->writer_started)
        {
          io->writer_started = TRUE;
          qvm_coroutine_enter (io->writer);
        }
    }

  if (emit)
    {
      ClosedEmission *emission = g_new0 (ClosedEmission, 1);

      emission->client = g_object_ref (self);
      emission->reason = g_steal_pointer (&owned_reason);
      qvm_coroutine_invoke_later (self->context, emit_closed, emission, closed_emission_free);
    }
}

GError *
qvm_qmp_client_closed_error (QvmQmpClient *self)
{
  if (self->close_reason != NULL)
    /* Translators: %s says why the connection ended. */
    return g_error_new (QVM_ERROR, QVM_ERROR_CLOSED,
                        _("The QMP connection is closed: %s"), self->close_reason->message);
  if (self->io != NULL && self->io->write_error != NULL)
    return g_error_new (QVM_ERROR, QVM_ERROR_CLOSED,
                        _("The QMP connection is closed: %s"), self->io->write_error->message);
  return g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("The QMP connection is closed"));
}

/* ---- Dispatching what QEMU sends -------------------------------------- */

typedef struct {
  QvmQmpClient  *client;
  QvmQmpMessage *message;
} EventEmission;

static gboolean
emit_event (gpointer data)
{
  EventEmission *emission = data;
  QvmQmpMessage *message = emission->message;

  /* Nobody can be connected to a detail whose quark does not exist yet, and
   * QEMU's event names should not grow the quark table. */
  g_signal_emit (emission->client, signals[SIGNAL_EVENT],
                 g_quark_try_string (message->event),
                 message->event, message->event_data, message->timestamp_us);
  return G_SOURCE_REMOVE;
}

static void
event_emission_free (gpointer data)
{
  EventEmission *emission = data;

  g_object_unref (emission->client);
  qvm_qmp_message_free (emission->message);
  g_free (emission);
}

/* Takes @message. */
static gboolean
dispatch_message (QvmQmpClient   *self,
                  QvmQmpMessage  *message,
                  GError        **error)
{
  g_autoptr(QvmQmpMessage) owned_message = message;

  switch (message->kind)
    {
    case QVM_QMP_MESSAGE_EVENT:
      {
        EventEmission *emission = g_new0 (EventEmission, 1);

        emission->client = g_object_ref (self);
        emission->message = g_steal_pointer (&owned_message);
        qvm_coroutine_invoke_later (self->context, emit_event, emission, event_emission_free);
        return TRUE;
      }

    case QVM_QMP_MESSAGE_RETURN:
    case QVM_QMP_MESSAGE_ERROR:
      return qvm_qmp_client_dispatch_reply (self, message, error);

    case QVM_QMP_MESSAGE_GREETING:
    default:
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_PROTOCOL,
                           _("QEMU sent a second QMP greeting"));
      return FALSE;
    }
}

static gboolean
dispatch_parsed (QvmQmpClient  *self,
                 GError       **error)
{
  QvmQmpMessage *message;

  while ((message = g_queue_pop_head (&self->parsed)) != NULL)
    if (!dispatch_message (self, message, error))
      return FALSE;
  return TRUE;
}

static void
client_fail_protocol (QvmQmpClient *self,
                      GError       *error)
{
  qvm_qmp_client_shut_down (self, g_error_copy (error), error, TRUE);
}

static void
client_end_of_stream (QvmQmpClient *self)
{
  if (qvm_qmp_parser_in_message (self->parser))
    {
      GError *error = g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED,
                                           _("QEMU closed the QMP connection in the middle of a message"));

      qvm_qmp_client_shut_down (self, g_error_copy (error), error, TRUE);
    }
  else if (self->io->write_error != NULL)
    {
      GError *error = qvm_qmp_client_closed_error (self);

      qvm_qmp_client_shut_down (self, g_error_copy (error), error, TRUE);
    }
  else
    qvm_qmp_client_shut_down (self, NULL,
                              g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("QEMU closed the QMP connection")),
                     TRUE);
}

void
qvm_qmp_reader_co (gpointer data)
{
  QvmQmpIo *io = data;
  g_autofree char *buffer = g_malloc (READ_CHUNK_SIZE);

  while (!io->closing)
    {
      QvmQmpClient *self = io->client;
      g_autoptr(GError) error = NULL;
      gboolean parsed;
      gssize n;

      if (!dispatch_parsed (self, &error))
        {
          client_fail_protocol (self, g_steal_pointer (&error));
          break;
        }

      n = qvm_qmp_io_read (io, buffer, READ_CHUNK_SIZE, io->cancellable, &error);
      if (io->closing)
        break;
      self = io->client;

      if (n < 0)
        {
          /* Translators: %s is the system's reason. */
          GError *lost = g_error_new (QVM_ERROR, QVM_ERROR_CLOSED,
                                      _("Lost the QMP connection: %s"), error->message);

          qvm_qmp_client_shut_down (self, g_error_copy (lost), lost, TRUE);
          break;
        }
      if (n == 0)
        {
          client_end_of_stream (self);
          break;
        }

      /* Messages complete before a protocol error still count. */
      parsed = qvm_qmp_parser_feed (self->parser, buffer, n, &self->parsed, &error);
      if (!parsed)
        {
          g_autoptr(GError) dispatch_error = NULL;

          if (!dispatch_parsed (self, &dispatch_error))
            client_fail_protocol (self, g_steal_pointer (&dispatch_error));
          else
            client_fail_protocol (self, g_steal_pointer (&error));
          break;
        }
    }

  io->reader = NULL;
  qvm_qmp_io_unref (io);
}

/* ---- Closing, the public part ---------------------------------------- */

/**
 * qvm_qmp_client_close_async:
 * @client: a #QvmQmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (nullable): called when the client is closed
 * @user_data: data for @callback
 *
 * Closes the connection. Pending calls fail with %QVM_ERROR_CLOSED, and
 * [signal@Qvm.QmpClient::closed] is emitted (with no reason) if it was not
 * already. Closing a closed client succeeds.
 */
void
qvm_qmp_client_close_async (QvmQmpClient        *client,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QVM_IS_QMP_CLIENT (client));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_qmp_client_close_async);

  if (client->state != CLIENT_STATE_NEW)
    qvm_qmp_client_shut_down (client, NULL,
                              g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("The QMP connection was closed")),
                     TRUE);
  qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_qmp_client_close_finish:
 * @client: a #QvmQmpClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.QmpClient.close_async].
 *
 * Returns: %TRUE on success
 */
gboolean
qvm_qmp_client_close_finish (QvmQmpClient  *client,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_qmp_client_close_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qvm_qmp_client_close:
 * @client: a #QvmQmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.QmpClient.close_async]; it iterates the
 * client's main context like [method@Qvm.QmpClient.execute], so
 * [signal@Qvm.QmpClient::closed] has been emitted when it returns.
 *
 * Returns: %TRUE on success
 */
gboolean
qvm_qmp_client_close (QvmQmpClient  *client,
                      GCancellable  *cancellable,
                      GError       **error)
{
  SyncData sync = { NULL };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), FALSE);
  g_return_val_if_fail (qvm_coroutine_self () == NULL, FALSE);

  if (client->context == NULL)
    return TRUE;
  if (!qvm_qmp_client_acquire_context (client, error))
    return FALSE;
  qvm_qmp_client_close_async (client, cancellable, qvm_qmp_on_sync_done, &sync);
  qvm_qmp_run_until_done (client->context, &sync);
  qvm_qmp_client_release_context (client);

  result = sync.result;
  return qvm_qmp_client_close_finish (client, result, error);
}

/* ---- Properties ------------------------------------------------------- */

/**
 * qvm_qmp_client_get_stream:
 * @client: a #QvmQmpClient
 *
 * Gets the stream the client talks QMP on.
 *
 * Returns: (transfer none): the stream
 */
GIOStream *
qvm_qmp_client_get_stream (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);

  return client->stream;
}

/**
 * qvm_qmp_client_get_qemu_version:
 * @client: a #QvmQmpClient
 *
 * Gets QEMU's version from its greeting.
 *
 * Returns: (nullable): the version, as `major.minor.micro` (e.g.
 *   `7.2.22`), or %NULL before the handshake
 */
const char *
qvm_qmp_client_get_qemu_version (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);

  return client->qemu_version;
}

/**
 * qvm_qmp_client_get_qemu_package:
 * @client: a #QvmQmpClient
 *
 * Gets the package QEMU says it comes from in its greeting.
 *
 * Returns: (nullable): the package string (e.g. a distribution's version),
 *   or %NULL when QEMU gave none
 */
const char *
qvm_qmp_client_get_qemu_package (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);

  return client->qemu_package;
}

/**
 * qvm_qmp_client_get_capabilities:
 * @client: a #QvmQmpClient
 *
 * Gets the capabilities QEMU offered in its greeting (e.g. `oob`).
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   capabilities, or %NULL before the handshake
 */
const char * const *
qvm_qmp_client_get_capabilities (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), NULL);

  return (const char * const *) client->capabilities;
}

/**
 * qvm_qmp_client_is_closed:
 * @client: a #QvmQmpClient
 *
 * Whether the connection has ended (closed by either side, or broken).
 *
 * Returns: %TRUE once closed
 */
gboolean
qvm_qmp_client_is_closed (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), FALSE);

  return client->state == CLIENT_STATE_CLOSED;
}

/**
 * qvm_qmp_client_get_timeout:
 * @client: a #QvmQmpClient
 *
 * Gets [property@Qvm.QmpClient:timeout].
 *
 * Returns: the timeout in milliseconds; 0 for none
 */
guint
qvm_qmp_client_get_timeout (QvmQmpClient *client)
{
  g_return_val_if_fail (QVM_IS_QMP_CLIENT (client), 0);

  return client->timeout_ms;
}

/**
 * qvm_qmp_client_set_timeout:
 * @client: a #QvmQmpClient
 * @timeout_ms: a timeout in milliseconds; 0 for none
 *
 * Sets [property@Qvm.QmpClient:timeout]. It applies to the commands
 * started afterwards.
 */
void
qvm_qmp_client_set_timeout (QvmQmpClient *client,
                            guint         timeout_ms)
{
  g_return_if_fail (QVM_IS_QMP_CLIENT (client));

  if (client->timeout_ms == timeout_ms)
    return;
  client->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_TIMEOUT]);
}

guint
qvm_qmp_client_get_pending_count (QvmQmpClient *client)
{
  return g_hash_table_size (client->calls);
}

static void
qvm_qmp_client_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  QvmQmpClient *self = QVM_QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      g_value_set_object (value, self->stream);
      break;
    case PROP_QEMU_VERSION:
      g_value_set_string (value, self->qemu_version);
      break;
    case PROP_QEMU_PACKAGE:
      g_value_set_string (value, self->qemu_package);
      break;
    case PROP_CAPABILITIES:
      g_value_set_boxed (value, self->capabilities);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, qvm_qmp_client_is_closed (self));
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_qmp_client_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  QvmQmpClient *self = QVM_QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STREAM:
      self->stream = g_value_dup_object (value);
      break;
    case PROP_TIMEOUT:
      qvm_qmp_client_set_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_qmp_client_dispose (GObject *object)
{
  QvmQmpClient *self = QVM_QMP_CLIENT (object);

  /* No call can be pending: each holds a reference. */
  qvm_qmp_client_shut_down (self, NULL,
                            g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("The QMP connection was closed")),
                   FALSE);
  g_clear_pointer (&self->io, qvm_qmp_io_unref);

  G_OBJECT_CLASS (qvm_qmp_client_parent_class)->dispose (object);
}

static void
qvm_qmp_client_finalize (GObject *object)
{
  QvmQmpClient *self = QVM_QMP_CLIENT (object);

  g_clear_object (&self->stream);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->parser, qvm_qmp_parser_free);
  g_queue_clear_full (&self->parsed, (GDestroyNotify) qvm_qmp_message_free);
  g_clear_pointer (&self->calls, g_hash_table_unref);
  g_free (self->qemu_version);
  g_free (self->qemu_package);
  g_strfreev (self->capabilities);
  g_clear_error (&self->close_reason);
  qvm_coroutine_mutex_clear (&self->fd_mutex);

  G_OBJECT_CLASS (qvm_qmp_client_parent_class)->finalize (object);
}

guint
qvm_qmp_event_signal_new (const char *name,
                          GType       itype)
{
  return g_signal_new (name, itype, G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL, NULL,
                       G_TYPE_NONE, 3,
                       G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, JSON_TYPE_OBJECT, G_TYPE_INT64);
}

static void
qvm_qmp_client_class_init (QvmQmpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->get_property = qvm_qmp_client_get_property;
  object_class->set_property = qvm_qmp_client_set_property;
  object_class->dispose = qvm_qmp_client_dispose;
  object_class->finalize = qvm_qmp_client_finalize;

  /**
   * QvmQmpClient:stream:
   *
   * The stream the client talks QMP on. The client owns it and closes it
   * when it closes.
   */
  properties[PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL, G_TYPE_IO_STREAM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmQmpClient:qemu-version:
   *
   * QEMU's version from its greeting, as `major.minor.micro`.
   */
  properties[PROP_QEMU_VERSION] =
    g_param_spec_string ("qemu-version", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmQmpClient:qemu-package:
   *
   * The package QEMU says it comes from, from its greeting.
   */
  properties[PROP_QEMU_PACKAGE] =
    g_param_spec_string ("qemu-package", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmQmpClient:capabilities:
   *
   * The QMP capabilities QEMU offered in its greeting.
   */
  properties[PROP_CAPABILITIES] =
    g_param_spec_boxed ("capabilities", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmQmpClient:closed:
   *
   * Whether the connection has ended. Notified together with
   * [signal@Qvm.QmpClient::closed].
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmQmpClient:timeout:
   *
   * How long, in milliseconds, each command (and the handshake) may wait
   * for QEMU's answer before it fails with %QVM_ERROR_TIMED_OUT; 0 (the
   * default) waits forever. A command that timed out does not close the
   * connection: its late reply is dropped.
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QvmQmpClient::event:
   * @client: the client
   * @name: the event's name, e.g. `SHUTDOWN`; also the signal's detail
   * @data: (nullable): the event's `data` member
   * @timestamp: when QEMU emitted the event, in microseconds since the Unix
   *   epoch
   *
   * Emitted for each event QEMU sends, in the order QEMU sent them
   * relative to replies: the events a command causes are emitted before
   * the command's callback runs. Connect to `event::SHUTDOWN` for one
   * event.
   */
  signals[SIGNAL_EVENT] =
    qvm_qmp_event_signal_new ("event", G_TYPE_FROM_CLASS (klass));

  /**
   * QvmQmpClient::closed:
   * @client: the client
   * @reason: (nullable): why the connection ended, or %NULL when QEMU
   *   closed it cleanly or the client was closed
   *
   * Emitted once, when the connection ends. Pending calls have failed by
   * then, and later calls fail at once.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  G_TYPE_ERROR);
}

static void
qvm_qmp_client_init (QvmQmpClient *self)
{
  self->parser = qvm_qmp_parser_new (0);
  g_queue_init (&self->parsed);
  self->calls = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, qvm_qmp_call_free);
  self->next_id = 1;
  qvm_coroutine_mutex_init (&self->fd_mutex);
}

