/* qvm-coroutine-gio-private.h: typed awaits for GIO operations (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each function here is the blocking-looking twin of a GIO _async/_finish
 * pair, for coroutine code: it starts the operation on the main stack (as
 * qvm_coroutine_await() requires), yields until it completes, and returns
 * what _finish() returns. Protocol code then reads top to bottom with no
 * start/callback trampolines. Only inside a coroutine. The operation's
 * @cancellable cancels it as the GIO function would.
 *
 * For the library's own classes, QVM_DEFINE_AWAIT() writes the await of an
 * _async/_finish pair of GIO's usual shape in one line; awaits of calls
 * with more arguments are written out next to their operation (e.g. the
 * QMP client's in qvm-qmp-client-private.h).
 */

#pragma once

#include <gio/gio.h>

#include "qvm-coroutine-private.h"

G_BEGIN_DECLS

/* g_input_stream_read_async(): the bytes read, 0 at the end, -1 on error. */
gssize   qvm_await_input_stream_read       (GInputStream   *stream,
                                            void           *buffer,
                                            gsize           count,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* g_output_stream_write_async(): the bytes written, -1 on error. */
gssize   qvm_await_output_stream_write     (GOutputStream  *stream,
                                            const void     *buffer,
                                            gsize           count,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* g_output_stream_write_all_async(); @bytes_written (nullable) gets what
 * was written, also on failure. */
gboolean qvm_await_output_stream_write_all (GOutputStream  *stream,
                                            const void     *buffer,
                                            gsize           count,
                                            gsize          *bytes_written,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* g_socket_receive() on @socket's non-blocking descriptor, waiting with
 * qvm_coroutine_wait_socket() while nothing is there: the bytes read, 0 at
 * the end, -1 on error. No thread and no GTask per call; a GSocket read in
 * a loop is better served by a QvmSocketWatch (below). */
gssize   qvm_await_socket_receive          (GSocket        *socket,
                                            void           *buffer,
                                            gsize           count,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* A GSocket that one coroutine at a time reads in a loop (a protocol's
 * reader). Unlike qvm_coroutine_wait_socket(), whose GSource comes and goes
 * with each wait (and, like any source that may not recurse, has its
 * descriptor taken out of the poll set while it dispatches), the watch keeps
 * one source and its descriptor in the poll set: each removal and addition
 * wakes the main context (two eventfd writes and a read per message).
 * Its source is attached at the first wait, to the waiting coroutine's
 * context, and stops polling while nobody waits, so pending bytes cannot
 * make the main loop spin. */
typedef struct _QvmSocketWatch QvmSocketWatch;

/* Watches @socket (a reference) for input. */
QvmSocketWatch *
         qvm_socket_watch_new              (GSocket        *socket);
/* Nobody may be waiting. Safe on a coroutine stack. */
void     qvm_socket_watch_free             (QvmSocketWatch *watch);

/* Like qvm_await_socket_receive(), waiting with @watch: the bytes read, 0
 * at the end, -1 on error. Cancelling @cancellable wakes the wait (from any
 * thread); a cancellable once used stays connected until the next wait
 * with another one, so a loop on one cancellable connects it only once. */
gssize   qvm_socket_watch_receive          (QvmSocketWatch *watch,
                                            void           *buffer,
                                            gsize           count,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* g_io_stream_close_async(). */
gboolean qvm_await_io_stream_close         (GIOStream      *stream,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* g_socket_client_connect_async() (transfer full). */
GSocketConnection *
         qvm_await_socket_client_connect   (GSocketClient      *client,
                                            GSocketConnectable *connectable,
                                            GCancellable       *cancellable,
                                            GError            **error);

/* g_subprocess_launcher_spawnv() through qvm_spawn_tied_async(): the
 * child dies with this process, starts with no signal blocked, and
 * @launcher gets a child set-up function of the library's. (transfer full) */
GSubprocess *
         qvm_await_subprocess_spawnv       (GSubprocessLauncher *launcher,
                                            const char * const  *argv,
                                            GError             **error);

/* g_subprocess_wait_async(), so the child is reaped exactly once. On
 * cancellation the process is not killed. */
gboolean qvm_await_subprocess_wait         (GSubprocess    *subprocess,
                                            GCancellable   *cancellable,
                                            GError        **error);

/* Defines `ResultType NAME (ObjectType *object, GCancellable *cancellable,
 * GError **error)`, the await of ASYNC_FUNC (object, cancellable, callback,
 * user_data) / FINISH_FUNC (object, result, error). Declare NAME before:
 * in a header, or with `static` for a file's own use (the definition then
 * keeps that internal linkage). */
#define QVM_DEFINE_AWAIT(NAME, ObjectType, ResultType, ASYNC_FUNC, FINISH_FUNC)        \
  typedef struct {                                                                    \
    ObjectType   *object;                                                             \
    GCancellable *cancellable;                                                        \
  } NAME##_Call;                                                                      \
                                                                                      \
  static void                                                                         \
  NAME##_begin (gpointer            data,                                             \
                GAsyncReadyCallback callback,                                         \
                gpointer            callback_data)                                    \
  {                                                                                   \
    NAME##_Call *call = data;                                                         \
    ASYNC_FUNC (call->object, call->cancellable, callback, callback_data);            \
  }                                                                                   \
                                                                                      \
  ResultType                                                                          \
  NAME (ObjectType    *object,                                                        \
        GCancellable  *cancellable,                                                   \
        GError       **error)                                                         \
  {                                                                                   \
    NAME##_Call call = { object, cancellable };                                       \
    g_autoptr(GAsyncResult) result = qvm_coroutine_await (NAME##_begin, &call);       \
    return FINISH_FUNC (object, result, error);                                       \
  }

G_END_DECLS
