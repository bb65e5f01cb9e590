/* qvm-coroutine-gio.c: typed awaits for the GIO operations the library waits on
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every await packs its arguments in a small struct on the coroutine's
 * stack, which stays valid until the operation completed, and starts the
 * GIO call from qvm_coroutine_await()'s start function on the main stack.
 * The socket receives need none of that: they read without blocking and
 * wait on the socket itself, the watched one (QvmSocketWatch) with a
 * source that stays in the poll set between waits.
 */

#include "config.h"

#include "qvm-coroutine-gio-private.h"
#include "qvm-spawn-private.h"

typedef struct {
  gpointer      stream;
  gpointer      buffer;
  gsize         count;
  GCancellable *cancellable;
} StreamCall;

static void
input_stream_read_begin (gpointer            data,
                         GAsyncReadyCallback callback,
                         gpointer            callback_data)
{
  StreamCall *call = data;

  g_input_stream_read_async (call->stream, call->buffer, call->count, G_PRIORITY_DEFAULT,
                             call->cancellable, callback, callback_data);
}

gssize
qvm_await_input_stream_read (GInputStream  *stream,
                             void          *buffer,
                             gsize          count,
                             GCancellable  *cancellable,
                             GError       **error)
{
  StreamCall call = { stream, buffer, count, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), -1);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, -1);

  result = qvm_coroutine_await (input_stream_read_begin, &call);
  return g_input_stream_read_finish (stream, result, error);
}

static void
output_stream_write_begin (gpointer            data,
                           GAsyncReadyCallback callback,
                           gpointer            callback_data)
{
  StreamCall *call = data;

  g_output_stream_write_async (call->stream, call->buffer, call->count, G_PRIORITY_DEFAULT,
                               call->cancellable, callback, callback_data);
}

gssize
qvm_await_output_stream_write (GOutputStream  *stream,
                               const void     *buffer,
                               gsize           count,
                               GCancellable   *cancellable,
                               GError        **error)
{
  StreamCall call = { stream, (gpointer) buffer, count, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), -1);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, -1);

  result = qvm_coroutine_await (output_stream_write_begin, &call);
  return g_output_stream_write_finish (stream, result, error);
}

static void
output_stream_write_all_begin (gpointer            data,
                               GAsyncReadyCallback callback,
                               gpointer            callback_data)
{
  StreamCall *call = data;

  g_output_stream_write_all_async (call->stream, call->buffer, call->count, G_PRIORITY_DEFAULT,
                                   call->cancellable, callback, callback_data);
}

gboolean
qvm_await_output_stream_write_all (GOutputStream  *stream,
                                   const void     *buffer,
                                   gsize           count,
                                   gsize          *bytes_written,
                                   GCancellable   *cancellable,
                                   GError        **error)
{
  StreamCall call = { stream, (gpointer) buffer, count, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, FALSE);

  result = qvm_coroutine_await (output_stream_write_all_begin, &call);
  return g_output_stream_write_all_finish (stream, result, bytes_written, error);
}

/* The read loop of both socket receives: @wait (@wait_data, @cancellable,
 * @error) waits until @socket may be readable. */
typedef gboolean (*SocketWaitFunc) (gpointer       wait_data,
                                    GCancellable  *cancellable,
                                    GError       **error);

static gssize
socket_receive_loop (GSocket        *socket,
                     void           *buffer,
                     gsize           count,
                     SocketWaitFunc  wait,
                     gpointer        wait_data,
                     GCancellable   *cancellable,
                     GError        **error)
{
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = g_socket_receive_with_blocking (socket, buffer, count, FALSE,
                                                 cancellable, &local_error);

      if (n >= 0)
        return n;
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return -1;
        }
      if (!wait (wait_data, cancellable, error))
        return -1;
    }
}

static gboolean
wait_socket_readable (gpointer       socket,
                      GCancellable  *cancellable,
                      GError       **error)
{
  return qvm_coroutine_wait_socket (socket, G_IO_IN, cancellable, error);
}

gssize
qvm_await_socket_receive (GSocket       *socket,
                          void          *buffer,
                          gsize          count,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_return_val_if_fail (G_IS_SOCKET (socket), -1);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  return socket_receive_loop (socket, buffer, count, wait_socket_readable, socket,
                              cancellable, error);
}

/* ---- A socket watched for its whole life ------------------------------- */

struct _QvmSocketWatch {
  GSocket      *socket;
  GSource      *source;          /* attached at the first wait */
  gpointer      tag;             /* the descriptor in it; NULL while nobody waits */
  QvmCoroutine *waiter;          /* in socket_watch_wait(), or NULL */
  gboolean      woken;
  gboolean      stream;          /* a stream socket: a short read emptied it */
  gboolean      drained;         /* the last read was short: wait first */
  GCancellable *cancellable;     /* connected to make the source ready */
  gulong        cancel_handler;
};

typedef struct {
  GSource         source;
  QvmSocketWatch *watch;         /* NULL once the watch is freed */
} WatchSource;

static gboolean
watch_source_dispatch (GSource    *source,
                       GSourceFunc callback,
                       gpointer    data)
{
  QvmSocketWatch *watch = ((WatchSource *) source)->watch;

  /* Made ready by a cancellation: that wakes the waiter once. */
  if (g_source_get_ready_time (source) != -1)
    g_source_set_ready_time (source, -1);
  if (watch == NULL)
    return G_SOURCE_REMOVE;

  if (watch->waiter == NULL)
    {
      /* Nobody reads now. A readable or hung-up descriptor would make
       * every poll return at once: take it out until somebody waits. */
      if (watch->tag != NULL)
        {
          g_source_remove_unix_fd (source, watch->tag);
          watch->tag = NULL;
        }
      return G_SOURCE_CONTINUE;
    }

  watch->woken = TRUE;
  /* The waiter may free the watch before this returns. */
  qvm_coroutine_enter (watch->waiter);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_source_funcs = {
  .dispatch = watch_source_dispatch,
};

/* Runs in the cancelling thread. */
static void
on_watch_cancelled (GCancellable *cancellable,
                    gpointer      source)
{
  g_source_set_ready_time (source, 0);
}

/* Connects @cancellable (nullable) in place of the one connected before. */
static void
socket_watch_follow (QvmSocketWatch *watch,
                     GCancellable   *cancellable)
{
  if (watch->cancellable == cancellable)
    return;

  if (watch->cancellable != NULL)
    {
      /* Waits for a handler running in another thread. */
      g_cancellable_disconnect (watch->cancellable, watch->cancel_handler);
      watch->cancel_handler = 0;
      g_clear_object (&watch->cancellable);
    }
  if (cancellable != NULL)
    {
      watch->cancellable = g_object_ref (cancellable);
      watch->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_watch_cancelled),
                                                     watch->source, NULL);
    }
}

static gboolean
socket_watch_wait (gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  QvmSocketWatch *watch = data;
  QvmCoroutine *self = qvm_coroutine_self ();
  GMainContext *context = qvm_coroutine_get_context (self);

  if (watch->source == NULL)
    {
      watch->source = g_source_new (&watch_source_funcs, sizeof (WatchSource));
      ((WatchSource *) watch->source)->watch = watch;
      g_source_set_static_name (watch->source, "[qvm] socket watch");
      /* GLib takes the descriptors of a source that may not recurse out of
       * the poll set while it dispatches, which wakes the context twice.
       * Recursing is harmless here: the waiter never iterates the context. */
      g_source_set_can_recurse (watch->source, TRUE);
      g_source_attach (watch->source, context);
    }
  g_return_val_if_fail (g_source_get_context (watch->source) == context, FALSE);

  socket_watch_follow (watch, cancellable);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (watch->tag == NULL)
    watch->tag = g_source_add_unix_fd (watch->source, g_socket_get_fd (watch->socket), G_IO_IN);

  watch->waiter = self;
  watch->woken = FALSE;
  while (!watch->woken)
    qvm_coroutine_yield ();
  watch->waiter = NULL;

  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

QvmSocketWatch *
qvm_socket_watch_new (GSocket *socket)
{
  QvmSocketWatch *watch;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);

  watch = g_new0 (QvmSocketWatch, 1);
  watch->socket = g_object_ref (socket);
  watch->stream = g_socket_get_socket_type (socket) == G_SOCKET_TYPE_STREAM;
  return watch;
}

void
qvm_socket_watch_free (QvmSocketWatch *watch)
{
  g_return_if_fail (watch != NULL);
  g_return_if_fail (watch->waiter == NULL);

  socket_watch_follow (watch, NULL);
  if (watch->source != NULL)
    {
      ((WatchSource *) watch->source)->watch = NULL;
      g_source_destroy (watch->source);
      g_source_unref (watch->source);
    }
  g_object_unref (watch->socket);
  g_free (watch);
}

gssize
qvm_socket_watch_receive (QvmSocketWatch *watch,
                          void           *buffer,
                          gsize           count,
                          GCancellable   *cancellable,
                          GError        **error)
{
  gssize n;

  g_return_val_if_fail (watch != NULL, -1);
  g_return_val_if_fail (watch->waiter == NULL, -1);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  /* A stream socket that gave less than asked had nothing more then: the
   * poll tells whether something came since, so a read that would only
   * say "would block" is saved. */
  if (watch->drained && count > 0 && !socket_watch_wait (watch, cancellable, error))
    return -1;

  n = socket_receive_loop (watch->socket, buffer, count, socket_watch_wait, watch,
                           cancellable, error);
  watch->drained = watch->stream && n > 0 && (gsize) n < count;
  return n;
}

static void
io_stream_close_begin (gpointer            data,
                       GAsyncReadyCallback callback,
                       gpointer            callback_data)
{
  StreamCall *call = data;

  g_io_stream_close_async (call->stream, G_PRIORITY_DEFAULT, call->cancellable,
                           callback, callback_data);
}

gboolean
qvm_await_io_stream_close (GIOStream     *stream,
                           GCancellable  *cancellable,
                           GError       **error)
{
  StreamCall call = { stream, NULL, 0, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), FALSE);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, FALSE);

  result = qvm_coroutine_await (io_stream_close_begin, &call);
  return g_io_stream_close_finish (stream, result, error);
}

typedef struct {
  GSocketClient      *client;
  GSocketConnectable *connectable;
  GCancellable       *cancellable;
} ConnectCall;

static void
socket_client_connect_begin (gpointer            data,
                             GAsyncReadyCallback callback,
                             gpointer            callback_data)
{
  ConnectCall *call = data;

  g_socket_client_connect_async (call->client, call->connectable, call->cancellable,
                                 callback, callback_data);
}

GSocketConnection *
qvm_await_socket_client_connect (GSocketClient       *client,
                                 GSocketConnectable  *connectable,
                                 GCancellable        *cancellable,
                                 GError             **error)
{
  ConnectCall call = { client, connectable, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_SOCKET_CLIENT (client), NULL);
  g_return_val_if_fail (G_IS_SOCKET_CONNECTABLE (connectable), NULL);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, NULL);

  result = qvm_coroutine_await (socket_client_connect_begin, &call);
  return g_socket_client_connect_finish (client, result, error);
}

typedef struct {
  GSubprocessLauncher *launcher;
  const char * const  *argv;
} SpawnCall;

static void
subprocess_spawnv_begin (gpointer            data,
                         GAsyncReadyCallback callback,
                         gpointer            callback_data)
{
  SpawnCall *call = data;

  qvm_spawn_tied_async (call->launcher, call->argv, callback, callback_data);
}

GSubprocess *
qvm_await_subprocess_spawnv (GSubprocessLauncher  *launcher,
                             const char * const   *argv,
                             GError              **error)
{
  SpawnCall call = { launcher, argv };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (G_IS_SUBPROCESS_LAUNCHER (launcher), NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, NULL);

  result = qvm_coroutine_await (subprocess_spawnv_begin, &call);
  return qvm_spawn_tied_finish (result, error);
}

static gboolean subprocess_wait_checked (GSubprocess   *subprocess,
                                         GCancellable  *cancellable,
                                         GError       **error);

QVM_DEFINE_AWAIT (subprocess_wait_checked, GSubprocess, gboolean,
                  g_subprocess_wait_async, g_subprocess_wait_finish)

gboolean
qvm_await_subprocess_wait (GSubprocess   *subprocess,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_return_val_if_fail (G_IS_SUBPROCESS (subprocess), FALSE);
  g_return_val_if_fail (qvm_coroutine_self () != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* GSubprocess would otherwise start a wait that never ends. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  return subprocess_wait_checked (subprocess, cancellable, error);
}
