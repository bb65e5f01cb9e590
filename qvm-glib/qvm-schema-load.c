/* qvm-schema-load.c: compiling a schema, and refusing what is not checked
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A schema is compiled once into a tree of QvmSchemaNode: patterns
 * compiled, limits parsed, every keyword checked. Anything the validator
 * does not implement is refused here instead of being ignored, so that a
 * schema can never silently mean more than qvm-schema-validate.c checks.
 * Load errors name the keyword and its place in the schema.
 */

#include "config.h"

#include <math.h>

#include <gio/gio.h>

#include "qvm-i18n-private.h"
#include "qvm-schema-internal-private.h"

typedef struct {
  const char *name;
  QvmSchemaType flag;
} TypeName;

static const TypeName type_names[QVM_SCHEMA_N_TYPES] = {
  { "null", QVM_SCHEMA_TYPE_NULL },
  { "boolean", QVM_SCHEMA_TYPE_BOOLEAN },
  { "object", QVM_SCHEMA_TYPE_OBJECT },
  { "array", QVM_SCHEMA_TYPE_ARRAY },
  { "number", QVM_SCHEMA_TYPE_NUMBER },
  { "integer", QVM_SCHEMA_TYPE_INTEGER },
  { "string", QVM_SCHEMA_TYPE_STRING },
};

static QvmSchemaNode *
schema_node_new (void)
{
  QvmSchemaNode *node = g_new0 (QvmSchemaNode, 1);

  node->min_length = -1;
  node->max_length = -1;
  return node;
}

void
qvm_schema_node_free (QvmSchemaNode *node)
{
  if (node == NULL)
    return;

  g_clear_pointer (&node->properties, g_hash_table_unref);
  g_clear_pointer (&node->required, g_ptr_array_unref);
  g_clear_pointer (&node->additional_schema, qvm_schema_node_free);
  g_clear_pointer (&node->enum_values, json_array_unref);
  g_clear_pointer (&node->pattern, g_regex_unref);
  g_clear_pointer (&node->pattern_source, g_free);
  g_clear_pointer (&node->items, qvm_schema_node_free);
  g_clear_pointer (&node->any_of, g_ptr_array_unref);
  g_clear_pointer (&node->one_of, g_ptr_array_unref);
  g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmSchemaNode, qvm_schema_node_free)

typedef struct {
  GString *path;   /* of the schema object being loaded */
  guint depth;     /* of that schema object, the root being 1 */
} Loader;

static QvmSchemaNode *load_schema (Loader    *loader,
                                   JsonNode  *node,
                                   GError   **error);

static gboolean G_GNUC_PRINTF (3, 4)
load_fail (Loader      *loader,
           GError     **error,
           const char  *format,
           ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = qvm_schema_path_vprintf (loader->path, format, args);
  va_end (args);

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message);
  g_free (message);
  return FALSE;
}

/* "keyword" must be <expected>, not <value> */
static gboolean
load_fail_value (Loader      *loader,
                 GError     **error,
                 const char  *keyword,
                 const char  *expected,
                 JsonNode    *value)
{
  g_autofree char *shown = qvm_schema_show_value (value);

  /* Translators: the first %s is a JSON Schema keyword, the second what its
   * value must be ("a number"), the third the value found. */
  return load_fail (loader, error, _("\"%s\" must be %s, not %s"), keyword, expected, shown);
}

static gboolean
load_type (Loader         *loader,
           QvmSchemaNode  *schema,
           JsonNode       *value,
           GError        **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *expected = _("a type name or a non-empty array of type names");

  if (qvm_schema_json_is_string (value))
    g_ptr_array_add (names, (gpointer) json_node_get_string (value));
  else if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!qvm_schema_json_is_string (element))
            return load_fail_value (loader, error, "type", expected, value);
          g_ptr_array_add (names, (gpointer) json_node_get_string (element));
        }
    }

  if (names->len == 0)
    return load_fail_value (loader, error, "type", expected, value);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      QvmSchemaType flag = 0;

      for (guint t = 0; t < QVM_SCHEMA_N_TYPES; t++)
        if (g_str_equal (name, type_names[t].name))
          flag = type_names[t].flag;

      if (flag == 0)
        {
          g_autofree char *shown = qvm_schema_show_string (name);

          return load_fail (loader, error, _("unknown type %s in \"type\""), shown);
        }
      for (guint j = 0; j < schema->n_types; j++)
        if (schema->types[j] == flag)
          {
            g_autofree char *shown = qvm_schema_show_string (name);

            return load_fail (loader, error, _("type %s is listed twice in \"type\""), shown);
          }
      schema->types[schema->n_types++] = flag;
    }
  return TRUE;
}

static gboolean
load_properties (Loader         *loader,
                 QvmSchemaNode  *schema,
                 JsonNode       *value,
                 GError        **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  if (!JSON_NODE_HOLDS_OBJECT (value))
    return load_fail_value (loader, error, "properties", _("an object"), value);

  schema->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) qvm_schema_node_free);

  json_object_iter_init_ordered (&iter, json_node_get_object (value));
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      gsize saved_properties = qvm_schema_path_push_member (loader->path, "properties");
      gsize saved = qvm_schema_path_push_member (loader->path, name);
      QvmSchemaNode *property = load_schema (loader, member, error);

      qvm_schema_path_pop (loader->path, saved);
      qvm_schema_path_pop (loader->path, saved_properties);
      if (property == NULL)
        return FALSE;
      g_hash_table_insert (schema->properties, g_strdup (name), property);
    }
  return TRUE;
}

static gboolean
load_required (Loader         *loader,
               QvmSchemaNode  *schema,
               JsonNode       *value,
               GError        **error)
{
  const char *expected = _("a non-empty array of distinct strings");
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (value))
    return load_fail_value (loader, error, "required", expected, value);

  array = json_node_get_array (value);
  length = json_array_get_length (array);
  if (length == 0)
    return load_fail_value (loader, error, "required", expected, value);

  schema->required = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < length; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *name;

      if (!qvm_schema_json_is_string (element))
        return load_fail_value (loader, error, "required", expected, value);

      name = json_node_get_string (element);
      if (g_ptr_array_find_with_equal_func (schema->required, name, g_str_equal, NULL))
        return load_fail_value (loader, error, "required", expected, value);
      g_ptr_array_add (schema->required, g_strdup (name));
    }
  return TRUE;
}

static gboolean
load_additional_properties (Loader         *loader,
                            QvmSchemaNode  *schema,
                            JsonNode       *value,
                            GError        **error)
{
  if (qvm_schema_json_is_boolean (value))
    {
      schema->additional = json_node_get_boolean (value) ? QVM_SCHEMA_ADDITIONAL_ANY
                                                         : QVM_SCHEMA_ADDITIONAL_NONE;
      return TRUE;
    }

  if (JSON_NODE_HOLDS_OBJECT (value))
    {
      gsize saved = qvm_schema_path_push_member (loader->path, "additionalProperties");

      schema->additional_schema = load_schema (loader, value, error);
      qvm_schema_path_pop (loader->path, saved);
      schema->additional = QVM_SCHEMA_ADDITIONAL_SCHEMA;
      return schema->additional_schema != NULL;
    }

  return load_fail_value (loader, error, "additionalProperties",
                          _("a boolean or a schema"), value);
}

static gboolean
load_enum (Loader         *loader,
           QvmSchemaNode  *schema,
           JsonNode       *value,
           GError        **error)
{
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (value) ||
      json_array_get_length (json_node_get_array (value)) == 0)
    return load_fail_value (loader, error, "enum", _("a non-empty array"), value);

  if (!qvm_schema_json_depth_within (value, loader->depth))
    return load_fail (loader, error, _("\"enum\" is nested deeper than %d levels"),
                      QVM_SCHEMA_MAX_DEPTH);

  array = json_node_get_array (value);
  length = json_array_get_length (array);
  for (guint i = 0; i < length; i++)
    for (guint j = 0; j < i; j++)
      if (qvm_schema_json_equal (json_array_get_element (array, j),
                                 json_array_get_element (array, i)))
        {
          g_autofree char *shown = qvm_schema_show_value (json_array_get_element (array, i));

          return load_fail (loader, error, _("\"enum\" lists %s twice"), shown);
        }

  schema->enum_values = json_array_ref (array);
  return TRUE;
}

static gboolean
load_pattern (Loader         *loader,
              QvmSchemaNode  *schema,
              JsonNode       *value,
              GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  const char *source;

  if (!qvm_schema_json_is_string (value))
    return load_fail_value (loader, error, "pattern", _("a regular expression"), value);

  source = json_node_get_string (value);
  /* GRegex compiles a pattern without checking that it is UTF-8, which
   * PCRE then reads as undefined behaviour. */
  if (!g_utf8_validate (source, -1, NULL))
    {
      g_autofree char *shown = qvm_schema_show_string (source);

      return load_fail (loader, error, _("\"pattern\" %s is not valid UTF-8"), shown);
    }

  schema->pattern = qvm_schema_pattern_compile (source, &local_error);
  if (schema->pattern == NULL)
    {
      g_autofree char *shown = qvm_schema_show_string (source);

      return load_fail (loader, error, _("\"pattern\" %s is not a valid regular expression: %s"),
                        shown, local_error->message);
    }

  schema->pattern_source = g_strdup (source);
  return TRUE;
}

static gboolean
load_number (Loader           *loader,
             const char       *keyword,
             JsonNode         *value,
             QvmSchemaNumber  *number,
             GError          **error)
{
  if (!qvm_schema_json_get_number (value, number) ||
      (!number->is_integer && !isfinite (number->real)))
    return load_fail_value (loader, error, keyword, _("a number"), value);
  return TRUE;
}

static gboolean
load_boolean (Loader      *loader,
              const char  *keyword,
              JsonNode    *value,
              gboolean    *result,
              GError     **error)
{
  if (!qvm_schema_json_is_boolean (value))
    return load_fail_value (loader, error, keyword, _("a boolean"), value);
  *result = json_node_get_boolean (value);
  return TRUE;
}

static gboolean
load_length (Loader      *loader,
             const char  *keyword,
             JsonNode    *value,
             gint64      *length,
             GError     **error)
{
  if (!qvm_schema_json_is_integer (value) || json_node_get_int (value) < 0)
    return load_fail_value (loader, error, keyword, _("a non-negative integer"), value);
  *length = json_node_get_int (value);
  return TRUE;
}

static gboolean
load_items (Loader         *loader,
            QvmSchemaNode  *schema,
            JsonNode       *value,
            GError        **error)
{
  gsize saved;

  if (JSON_NODE_HOLDS_ARRAY (value))
    /* The tuple form (one schema per position) goes with additionalItems,
     * which is not implemented either. */
    return load_fail (loader, error,
                      _("unsupported keyword form: \"items\" as an array of schemas"));

  if (!JSON_NODE_HOLDS_OBJECT (value))
    return load_fail_value (loader, error, "items", _("a schema"), value);

  saved = qvm_schema_path_push_member (loader->path, "items");
  schema->items = load_schema (loader, value, error);
  qvm_schema_path_pop (loader->path, saved);
  return schema->items != NULL;
}

static gboolean
load_alternatives (Loader      *loader,
                   const char  *keyword,
                   JsonNode    *value,
                   GPtrArray  **result,
                   GError     **error)
{
  g_autoptr(GPtrArray) alternatives = NULL;
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (value) ||
      json_array_get_length (json_node_get_array (value)) == 0)
    return load_fail_value (loader, error, keyword, _("a non-empty array of schemas"), value);

  array = json_node_get_array (value);
  length = json_array_get_length (array);
  alternatives = g_ptr_array_new_with_free_func ((GDestroyNotify) qvm_schema_node_free);
  for (guint i = 0; i < length; i++)
    {
      gsize saved_keyword = qvm_schema_path_push_member (loader->path, keyword);
      gsize saved = qvm_schema_path_push_index (loader->path, i);
      QvmSchemaNode *alternative = load_schema (loader, json_array_get_element (array, i), error);

      qvm_schema_path_pop (loader->path, saved);
      qvm_schema_path_pop (loader->path, saved_keyword);
      if (alternative == NULL)
        return FALSE;
      g_ptr_array_add (alternatives, alternative);
    }

  *result = g_steal_pointer (&alternatives);
  return TRUE;
}

/* Annotations: allowed, checked for their type, otherwise ignored. */
static gboolean
load_annotation (Loader      *loader,
                 const char  *keyword,
                 JsonNode    *value,
                 GError     **error)
{
  if (g_str_equal (keyword, "default"))
    return TRUE;
  if (!qvm_schema_json_is_string (value))
    return load_fail_value (loader, error, keyword, _("a string"), value);
  return TRUE;
}

static gboolean
load_keyword (Loader         *loader,
              QvmSchemaNode  *schema,
              const char     *keyword,
              JsonNode       *value,
              GError        **error)
{
  if (g_str_equal (keyword, "type"))
    return load_type (loader, schema, value, error);
  if (g_str_equal (keyword, "properties"))
    return load_properties (loader, schema, value, error);
  if (g_str_equal (keyword, "required"))
    return load_required (loader, schema, value, error);
  if (g_str_equal (keyword, "additionalProperties"))
    return load_additional_properties (loader, schema, value, error);
  if (g_str_equal (keyword, "enum"))
    return load_enum (loader, schema, value, error);
  if (g_str_equal (keyword, "pattern"))
    return load_pattern (loader, schema, value, error);
  if (g_str_equal (keyword, "minimum"))
    return (schema->has_minimum = load_number (loader, keyword, value, &schema->minimum, error));
  if (g_str_equal (keyword, "maximum"))
    return (schema->has_maximum = load_number (loader, keyword, value, &schema->maximum, error));
  if (g_str_equal (keyword, "exclusiveMinimum"))
    return load_boolean (loader, keyword, value, &schema->exclusive_minimum, error);
  if (g_str_equal (keyword, "exclusiveMaximum"))
    return load_boolean (loader, keyword, value, &schema->exclusive_maximum, error);
  if (g_str_equal (keyword, "minLength"))
    return load_length (loader, keyword, value, &schema->min_length, error);
  if (g_str_equal (keyword, "maxLength"))
    return load_length (loader, keyword, value, &schema->max_length, error);
  if (g_str_equal (keyword, "items"))
    return load_items (loader, schema, value, error);
  if (g_str_equal (keyword, "anyOf"))
    return load_alternatives (loader, keyword, value, &schema->any_of, error);
  if (g_str_equal (keyword, "oneOf"))
    return load_alternatives (loader, keyword, value, &schema->one_of, error);
  if (g_str_equal (keyword, "title") || g_str_equal (keyword, "description") ||
      g_str_equal (keyword, "default") || g_str_equal (keyword, "$schema") ||
      g_str_equal (keyword, "$id") || g_str_equal (keyword, "id"))
    return load_annotation (loader, keyword, value, error);

  {
    g_autofree char *shown = qvm_schema_show_string (keyword);

    return load_fail (loader, error, _("unsupported keyword %s"), shown);
  }
}

static QvmSchemaNode *
load_schema (Loader    *loader,
             JsonNode  *node,
             GError   **error)
{
  g_autoptr(QvmSchemaNode) schema = NULL;
  JsonObject *object;
  JsonObjectIter iter;
  const char *keyword;
  JsonNode *value;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *shown = qvm_schema_show_value (node);

      load_fail (loader, error, _("a schema must be an object, not %s"), shown);
      return NULL;
    }

  if (loader->depth >= QVM_SCHEMA_MAX_DEPTH)
    {
      load_fail (loader, error, _("schema nested deeper than %d levels"), QVM_SCHEMA_MAX_DEPTH);
      return NULL;
    }

  loader->depth++;
  schema = schema_node_new ();
  object = json_node_get_object (node);
  json_object_iter_init_ordered (&iter, object);
  while (ok && json_object_iter_next_ordered (&iter, &keyword, &value))
    ok = load_keyword (loader, schema, keyword, value, error);
  loader->depth--;

  if (!ok)
    return NULL;

  /* Draft-04: "if exclusiveMinimum is present, minimum MUST also be". */
  if (json_object_has_member (object, "exclusiveMinimum") && !schema->has_minimum)
    {
      load_fail (loader, error, _("\"exclusiveMinimum\" needs \"minimum\""));
      return NULL;
    }
  if (json_object_has_member (object, "exclusiveMaximum") && !schema->has_maximum)
    {
      load_fail (loader, error, _("\"exclusiveMaximum\" needs \"maximum\""));
      return NULL;
    }

  return g_steal_pointer (&schema);
}


QvmSchemaNode *
qvm_schema_node_load (JsonNode  *root,
                      GError   **error)
{
  g_autoptr(GString) path = g_string_new (NULL);
  Loader loader = { path, 0 };

  return load_schema (&loader, root, error);
}
