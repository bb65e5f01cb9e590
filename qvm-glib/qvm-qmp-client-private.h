/* qvm-qmp-client-private.h: QvmQmpClient internals shared with the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qvm-qmp-client.h"

G_BEGIN_DECLS

/* The GError for a QMP error reply: the code maps @error_class (unknown
 * classes give QVM_QMP_ERROR_UNKNOWN, whose message names the class), the
 * message is @desc. */
GError *qvm_qmp_error_new_from_reply (const char *error_class,
                                      const char *desc);

/* How many commands wait for a reply (not counting cancelled ones). */
guint qvm_qmp_client_get_pending_count (QvmQmpClient *client);

/* Typed awaits for coroutine code (see qvm-coroutine-gio-private.h),
 * in qvm-qmp-await.c. */

/* qvm_qmp_client_new_async() with the client's timeout set to
 * @timeout_ms (0: none), which bounds the handshake too (transfer full). */
QvmQmpClient *qvm_qmp_client_await_new     (GIOStream     *stream,
                                            guint          timeout_ms,
                                            GCancellable  *cancellable,
                                            GError       **error);

/* qvm_qmp_client_execute_async(): the answer's "return" member (transfer
 * full), or NULL with @error. */
JsonNode     *qvm_qmp_client_await_execute (QvmQmpClient  *client,
                                            const char    *command,
                                            JsonObject    *arguments,
                                            GCancellable  *cancellable,
                                            GError       **error);

/* qvm_qmp_client_close_async(). */
gboolean      qvm_qmp_client_await_close   (QvmQmpClient  *client,
                                            GCancellable  *cancellable,
                                            GError       **error);

/* One command of a batch: what to send, and (filled in) how it went. */
typedef struct {
  const char *command;
  JsonObject *arguments;    /* nullable */
  int         fd;           /* -1, or a descriptor sent with the command
                             * (add-fd, getfd); the caller keeps its own */
  gboolean    always;       /* not cancelled with the batch: a clean-up
                             * that must run whatever happened (remove-fd) */
  JsonNode   *answer;       /* out: the "return" member (transfer full) */
  GError     *error;        /* out */
} QvmQmpBatchCommand;

/* Sends @commands at once, in order, and waits until each has answered:
 * one round trip for an exchange such as add-fd + screendump + remove-fd
 * (QEMU runs in-band commands in the order they came). At most one of them
 * may carry a descriptor; the client's descriptor lock is held meanwhile.
 * Returns TRUE when every command succeeded; each command's answer or
 * error is in its record either way (free them with
 * qvm_qmp_batch_command_clear()). */
gboolean      qvm_qmp_client_await_batch   (QvmQmpClient       *client,
                                            QvmQmpBatchCommand *commands,
                                            guint               n_commands,
                                            GCancellable       *cancellable);

/* Frees what a batch filled in. */
void          qvm_qmp_batch_command_clear  (QvmQmpBatchCommand *command);

/* A detailed signal (name, data, timestamp) for QMP events: the client's
 * "event" and the machine's "qmp-event". */
guint qvm_qmp_event_signal_new (const char *name,
                                GType       itype);

G_END_DECLS
