/* qvm-qmp-io.c: QvmQmpClient's socket: reading, and writing what is queued
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Commands are queued as bytes and written at once when the socket takes
 * them; the writer coroutine runs only when the socket is full. A
 * descriptor attached to a command (qvm-qmp-fd.c) goes with the command's
 * first byte as SCM_RIGHTS.
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

QvmQmpIo *
qvm_qmp_io_new (GIOStream *stream)
{
  QvmQmpIo *io = g_new0 (QvmQmpIo, 1);

  g_ref_count_init (&io->ref_count);
  io->stream = g_object_ref (stream);
  if (G_IS_SOCKET_CONNECTION (stream))
    {
      io->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
      io->read_watch = qvm_socket_watch_new (io->socket);
    }
  io->input = g_object_ref (g_io_stream_get_input_stream (stream));
  io->output = g_object_ref (g_io_stream_get_output_stream (stream));
  io->cancellable = g_cancellable_new ();
  io->out = g_byte_array_new ();
  io->writer_idle = TRUE;
  qvm_wait_queue_init (&io->writer_queue);
  io->fd = -1;
  return io;
}

QvmQmpIo *
qvm_qmp_io_ref (QvmQmpIo *io)
{
  g_ref_count_inc (&io->ref_count);
  return io;
}

/* The last user of the stream closes it: by then no coroutine waits on its
 * socket, and no asynchronous read or write is pending on its streams. */
void
qvm_qmp_io_unref (QvmQmpIo *io)
{
  if (!g_ref_count_dec (&io->ref_count))
    return;

  g_clear_pointer (&io->read_watch, qvm_socket_watch_free);
  g_io_stream_close (io->stream, NULL, NULL);
  g_clear_object (&io->socket);
  g_clear_object (&io->input);
  g_clear_object (&io->output);
  g_clear_object (&io->stream);
  g_clear_object (&io->cancellable);
  g_byte_array_unref (io->out);
  g_clear_error (&io->write_error);
  qvm_wait_queue_clear (&io->writer_queue);
  if (io->fd >= 0)
    close (io->fd);
  g_free (io);
}

/* Reads at most @size bytes, waiting for some. Returns the number read,
 * 0 at end of stream, -1 on error (G_IO_ERROR_CANCELLED included). Only in a
 * coroutine. A socket is read directly, without a GTask per read, and
 * watched by one source for the client's whole life. */
gssize
qvm_qmp_io_read (QvmQmpIo      *io,
                 char          *buffer,
                 gsize          size,
                 GCancellable  *cancellable,
                 GError       **error)
{
  if (io->socket != NULL)
    return qvm_socket_watch_receive (io->read_watch, buffer, size, cancellable, error);
  return qvm_await_input_stream_read (io->input, buffer, size, cancellable, error);
}

/* Sends what the socket takes now without waiting. FALSE on a hard error. */
static gboolean
io_send_now (QvmQmpIo  *io,
             GError   **error)
{
  while (io->out_done < io->out->len)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = qvm_qmp_io_send_chunk (io, &local_error);

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

/* The writer: runs only while there is output the socket did not take at
 * once (or, for streams that are not sockets, any output at all). */
void
qvm_qmp_writer_co (gpointer data)
{
  QvmQmpIo *io = data;

  while (!io->closing)
    {
      g_autoptr(GError) error = NULL;

      if (io->out_done == io->out->len || io->write_error != NULL)
        {
          /* Woken by qvm_qmp_io_kick_writer(); closing cancels the wait. */
          io->writer_idle = TRUE;
          if (!qvm_wait_queue_wait (&io->writer_queue, -1, io->cancellable, NULL))
            break;
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
          g_autoptr(GByteArray) bytes = g_steal_pointer (&io->out);

          io->out = g_byte_array_new ();
          io->out_done = 0;
          if (!qvm_await_output_stream_write_all (io->output, bytes->data, bytes->len, NULL,
                                                  io->cancellable, &error))
            {
              if (io->closing)
                break;
              io_write_failed (io, g_steal_pointer (&error));
            }
        }
    }

  io->writer = NULL;
  qvm_qmp_io_unref (io);
}

/* New output was queued: send it now if the writer is not already busy,
 * and wake the writer for what the socket does not take. */
void
qvm_qmp_io_kick_writer (QvmQmpIo *io)
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

  if (io->writer_started)
    {
      qvm_wait_queue_wake_one (&io->writer_queue);
      return;
    }
  io->writer_started = TRUE;
  qvm_coroutine_enter (io->writer);
}


/* Sends from out_done on: with the pending descriptor when its byte is the
 * next one, and never past that byte without it. */
gssize
qvm_qmp_io_send_chunk (QvmQmpIo  *io,
                       GError   **error)
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

