/* qvm-console.h: a virtual machine's serial console
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>

#include "qvm-console-stream.h"
#include "qvm-version-macros.h"

G_BEGIN_DECLS

/**
 * QVM_CONSOLE_DEFAULT_RING_SIZE:
 *
 * The default of [property@Qvm.Console:ring-size]: 1 MiB of the guest's
 * most recent output.
 */
#define QVM_CONSOLE_DEFAULT_RING_SIZE (1024 * 1024)

/**
 * QvmConsoleFrom:
 * @QVM_CONSOLE_FROM_OLDEST: from the oldest byte the ring still holds
 * @QVM_CONSOLE_FROM_NOW: from the next byte the guest writes
 *
 * Where a new reader of a [class@Qvm.Console] starts.
 */
typedef enum {
  QVM_CONSOLE_FROM_OLDEST,
  QVM_CONSOLE_FROM_NOW,
} QvmConsoleFrom;


QVM_AVAILABLE_IN_ALL
guint             qvm_console_get_ring_size       (QvmConsole          *console);
QVM_AVAILABLE_IN_ALL
void              qvm_console_set_ring_size       (QvmConsole          *console,
                                                   guint                ring_size);
QVM_AVAILABLE_IN_ALL
guint64           qvm_console_get_bytes_received  (QvmConsole          *console);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_console_is_closed           (QvmConsole          *console);
QVM_AVAILABLE_IN_ALL
GBytes           *qvm_console_get_recent          (QvmConsole          *console,
                                                   guint64             *offset);

QVM_AVAILABLE_IN_ALL
QvmConsoleStream *qvm_console_open_stream         (QvmConsole          *console,
                                                   QvmConsoleFrom       from);

QVM_AVAILABLE_IN_ALL
gboolean          qvm_console_write               (QvmConsole          *console,
                                                   const char          *data,
                                                   gssize               length,
                                                   GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_console_wait_for_async      (QvmConsole          *console,
                                                   QvmConsoleStream    *reader,
                                                   const char          *regex,
                                                   guint                timeout_ms,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
QVM_AVAILABLE_IN_ALL
char             *qvm_console_wait_for_finish     (QvmConsole          *console,
                                                   GAsyncResult        *result,
                                                   guint64             *offset,
                                                   GError             **error);
QVM_AVAILABLE_IN_ALL
char             *qvm_console_wait_for            (QvmConsole          *console,
                                                   QvmConsoleStream    *reader,
                                                   const char          *regex,
                                                   guint                timeout_ms,
                                                   guint64             *offset,
                                                   GCancellable        *cancellable,
                                                   GError             **error);

G_END_DECLS
