/* qvm-schema-internal-private.h: what the validator's own files share
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rest of the library sees only qvm-schema-private.h. Behind it, a
 * schema is compiled once into a tree of QvmSchemaNode (qvm-schema-load.c,
 * with its patterns translated by qvm-schema-pattern.c) and instances are
 * checked against that tree (qvm-schema-validate.c). Both sides compare
 * JSON values the draft-04 way (qvm-schema-value.c) and word their
 * messages the same way, "path: problem" with values shown as short
 * compact JSON (qvm-schema-show.c). qvm-schema.c holds the QvmSchema
 * handle that ties a compiled tree to the private API.
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Both schemas and instances are walked recursively; this bounds the stack. */
#define QVM_SCHEMA_MAX_DEPTH 64

/* Values quoted in messages are shortened beyond this many bytes. */
#define QVM_SCHEMA_SHOWN_MAX 60

typedef enum {
  QVM_SCHEMA_TYPE_NULL    = 1 << 0,
  QVM_SCHEMA_TYPE_BOOLEAN = 1 << 1,
  QVM_SCHEMA_TYPE_OBJECT  = 1 << 2,
  QVM_SCHEMA_TYPE_ARRAY   = 1 << 3,
  QVM_SCHEMA_TYPE_NUMBER  = 1 << 4,
  QVM_SCHEMA_TYPE_INTEGER = 1 << 5,
  QVM_SCHEMA_TYPE_STRING  = 1 << 6,
} QvmSchemaType;

#define QVM_SCHEMA_N_TYPES 7

/* A JSON number as json-glib holds it: integers stay exact. */
typedef struct {
  gboolean is_integer;
  gint64 integer;
  double real;
} QvmSchemaNumber;

typedef enum {
  QVM_SCHEMA_ADDITIONAL_ANY,
  QVM_SCHEMA_ADDITIONAL_NONE,
  QVM_SCHEMA_ADDITIONAL_SCHEMA,
} QvmSchemaAdditional;

typedef struct _QvmSchemaNode QvmSchemaNode;

/* One schema object, compiled: every keyword already checked, so that
 * validation never meets a malformed one and never parses anything. */
struct _QvmSchemaNode
{
  /* "type", in the schema's order so messages list them as written;
   * n_types == 0 when any type is allowed. */
  QvmSchemaType types[QVM_SCHEMA_N_TYPES];
  guint n_types;

  GHashTable *properties;        /* member name → QvmSchemaNode, or NULL */
  GPtrArray *required;           /* member names (char *), or NULL */
  QvmSchemaAdditional additional;
  QvmSchemaNode *additional_schema;

  JsonArray *enum_values;        /* owned reference, or NULL */

  GRegex *pattern;
  char *pattern_source;          /* as written in the schema */

  gboolean has_minimum;
  gboolean exclusive_minimum;
  QvmSchemaNumber minimum;
  gboolean has_maximum;
  gboolean exclusive_maximum;
  QvmSchemaNumber maximum;

  gint64 min_length;             /* -1 when absent */
  gint64 max_length;             /* -1 when absent */

  QvmSchemaNode *items;
  GPtrArray *any_of;             /* QvmSchemaNode *, or NULL */
  GPtrArray *one_of;             /* QvmSchemaNode *, or NULL */
};

/* qvm-schema-load.c: compiles @root, or fails with G_IO_ERROR_INVALID_DATA
 * naming the keyword and its place in the schema. */
QvmSchemaNode *qvm_schema_node_load (JsonNode   *root,
                                     GError    **error);
void           qvm_schema_node_free (QvmSchemaNode *node);

/* qvm-schema-validate.c: appends one line per problem to @problems. */
void qvm_schema_node_validate (QvmSchemaNode *root,
                               JsonNode      *instance,
                               GPtrArray     *problems);

/* qvm-schema-pattern.c: an ECMA-262 "pattern" as a GRegex that means the
 * same; fails with G_IO_ERROR_INVALID_DATA or a GRegex error. @source must
 * be UTF-8. */
GRegex *qvm_schema_pattern_compile (const char  *source,
                                    GError     **error);

/* qvm-schema-value.c */
gboolean qvm_schema_json_get_number   (JsonNode              *node,
                                       QvmSchemaNumber       *number);
gboolean qvm_schema_json_is_integer   (JsonNode              *node);
gboolean qvm_schema_json_is_string    (JsonNode              *node);
gboolean qvm_schema_json_is_boolean   (JsonNode              *node);
gboolean qvm_schema_json_equal        (JsonNode              *a,
                                       JsonNode              *b);
gboolean qvm_schema_json_depth_within (JsonNode              *node,
                                       guint                  depth);
int      qvm_schema_number_compare    (const QvmSchemaNumber *a,
                                       const QvmSchemaNumber *b);

/* qvm-schema-show.c: values as they appear in messages (UTF-8 always). */
char *qvm_schema_show_value   (JsonNode              *node);
char *qvm_schema_show_string  (const char            *text);
char *qvm_schema_show_number  (const QvmSchemaNumber *number);
char *qvm_schema_show_pattern (const char            *source);

/* qvm-schema-show.c: paths, of instances and of schemas alike, grow and
 * shrink in a GString as the walk descends; push returns the length that
 * pop restores. */
gsize qvm_schema_path_push_member (GString    *path,
                                   const char *name);
gsize qvm_schema_path_push_index  (GString    *path,
                                   guint       index);
void  qvm_schema_path_pop         (GString    *path,
                                   gsize       saved);
/* "path: message", with "(root)" for the empty path. */
char *qvm_schema_path_vprintf     (GString    *path,
                                   const char *format,
                                   va_list     args) G_GNUC_PRINTF (2, 0);

G_END_DECLS
