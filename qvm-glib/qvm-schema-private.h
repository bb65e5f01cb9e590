/* qvm-schema-private.h: a small JSON Schema validator (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The machine and options schemas in qvm-glib/schemas/ are the one source of
 * truth for what a valid definition is; this validator applies them. It
 * implements the draft-04 keywords those schemas use and no more: type,
 * properties, required, additionalProperties (boolean or schema), enum,
 * pattern, minimum, maximum (with exclusiveMinimum/exclusiveMaximum as
 * draft-04 booleans), minLength, maxLength, items (one schema), anyOf,
 * oneOf, and the annotations title, description, default, $schema, $id/id.
 * A schema that uses any other keyword is refused when it is loaded, so a
 * schema can never silently mean more than is checked.
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _QvmSchema QvmSchema;

/* Parses a schema. Fails with G_IO_ERROR_INVALID_DATA when @data is not
 * JSON, or uses an unsupported keyword or a malformed one (the message names
 * the keyword and its place in the schema). */
QvmSchema *qvm_schema_new_from_data     (const char  *data,
                                         gssize       length,
                                         GError     **error);
QvmSchema *qvm_schema_new_from_resource (const char  *resource_path,
                                         GError     **error);
/* Takes a reference on @root (the schema as a JSON node). */
QvmSchema *qvm_schema_new_from_node     (JsonNode    *root,
                                         GError     **error);

QvmSchema *qvm_schema_ref   (QvmSchema *schema);
void       qvm_schema_unref (QvmSchema *schema);

/* Validates @instance. Returns TRUE when it is valid. Otherwise appends one
 * human-readable line per problem to @problems (element type utf8, owned by
 * the array; may be NULL when only the verdict matters), in document order,
 * each of the form
 *
 *     network.mac: "01:00:5e:00:00:01" does not match ^[0-9a-f]{2}…$
 *     memory: 2000000 is greater than the maximum 1048576
 *     cpu.cores: expected an integer, got a string ("four")
 *     sound: unknown property "volume"
 *     (root): missing required property "uuid"
 *
 * The path is the JSON path of the offending value: object members joined
 * with '.', array elements as [N], "(root)" for the document itself. Values
 * are shown as compact JSON, long ones shortened with "…". */
gboolean qvm_schema_validate (QvmSchema *schema,
                              JsonNode  *instance,
                              GPtrArray *problems);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmSchema, qvm_schema_unref)

G_END_DECLS
