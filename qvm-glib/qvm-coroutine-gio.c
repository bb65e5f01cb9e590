/* qvm-coroutine-gio.c: typed awaits for the GIO operations the library waits on
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every await packs its arguments in a small struct on the coroutine's
 * stack, which stays valid until the operation completed, and starts the
 * GIO call from qvm_coroutine_await()'s start function on the main stack.
 * The socket receive needs none of that: it reads without blocking and
 * waits on the socket itself.
 */

#include "config.h"

#include "qvm-coroutine-gio-private.h"

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
      if (!qvm_coroutine_wait_socket (socket, G_IO_IN, cancellable, error))
        return -1;
    }
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
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, callback_data);
  GError *error = NULL;
  GSubprocess *process = g_subprocess_launcher_spawnv (call->launcher, call->argv, &error);

  if (process != NULL)
    g_task_return_pointer (task, process, g_object_unref);
  else
    g_task_return_error (task, error);
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
  return g_task_propagate_pointer (G_TASK (result), error);
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
