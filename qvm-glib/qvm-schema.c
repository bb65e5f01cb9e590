/* qvm-schema.c: a small JSON Schema (draft-04) validator
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The QvmSchema handle of qvm-schema-private.h: where a schema comes from
 * (JSON text, a GResource, a parsed node), its reference count, and the
 * one call that validates. The work is done behind it, in files of their
 * own (see qvm-schema-internal-private.h): qvm-schema-load.c compiles a
 * schema, qvm-schema-validate.c checks instances.
 */

#include "config.h"

#include <gio/gio.h>

#include "qvm-i18n-private.h"
#include "qvm-schema-internal-private.h"
#include "qvm-schema-private.h"

struct _QvmSchema
{
  QvmSchemaNode *root;
};

QvmSchema *
qvm_schema_new_from_node (JsonNode  *root,
                          GError   **error)
{
  QvmSchemaNode *schema_root;
  QvmSchema *schema;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  qvm_i18n_init ();

  schema_root = qvm_schema_node_load (root, error);
  if (schema_root == NULL)
    return NULL;

  schema = g_atomic_rc_box_new0 (QvmSchema);
  schema->root = schema_root;
  return schema;
}

QvmSchema *
qvm_schema_new_from_data (const char  *data,
                          gssize       length,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  qvm_i18n_init ();

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      /* json-glib quotes the token it stopped at, cut after 29 bytes even
       * in the middle of a character. */
      g_autofree char *why = g_utf8_make_valid (local_error->message, -1);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The schema is not valid JSON: %s"), why);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The schema is empty"));
      return NULL;
    }

  return qvm_schema_new_from_node (json_parser_get_root (parser), error);
}

QvmSchema *
qvm_schema_new_from_resource (const char  *resource_path,
                              GError     **error)
{
  g_autoptr(GBytes) bytes = NULL;
  QvmSchema *schema;
  gsize size;
  const char *data;

  g_return_val_if_fail (resource_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bytes = g_resources_lookup_data (resource_path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    return NULL;

  data = g_bytes_get_data (bytes, &size);
  schema = qvm_schema_new_from_data (data, (gssize) size, error);
  if (schema == NULL)
    g_prefix_error (error, "%s: ", resource_path);
  return schema;
}

QvmSchema *
qvm_schema_ref (QvmSchema *schema)
{
  g_return_val_if_fail (schema != NULL, NULL);

  return g_atomic_rc_box_acquire (schema);
}

static void
qvm_schema_clear (QvmSchema *schema)
{
  g_clear_pointer (&schema->root, qvm_schema_node_free);
}

void
qvm_schema_unref (QvmSchema *schema)
{
  g_return_if_fail (schema != NULL);

  g_atomic_rc_box_release_full (schema, (GDestroyNotify) qvm_schema_clear);
}

gboolean
qvm_schema_validate (QvmSchema *schema,
                     JsonNode  *instance,
                     GPtrArray *problems)
{
  g_autoptr(GPtrArray) own_problems = NULL;
  guint problems_before;

  g_return_val_if_fail (schema != NULL, FALSE);
  g_return_val_if_fail (instance != NULL, FALSE);

  qvm_i18n_init ();

  if (problems == NULL)
    problems = own_problems = g_ptr_array_new_with_free_func (g_free);

  problems_before = problems->len;
  qvm_schema_node_validate (schema->root, instance, problems);
  return problems->len == problems_before;
}
