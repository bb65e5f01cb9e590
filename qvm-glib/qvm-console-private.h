/* qvm-console-private.h: what the machine and the streams use of QvmConsole
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The console holds the guest's output in a ring addressed by absolute
 * offsets (the count of bytes received before each byte): it keeps
 * [start, end) with end - start <= ring size. Each reader is a cursor, an
 * offset of its own; a cursor behind start has lost start - position
 * bytes, counted in its @lost, and jumps to start.
 */

#pragma once

#include <gio/gio.h>

#include "qvm-console.h"

G_BEGIN_DECLS

/* How long a line of the console may grow before it is cut: the guest
 * controls it, and a guest that never sends a newline must not make the
 * library buffer without bound. */
#define QVM_CONSOLE_LINE_MAX 4096

/* How many bytes written to the guest may wait for QEMU to take them. */
#define QVM_CONSOLE_OUTGOING_MAX (1024 * 1024)

typedef struct {
  guint64  position;   /* the offset of the next byte to read */
  guint64  lost;       /* bytes the ring dropped before this cursor read them */
  gboolean waiting;    /* a wait_for uses it */
} QvmConsoleCursor;

/* A console tagging its log records with @log_id, whose sources and
 * signals run in @context. Nothing is read until qvm_console_attach(). */
QvmConsole   *qvm_console_new              (const char        *log_id,
                                            GMainContext      *context);

/* Starts draining @socket (a connected stream socket, a reference is
 * taken; made non-blocking) and sends it what was written so far. Once. */
void          qvm_console_attach           (QvmConsole        *console,
                                            GSocket           *socket);

/* Ends the console: reads what is left in the socket, closes it, ends the
 * streams (after the bytes they have not read) and the waits, with a copy
 * of @error (or QVM_ERROR_CLOSED when NULL). Once; later calls do nothing. */
void          qvm_console_end              (QvmConsole        *console,
                                            const GError      *error);

GMainContext *qvm_console_get_context      (QvmConsole        *console);

/* Copies up to @count bytes at @cursor into @buffer and advances it:
 * 0 when nothing is there now. */
gsize         qvm_console_read_cursor      (QvmConsole        *console,
                                            QvmConsoleCursor  *cursor,
                                            void              *buffer,
                                            gsize              count);

/* Bytes are there for @cursor, or no more will come. */
gboolean      qvm_console_cursor_ready     (QvmConsole        *console,
                                            QvmConsoleCursor  *cursor);

/* No more bytes will come: the socket ended or the console did. */
gboolean      qvm_console_input_ended      (QvmConsole        *console);

/* Queues up to @count bytes for the guest: how many, or -1 with
 * G_IO_ERROR_WOULD_BLOCK when the queue is full, G_IO_ERROR_CLOSED once
 * ended. */
gssize        qvm_console_queue_write      (QvmConsole        *console,
                                            const void        *buffer,
                                            gsize              count,
                                            GError           **error);

/* A write would not block (room in the queue, or an error to report). */
gboolean      qvm_console_can_write        (QvmConsole        *console);

/* The bytes the console holds in buffers: the ring, the read chunk, the
 * line and the outgoing queue (for the tests of its bound). */
gsize         qvm_console_get_memory_used  (QvmConsole        *console);

/* A source that dispatches while @ready (@data) holds, checked at each
 * iteration of the console's context: the streams' pollable sources. Its
 * callback is a GPollableSourceFunc given @pollable. */
typedef gboolean (*QvmConsoleReadyFunc) (gpointer data);

GSource      *qvm_console_ready_source_new (QvmConsoleReadyFunc ready,
                                            gpointer            data,
                                            GObject            *pollable,
                                            GCancellable       *cancellable);

/* Runs the console's context until @ready (@data) holds or @cancellable
 * is cancelled (FALSE). For the streams' blocking reads and writes. */
gboolean      qvm_console_block_until      (QvmConsole         *console,
                                            QvmConsoleReadyFunc ready,
                                            gpointer            data,
                                            GCancellable       *cancellable,
                                            GError            **error);

/* Creates the stream of a reader at @position (for qvm_console_open_stream). */
QvmConsoleStream *
              qvm_console_stream_new       (QvmConsole        *console,
                                            guint64            position);

/* The position of @stream's reader. */
QvmConsoleCursor *
              qvm_console_stream_get_cursor (QvmConsoleStream *stream);

G_END_DECLS
