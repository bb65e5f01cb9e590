/* qvm-schema-show.c: how the validator shows values and paths in messages
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Load errors and problem lines alike read "path: problem", quoting values
 * as compact JSON cut short after QVM_SCHEMA_SHOWN_MAX bytes, and stay
 * UTF-8 whatever the document holds. That wording is one concern, shared
 * by the loader and the validator, so it lives apart from both.
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include "qvm-schema-internal-private.h"

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
print_number (GString               *out,
              const QvmSchemaNumber *number)
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

/* The value as it appears in a message. */
char *
qvm_schema_show_value (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  print_json (out, node, QVM_SCHEMA_SHOWN_MAX);
  shorten (out, QVM_SCHEMA_SHOWN_MAX, JSON_NODE_HOLDS_VALUE (node) &&
                                      json_node_get_value_type (node) == G_TYPE_STRING);
  return g_string_free (out, FALSE);
}

char *
qvm_schema_show_string (const char *text)
{
  GString *out = g_string_new (NULL);

  print_json_string (out, text, QVM_SCHEMA_SHOWN_MAX);
  shorten (out, QVM_SCHEMA_SHOWN_MAX, TRUE);
  return g_string_free (out, FALSE);
}

char *
qvm_schema_show_number (const QvmSchemaNumber *number)
{
  GString *out = g_string_new (NULL);

  print_number (out, number);
  return g_string_free (out, FALSE);
}

/* A pattern is shown as written, unquoted: it was checked to be UTF-8
 * when the schema was loaded. */
char *
qvm_schema_show_pattern (const char *source)
{
  GString *out = g_string_new (source);

  shorten (out, QVM_SCHEMA_SHOWN_MAX, FALSE);
  return g_string_free (out, FALSE);
}

gsize
qvm_schema_path_push_member (GString    *path,
                             const char *name)
{
  gsize saved = path->len;

  if (path->len > 0)
    g_string_append_c (path, '.');
  append_printable (path, name);
  return saved;
}

gsize
qvm_schema_path_push_index (GString *path,
                            guint    index)
{
  gsize saved = path->len;

  g_string_append_printf (path, "[%u]", index);
  return saved;
}

void
qvm_schema_path_pop (GString *path,
                     gsize    saved)
{
  g_string_truncate (path, saved);
}

char *
qvm_schema_path_vprintf (GString    *path,
                         const char *format,
                         va_list     args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  return g_strdup_printf ("%s: %s", path->len > 0 ? path->str : "(root)", message);
}
