/* qvm-qmp-parser-private.h: QMP framing and message parsing (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure functions, no I/O: the client feeds the bytes it reads and gets back
 * complete, classified QMP messages. QEMU ends each message with "\r\n",
 * but the framer does not rely on it: it follows the JSON structure (braces,
 * strings, escapes), so pretty-printed messages and messages split at any
 * byte work the same. Memory is bounded: a message longer than the parser's
 * maximum size, or nested deeper than QVM_QMP_MAX_DEPTH, is an error as soon
 * as the bound is crossed, before the rest is buffered. After an error the
 * parser stays failed and returns the same error.
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* QEMU's largest replies (query-qmp-schema) are around 200 KiB. */
#define QVM_QMP_MAX_MESSAGE_SIZE (16 * 1024 * 1024)

/* QMP messages nest a handful of levels; the bound keeps json-glib's
 * recursive parser well inside a small coroutine stack. */
#define QVM_QMP_MAX_DEPTH 128

typedef enum {
  QVM_QMP_MESSAGE_GREETING,
  QVM_QMP_MESSAGE_RETURN,
  QVM_QMP_MESSAGE_ERROR,
  QVM_QMP_MESSAGE_EVENT,
} QvmQmpMessageKind;

/* A classified message. Pointers other than @root are borrowed from @root. */
typedef struct {
  QvmQmpMessageKind kind;
  JsonNode *root;

  /* RETURN and ERROR: the "id" member, or NULL. */
  JsonNode *id;

  /* RETURN: the "return" member. */
  JsonNode *value;

  /* ERROR: the "class" and "desc" members of "error". */
  const char *error_class;
  const char *error_desc;

  /* EVENT */
  const char *event;
  JsonObject *event_data;     /* nullable */
  gint64 timestamp_us;

  /* GREETING */
  gint64 version_major;
  gint64 version_minor;
  gint64 version_micro;
  const char *package;        /* nullable */
  JsonArray *capabilities;    /* of strings */
} QvmQmpMessage;

void qvm_qmp_message_free (QvmQmpMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmQmpMessage, qvm_qmp_message_free)

/* Classifies a parsed JSON value (takes a reference on @root). Anything that
 * is not a QMP greeting, return, error or event is a QVM_ERROR_PROTOCOL. */
QvmQmpMessage *qvm_qmp_message_new (JsonNode  *root,
                                    GError   **error);

typedef struct _QvmQmpParser QvmQmpParser;

/* @max_message_size 0 means QVM_QMP_MAX_MESSAGE_SIZE. */
QvmQmpParser *qvm_qmp_parser_new  (gsize         max_message_size);
void          qvm_qmp_parser_free (QvmQmpParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmQmpParser, qvm_qmp_parser_free)

/* Consumes @length bytes of @data, appending each complete message to
 * @messages (of QvmQmpMessage, transfer full) in order. Returns FALSE with a
 * QVM_ERROR_PROTOCOL on the first byte that breaks the protocol; messages
 * completed before it are still appended. */
gboolean qvm_qmp_parser_feed (QvmQmpParser  *parser,
                              const char    *data,
                              gsize          length,
                              GQueue        *messages,
                              GError       **error);

/* TRUE when part of a message has been fed but not its end. */
gboolean qvm_qmp_parser_in_message (QvmQmpParser *parser);

/* The number of bytes fed so far (for error messages). */
guint64 qvm_qmp_parser_get_offset (QvmQmpParser *parser);

/* The text of a command, ending with a newline. @arguments may be NULL. */
char *qvm_qmp_build_command (const char *command,
                             JsonObject *arguments,
                             guint64     id,
                             gsize      *out_length);

/* A short, printable excerpt of @data for error messages (at most about
 * 40 characters, non-ASCII and control bytes escaped). */
char *qvm_qmp_excerpt (const char *data,
                       gsize       length);

G_END_DECLS
