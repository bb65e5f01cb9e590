/* qvm-qmp-io-private.h: what the files of QvmQmpClient share
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The instance struct, the I/O state its coroutines share, and the
 * functions one file calls in another:
 *
 *  - qvm-qmp-client.c: the reader's dispatching of what QEMU sends, events,
 *    closing, properties and signals;
 *  - qvm-qmp-calls.c: commands, their table of calls, replies matched to
 *    them, the blocking execute();
 *  - qvm-qmp-io.c: the socket's reader and writer (QvmQmpIo);
 *  - qvm-qmp-handshake.c: the greeting, capabilities, construction and
 *    connecting to a socket path;
 *  - qvm-qmp-fd.c: a descriptor passed with a command.
 */

#pragma once

#include "qvm-coroutine-gio-private.h"
#include "qvm-coroutine-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-parser-private.h"

G_BEGIN_DECLS

/* How much the reader asks the socket for at once. */
#define READ_CHUNK_SIZE (64 * 1024)

typedef enum {
  CLIENT_STATE_NEW,
  CLIENT_STATE_HANDSHAKE,
  CLIENT_STATE_READY,
  CLIENT_STATE_CLOSED,
} ClientState;

typedef struct {
  grefcount       ref_count;
  QvmQmpClient   *client;        /* not owned; NULL once it closed */
  GIOStream      *stream;
  GSocket        *socket;        /* set when the stream is a socket: the fast path */
  QvmSocketWatch *read_watch;    /* with the socket: what reads wait on */
  GInputStream   *input;
  GOutputStream  *output;
  GCancellable   *cancellable;   /* cancelled when the client closes */
  gboolean        closing;

  QvmCoroutine   *reader;        /* NULL once it returned */
  gboolean        reader_started;
  QvmCoroutine   *writer;        /* NULL once it returned */
  gboolean        writer_started;
  gboolean        writer_idle;   /* waits for work, or never entered */
  QvmWaitQueue    writer_queue;  /* where the writer waits for work */

  GByteArray     *out;           /* queued bytes; the first out_done are sent */
  gsize           out_done;
  GError         *write_error;   /* the first failed write */

  /* A descriptor sent (SCM_RIGHTS) with the byte out[fd_offset], the
   * first of a command; -1 when none. See qvm_qmp_client_attach_fd(). */
  int             fd;
  gsize           fd_offset;
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

/* A blocking call's result, filled by qvm_qmp_on_sync_done(). */
typedef struct {
  GAsyncResult *result;
} SyncData;

QvmQmpIo *qvm_qmp_io_new          (GIOStream     *stream);
QvmQmpIo *qvm_qmp_io_ref          (QvmQmpIo      *io);
void      qvm_qmp_io_unref        (QvmQmpIo      *io);
gssize    qvm_qmp_io_read         (QvmQmpIo      *io,
                                   char          *buffer,
                                   gsize          size,
                                   GCancellable  *cancellable,
                                   GError       **error);
void      qvm_qmp_io_kick_writer  (QvmQmpIo      *io);
gssize    qvm_qmp_io_send_chunk   (QvmQmpIo      *io,
                                   GError       **error);
/* The coroutine bodies; @data is the QvmQmpIo (a reference). */
void      qvm_qmp_writer_co     (gpointer       data);
void      qvm_qmp_reader_co     (gpointer       data);

/* In qvm-qmp-calls.c: frees a QvmQmpCall (the calls table's destroy
 * function); ends the call a reply answers (FALSE, with @error, when the
 * reply breaks the protocol); the blocking calls' hold on the client's
 * context. */
void      qvm_qmp_call_free              (gpointer        data);
gboolean  qvm_qmp_client_dispatch_reply  (QvmQmpClient   *self,
                                          QvmQmpMessage  *message,
                                          GError        **error);
gboolean  qvm_qmp_client_acquire_context (QvmQmpClient   *client,
                                          GError        **error);
void      qvm_qmp_client_release_context (QvmQmpClient   *client);

void      qvm_qmp_client_shut_down    (QvmQmpClient *self,
                                       GError       *reason,
                                       GError       *pending_error,
                                       gboolean      emit);
GError   *qvm_qmp_client_closed_error (QvmQmpClient *self);

void      qvm_qmp_on_sync_done    (GObject       *source,
                                   GAsyncResult  *result,
                                   gpointer       data);
void      qvm_qmp_run_until_done  (GMainContext  *context,
                                   SyncData      *sync);

void      qvm_qmp_async_initable_iface_init (GAsyncInitableIface *iface);

G_END_DECLS
