/* qvm-schema-value.c: JSON values as draft-04 compares them
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What kind of value a JsonNode holds, how two numbers order (an int64 and
 * a double without rounding) and when two values are equal ("enum"). The
 * loader uses these to check keywords and the validator to check
 * instances; they know nothing of schemas.
 */

#include "config.h"

#include <math.h>

#include "qvm-schema-internal-private.h"

/* Orders an integer against a double without rounding the integer, which
 * a plain (double) cast does above 2^53. */
static int
compare_integer_real (gint64 integer,
                      double real)
{
  double floor_real;
  gint64 floor_integer;

  if (isnan (real))
    return 0;
  if (real >= 9223372036854775808.0)
    return -1;
  if (real < -9223372036854775808.0)
    return 1;

  floor_real = floor (real);
  floor_integer = (gint64) floor_real;
  if (integer != floor_integer)
    return integer < floor_integer ? -1 : 1;
  return real > floor_real ? -1 : 0;
}

int
qvm_schema_number_compare (const QvmSchemaNumber *a,
                           const QvmSchemaNumber *b)
{
  if (a->is_integer && b->is_integer)
    return (a->integer > b->integer) - (a->integer < b->integer);
  if (a->is_integer)
    return compare_integer_real (a->integer, b->real);
  if (b->is_integer)
    return -compare_integer_real (b->integer, a->real);
  return (a->real > b->real) - (a->real < b->real);
}

gboolean
qvm_schema_json_get_number (JsonNode        *node,
                            QvmSchemaNumber *number)
{
  GType value_type;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  value_type = json_node_get_value_type (node);
  if (value_type == G_TYPE_INT64)
    {
      number->is_integer = TRUE;
      number->integer = json_node_get_int (node);
      number->real = 0;
      return TRUE;
    }
  if (value_type == G_TYPE_DOUBLE)
    {
      number->is_integer = FALSE;
      number->integer = 0;
      number->real = json_node_get_double (node);
      return TRUE;
    }
  return FALSE;
}

gboolean
qvm_schema_json_is_integer (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

gboolean
qvm_schema_json_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

gboolean
qvm_schema_json_is_boolean (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

/* JSON equality as draft-04 defines it: numbers by mathematical value (1
 * equals 1.0), objects regardless of member order. Recursion is bounded by
 * the depth of @a, which is an enum value checked at load time. */
gboolean
qvm_schema_json_equal (JsonNode *a,
                       JsonNode *b)
{
  QvmSchemaNumber number_a, number_b;

  if (qvm_schema_json_get_number (a, &number_a))
    return qvm_schema_json_get_number (b, &number_b) &&
           qvm_schema_number_compare (&number_a, &number_b) == 0;

  if (JSON_NODE_TYPE (a) != JSON_NODE_TYPE (b))
    return FALSE;

  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_NULL:
      return TRUE;

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (a) != json_node_get_value_type (b))
        return FALSE;
      if (qvm_schema_json_is_boolean (a))
        return json_node_get_boolean (a) == json_node_get_boolean (b);
      if (qvm_schema_json_is_string (a))
        return g_strcmp0 (json_node_get_string (a), json_node_get_string (b)) == 0;
      return FALSE;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array_a = json_node_get_array (a);
        JsonArray *array_b = json_node_get_array (b);
        guint length = json_array_get_length (array_a);

        if (length != json_array_get_length (array_b))
          return FALSE;
        for (guint i = 0; i < length; i++)
          if (!qvm_schema_json_equal (json_array_get_element (array_a, i),
                           json_array_get_element (array_b, i)))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_OBJECT:
      {
        JsonObject *object_a = json_node_get_object (a);
        JsonObject *object_b = json_node_get_object (b);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        if (json_object_get_size (object_a) != json_object_get_size (object_b))
          return FALSE;
        json_object_iter_init (&iter, object_a);
        while (json_object_iter_next (&iter, &name, &member))
          {
            JsonNode *other = json_object_get_member (object_b, name);

            if (other == NULL || !qvm_schema_json_equal (member, other))
              return FALSE;
          }
        return TRUE;
      }

    default:
      g_assert_not_reached ();
    }
}

/* Bounds the depth of a JSON value (of an enum), which
 * qvm_schema_json_equal() and the copy kept in the schema walk
 * recursively. */
gboolean
qvm_schema_json_depth_within (JsonNode *node,
                              guint     depth)
{
  if (depth > QVM_SCHEMA_MAX_DEPTH)
    return FALSE;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (!qvm_schema_json_depth_within (json_array_get_element (array, i), depth + 1))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        if (!qvm_schema_json_depth_within (member, depth + 1))
          return FALSE;
    }
  return TRUE;
}
