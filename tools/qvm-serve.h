/* qvm-serve.h: the metadata service of `qvm run` (a folder served
 * read-only, an outbox for what the guest sends)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The most the outbox takes in all, over every PUT/POST of a run, as
 * charged: each file written costs its size rounded up to whole blocks,
 * plus one block for the file itself, so that empty or 1-byte bodies
 * cost what they take on disk. */
#define QVM_SERVE_OUTBOX_LIMIT (64 * 1024 * 1024)
#define QVM_SERVE_OUTBOX_BLOCK 4096
/* The most files the outbox holds (rewriting a file adds none). */
#define QVM_SERVE_OUTBOX_MAX_FILES 1024

typedef struct _QvmServe QvmServe;

/* Called for each request once it is answered (or paused, status 0);
 * @method and @path come escaped by qvm_serve_escape(). */
typedef void (*QvmServeLogFunc) (const char *method,
                                 const char *path,
                                 guint       status,
                                 gpointer    user_data);

/* Called when the guest GETs /payload, before the answer is sent. The
 * message is paused; call qvm_serve_payload_release() to send it. */
typedef void (*QvmServePayloadFunc) (QvmServe *serve,
                                     gpointer  user_data);

/* Called when the guest POSTs /result?status=N; @status is NULL without
 * one, and escaped by qvm_serve_escape() (result.status holds it as
 * sent). */
typedef void (*QvmServeResultFunc) (const char *status,
                                    gpointer    user_data);

QvmServe *qvm_serve_new             (const char  *root,
                                     const char  *payload,
                                     const char  *outbox);
void      qvm_serve_free            (QvmServe    *serve);
void      qvm_serve_set_callbacks   (QvmServe            *serve,
                                     QvmServeLogFunc      log,
                                     QvmServePayloadFunc  payload,
                                     QvmServeResultFunc   result,
                                     gpointer             user_data);
void      qvm_serve_set_outbox_limit (QvmServe   *serve,
                                      guint64     limit);
void      qvm_serve_set_outbox_max_files (QvmServe *serve,
                                          guint     max_files);
void      qvm_serve_payload_release (QvmServe    *serve);

/* The SoupServerCallback; user_data is the QvmServe. */
void      qvm_serve_handle          (SoupServer        *server,
                                     SoupServerMessage *message,
                                     const char        *path,
                                     GHashTable        *query,
                                     gpointer           user_data);

/* The file under @root that a GET of @path (as in the URI: percent
 * encoded) names, as a canonical absolute path of a regular file inside
 * @root. Refuses "..", ".", encoded slashes and NUL bytes, and a path whose
 * symbolic links lead out of @root. G_IO_ERROR_PERMISSION_DENIED for a
 * path that tries to leave @root, G_IO_ERROR_NOT_FOUND for a missing file,
 * G_IO_ERROR_IS_DIRECTORY / G_IO_ERROR_NOT_REGULAR_FILE for others. */
char     *qvm_serve_resolve         (const char  *root,
                                     const char  *path,
                                     GError     **error);

/* The outbox file name for a PUT/POST of @path: its components joined by
 * "_" ("/a/b" gives "a_b"), or NULL with G_IO_ERROR_PERMISSION_DENIED for
 * "..", ".", an empty path or bytes that do not belong in a name (anything
 * qvm_serve_is_printable() refuses, so names print as they are). */
char     *qvm_serve_outbox_name     (const char  *path,
                                     GError     **error);

/* @text made safe to print on a terminal: printable UTF-8 as it is, "\\"
 * for a backslash, "\xNN" for a control byte (C0, DEL) or a byte that is
 * not valid UTF-8, "\uNNNN" (or "\UNNNNNNNN") for a character that is not
 * printable (C1 controls, bidirectional and other format characters), so
 * that no escape sequence reaches the terminal. NULL for NULL. Everything
 * printed from guest input goes through it. */
char     *qvm_serve_escape          (const char  *text);

/* Whether @text is valid UTF-8 of printable characters only, so that
 * qvm_serve_escape() would leave it as it is (backslashes aside). */
gboolean  qvm_serve_is_printable    (const char  *text);

G_END_DECLS
