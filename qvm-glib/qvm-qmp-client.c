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
#include "qvm-qmp-parser-private.h"
#include "qvm-qmp-fd-private.h"

/* How much the reader asks the socket for at once. */
#define READ_CHUNK_SIZE (64 * 1024)

typedef enum {
  CLIENT_STATE_NEW,
  CLIENT_STATE_HANDSHAKE,
  CLIENT_STATE_READY,
  CLIENT_STATE_CLOSED,
} ClientState;

typedef struct {
  grefcount      ref_count;
  QvmQmpClient  *client;       /* not owned; NULL once it closed */
  GIOStream     *stream;
  GSocket       *socket;       /* set when the stream is a socket: the fast path */
  GInputStream  *input;
  GOutputStream *output;
  GCancellable  *cancellable;  /* cancelled when the client closes */
  gboolean       closing;

  QvmCoroutine  *reader;       /* NULL once it returned */
  gboolean       reader_started;
  QvmCoroutine  *writer;       /* NULL once it returned */
  gboolean       writer_idle;  /* yielded for lack of work, or never entered */

  GByteArray    *out;          /* queued bytes; the first out_done are sent */
  gsize          out_done;
  GError        *write_error;  /* the first failed write */

  /* A descriptor sent (SCM_RIGHTS) with the byte out[fd_offset], the
   * first of a command; -1 when none. See qvm_qmp_client_attach_fd(). */
  int            fd;
  gsize          fd_offset;
} QvmQmpIo;

typedef struct {
  QvmQmpClient *client;        /* not owned: the task holds a reference */
  guint64       id;
  char         *command;
  GTask        *task;
  GSource      *cancel_source;
  GSource      *timeout_source;
} QvmQmpCall;

struct _QvmQmpClient {
  GObject        parent_instance;

  GIOStream     *stream;
  GMainContext  *context;      /* where coroutines, signals and sources live */
  ClientState    state;
  QvmQmpIo      *io;
  QvmQmpParser  *parser;
  GQueue         parsed;       /* messages parsed, not yet dispatched */

  GHashTable    *calls;        /* &call->id → QvmQmpCall */
  guint64        next_id;
  guint          timeout_ms;

  char          *qemu_version;
  char          *qemu_package;
  GStrv          capabilities;

  GError        *close_reason; /* NULL: closed cleanly or still open */
  GCancellable  *handshake_cancellable;
  gboolean       handshake_timed_out;

  /* Held across a command that passes a descriptor, until its answer
   * (qvm_qmp_client_await_batch()). */
  QvmCoroutineMutex fd_mutex;
};

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

static void async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmQmpClient, qvm_qmp_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, async_initable_iface_init))

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

/* ---- Shared I/O state ------------------------------------------------- */

static QvmQmpIo *
io_new (GIOStream *stream)
{
  QvmQmpIo *io = g_new0 (QvmQmpIo, 1);

  g_ref_count_init (&io->ref_count);
  io->stream = g_object_ref (stream);
  if (G_IS_SOCKET_CONNECTION (stream))
    io->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
  io->input = g_object_ref (g_io_stream_get_input_stream (stream));
  io->output = g_object_ref (g_io_stream_get_output_stream (stream));
  io->cancellable = g_cancellable_new ();
  io->out = g_byte_array_new ();
  io->writer_idle = TRUE;
  io->fd = -1;
  return io;
}

static QvmQmpIo *
io_ref (QvmQmpIo *io)
{
  g_ref_count_inc (&io->ref_count);
  return io;
}

/* The last user of the stream closes it: by then no coroutine waits on its
 * socket, and no asynchronous read or write is pending on its streams. */
static void
io_unref (QvmQmpIo *io)
{
  if (!g_ref_count_dec (&io->ref_count))
    return;

  g_io_stream_close (io->stream, NULL, NULL);
  g_clear_object (&io->socket);
  g_clear_object (&io->input);
  g_clear_object (&io->output);
  g_clear_object (&io->stream);
  g_clear_object (&io->cancellable);
  g_byte_array_unref (io->out);
  g_clear_error (&io->write_error);
  if (io->fd >= 0)
    close (io->fd);
  g_free (io);
}

/* Reads at most @size bytes, waiting for some. Returns the number read,
 * 0 at end of stream, -1 on error (G_IO_ERROR_CANCELLED included). Only in a
 * coroutine. */
typedef struct {
  GInputStream *input;
  void         *buffer;
  gsize         size;
  GCancellable *cancellable;
} ReadStart;

static void
start_read (gpointer            data,
            GAsyncReadyCallback callback,
            gpointer            callback_data)
{
  ReadStart *start = data;

  g_input_stream_read_async (start->input, start->buffer, start->size, G_PRIORITY_DEFAULT,
                             start->cancellable, callback, callback_data);
}

static gssize
io_read (QvmQmpIo     *io,
         char         *buffer,
         gsize         size,
         GCancellable *cancellable,
         GError      **error)
{
  if (io->socket == NULL)
    {
      ReadStart start = { io->input, buffer, size, cancellable };
      g_autoptr(GAsyncResult) result = qvm_coroutine_await (start_read, &start);

      return g_input_stream_read_finish (io->input, result, error);
    }

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = g_socket_receive_with_blocking (io->socket, buffer, size, FALSE, NULL, &local_error);

      if (n >= 0)
        return n;
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return -1;
        }
      if (!qvm_coroutine_wait_socket (io->socket, G_IO_IN, cancellable, error))
        return -1;
    }
}

static gssize io_send_chunk (QvmQmpIo *io, GError **error);

/* Sends what the socket takes now without waiting. FALSE on a hard error. */
static gboolean
io_send_now (QvmQmpIo *io,
             GError  **error)
{
  while (io->out_done < io->out->len)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = io_send_chunk (io, &local_error);

      if (n < 0)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      io->out_done += n;
    }

  if (io->out_done == io->out->len || io->out_done > io->out->len / 2)
    {
      /* A pending descriptor's byte is never sent yet: it moves too. */
      if (io->fd >= 0)
        io->fd_offset -= io->out_done;
      g_byte_array_remove_range (io->out, 0, io->out_done);
      io->out_done = 0;
    }
  return TRUE;
}

/* A write failed: QEMU is going away. The reader will see the end of the
 * stream after whatever QEMU sent before (its last replies and events), and
 * fail the pending calls then; new calls fail at once from now on. */
static void
io_write_failed (QvmQmpIo *io,
                 GError   *error)
{
  g_debug ("QMP write failed: %s", error->message);
  if (io->write_error == NULL)
    io->write_error = error;
  else
    g_error_free (error);
  g_byte_array_set_size (io->out, 0);
  io->out_done = 0;
  if (io->fd >= 0)
    {
      close (io->fd);
      io->fd = -1;
    }
}

typedef struct {
  GOutputStream *output;
  GBytes        *bytes;
  GCancellable  *cancellable;
} WriteStart;

static void
start_write (gpointer            data,
             GAsyncReadyCallback callback,
             gpointer            callback_data)
{
  WriteStart *start = data;

  g_output_stream_write_all_async (start->output,
                                   g_bytes_get_data (start->bytes, NULL),
                                   g_bytes_get_size (start->bytes),
                                   G_PRIORITY_DEFAULT, start->cancellable,
                                   callback, callback_data);
}

/* The writer: runs only while there is output the socket did not take at
 * once (or, for streams that are not sockets, any output at all). */
static void
writer_main (gpointer data)
{
  QvmQmpIo *io = data;

  while (!io->closing)
    {
      g_autoptr(GError) error = NULL;

      if (io->out_done == io->out->len || io->write_error != NULL)
        {
          io->writer_idle = TRUE;
          qvm_coroutine_yield ();
          io->writer_idle = FALSE;
          continue;
        }

      if (io->socket != NULL)
        {
          if (!io_send_now (io, &error))
            io_write_failed (io, g_steal_pointer (&error));
          else if (io->out_done < io->out->len &&
                   !qvm_coroutine_wait_socket (io->socket, G_IO_OUT, io->cancellable, NULL))
            break;
        }
      else
        {
          /* The bytes are taken out: execute_async() may append while the
           * write is in flight. */
          g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (io->out);
          WriteStart start = { io->output, bytes, io->cancellable };
          g_autoptr(GAsyncResult) result = NULL;

          io->out = g_byte_array_new ();
          io->out_done = 0;
          result = qvm_coroutine_await (start_write, &start);
          if (!g_output_stream_write_all_finish (io->output, result, NULL, &error))
            {
              if (io->closing)
                break;
              io_write_failed (io, g_steal_pointer (&error));
            }
        }
    }

  io->writer = NULL;
  io_unref (io);
}

/* New output was queued: send it now if the writer is not already busy,
 * and wake the writer for what the socket does not take. */
static void
io_kick_writer (QvmQmpIo *io)
{
  g_autoptr(GError) error = NULL;

  if (!io->writer_idle || io->writer == NULL || io->closing)
    return;

  if (io->socket != NULL)
    {
      if (!io_send_now (io, &error))
        {
          io_write_failed (io, g_steal_pointer (&error));
          return;
        }
      if (io->out_done == io->out->len)
        return;
    }

  qvm_coroutine_enter (io->writer);
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

static void
call_free (gpointer data)
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

/* Ends the connection once: wakes the coroutines so they leave, fails
 * every pending call with a copy of @pending_error, and emits ::closed with
 * @reason (NULL for a clean end) unless @emit is FALSE (dispose). Takes
 * both errors. Safe from the main stack and from a coroutine. */
static void
client_shutdown (QvmQmpClient *self,
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
  self->calls = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, call_free);
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
      /* A coroutine that never ran, or waits for work, must be entered to
       * return; one that waits on the socket wakes up cancelled. */
      if (io->reader != NULL && !io->reader_started)
        {
          io->reader_started = TRUE;
          qvm_coroutine_enter (io->reader);
        }
      if (io->writer != NULL && io->writer_idle)
        qvm_coroutine_enter (io->writer);
    }

  if (emit)
    {
      ClosedEmission *emission = g_new0 (ClosedEmission, 1);

      emission->client = g_object_ref (self);
      emission->reason = g_steal_pointer (&owned_reason);
      qvm_coroutine_invoke_later (self->context, emit_closed, emission, closed_emission_free);
    }
}

static GError *
closed_error (QvmQmpClient *self)
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

static gboolean
dispatch_reply (QvmQmpClient  *self,
                QvmQmpMessage *message,
                GError       **error)
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
  call_free (call);
  return TRUE;
}

/* Takes @message. */
static gboolean
dispatch_message (QvmQmpClient  *self,
                  QvmQmpMessage *message,
                  GError       **error)
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
      return dispatch_reply (self, message, error);

    case QVM_QMP_MESSAGE_GREETING:
    default:
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_PROTOCOL,
                           _("QEMU sent a second QMP greeting"));
      return FALSE;
    }
}

static gboolean
dispatch_parsed (QvmQmpClient *self,
                 GError      **error)
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
  client_shutdown (self, g_error_copy (error), error, TRUE);
}

static void
client_end_of_stream (QvmQmpClient *self)
{
  if (qvm_qmp_parser_in_message (self->parser))
    {
      GError *error = g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED,
                                           _("QEMU closed the QMP connection in the middle of a message"));

      client_shutdown (self, g_error_copy (error), error, TRUE);
    }
  else if (self->io->write_error != NULL)
    {
      GError *error = closed_error (self);

      client_shutdown (self, g_error_copy (error), error, TRUE);
    }
  else
    client_shutdown (self, NULL,
                     g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("QEMU closed the QMP connection")),
                     TRUE);
}

static void
reader_main (gpointer data)
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

      n = io_read (io, buffer, READ_CHUNK_SIZE, io->cancellable, &error);
      if (io->closing)
        break;
      self = io->client;

      if (n < 0)
        {
          /* Translators: %s is the system's reason. */
          GError *lost = g_error_new (QVM_ERROR, QVM_ERROR_CLOSED,
                                      _("Lost the QMP connection: %s"), error->message);

          client_shutdown (self, g_error_copy (lost), lost, TRUE);
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
  io_unref (io);
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
  call_free (call);
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
  call_free (call);
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
      g_task_return_error (task, closed_error (client));
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
  io_kick_writer (client->io);
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

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The blocking variants: start the asynchronous operation, then iterate
 * @context until it completes. */
typedef struct {
  GAsyncResult *result;
} SyncData;

static void
on_sync_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  SyncData *sync = data;

  sync->result = g_object_ref (result);
}

static void
run_until_done (GMainContext *context,
                SyncData     *sync)
{
  while (sync->result == NULL)
    g_main_context_iteration (context, TRUE);
}

static gboolean
acquire_client_context (QvmQmpClient *client,
                        GError      **error)
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

static void
release_client_context (QvmQmpClient *client)
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
 * client's signals (and, for a client made with [ctor@Qvm.QmpClient.new] or
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
  if (!acquire_client_context (client, error))
    return NULL;
  qvm_qmp_client_execute_async (client, command, arguments, cancellable, on_sync_done, &sync);
  run_until_done (client->context, &sync);
  release_client_context (client);

  result = sync.result;
  return qvm_qmp_client_execute_finish (client, result, error);
}

/* ---- Handshake -------------------------------------------------------- */

static QvmQmpMessage *
read_greeting (QvmQmpClient *self,
               GCancellable *cancellable,
               GError      **error)
{
  g_autofree char *buffer = g_malloc (READ_CHUNK_SIZE);

  while (g_queue_is_empty (&self->parsed))
    {
      gssize n = io_read (self->io, buffer, READ_CHUNK_SIZE, cancellable, error);

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
store_greeting (QvmQmpClient  *self,
                QvmQmpMessage *greeting,
                GError       **error)
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

typedef struct {
  QvmQmpClient *client;
  JsonObject   *arguments;
  GCancellable *cancellable;
} CapabilitiesStart;

static void
start_capabilities (gpointer            data,
                    GAsyncReadyCallback callback,
                    gpointer            callback_data)
{
  CapabilitiesStart *start = data;

  qvm_qmp_client_execute_async (start->client, "qmp_capabilities", start->arguments,
                                start->cancellable, callback, callback_data);
}

static gboolean
negotiate_capabilities (QvmQmpClient *self,
                        GCancellable *cancellable,
                        GError      **error)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) enable = json_array_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) reply = NULL;
  CapabilitiesStart start = { self, arguments, cancellable };

  /* Out-of-band execution only changes something for commands sent with
   * "exec-oob", which this client does not; enabling it is what QEMU's
   * documentation asks clients that understand it to do. */
  if (g_strv_contains ((const char * const *) self->capabilities, "oob"))
    json_array_add_string_element (enable, "oob");
  json_object_set_array_member (arguments, "enable", g_steal_pointer (&enable));

  result = qvm_coroutine_await (start_capabilities, &start);
  reply = qvm_qmp_client_execute_finish (self, result, error);
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
handshake (QvmQmpClient *self,
           GCancellable *cancellable,
           GError      **error)
{
  g_autoptr(QvmQmpMessage) greeting = NULL;

  greeting = read_greeting (self, cancellable, error);
  if (greeting == NULL || !store_greeting (self, greeting, error))
    return FALSE;

  self->io->reader_started = TRUE;
  qvm_coroutine_enter (self->io->reader);
  if (self->state == CLIENT_STATE_CLOSED)
    {
      g_propagate_error (error, closed_error (self));
      return FALSE;
    }

  return negotiate_capabilities (self, cancellable, error);
}

static void
init_body (GTask        *task,
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
      error = closed_error (self);
    }
  g_clear_object (&self->handshake_cancellable);

  if (!ok)
    {
      client_shutdown (self, NULL, g_error_copy (error), FALSE);
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
  self->io = io_new (self->stream);
  self->io->client = self;
  /* Created here, on the caller's stack, so they are bound to its context. */
  self->io->reader = qvm_coroutine_new (reader_main, io_ref (self->io), 0);
  self->io->writer = qvm_coroutine_new (writer_main, io_ref (self->io), 0);

  qvm_coroutine_run_task (task, init_body);
}

static gboolean
qvm_qmp_client_init_finish (GAsyncInitable *initable,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, initable), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
async_initable_iface_init (GAsyncInitableIface *iface)
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
 * qvm_qmp_client_new:
 * @stream: a stream connected to a QMP monitor
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [func@Qvm.QmpClient.new_async], for scripts.
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
qvm_qmp_client_new (GIOStream     *stream,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  SyncData sync = { NULL };

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (qvm_coroutine_self () == NULL, NULL);

  g_main_context_push_thread_default (context);
  qvm_qmp_client_new_async (stream, cancellable, on_sync_done, &sync);
  run_until_done (context, &sync);
  g_main_context_pop_thread_default (context);

  result = sync.result;
  return qvm_qmp_client_new_finish (result, error);
}

typedef struct {
  GSocketClient  *socket_client;
  GSocketAddress *address;
  GCancellable   *cancellable;
} ConnectStart;

static void
start_connect (gpointer            data,
               GAsyncReadyCallback callback,
               gpointer            callback_data)
{
  ConnectStart *start = data;

  g_socket_client_connect_async (start->socket_client, G_SOCKET_CONNECTABLE (start->address),
                                 start->cancellable, callback, callback_data);
}

typedef struct {
  GIOStream    *stream;
  GCancellable *cancellable;
} NewStart;

static void
start_new (gpointer            data,
           GAsyncReadyCallback callback,
           gpointer            callback_data)
{
  NewStart *start = data;

  qvm_qmp_client_new_async (start->stream, start->cancellable, callback, callback_data);
}

static void
connect_body (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GAsyncResult) made = NULL;
  g_autoptr(GError) error = NULL;
  ConnectStart connect_start = { socket_client, address, cancellable };
  NewStart new_start = { NULL, cancellable };
  QvmQmpClient *client;

  connected = qvm_coroutine_await (start_connect, &connect_start);
  connection = g_socket_client_connect_finish (socket_client, connected, &error);
  if (connection == NULL)
    {
      /* Translators: the first %s is a file name, the second the reason. */
      g_prefix_error (&error, _("Could not connect to the QMP socket “%s”: "), path);
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  new_start.stream = G_IO_STREAM (connection);
  made = qvm_coroutine_await (start_new, &new_start);
  client = qvm_qmp_client_new_finish (made, &error);
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
  qvm_coroutine_run_task (task, connect_body);
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

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * qvm_qmp_client_connect_sync:
 * @socket_path: the file name of QEMU's QMP socket (a unix socket)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [func@Qvm.QmpClient.connect_async], for scripts;
 * like [ctor@Qvm.QmpClient.new], the client gets a private main context.
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
  qvm_qmp_client_connect_async (socket_path, cancellable, on_sync_done, &sync);
  run_until_done (context, &sync);
  g_main_context_pop_thread_default (context);

  result = sync.result;
  return qvm_qmp_client_connect_finish (result, error);
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
    client_shutdown (client, NULL,
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
  if (!acquire_client_context (client, error))
    return FALSE;
  qvm_qmp_client_close_async (client, cancellable, on_sync_done, &sync);
  run_until_done (client->context, &sync);
  release_client_context (client);

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
  client_shutdown (self, NULL,
                   g_error_new_literal (QVM_ERROR, QVM_ERROR_CLOSED, _("The QMP connection was closed")),
                   FALSE);
  g_clear_pointer (&self->io, io_unref);

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
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT,
                  G_TYPE_INT64);

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
  self->calls = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, call_free);
  self->next_id = 1;
  qvm_coroutine_mutex_init (&self->fd_mutex);
}

/* ---- Passing a descriptor with a command (qvm-qmp-fd-private.h) ------- */

/* Sends from out_done on: with the pending descriptor when its byte is the
 * next one, and never past that byte without it. */
static gssize
io_send_chunk (QvmQmpIo *io,
               GError  **error)
{
  const char *data = (const char *) io->out->data + io->out_done;
  gsize size = io->out->len - io->out_done;
  GOutputVector vector;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GSocketControlMessage) message = NULL;
  GPollableReturn sent;
  gsize written = 0;

  if (io->fd < 0 || io->fd_offset < io->out_done)
    return g_socket_send_with_blocking (io->socket, data, size, FALSE, NULL, error);
  if (io->fd_offset > io->out_done)
    return g_socket_send_with_blocking (io->socket, data, io->fd_offset - io->out_done,
                                        FALSE, NULL, error);

  vector.buffer = data;
  vector.size = size;
  fds = g_unix_fd_list_new ();
  if (g_unix_fd_list_append (fds, io->fd, error) < 0)
    return -1;
  message = g_unix_fd_message_new_with_fd_list (fds);

  /* GSocket descriptors are non-blocking: a zero timeout never waits. */
  sent = g_socket_send_message_with_timeout (io->socket, NULL, &vector, 1, &message, 1,
                                             0, 0, &written, NULL, error);
  if (sent == G_POLLABLE_RETURN_WOULD_BLOCK)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "would block");
      return -1;
    }
  if (sent != G_POLLABLE_RETURN_OK)
    return -1;

  close (io->fd);
  io->fd = -1;
  return written;
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
