/* qmp-test-util.h: helpers shared by the QMP client tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "qvm.h"

G_BEGIN_DECLS

/* Iterates the thread-default main context until *@flag is TRUE. */
void qmp_test_wait_for (gboolean *flag);

/* Iterates it without blocking until nothing is left to dispatch. */
void qmp_test_drain (void);

typedef struct _QmpTestRecorder QmpTestRecorder;

/* The outcome of one asynchronous call. */
typedef struct {
  gboolean         done;
  JsonNode        *result;
  GError          *error;
  /* When set, how many events it had recorded when the callback ran. */
  QmpTestRecorder *recorder;
  guint            events_seen;
} QmpTestCall;

void qmp_test_call_clear (QmpTestCall *call);

/* An execute_async() callback filling a QmpTestCall. */
void qmp_test_on_executed (GObject      *source,
                           GAsyncResult *result,
                           gpointer      data);

/* Makes a client with qvm_qmp_client_new_async() and waits for it. */
QvmQmpClient *qmp_test_client_new (GIOStream *stream,
                                   GError   **error);

/* Runs a command and waits for its reply. */
JsonNode *qmp_test_execute (QvmQmpClient *client,
                            const char   *command,
                            JsonObject   *arguments,
                            GError      **error);

/* Records the client's events and its closed signal. */
struct _QmpTestRecorder {
  QvmQmpClient *client;    /* a reference, dropped by clear() */
  GPtrArray *names;        /* of char*, in order */
  GArray    *timestamps;   /* of gint64 */
  gboolean   closed;
  guint      closed_count;
  GError    *closed_reason;
  guint      events_when_closed;
};

void qmp_test_recorder_attach (QmpTestRecorder *recorder,
                               QvmQmpClient    *client);
void qmp_test_recorder_clear  (QmpTestRecorder *recorder);

G_END_DECLS
