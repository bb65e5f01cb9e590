/* qvm-console-stream.h: one reader's view of a serial console
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>

#include "qvm-version-macros.h"

G_BEGIN_DECLS

/* Declared here so that both headers can name both types. */
#define QVM_TYPE_CONSOLE (qvm_console_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmConsole, qvm_console, QVM, CONSOLE, GObject)

#define QVM_TYPE_CONSOLE_STREAM (qvm_console_stream_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmConsoleStream, qvm_console_stream, QVM, CONSOLE_STREAM, GIOStream)

QVM_AVAILABLE_IN_ALL
QvmConsole *qvm_console_stream_get_console    (QvmConsoleStream *stream);
QVM_AVAILABLE_IN_ALL
guint64     qvm_console_stream_get_position   (QvmConsoleStream *stream);
QVM_AVAILABLE_IN_ALL
guint64     qvm_console_stream_get_bytes_lost (QvmConsoleStream *stream);

G_END_DECLS
