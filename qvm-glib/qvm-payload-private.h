/* qvm-payload-private.h: reading and validating JSON written by image and task authors
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every JSON document that comes from an author (machine.json, machine
 * options) goes the same way: read at most QVM_PAYLOAD_MAX_SIZE bytes, check
 * UTF-8 and a strict JSON token scan (nesting depth, number syntax) before
 * json-glib sees it, parse, validate against the document's JSON Schema, and
 * report every problem in one QVM_ERROR_MALFORMED_PAYLOAD whose message has
 * one line per problem.
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "qvm-schema-private.h"

G_BEGIN_DECLS

/* The largest document accepted, in bytes (1 MiB). */
#define QVM_PAYLOAD_MAX_SIZE (1024 * 1024)

/* The deepest nesting of arrays and objects accepted. json-glib's parser
 * recurses once per level, so a document of a million '[' would otherwise
 * exhaust the stack. */
#define QVM_PAYLOAD_MAX_DEPTH 32

/* Reads all of @file, refusing (QVM_ERROR_MALFORMED_PAYLOAD) a file larger
 * than QVM_PAYLOAD_MAX_SIZE before reading it, and again while reading in
 * case it grows. GIO errors (not found, a directory…) keep their domain and
 * code. Every message starts with the file's name. */
GBytes *qvm_payload_read_file (GFile         *file,
                               GCancellable  *cancellable,
                               GError       **error);

/* Propagates a GIO error about @name: domain and code are kept, the
 * message gains "@name: " unless GIO already named the file. */
void qvm_payload_propagate_file_error (GError     **error,
                                       GError      *io_error,
                                       const char  *name);

/* Checks the size limit, UTF-8 (the message gives the byte offset of the
 * first bad byte), JSON tokens and nesting depth of @data, then parses it.
 * Every failure is QVM_ERROR_MALFORMED_PAYLOAD; the message starts with
 * "@source: " (a file name), or "(root): " when @source is NULL. Returns the root node, never NULL on success. */
JsonNode *qvm_payload_parse (const char  *data,
                             gsize        length,
                             const char  *source,
                             GError     **error);

/* Says more precisely than the schema why the value at @path (a path as
 * the validator prints it) is wrong; called once for each line of the
 * validator, with @problem the text after "path: ". Returns the new text
 * for that line, or NULL to keep the line, or "" (an empty string) to drop
 * it because another line already says it. Lines that come out the same
 * are merged. */
typedef char *(*QvmPayloadExplainFunc) (const char *path,
                                        const char *problem,
                                        JsonNode   *value,
                                        JsonNode   *root);

/* Validates @root against @schema. On failure sets one
 * QVM_ERROR_MALFORMED_PAYLOAD error with one line per problem, in document
 * order, each starting with "@source: " when @source is not NULL; @explain
 * (nullable) rewrites the lines of the paths it knows. */
gboolean qvm_payload_validate (QvmSchema              *schema,
                               JsonNode               *root,
                               const char             *source,
                               QvmPayloadExplainFunc   explain,
                               GError                **error);

/* Parses and validates in one go. */
JsonNode *qvm_payload_load (QvmSchema              *schema,
                            const char             *data,
                            gsize                   length,
                            const char             *source,
                            QvmPayloadExplainFunc   explain,
                            GError                **error);

/* Sets a QVM_ERROR_MALFORMED_PAYLOAD error from @problems (element type
 * utf8), one line each, prefixed with "@source: " when it is not NULL. */
void qvm_payload_set_error (GError     **error,
                            const char  *source,
                            GPtrArray   *problems);

/* The value as compact JSON for a message, shortened with "…" when long. */
char *qvm_payload_format_value (JsonNode *value);

/* @root as pretty-printed JSON (two-space indent) ending with a newline: the
 * text of a machine.json or options file. */
char *qvm_payload_to_text (JsonNode *root);

/* The node at @path ("network.mac", "(root)", "a[2].b") below @root, or NULL. */
JsonNode *qvm_payload_lookup (JsonNode   *root,
                              const char *path);

/* The text of a schema compiled into the library's resources under
 * /org/qvm-glib/schemas/@name (NUL-terminated, static). */
const char *qvm_payload_get_builtin_schema_text (const char *name);

/* Compiles that schema. Returns (transfer full) a new schema. */
QvmSchema *qvm_payload_load_builtin_schema (const char *name);

G_END_DECLS
