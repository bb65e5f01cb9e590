/* qvm-schema.c: a small JSON Schema (draft-04) validator
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A schema is compiled once into a tree of SchemaNode (patterns compiled,
 * limits parsed, every keyword checked), so validation never meets a
 * malformed keyword and never parses anything. Anything the validator does
 * not implement is refused at load time instead of being ignored.
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include <gio/gio.h>

#include "qvm-i18n-private.h"
#include "qvm-schema-private.h"

/* Both schemas and instances are walked recursively; this bounds the stack. */
#define MAX_DEPTH 64

/* Values quoted in problem lines are shortened beyond this many bytes. */
#define SHOWN_VALUE_MAX 60

typedef enum {
  TYPE_NULL    = 1 << 0,
  TYPE_BOOLEAN = 1 << 1,
  TYPE_OBJECT  = 1 << 2,
  TYPE_ARRAY   = 1 << 3,
  TYPE_NUMBER  = 1 << 4,
  TYPE_INTEGER = 1 << 5,
  TYPE_STRING  = 1 << 6,
} TypeFlags;

#define N_TYPES 7

typedef struct {
  const char *name;
  TypeFlags flag;
} TypeName;

static const TypeName type_names[N_TYPES] = {
  { "null", TYPE_NULL },
  { "boolean", TYPE_BOOLEAN },
  { "object", TYPE_OBJECT },
  { "array", TYPE_ARRAY },
  { "number", TYPE_NUMBER },
  { "integer", TYPE_INTEGER },
  { "string", TYPE_STRING },
};

/* A JSON number as json-glib holds it: integers stay exact. */
typedef struct {
  gboolean is_integer;
  gint64 integer;
  double real;
} Number;

typedef enum {
  ADDITIONAL_ANY,
  ADDITIONAL_NONE,
  ADDITIONAL_SCHEMA,
} AdditionalMode;

typedef struct _SchemaNode SchemaNode;

struct _SchemaNode
{
  /* "type", in the schema's order so messages list them as written;
   * n_types == 0 when any type is allowed. */
  TypeFlags types[N_TYPES];
  guint n_types;

  GHashTable *properties;        /* member name → SchemaNode, or NULL */
  GPtrArray *required;           /* member names (char *), or NULL */
  AdditionalMode additional;
  SchemaNode *additional_schema;

  JsonArray *enum_values;        /* owned reference, or NULL */

  GRegex *pattern;
  char *pattern_source;          /* as written in the schema */

  gboolean has_minimum;
  gboolean exclusive_minimum;
  Number minimum;
  gboolean has_maximum;
  gboolean exclusive_maximum;
  Number maximum;

  gint64 min_length;             /* -1 when absent */
  gint64 max_length;             /* -1 when absent */

  SchemaNode *items;
  GPtrArray *any_of;             /* SchemaNode *, or NULL */
  GPtrArray *one_of;             /* SchemaNode *, or NULL */
};

struct _QvmSchema
{
  SchemaNode *root;
};

/* ---------------------------------------------------------------------- */
/* Showing values and paths                                               */

/* Appends the character at *@p, which is not ASCII, and moves *@p past
 * it. Strings from json-glib can hold a UTF-16 surrogate (from an escape
 * of one half of a pair without the other) encoded as if it were a
 * character, which is not UTF-8: it is shown as its \\u escape, and any
 * other byte that is not UTF-8 as U+FFFD, so that messages stay UTF-8. */
static void
append_non_ascii (GString     *out,
                  const char **p)
{
  const guchar *bytes = (const guchar *) *p;
  gunichar c = g_utf8_get_char_validated (*p, -1);

  if (c != (gunichar) -1 && c != (gunichar) -2)
    {
      const char *next = g_utf8_next_char (*p);

      g_string_append_len (out, *p, next - *p);
      *p = next;
    }
  else if (bytes[0] == 0xed && (bytes[1] & 0xe0) == 0xa0 && (bytes[2] & 0xc0) == 0x80)
    {
      g_string_append_printf (out, "\\u%04x", 0xd000 | ((bytes[1] & 0x3f) << 6) | (bytes[2] & 0x3f));
      *p += 3;
    }
  else
    {
      g_string_append (out, "\xef\xbf\xbd");
      *p += 1;
    }
}

/* Appends @text as it is shown in a message: itself when it is UTF-8. */
static void
append_printable (GString    *out,
                  const char *text)
{
  while (*text != '\0')
    {
      if ((guchar) *text < 0x80)
        g_string_append_c (out, *text++);
      else
        append_non_ascii (out, &text);
    }
}

static void
print_json_string (GString    *out,
                   const char *text,
                   gsize       limit)
{
  const char *p = text;

  g_string_append_c (out, '"');
  while (*p != '\0' && out->len <= limit)
    {
      guchar c = (guchar) *p;

      if (c >= 0x80)
        {
          append_non_ascii (out, &p);
          continue;
        }

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
      p++;
    }
  g_string_append_c (out, '"');
}

static void
print_double (GString *out,
              double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    {
      g_string_append (out, "NaN");
      return;
    }
  if (isinf (value))
    {
      g_string_append (out, value > 0 ? "Infinity" : "-Infinity");
      return;
    }

  /* The shortest of the two precisions that reads back as the same value:
   * 0.1 rather than 0.10000000000000001. */
  g_ascii_formatd (buffer, sizeof buffer, "%.15g", value);
  if (g_ascii_strtod (buffer, NULL) != value)
    g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  g_string_append (out, buffer);

  /* 1.0 is not the integer 1 to this validator, so show the difference. */
  if (strpbrk (buffer, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
print_number (GString      *out,
              const Number *number)
{
  if (number->is_integer)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, number->integer);
  else
    print_double (out, number->real);
}

/* Compact JSON, which stops soon after @out grows beyond @limit: values
 * can be huge, and only their beginning is shown. The recursion is bounded
 * because every level adds at least one byte. */
static void
print_json (GString  *out,
            JsonNode *node,
            gsize     limit)
{
  if (out->len > limit)
    return;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;

    case JSON_NODE_VALUE:
      {
        GType value_type = json_node_get_value_type (node);

        if (value_type == G_TYPE_INT64)
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
        else if (value_type == G_TYPE_DOUBLE)
          print_double (out, json_node_get_double (node));
        else if (value_type == G_TYPE_BOOLEAN)
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
        else if (value_type == G_TYPE_STRING)
          print_json_string (out, json_node_get_string (node), limit);
        else
          g_string_append (out, "?");
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint length = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < length && out->len <= limit; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            print_json (out, json_array_get_element (array, i), limit);
          }
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (out->len <= limit && json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            print_json_string (out, name, limit);
            g_string_append_c (out, ':');
            print_json (out, member, limit);
          }
        g_string_append_c (out, '}');
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/* Cuts @out to at most @limit bytes on a character boundary and marks the
 * cut with "…" (inside the quotes when @quoted). */
static void
shorten (GString  *out,
         gsize     limit,
         gboolean  quoted)
{
  const char *end;

  if (out->len <= limit)
    return;

  end = out->str + limit;
  while (end > out->str && (((guchar) *end) & 0xc0) == 0x80)
    end--;
  g_string_truncate (out, end - out->str);
  g_string_append (out, quoted ? "…\"" : "…");
}

/* The value as it appears in a problem line. */
static char *
show_value (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  print_json (out, node, SHOWN_VALUE_MAX);
  shorten (out, SHOWN_VALUE_MAX, JSON_NODE_HOLDS_VALUE (node) &&
                                 json_node_get_value_type (node) == G_TYPE_STRING);
  return g_string_free (out, FALSE);
}

static char *
show_string (const char *text)
{
  GString *out = g_string_new (NULL);

  print_json_string (out, text, SHOWN_VALUE_MAX);
  shorten (out, SHOWN_VALUE_MAX, TRUE);
  return g_string_free (out, FALSE);
}

static char *
show_number (const Number *number)
{
  GString *out = g_string_new (NULL);

  print_number (out, number);
  return g_string_free (out, FALSE);
}

/* Paths, of instances and of schemas alike, grow and shrink in a GString
 * as the walk descends; push returns the length to restore. */
static gsize
path_push_member (GString    *path,
                  const char *name)
{
  gsize saved = path->len;

  if (path->len > 0)
    g_string_append_c (path, '.');
  append_printable (path, name);
  return saved;
}

static gsize
path_push_index (GString *path,
                 guint    index)
{
  gsize saved = path->len;

  g_string_append_printf (path, "[%u]", index);
  return saved;
}

static void
path_pop (GString *path,
          gsize    saved)
{
  g_string_truncate (path, saved);
}

static const char *
path_show (GString *path)
{
  return path->len > 0 ? path->str : "(root)";
}

/* ---------------------------------------------------------------------- */
/* Numbers and equality                                                   */

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

static int
compare_numbers (const Number *a,
                 const Number *b)
{
  if (a->is_integer && b->is_integer)
    return (a->integer > b->integer) - (a->integer < b->integer);
  if (a->is_integer)
    return compare_integer_real (a->integer, b->real);
  if (b->is_integer)
    return -compare_integer_real (b->integer, a->real);
  return (a->real > b->real) - (a->real < b->real);
}

static gboolean
node_get_number (JsonNode *node,
                 Number   *number)
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

static gboolean
node_is_integer (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_is_boolean (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

/* JSON equality as draft-04 defines it: numbers by mathematical value (1
 * equals 1.0), objects regardless of member order. Recursion is bounded by
 * the depth of @a, which is an enum value checked at load time. */
static gboolean
json_equal (JsonNode *a,
            JsonNode *b)
{
  Number number_a, number_b;

  if (node_get_number (a, &number_a))
    return node_get_number (b, &number_b) && compare_numbers (&number_a, &number_b) == 0;

  if (JSON_NODE_TYPE (a) != JSON_NODE_TYPE (b))
    return FALSE;

  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_NULL:
      return TRUE;

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (a) != json_node_get_value_type (b))
        return FALSE;
      if (node_is_boolean (a))
        return json_node_get_boolean (a) == json_node_get_boolean (b);
      if (node_is_string (a))
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
          if (!json_equal (json_array_get_element (array_a, i),
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

            if (other == NULL || !json_equal (member, other))
              return FALSE;
          }
        return TRUE;
      }

    default:
      g_assert_not_reached ();
    }
}

/* ---------------------------------------------------------------------- */
/* Schema nodes                                                           */

static void schema_node_free (SchemaNode *node);

static SchemaNode *
schema_node_new (void)
{
  SchemaNode *node = g_new0 (SchemaNode, 1);

  node->min_length = -1;
  node->max_length = -1;
  return node;
}

static void
schema_node_free (SchemaNode *node)
{
  if (node == NULL)
    return;

  g_clear_pointer (&node->properties, g_hash_table_unref);
  g_clear_pointer (&node->required, g_ptr_array_unref);
  g_clear_pointer (&node->additional_schema, schema_node_free);
  g_clear_pointer (&node->enum_values, json_array_unref);
  g_clear_pointer (&node->pattern, g_regex_unref);
  g_clear_pointer (&node->pattern_source, g_free);
  g_clear_pointer (&node->items, schema_node_free);
  g_clear_pointer (&node->any_of, g_ptr_array_unref);
  g_clear_pointer (&node->one_of, g_ptr_array_unref);
  g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SchemaNode, schema_node_free)

/* ---------------------------------------------------------------------- */
/* Loading                                                                */

typedef struct {
  GString *path;   /* of the schema object being loaded */
  guint depth;     /* of that schema object, the root being 1 */
} Loader;

static SchemaNode *load_schema (Loader    *loader,
                                JsonNode  *node,
                                GError   **error);

static gboolean G_GNUC_PRINTF (3, 4)
load_fail (Loader      *loader,
           GError     **error,
           const char  *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s: %s", path_show (loader->path), message);
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
  g_autofree char *shown = show_value (value);

  /* Translators: the first %s is a JSON Schema keyword, the second what its
   * value must be ("a number"), the third the value found. */
  return load_fail (loader, error, _("\"%s\" must be %s, not %s"), keyword, expected, shown);
}

/* Bounds the depth of a JSON value (of an enum), which json_equal() and
 * the copy kept in the schema walk recursively. */
static gboolean
json_depth_within (JsonNode *node,
                   guint     depth)
{
  if (depth > MAX_DEPTH)
    return FALSE;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (!json_depth_within (json_array_get_element (array, i), depth + 1))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        if (!json_depth_within (member, depth + 1))
          return FALSE;
    }
  return TRUE;
}

static gboolean
load_type (Loader      *loader,
           SchemaNode  *schema,
           JsonNode    *value,
           GError     **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *expected = _("a type name or a non-empty array of type names");

  if (node_is_string (value))
    g_ptr_array_add (names, (gpointer) json_node_get_string (value));
  else if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!node_is_string (element))
            return load_fail_value (loader, error, "type", expected, value);
          g_ptr_array_add (names, (gpointer) json_node_get_string (element));
        }
    }

  if (names->len == 0)
    return load_fail_value (loader, error, "type", expected, value);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      TypeFlags flag = 0;

      for (guint t = 0; t < N_TYPES; t++)
        if (g_str_equal (name, type_names[t].name))
          flag = type_names[t].flag;

      if (flag == 0)
        {
          g_autofree char *shown = show_string (name);

          return load_fail (loader, error, _("unknown type %s in \"type\""), shown);
        }
      for (guint j = 0; j < schema->n_types; j++)
        if (schema->types[j] == flag)
          {
            g_autofree char *shown = show_string (name);

            return load_fail (loader, error, _("type %s is listed twice in \"type\""), shown);
          }
      schema->types[schema->n_types++] = flag;
    }
  return TRUE;
}

static gboolean
load_properties (Loader      *loader,
                 SchemaNode  *schema,
                 JsonNode    *value,
                 GError     **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  if (!JSON_NODE_HOLDS_OBJECT (value))
    return load_fail_value (loader, error, "properties", _("an object"), value);

  schema->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) schema_node_free);

  json_object_iter_init_ordered (&iter, json_node_get_object (value));
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      gsize saved_properties = path_push_member (loader->path, "properties");
      gsize saved = path_push_member (loader->path, name);
      SchemaNode *property = load_schema (loader, member, error);

      path_pop (loader->path, saved);
      path_pop (loader->path, saved_properties);
      if (property == NULL)
        return FALSE;
      g_hash_table_insert (schema->properties, g_strdup (name), property);
    }
  return TRUE;
}

static gboolean
load_required (Loader      *loader,
               SchemaNode  *schema,
               JsonNode    *value,
               GError     **error)
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

      if (!node_is_string (element))
        return load_fail_value (loader, error, "required", expected, value);

      name = json_node_get_string (element);
      if (g_ptr_array_find_with_equal_func (schema->required, name, g_str_equal, NULL))
        return load_fail_value (loader, error, "required", expected, value);
      g_ptr_array_add (schema->required, g_strdup (name));
    }
  return TRUE;
}

static gboolean
load_additional_properties (Loader      *loader,
                            SchemaNode  *schema,
                            JsonNode    *value,
                            GError     **error)
{
  if (node_is_boolean (value))
    {
      schema->additional = json_node_get_boolean (value) ? ADDITIONAL_ANY : ADDITIONAL_NONE;
      return TRUE;
    }

  if (JSON_NODE_HOLDS_OBJECT (value))
    {
      gsize saved = path_push_member (loader->path, "additionalProperties");

      schema->additional_schema = load_schema (loader, value, error);
      path_pop (loader->path, saved);
      schema->additional = ADDITIONAL_SCHEMA;
      return schema->additional_schema != NULL;
    }

  return load_fail_value (loader, error, "additionalProperties",
                          _("a boolean or a schema"), value);
}

static gboolean
load_enum (Loader      *loader,
           SchemaNode  *schema,
           JsonNode    *value,
           GError     **error)
{
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (value) ||
      json_array_get_length (json_node_get_array (value)) == 0)
    return load_fail_value (loader, error, "enum", _("a non-empty array"), value);

  if (!json_depth_within (value, loader->depth))
    return load_fail (loader, error, _("\"enum\" is nested deeper than %d levels"), MAX_DEPTH);

  array = json_node_get_array (value);
  length = json_array_get_length (array);
  for (guint i = 0; i < length; i++)
    for (guint j = 0; j < i; j++)
      if (json_equal (json_array_get_element (array, j), json_array_get_element (array, i)))
        {
          g_autofree char *shown = show_value (json_array_get_element (array, i));

          return load_fail (loader, error, _("\"enum\" lists %s twice"), shown);
        }

  schema->enum_values = json_array_ref (array);
  return TRUE;
}

static gboolean
read_hex4 (const char *p,
           gunichar   *value)
{
  *value = 0;
  for (guint i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      *value = *value * 16 + (gunichar) digit;
    }
  return TRUE;
}

/* ECMA-262's \uXXXX, which PCRE refuses, becomes \x{XXXX}; a surrogate
 * pair becomes the one character it encodes. Advances *@p past what it
 * translated and returns TRUE, or returns FALSE for a malformed escape. */
static gboolean
translate_unicode_escape (GString     *out,
                          const char **p)
{
  gunichar value, low;

  if (!read_hex4 (*p + 2, &value))
    return FALSE;
  *p += 6;

  if (value >= 0xd800 && value < 0xdc00 && (*p)[0] == '\\' && (*p)[1] == 'u' &&
      read_hex4 (*p + 2, &low) && low >= 0xdc00 && low < 0xe000)
    {
      value = 0x10000 + ((value - 0xd800) << 10) + (low - 0xdc00);
      *p += 6;
    }

  g_string_append_printf (out, "\\x{%04x}", value);
  return TRUE;
}

/* GRegex is PCRE with Unicode properties, where \d matches any decimal
 * digit (Arabic-Indic ones too) and \w any letter; ECMA-262, the dialect
 * of JSON Schema, means ASCII by them. Rewrite those escapes to explicit
 * ASCII classes so that "^\\d+$" cannot let "٣" through. */
static char *
translate_pattern (const char  *source,
                   GError     **error)
{
  static const char word[] = "A-Za-z0-9_";
  g_autoptr(GString) out = g_string_new (NULL);
  gboolean in_class = FALSE;
  const char *p = source;

  while (*p != '\0')
    {
      if (*p == '\\' && p[1] != '\0')
        {
          char escape = p[1];

          switch (escape)
            {
            case 'd':
              g_string_append (out, in_class ? "0-9" : "[0-9]");
              break;
            case 'w':
              g_string_append_printf (out, in_class ? "%s" : "[%s]", word);
              break;
            case 'D':
            case 'W':
              if (in_class)
                {
                  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               /* Translators: %c is a letter, D or W */
                               _("\\%c inside a character class is not supported"), escape);
                  return NULL;
                }
              g_string_append_printf (out, "[^%s]", escape == 'D' ? "0-9" : word);
              break;
            case 'u':
              if (translate_unicode_escape (out, &p))
                continue;
              g_string_append (out, "\\u");
              break;
            case 'b':
            case 'B':
              if (in_class)
                g_string_append (out, escape == 'b' ? "\\b" : "\\B");
              else if (escape == 'b')
                g_string_append_printf (out, "(?:(?<=[%s])(?![%s])|(?<![%s])(?=[%s]))",
                                        word, word, word, word);
              else
                g_string_append_printf (out, "(?:(?<=[%s])(?=[%s])|(?<![%s])(?![%s]))",
                                        word, word, word, word);
              break;
            default:
              {
                /* Copy the escaped character whole, even when multi-byte. */
                const char *next = g_utf8_next_char (p + 1);

                g_string_append_len (out, p, next - p);
                p = next;
                continue;
              }
            }
          p += 2;
          continue;
        }

      if (!in_class && *p == '[')
        {
          in_class = TRUE;
          g_string_append_c (out, *p++);
          if (*p == '^')
            g_string_append_c (out, *p++);
          /* In ECMA-262 "[]" matches nothing and "[^]" anything, where
           * PCRE would read the ']' as a literal member. */
          if (*p == ']')
            {
              gboolean negated = out->str[out->len - 1] == '^';

              g_string_truncate (out, out->len - (negated ? 2 : 1));
              g_string_append (out, negated ? "[\\s\\S]" : "[^\\s\\S]");
              in_class = FALSE;
              p++;
            }
          continue;
        }
      if (in_class && *p == ']')
        in_class = FALSE;

      g_string_append_c (out, *p++);
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
load_pattern (Loader      *loader,
              SchemaNode  *schema,
              JsonNode    *value,
              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *translated = NULL;
  const char *source;

  if (!node_is_string (value))
    return load_fail_value (loader, error, "pattern", _("a regular expression"), value);

  source = json_node_get_string (value);
  /* GRegex compiles a pattern without checking that it is UTF-8, which
   * PCRE then reads as undefined behaviour. */
  if (!g_utf8_validate (source, -1, NULL))
    {
      g_autofree char *shown = show_string (source);

      return load_fail (loader, error, _("\"pattern\" %s is not valid UTF-8"), shown);
    }

  translated = translate_pattern (source, &local_error);
  if (translated != NULL)
    /* ECMA-262's $ matches only at the very end, PCRE's also before a
     * final newline: "^[a-z]+$" must not accept "abc\n". */
    schema->pattern = g_regex_new (translated, G_REGEX_DOLLAR_ENDONLY, 0, &local_error);

  if (schema->pattern == NULL)
    {
      g_autofree char *shown = show_string (source);

      return load_fail (loader, error, _("\"pattern\" %s is not a valid regular expression: %s"),
                        shown, local_error->message);
    }

  schema->pattern_source = g_strdup (source);
  return TRUE;
}

static gboolean
load_number (Loader      *loader,
             const char  *keyword,
             JsonNode    *value,
             Number      *number,
             GError     **error)
{
  if (!node_get_number (value, number) ||
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
  if (!node_is_boolean (value))
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
  if (!node_is_integer (value) || json_node_get_int (value) < 0)
    return load_fail_value (loader, error, keyword, _("a non-negative integer"), value);
  *length = json_node_get_int (value);
  return TRUE;
}

static gboolean
load_items (Loader      *loader,
            SchemaNode  *schema,
            JsonNode    *value,
            GError     **error)
{
  gsize saved;

  if (JSON_NODE_HOLDS_ARRAY (value))
    /* The tuple form (one schema per position) goes with additionalItems,
     * which is not implemented either. */
    return load_fail (loader, error,
                      _("unsupported keyword form: \"items\" as an array of schemas"));

  if (!JSON_NODE_HOLDS_OBJECT (value))
    return load_fail_value (loader, error, "items", _("a schema"), value);

  saved = path_push_member (loader->path, "items");
  schema->items = load_schema (loader, value, error);
  path_pop (loader->path, saved);
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
  alternatives = g_ptr_array_new_with_free_func ((GDestroyNotify) schema_node_free);
  for (guint i = 0; i < length; i++)
    {
      gsize saved_keyword = path_push_member (loader->path, keyword);
      gsize saved = path_push_index (loader->path, i);
      SchemaNode *alternative = load_schema (loader, json_array_get_element (array, i), error);

      path_pop (loader->path, saved);
      path_pop (loader->path, saved_keyword);
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
  if (!node_is_string (value))
    return load_fail_value (loader, error, keyword, _("a string"), value);
  return TRUE;
}

static gboolean
load_keyword (Loader      *loader,
              SchemaNode  *schema,
              const char  *keyword,
              JsonNode    *value,
              GError     **error)
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
    g_autofree char *shown = show_string (keyword);

    return load_fail (loader, error, _("unsupported keyword %s"), shown);
  }
}

static SchemaNode *
load_schema (Loader    *loader,
             JsonNode  *node,
             GError   **error)
{
  g_autoptr(SchemaNode) schema = NULL;
  JsonObject *object;
  JsonObjectIter iter;
  const char *keyword;
  JsonNode *value;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *shown = show_value (node);

      load_fail (loader, error, _("a schema must be an object, not %s"), shown);
      return NULL;
    }

  if (loader->depth >= MAX_DEPTH)
    {
      load_fail (loader, error, _("schema nested deeper than %d levels"), MAX_DEPTH);
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

QvmSchema *
qvm_schema_new_from_node (JsonNode  *root,
                          GError   **error)
{
  g_autoptr(GString) path = g_string_new (NULL);
  Loader loader = { path, 0 };
  SchemaNode *schema_root;
  QvmSchema *schema;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  qvm_i18n_init ();

  schema_root = load_schema (&loader, root, error);
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
  g_clear_pointer (&schema->root, schema_node_free);
}

void
qvm_schema_unref (QvmSchema *schema)
{
  g_return_if_fail (schema != NULL);

  g_atomic_rc_box_release_full (schema, (GDestroyNotify) qvm_schema_clear);
}

/* ---------------------------------------------------------------------- */
/* Validating                                                             */

typedef struct {
  GPtrArray *problems;   /* lines, never NULL here */
  GString *path;         /* of the instance value being checked */
} Validation;

static void G_GNUC_PRINTF (2, 3)
report (Validation *validation,
        const char *format,
        ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_ptr_array_add (validation->problems,
                   g_strdup_printf ("%s: %s", path_show (validation->path), message));
}

static gboolean validate_node (Validation *validation,
                               SchemaNode *schema,
                               JsonNode   *instance,
                               guint       depth);

static const char *
type_phrase (TypeFlags flag)
{
  switch (flag)
    {
    case TYPE_NULL: return _("null");
    case TYPE_BOOLEAN: return _("a boolean");
    case TYPE_OBJECT: return _("an object");
    case TYPE_ARRAY: return _("an array");
    case TYPE_NUMBER: return _("a number");
    case TYPE_INTEGER: return _("an integer");
    case TYPE_STRING: return _("a string");
    default: g_assert_not_reached ();
    }
}

/* The instance's own type, the narrowest one: an int64 is an "integer". */
static TypeFlags
instance_type (JsonNode *instance)
{
  switch (JSON_NODE_TYPE (instance))
    {
    case JSON_NODE_NULL:
      return TYPE_NULL;
    case JSON_NODE_OBJECT:
      return TYPE_OBJECT;
    case JSON_NODE_ARRAY:
      return TYPE_ARRAY;
    case JSON_NODE_VALUE:
      {
        GType value_type = json_node_get_value_type (instance);

        if (value_type == G_TYPE_INT64)
          return TYPE_INTEGER;
        if (value_type == G_TYPE_DOUBLE)
          return TYPE_NUMBER;
        if (value_type == G_TYPE_BOOLEAN)
          return TYPE_BOOLEAN;
        if (value_type == G_TYPE_STRING)
          return TYPE_STRING;
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
type_matches (SchemaNode *schema,
              TypeFlags   actual)
{
  if (schema->n_types == 0)
    return TRUE;

  for (guint i = 0; i < schema->n_types; i++)
    {
      TypeFlags wanted = schema->types[i];

      if (wanted == actual || (wanted == TYPE_NUMBER && actual == TYPE_INTEGER))
        return TRUE;
    }
  return FALSE;
}

static void
report_type_mismatch (Validation *validation,
                      SchemaNode *schema,
                      JsonNode   *instance,
                      TypeFlags   actual)
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

  if (actual == TYPE_NULL || actual == 0)
    {
      report (validation, _("expected %s, got null"), expected);
      return;
    }

  shown = show_value (instance);
  /* Translators: "expected an integer, got a string ("four")" */
  report (validation, _("expected %s, got %s (%s)"), expected, type_phrase (actual), shown);
}

static void
validate_number (Validation *validation,
                 SchemaNode *schema,
                 JsonNode   *instance)
{
  Number value;
  g_autofree char *shown = NULL;

  if (!(schema->has_minimum || schema->has_maximum) || !node_get_number (instance, &value))
    return;

  shown = show_value (instance);

  if (schema->has_minimum)
    {
      int order = compare_numbers (&value, &schema->minimum);
      g_autofree char *limit = show_number (&schema->minimum);

      if (schema->exclusive_minimum && order <= 0)
        report (validation, _("%s is not greater than the exclusive minimum %s"), shown, limit);
      else if (order < 0)
        report (validation, _("%s is less than the minimum %s"), shown, limit);
    }

  if (schema->has_maximum)
    {
      int order = compare_numbers (&value, &schema->maximum);
      g_autofree char *limit = show_number (&schema->maximum);

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
validate_string (Validation *validation,
                 SchemaNode *schema,
                 JsonNode   *instance)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!node_is_string (instance))
    return;
  if (schema->min_length < 0 && schema->max_length < 0 && schema->pattern == NULL)
    return;

  text = json_node_get_string (instance);
  shown = show_value (instance);

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
          GString *pattern = g_string_new (schema->pattern_source);
          g_autofree char *shown_pattern = NULL;

          shorten (pattern, SHOWN_VALUE_MAX, FALSE);
          shown_pattern = g_string_free (pattern, FALSE);
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
validate_enum (Validation *validation,
               SchemaNode *schema,
               JsonNode   *instance)
{
  guint length = json_array_get_length (schema->enum_values);
  g_autoptr(GString) allowed = NULL;
  g_autofree char *shown = NULL;

  for (guint i = 0; i < length; i++)
    if (json_equal (json_array_get_element (schema->enum_values, i), instance))
      return;

  /* Lists the allowed values, as many as fit in about a line. */
  allowed = g_string_new (NULL);
  for (guint i = 0; i < length; i++)
    {
      g_autofree char *value = show_value (json_array_get_element (schema->enum_values, i));

      if (i > 0 && allowed->len + strlen (value) > SHOWN_VALUE_MAX)
        {
          g_string_append (allowed, ", …");
          break;
        }
      if (i > 0)
        g_string_append (allowed, ", ");
      g_string_append (allowed, value);
    }

  shown = show_value (instance);
  report (validation, _("%s is not one of %s"), shown, allowed->str);
}

static void
validate_object (Validation *validation,
                 SchemaNode *schema,
                 JsonNode   *instance,
                 guint       depth)
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
      SchemaNode *member_schema = NULL;

      if (schema->properties != NULL)
        member_schema = g_hash_table_lookup (schema->properties, name);
      if (member_schema == NULL && schema->additional == ADDITIONAL_SCHEMA)
        member_schema = schema->additional_schema;

      if (member_schema != NULL)
        {
          gsize saved = path_push_member (validation->path, name);

          validate_node (validation, member_schema, member, depth + 1);
          path_pop (validation->path, saved);
        }
      else if (schema->additional == ADDITIONAL_NONE)
        {
          g_autofree char *shown = show_string (name);

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
            g_autofree char *shown = show_string (required);

            report (validation, _("missing required property %s"), shown);
          }
      }
}

static void
validate_array (Validation *validation,
                SchemaNode *schema,
                JsonNode   *instance,
                guint       depth)
{
  JsonArray *array = json_node_get_array (instance);
  guint length = json_array_get_length (array);

  if (schema->items == NULL)
    return;

  for (guint i = 0; i < length; i++)
    {
      gsize saved = path_push_index (validation->path, i);

      validate_node (validation, schema->items, json_array_get_element (array, i), depth + 1);
      path_pop (validation->path, saved);
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

  shown = show_value (instance);

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
validate_node (Validation *validation,
               SchemaNode *schema,
               JsonNode   *instance,
               guint       depth)
{
  TypeFlags actual = instance_type (instance);

  /* Callers check the depth of instances; this is a second guard. */
  if (depth > MAX_DEPTH)
    {
      report (validation, _("nested deeper than %d levels"), MAX_DEPTH);
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

  if (actual == TYPE_OBJECT)
    validate_object (validation, schema, instance, depth);
  else if (actual == TYPE_ARRAY)
    validate_array (validation, schema, instance, depth);

  return TRUE;
}

gboolean
qvm_schema_validate (QvmSchema *schema,
                     JsonNode  *instance,
                     GPtrArray *problems)
{
  g_autoptr(GPtrArray) own_problems = NULL;
  g_autoptr(GString) path = g_string_new (NULL);
  Validation validation = { problems, path };
  guint problems_before;

  g_return_val_if_fail (schema != NULL, FALSE);
  g_return_val_if_fail (instance != NULL, FALSE);

  qvm_i18n_init ();

  if (problems == NULL)
    validation.problems = own_problems = g_ptr_array_new_with_free_func (g_free);

  problems_before = validation.problems->len;
  validate_node (&validation, schema->root, instance, 0);
  return validation.problems->len == problems_before;
}
