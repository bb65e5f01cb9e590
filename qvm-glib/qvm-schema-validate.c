/* qvm-schema-validate.c: checking an instance against a compiled schema
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Walks an instance beside the QvmSchemaNode tree that qvm-schema-load.c
 * built, one function per keyword family (type, numbers, strings, enum,
 * objects, arrays, anyOf/oneOf), and reports every problem as a line
 * "path: problem" in document order. Nothing here can fail on the schema:
 * every keyword it reads was checked when the schema was loaded.
 */

#include "config.h"

#include <string.h>

#include "qvm-i18n-private.h"
#include "qvm-schema-internal-private.h"

typedef struct {
  GPtrArray *problems;   /* lines, never NULL here */
  GString *path;         /* of the instance value being checked */
} Validation;

static void G_GNUC_PRINTF (2, 3)
report (Validation *validation,
        const char *format,
        ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (validation->problems,
                   qvm_schema_path_vprintf (validation->path, format, args));
  va_end (args);
}

static gboolean validate_node (Validation    *validation,
                               QvmSchemaNode *schema,
                               JsonNode      *instance,
                               guint          depth);

static const char *
type_phrase (QvmSchemaType flag)
{
  switch (flag)
    {
    case QVM_SCHEMA_TYPE_NULL: return _("null");
    case QVM_SCHEMA_TYPE_BOOLEAN: return _("a boolean");
    case QVM_SCHEMA_TYPE_OBJECT: return _("an object");
    case QVM_SCHEMA_TYPE_ARRAY: return _("an array");
    case QVM_SCHEMA_TYPE_NUMBER: return _("a number");
    case QVM_SCHEMA_TYPE_INTEGER: return _("an integer");
    case QVM_SCHEMA_TYPE_STRING: return _("a string");
    default: g_assert_not_reached ();
    }
}

/* The instance's own type, the narrowest one: an int64 is an "integer". */
static QvmSchemaType
instance_type (JsonNode *instance)
{
  switch (JSON_NODE_TYPE (instance))
    {
    case JSON_NODE_NULL:
      return QVM_SCHEMA_TYPE_NULL;
    case JSON_NODE_OBJECT:
      return QVM_SCHEMA_TYPE_OBJECT;
    case JSON_NODE_ARRAY:
      return QVM_SCHEMA_TYPE_ARRAY;
    case JSON_NODE_VALUE:
      {
        GType value_type = json_node_get_value_type (instance);

        if (value_type == G_TYPE_INT64)
          return QVM_SCHEMA_TYPE_INTEGER;
        if (value_type == G_TYPE_DOUBLE)
          return QVM_SCHEMA_TYPE_NUMBER;
        if (value_type == G_TYPE_BOOLEAN)
          return QVM_SCHEMA_TYPE_BOOLEAN;
        if (value_type == G_TYPE_STRING)
          return QVM_SCHEMA_TYPE_STRING;
      }
      return 0;
    default:
      return 0;
    }
}

/* Draft-04 has no integer/number distinction in JSON text beyond the
 * literal: its test suite (optional/zeroTerminatedFloats.json) says 1.0 is
 * not an integer, so only json-glib's int64 values are. */
static gboolean
type_matches (QvmSchemaNode *schema,
              QvmSchemaType  actual)
{
  if (schema->n_types == 0)
    return TRUE;

  for (guint i = 0; i < schema->n_types; i++)
    {
      QvmSchemaType wanted = schema->types[i];

      if (wanted == actual ||
          (wanted == QVM_SCHEMA_TYPE_NUMBER && actual == QVM_SCHEMA_TYPE_INTEGER))
        return TRUE;
    }
  return FALSE;
}

static void
report_type_mismatch (Validation    *validation,
                      QvmSchemaNode *schema,
                      JsonNode      *instance,
                      QvmSchemaType  actual)
{
  g_autofree char *expected = g_strdup (type_phrase (schema->types[0]));
  g_autofree char *shown = NULL;

  for (guint i = 1; i < schema->n_types; i++)
    {
      char *longer;

      if (i == schema->n_types - 1)
        /* Translators: the end of a list of types: "a string or null" */
        longer = g_strdup_printf (_("%s or %s"), expected, type_phrase (schema->types[i]));
      else
        /* Translators: a list of types: "a string, an integer" */
        longer = g_strdup_printf (_("%s, %s"), expected, type_phrase (schema->types[i]));
      g_free (expected);
      expected = longer;
    }

  if (actual == QVM_SCHEMA_TYPE_NULL || actual == 0)
    {
      report (validation, _("expected %s, got null"), expected);
      return;
    }

  shown = qvm_schema_show_value (instance);
  /* Translators: "expected an integer, got a string ("four")" */
  report (validation, _("expected %s, got %s (%s)"), expected, type_phrase (actual), shown);
}

static void
validate_number (Validation    *validation,
                 QvmSchemaNode *schema,
                 JsonNode      *instance)
{
  QvmSchemaNumber value;
  g_autofree char *shown = NULL;

  if (!(schema->has_minimum || schema->has_maximum) ||
      !qvm_schema_json_get_number (instance, &value))
    return;

  shown = qvm_schema_show_value (instance);

  if (schema->has_minimum)
    {
      int order = qvm_schema_number_compare (&value, &schema->minimum);
      g_autofree char *limit = qvm_schema_show_number (&schema->minimum);

      if (schema->exclusive_minimum && order <= 0)
        report (validation, _("%s is not greater than the exclusive minimum %s"), shown, limit);
      else if (order < 0)
        report (validation, _("%s is less than the minimum %s"), shown, limit);
    }

  if (schema->has_maximum)
    {
      int order = qvm_schema_number_compare (&value, &schema->maximum);
      g_autofree char *limit = qvm_schema_show_number (&schema->maximum);

      if (schema->exclusive_maximum && order >= 0)
        report (validation, _("%s is not less than the exclusive maximum %s"), shown, limit);
      else if (order > 0)
        report (validation, _("%s is greater than the maximum %s"), shown, limit);
    }
}

/* ngettext takes an unsigned long; huge counts all take the plural. */
static gulong
plural_count (gint64 count)
{
  return (gulong) MIN (count, 1000000);
}

static void
validate_string (Validation    *validation,
                 QvmSchemaNode *schema,
                 JsonNode      *instance)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!qvm_schema_json_is_string (instance))
    return;
  if (schema->min_length < 0 && schema->max_length < 0 && schema->pattern == NULL)
    return;

  text = json_node_get_string (instance);
  shown = qvm_schema_show_value (instance);

  /* Lengths are in characters and patterns work on UTF-8: neither means
   * anything on a string json-glib would not have produced. */
  if (!g_utf8_validate (text, -1, NULL))
    {
      report (validation, _("%s is not valid UTF-8"), shown);
      return;
    }

  if (schema->min_length >= 0 || schema->max_length >= 0)
    {
      gint64 length = g_utf8_strlen (text, -1);

      if (schema->min_length >= 0 && length < schema->min_length)
        {
          g_autofree char *limit = g_strdup_printf ("%" G_GINT64_FORMAT, schema->min_length);

          /* Translators: "\"ab\" is shorter than 3 characters" */
          report (validation, g_dngettext (GETTEXT_PACKAGE,
                                           "%s is shorter than %s character",
                                           "%s is shorter than %s characters",
                                           plural_count (schema->min_length)),
                  shown, limit);
        }
      if (schema->max_length >= 0 && length > schema->max_length)
        {
          g_autofree char *limit = g_strdup_printf ("%" G_GINT64_FORMAT, schema->max_length);

          report (validation, g_dngettext (GETTEXT_PACKAGE,
                                           "%s is longer than %s character",
                                           "%s is longer than %s characters",
                                           plural_count (schema->max_length)),
                  shown, limit);
        }
    }

  if (schema->pattern != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!g_regex_match_full (schema->pattern, text, -1, 0, 0, NULL, &error))
        {
          g_autofree char *shown_pattern = qvm_schema_show_pattern (schema->pattern_source);

          if (error != NULL)
            {
              /* GLib's message repeats the pattern before the reason
               * ("Error while matching regular expression …: backtracking
               * limit reached"); the line already shows the pattern. */
              const char *reason = g_strrstr (error->message, ": ");

              report (validation, _("%s could not be matched against %s (%s)"),
                      shown, shown_pattern, reason != NULL ? reason + 2 : error->message);
            }
          else
            report (validation, _("%s does not match %s"), shown, shown_pattern);
        }
    }
}

static void
validate_enum (Validation    *validation,
               QvmSchemaNode *schema,
               JsonNode      *instance)
{
  guint length = json_array_get_length (schema->enum_values);
  g_autoptr(GString) allowed = NULL;
  g_autofree char *shown = NULL;

  for (guint i = 0; i < length; i++)
    if (qvm_schema_json_equal (json_array_get_element (schema->enum_values, i), instance))
      return;

  /* Lists the allowed values, as many as fit in about a line. */
  allowed = g_string_new (NULL);
  for (guint i = 0; i < length; i++)
    {
      JsonNode *element = json_array_get_element (schema->enum_values, i);
      g_autofree char *value = qvm_schema_show_value (element);

      if (i > 0 && allowed->len + strlen (value) > QVM_SCHEMA_SHOWN_MAX)
        {
          g_string_append (allowed, ", …");
          break;
        }
      if (i > 0)
        g_string_append (allowed, ", ");
      g_string_append (allowed, value);
    }

  shown = qvm_schema_show_value (instance);
  report (validation, _("%s is not one of %s"), shown, allowed->str);
}

static void
validate_object (Validation    *validation,
                 QvmSchemaNode *schema,
                 JsonNode      *instance,
                 guint          depth)
{
  JsonObject *object = json_node_get_object (instance);
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  /* Members in document order, so problems come in the order a reader of
   * the document meets them. */
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      QvmSchemaNode *member_schema = NULL;

      if (schema->properties != NULL)
        member_schema = g_hash_table_lookup (schema->properties, name);
      if (member_schema == NULL && schema->additional == QVM_SCHEMA_ADDITIONAL_SCHEMA)
        member_schema = schema->additional_schema;

      if (member_schema != NULL)
        {
          gsize saved = qvm_schema_path_push_member (validation->path, name);

          validate_node (validation, member_schema, member, depth + 1);
          qvm_schema_path_pop (validation->path, saved);
        }
      else if (schema->additional == QVM_SCHEMA_ADDITIONAL_NONE)
        {
          g_autofree char *shown = qvm_schema_show_string (name);

          report (validation, _("unknown property %s"), shown);
        }
    }

  /* Missing members have no place in the document: they come last, at the
   * end of the object where they would be added. */
  if (schema->required != NULL)
    for (guint i = 0; i < schema->required->len; i++)
      {
        const char *required = g_ptr_array_index (schema->required, i);

        if (!json_object_has_member (object, required))
          {
            g_autofree char *shown = qvm_schema_show_string (required);

            report (validation, _("missing required property %s"), shown);
          }
      }
}

static void
validate_array (Validation    *validation,
                QvmSchemaNode *schema,
                JsonNode      *instance,
                guint          depth)
{
  JsonArray *array = json_node_get_array (instance);
  guint length = json_array_get_length (array);

  if (schema->items == NULL)
    return;

  for (guint i = 0; i < length; i++)
    {
      gsize saved = qvm_schema_path_push_index (validation->path, i);

      validate_node (validation, schema->items, json_array_get_element (array, i), depth + 1);
      qvm_schema_path_pop (validation->path, saved);
    }
}

/* anyOf (@exactly_one FALSE) and oneOf. The alternatives are tried on the
 * side; when none matches, one line says so and, if one alternative is
 * clearly the closest (it accepts the value's type and fails fewest
 * checks), its problems follow, since they are most likely what the
 * author has to fix. */
static void
validate_alternatives (Validation *validation,
                       GPtrArray  *alternatives,
                       JsonNode   *instance,
                       guint       depth,
                       gboolean    exactly_one)
{
  g_autoptr(GPtrArray) closest_problems = NULL;
  g_autofree char *shown = NULL;
  guint closest = 0;
  gboolean closest_unique = FALSE;
  guint matches[2] = { 0, 0 };
  guint n_matches = 0;

  for (guint i = 0; i < alternatives->len; i++)
    {
      g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
      Validation trial = { problems, validation->path };
      gboolean type_ok;

      type_ok = validate_node (&trial, g_ptr_array_index (alternatives, i), instance, depth);

      if (problems->len == 0)
        {
          if (n_matches < G_N_ELEMENTS (matches))
            matches[n_matches] = i;
          n_matches++;
          /* anyOf needs one match; oneOf needs to know whether there is a second. */
          if (!exactly_one || n_matches > 1)
            break;
          continue;
        }

      if (!type_ok)
        continue;
      if (closest_problems == NULL || problems->len < closest_problems->len)
        {
          g_clear_pointer (&closest_problems, g_ptr_array_unref);
          closest_problems = g_steal_pointer (&problems);
          closest = i;
          closest_unique = TRUE;
        }
      else if (problems->len == closest_problems->len)
        closest_unique = FALSE;
    }

  if (n_matches == 1 || (n_matches > 1 && !exactly_one))
    return;

  shown = qvm_schema_show_value (instance);

  if (n_matches > 1)
    {
      /* Alternatives are numbered from 1 for people, as in "the second". */
      report (validation,
              _("%s matches more than one of the %u alternatives (%u and %u), but must match exactly one"),
              shown, alternatives->len, matches[0] + 1, matches[1] + 1);
      return;
    }

  if (closest_problems != NULL && closest_unique)
    {
      report (validation, _("%s matches none of the %u alternatives (the closest is alternative %u)"),
              shown, alternatives->len, closest + 1);
      g_ptr_array_extend_and_steal (validation->problems, g_steal_pointer (&closest_problems));
    }
  else
    report (validation, _("%s matches none of the %u alternatives"), shown, alternatives->len);
}

/* Returns FALSE when the instance is not of the schema's type; the other
 * keywords are then not checked, as their lines would only repeat that. */
static gboolean
validate_node (Validation    *validation,
               QvmSchemaNode *schema,
               JsonNode      *instance,
               guint          depth)
{
  QvmSchemaType actual = instance_type (instance);

  /* Callers check the depth of instances; this is a second guard. */
  if (depth > QVM_SCHEMA_MAX_DEPTH)
    {
      report (validation, _("nested deeper than %d levels"), QVM_SCHEMA_MAX_DEPTH);
      return TRUE;
    }

  if (!type_matches (schema, actual))
    {
      report_type_mismatch (validation, schema, instance, actual);
      return FALSE;
    }

  if (schema->enum_values != NULL)
    validate_enum (validation, schema, instance);

  validate_number (validation, schema, instance);
  validate_string (validation, schema, instance);

  if (schema->any_of != NULL)
    validate_alternatives (validation, schema->any_of, instance, depth, FALSE);
  if (schema->one_of != NULL)
    validate_alternatives (validation, schema->one_of, instance, depth, TRUE);

  if (actual == QVM_SCHEMA_TYPE_OBJECT)
    validate_object (validation, schema, instance, depth);
  else if (actual == QVM_SCHEMA_TYPE_ARRAY)
    validate_array (validation, schema, instance, depth);

  return TRUE;
}


void
qvm_schema_node_validate (QvmSchemaNode *root,
                          JsonNode      *instance,
                          GPtrArray     *problems)
{
  g_autoptr(GString) path = g_string_new (NULL);
  Validation validation = { problems, path };

  validate_node (&validation, root, instance, 0);
}
