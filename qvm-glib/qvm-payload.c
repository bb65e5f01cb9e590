/* qvm-payload.c: reading and validating JSON written by image and task authors
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-payload-private.h"
#include "qvm-schemas-resources.h"

#define READ_CHUNK_SIZE (64 * 1024)
#define VALUE_MAX_CHARS 48

/* Sets a MALFORMED_PAYLOAD error with one line, "source: why". Without a
 * source, the problem is the whole document's: the validator's "(root)". */
static void
set_document_error (GError     **error,
                    const char  *source,
                    const char  *why)
{
  g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, "%s: %s",
               source != NULL ? source : "(root)", why);
}

/* GIO errors keep their domain and code; the message gains the file name
 * unless GIO already put it there. */
void
qvm_payload_propagate_file_error (GError     **error,
                                  GError      *io_error,
                                  const char  *name)
{
  /* The two errors every user meets get a short message of our own
   * ("NAME: WHY", as every other message here); the rest keep GIO's. */
  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("%s: no such file or folder"), name);
      g_error_free (io_error);
    }
  else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, _("%s: is a folder, not a file"), name);
      g_error_free (io_error);
    }
  else if (strstr (io_error->message, name) != NULL)
    g_propagate_error (error, io_error);
  else
    g_propagate_prefixed_error (error, io_error, "%s: ", name);
}

static void
set_too_large_error (GError     **error,
                     const char  *source,
                     guint64      size)
{
  g_autofree char *why = NULL;
  /* Numbers of 64-bit types are formatted apart: xgettext cannot see
   * through G_GUINT64_FORMAT. */
  g_autofree char *size_text = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

  if (size > 0)
    why = g_strdup_printf (_("is %s bytes, larger than the limit of %u bytes (1 MiB)"),
                           size_text, (guint) QVM_PAYLOAD_MAX_SIZE);
  else
    why = g_strdup_printf (_("is larger than the limit of %u bytes (1 MiB)"),
                           (guint) QVM_PAYLOAD_MAX_SIZE);
  set_document_error (error, source, why);
}

GBytes *
qvm_payload_read_file (GFile         *file,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autofree char *name = g_file_get_parse_name (file);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GByteArray) buffer = NULL;

  qvm_i18n_init ();

  stream = g_file_read (file, cancellable, &local_error);
  if (stream == NULL)
    {
      qvm_payload_propagate_file_error (error, g_steal_pointer (&local_error), name);
      return NULL;
    }

  info = g_file_input_stream_query_info (stream,
                                         G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                         G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                         cancellable, &local_error);
  if (info == NULL)
    {
      qvm_payload_propagate_file_error (error, g_steal_pointer (&local_error), name);
      return NULL;
    }

  if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                   _("%s: is a folder, not a file"), name);
      return NULL;
    }

  /* Refuse a large file from its size alone, without reading it. */
  if (g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_STANDARD_SIZE) &&
      g_file_info_get_size (info) > QVM_PAYLOAD_MAX_SIZE)
    {
      set_too_large_error (error, name, (guint64) g_file_info_get_size (info));
      return NULL;
    }

  /* The size may be wrong (a pipe, a file still being written): read at
   * most one byte more than the limit, which is enough to know. */
  buffer = g_byte_array_new ();
  while (buffer->len <= QVM_PAYLOAD_MAX_SIZE)
    {
      gsize room = MIN (READ_CHUNK_SIZE, QVM_PAYLOAD_MAX_SIZE + 1 - buffer->len);
      guint old_len = buffer->len;
      gssize n_read;

      g_byte_array_set_size (buffer, old_len + room);
      n_read = g_input_stream_read (G_INPUT_STREAM (stream), buffer->data + old_len, room,
                                    cancellable, &local_error);
      if (n_read < 0)
        {
          qvm_payload_propagate_file_error (error, g_steal_pointer (&local_error), name);
          return NULL;
        }
      g_byte_array_set_size (buffer, old_len + n_read);
      if (n_read == 0)
        break;
    }

  if (buffer->len > QVM_PAYLOAD_MAX_SIZE)
    {
      set_too_large_error (error, name, 0);
      return NULL;
    }

  if (!g_input_stream_close (G_INPUT_STREAM (stream), cancellable, &local_error))
    {
      qvm_payload_propagate_file_error (error, g_steal_pointer (&local_error), name);
      return NULL;
    }

  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

/* Line and column (both from 1, the column in characters) of @offset. */
static void
offset_to_line_column (const char *data,
                       gsize       offset,
                       guint      *line,
                       guint      *column)
{
  const char *line_start = data;

  *line = 1;
  for (gsize i = 0; i < offset; i++)
    {
      if (data[i] == '\n')
        {
          (*line)++;
          line_start = data + i + 1;
        }
    }
  *column = (guint) g_utf8_strlen (line_start, data + offset - line_start) + 1;
}

static void
set_token_error (GError     **error,
                 const char  *source,
                 const char  *data,
                 gsize        offset,
                 const char  *what)
{
  g_autofree char *why = NULL;
  guint line, column;

  offset_to_line_column (data, offset, &line, &column);
  why = g_strdup_printf (_("not valid JSON at line %u, column %u: %s"), line, column, what);
  set_document_error (error, source, why);
}

/* Length of the JSON number at @data (RFC 8259 grammar), or 0 when the
 * text there is not one. *@is_integer tells whether it has neither
 * fraction nor exponent. */
static gsize
scan_number (const char *data,
             gsize       length,
             gboolean   *is_integer)
{
  gsize i = 0;

  *is_integer = TRUE;
  if (i < length && data[i] == '-')
    i++;
  if (i < length && data[i] == '0')
    i++;
  else if (i < length && data[i] >= '1' && data[i] <= '9')
    while (i < length && g_ascii_isdigit (data[i]))
      i++;
  else
    return 0;

  if (i < length && data[i] == '.')
    {
      *is_integer = FALSE;
      i++;
      if (i >= length || !g_ascii_isdigit (data[i]))
        return 0;
      while (i < length && g_ascii_isdigit (data[i]))
        i++;
    }

  if (i < length && (data[i] == 'e' || data[i] == 'E'))
    {
      *is_integer = FALSE;
      i++;
      if (i < length && (data[i] == '+' || data[i] == '-'))
        i++;
      if (i >= length || !g_ascii_isdigit (data[i]))
        return 0;
      while (i < length && g_ascii_isdigit (data[i]))
        i++;
    }

  return i;
}

/* TRUE when @data starts with a \\u escape of a UTF-16 surrogate of the
 * half @half (0xd800: high, 0xdc00: low). */
static gboolean
is_surrogate_escape (const char *data,
                     gsize       length,
                     guint       half)
{
  guint value = 0;

  if (length < 6 || data[0] != '\\' || data[1] != 'u')
    return FALSE;
  for (guint k = 2; k < 6; k++)
    {
      if (!g_ascii_isxdigit (data[k]))
        return FALSE;
      value = value * 16 + g_ascii_xdigit_value (data[k]);
    }
  return (value & 0xfc00) == half;
}

/* Scans the string starting at *@at (its opening quote) and moves *@at
 * past its closing quote. Strict RFC 8259 escapes: json-glib would also cut
 * a string at "\u0000", so "02:…:01\u0000junk" would pass for a MAC
 * address while the file says otherwise. */
static gboolean
scan_string (const char  *data,
             gsize        length,
             gsize       *at,
             const char  *source,
             GError     **error)
{
  gsize start = *at;
  gsize i = start + 1;

  while (i < length && data[i] != '"')
    {
      guchar c = (guchar) data[i];

      if (c < 0x20)
        {
          g_autofree char *what = g_strdup_printf (_("control character U+%04X in a string (write it as an escape)"), c);

          set_token_error (error, source, data, i, what);
          return FALSE;
        }

      if (c != '\\')
        {
          i++;
          continue;
        }

      /* A backslash as the last byte: the string never ends. */
      if (i + 1 >= length)
        {
          i = length;
          break;
        }
      if (data[i + 1] == 'u')
        {
          if (i + 6 > length || !g_ascii_isxdigit (data[i + 2]) || !g_ascii_isxdigit (data[i + 3]) ||
              !g_ascii_isxdigit (data[i + 4]) || !g_ascii_isxdigit (data[i + 5]))
            {
              set_token_error (error, source, data, i, _("malformed \\u escape in a string"));
              return FALSE;
            }
          if (strncmp (data + i + 2, "0000", 4) == 0)
            {
              set_token_error (error, source, data, i, _("a string contains \\u0000 (a NUL character)"));
              return FALSE;
            }
          if (is_surrogate_escape (data + i, length - i, 0xdc00))
            {
              set_token_error (error, source, data, i, _("unpaired UTF-16 surrogate escape in a string"));
              return FALSE;
            }
          if (is_surrogate_escape (data + i, length - i, 0xd800))
            {
              /* json-glib turns a high surrogate without its low half into
               * bytes that are not UTF-8, which would reach messages. */
              if (!is_surrogate_escape (data + i + 6, length - i - 6, 0xdc00))
                {
                  set_token_error (error, source, data, i, _("unpaired UTF-16 surrogate escape in a string"));
                  return FALSE;
                }
              i += 6;
            }
          i += 6;
        }
      else if (strchr ("\"\\/bfnrt", data[i + 1]) != NULL && data[i + 1] != '\0')
        i += 2;
      else
        {
          set_token_error (error, source, data, i, _("unknown escape in a string"));
          return FALSE;
        }
    }

  if (i >= length)
    {
      set_token_error (error, source, data, start, _("unterminated string"));
      return FALSE;
    }

  *at = i + 1;
  return TRUE;
}

static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '+' || c == '.';
}

/* A strict scan of the tokens json-glib will see. json-glib accepts more
 * than JSON (comments, single-quoted strings, 01, .5) and wraps integers
 * that do not fit in 64 bits; this refuses all of that, and limits the
 * nesting depth before json-glib's recursive parser runs. Structure errors
 * (a missing comma…) are left to json-glib, which names them well. */
static gboolean
scan_json_tokens (const char  *data,
                  gsize        length,
                  const char  *source,
                  GError     **error)
{
  gboolean have_document = FALSE;
  /* The closing bracket each open level waits for. */
  char closers[QVM_PAYLOAD_MAX_DEPTH + 1];
  gboolean mismatched = FALSE;
  guint depth = 0;
  gsize i = 0;

  while (i < length)
    {
      char c = data[i];
      gsize start = i;

      /* json-glib silently ignores whatever object or array follows the
       * first one; a second document could hide anything. */
      if (have_document && !g_ascii_isspace (c))
        {
          set_token_error (error, source, data, i, _("more after the end of the document"));
          return FALSE;
        }

      switch (c)
        {
        case ' ': case '\t': case '\n': case '\r': case ',': case ':':
          i++;
          break;

        case '[': case '{':
          if (++depth > QVM_PAYLOAD_MAX_DEPTH)
            {
              g_autofree char *what = g_strdup_printf (_("nested deeper than %u levels"),
                                                       (guint) QVM_PAYLOAD_MAX_DEPTH);
              set_token_error (error, source, data, i, what);
              return FALSE;
            }
          closers[depth - 1] = c == '[' ? ']' : '}';
          i++;
          break;

        case ']': case '}':
          /* An unbalanced or mismatched bracket is json-glib's to report. */
          if (depth == 0 || closers[depth - 1] != c)
            mismatched = TRUE;
          if (depth > 0 && --depth == 0)
            have_document = TRUE;
          i++;
          break;

        case '"':
          if (!scan_string (data, length, &i, source, error))
            return FALSE;
          break;

        default:
          if (c == '-' || g_ascii_isdigit (c))
            {
              gboolean is_integer;
              gsize n = scan_number (data + i, length - i, &is_integer);
              gint64 unused;

              if (n == 0 || (i + n < length && is_token_char (data[i + n])))
                {
                  set_token_error (error, source, data, i, _("malformed number"));
                  return FALSE;
                }
              if (is_integer)
                {
                  g_autofree char *text = g_strndup (data + i, n);

                  if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &unused, NULL))
                    {
                      g_autofree char *what = g_strdup_printf (_("the integer %s does not fit in 64 bits"), text);
                      set_token_error (error, source, data, i, what);
                      return FALSE;
                    }
                }
              i += n;
            }
          else if (g_ascii_isalpha (c))
            {
              while (i < length && is_token_char (data[i]))
                i++;
              if (!((i - start == 4 && memcmp (data + start, "true", 4) == 0) ||
                    (i - start == 5 && memcmp (data + start, "false", 5) == 0) ||
                    (i - start == 4 && memcmp (data + start, "null", 4) == 0)))
                {
                  g_autofree char *word = g_strndup (data + start, MIN (i - start, 32));
                  g_autofree char *what = g_strdup_printf (_("unexpected word “%s”"), word);
                  set_token_error (error, source, data, start, what);
                  return FALSE;
                }
            }
          else
            {
              g_autofree char *what = NULL;

              if (g_ascii_isprint (c))
                what = g_strdup_printf (_("unexpected character “%c”"), c);
              else
                what = g_strdup_printf (_("unexpected character U+%04X"),
                                        (guint) g_utf8_get_char (data + i));
              set_token_error (error, source, data, i, what);
              return FALSE;
            }
          break;
        }

      if (depth == 0 && (c == '"' || c == '-' || g_ascii_isalnum (c)))
        have_document = TRUE;
    }

  /* json-glib reports this at "column 0" of a line after the end. */
  if (depth > 0 && !mismatched)
    {
      g_autofree char *what = g_strdup_printf (_("the document ends before its closing “%c”"),
                                               closers[depth - 1]);
      set_token_error (error, source, data, length, what);
      return FALSE;
    }

  return TRUE;
}

/* json-glib says "<data>:LINE:COL: Parse error: WHAT"; say it like the
 * scanner does. */
static void
set_parser_error (GError     **error,
                  const char  *source,
                  const char  *message)
{
  g_autofree char *why = NULL;
  unsigned int line, column;
  int consumed = 0;
  /* json-glib quotes the token it stopped at, cut after 29 bytes even in
   * the middle of a character. */
  g_autofree char *valid = g_utf8_make_valid (message, -1);

  message = valid;
  if (sscanf (message, "<data>:%u:%u: %n", &line, &column, &consumed) == 2 && consumed > 0)
    {
      const char *what = message + consumed;

      if (g_str_has_prefix (what, "Parse error: "))
        what += strlen ("Parse error: ");
      why = g_strdup_printf (_("not valid JSON at line %u, column %u: %s"), line, column, what);
    }
  else
    why = g_strdup_printf (_("not valid JSON: %s"), message);

  set_document_error (error, source, why);
}

JsonNode *
qvm_payload_parse (const char  *data,
                   gsize        length,
                   const char  *source,
                   GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  const char *end;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  qvm_i18n_init ();

  /* An empty GBytes may have no data at all. */
  if (data == NULL)
    data = "";

  if (length > QVM_PAYLOAD_MAX_SIZE)
    {
      set_too_large_error (error, source, length);
      return NULL;
    }

  if (!g_utf8_validate_len (data, length, &end))
    {
      g_autofree char *why = NULL;
      g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, (gsize) (end - data));

      if (*end == '\0')
        why = g_strdup_printf (_("contains a NUL byte at byte offset %s"), offset);
      else
        why = g_strdup_printf (_("not valid UTF-8 at byte offset %s"), offset);
      set_document_error (error, source, why);
      return NULL;
    }

  if (!scan_json_tokens (data, length, source, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      set_parser_error (error, source, local_error->message);
      return NULL;
    }

  root = json_parser_steal_root (parser);
  if (root == NULL)
    {
      set_document_error (error, source, _("is empty; expected a JSON object"));
      return NULL;
    }

  return root;
}

char *
qvm_payload_format_value (JsonNode *value)
{
  g_autofree char *text = NULL;
  const char *cut;

  if (value == NULL)
    return g_strdup ("null");

  text = json_to_string (value, FALSE);
  if (g_utf8_strlen (text, -1) <= VALUE_MAX_CHARS)
    return g_steal_pointer (&text);

  cut = g_utf8_offset_to_pointer (text, VALUE_MAX_CHARS - 1);
  return g_strdup_printf ("%.*s…", (int) (cut - text), text);
}

JsonNode *
qvm_payload_lookup (JsonNode   *root,
                    const char *path)
{
  g_auto(GStrv) members = NULL;
  JsonNode *node = root;

  if (root == NULL || path == NULL)
    return NULL;
  if (g_str_equal (path, "(root)"))
    return root;

  members = g_strsplit (path, ".", -1);
  for (guint i = 0; members[i] != NULL && node != NULL; i++)
    {
      char *index = strchr (members[i], '[');
      g_autofree char *name = g_strndup (members[i], index ? (gsize) (index - members[i]) : strlen (members[i]));

      if (*name != '\0')
        {
          if (!JSON_NODE_HOLDS_OBJECT (node))
            return NULL;
          node = json_object_get_member (json_node_get_object (node), name);
        }

      while (index != NULL && node != NULL)
        {
          guint64 element;
          char *close;

          if (!JSON_NODE_HOLDS_ARRAY (node))
            return NULL;
          element = g_ascii_strtoull (index + 1, &close, 10);
          if (*close != ']' || element >= json_array_get_length (json_node_get_array (node)))
            return NULL;
          node = json_array_get_element (json_node_get_array (node), (guint) element);
          index = strchr (close, '[');
        }
    }

  return node;
}

void
qvm_payload_set_error (GError     **error,
                       const char  *source,
                       GPtrArray   *problems)
{
  g_autoptr(GString) message = g_string_new (NULL);

  for (guint i = 0; i < problems->len; i++)
    {
      if (i > 0)
        g_string_append_c (message, '\n');
      if (source != NULL)
        g_string_append_printf (message, "%s: ", source);
      g_string_append (message, g_ptr_array_index (problems, i));
    }

  g_set_error_literal (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD, message->str);
}

static GPtrArray *
explain_problems (GPtrArray             *problems,
                  JsonNode              *root,
                  QvmPayloadExplainFunc  explain)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < problems->len; i++)
    {
      const char *line = g_ptr_array_index (problems, i);
      const char *colon = strstr (line, ": ");
      g_autofree char *path = NULL;
      g_autofree char *why = NULL;
      char *new_line;

      if (colon == NULL)
        {
          new_line = g_strdup (line);
        }
      else
        {
          path = g_strndup (line, colon - line);
          why = explain (path, colon + 2, qvm_payload_lookup (root, path), root);
          if (why == NULL)
            new_line = g_strdup (line);
          else if (*why == '\0')
            continue;
          else
            new_line = g_strdup_printf ("%s: %s", path, why);
        }

      if (g_hash_table_contains (seen, new_line))
        {
          g_free (new_line);
          continue;
        }
      g_hash_table_add (seen, new_line);
      g_ptr_array_add (lines, new_line);
    }

  /* An explanation may only drop a line that another line covers. */
  if (lines->len == 0)
    return g_ptr_array_ref (problems);

  return g_steal_pointer (&lines);
}

gboolean
qvm_payload_validate (QvmSchema              *schema,
                      JsonNode               *root,
                      const char             *source,
                      QvmPayloadExplainFunc   explain,
                      GError                **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) lines = NULL;

  g_return_val_if_fail (schema != NULL, FALSE);
  g_return_val_if_fail (root != NULL, FALSE);

  qvm_i18n_init ();

  if (qvm_schema_validate (schema, root, problems))
    return TRUE;

  /* The validator always says why; this only guards the message. */
  if (problems->len == 0)
    g_ptr_array_add (problems, g_strdup (_("(root): does not match the schema")));

  lines = explain != NULL ? explain_problems (problems, root, explain) : g_ptr_array_ref (problems);
  qvm_payload_set_error (error, source, lines);
  return FALSE;
}

JsonNode *
qvm_payload_load (QvmSchema              *schema,
                  const char             *data,
                  gsize                   length,
                  const char             *source,
                  QvmPayloadExplainFunc   explain,
                  GError                **error)
{
  g_autoptr(JsonNode) root = qvm_payload_parse (data, length, source, error);

  if (root == NULL)
    return NULL;
  if (!qvm_payload_validate (schema, root, source, explain, error))
    return NULL;
  return g_steal_pointer (&root);
}

/* The texts of the built-in schemas, loaded once and kept. The compiled
 * schemas are not kept: compiling takes about 0.2 ms, machines are loaded
 * rarely, and a cache alive at exit would show up in every valgrind run
 * (GHashTable stores small pointers in 32 bits, which valgrind cannot see). */
static struct {
  const char *name;
  char *text;
} builtin_schemas[] = {
  { "machine.schema.json", NULL },
  { "options.schema.json", NULL },
};

G_LOCK_DEFINE_STATIC (builtin_schemas);

const char *
qvm_payload_get_builtin_schema_text (const char *name)
{
  const char *text = NULL;

  G_LOCK (builtin_schemas);

  for (guint i = 0; i < G_N_ELEMENTS (builtin_schemas); i++)
    {
      g_autofree char *path = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) error = NULL;
      gsize size;
      const char *data;

      if (!g_str_equal (builtin_schemas[i].name, name))
        continue;

      if (builtin_schemas[i].text == NULL)
        {
          /* A schema missing from the resources is a defect of this build,
           * not something a user can cause or fix: stop loudly. */
          path = g_strconcat ("/org/qvm-glib/schemas/", name, NULL);
          bytes = g_resource_lookup_data (qvm_schemas_get_resource (), path,
                                          G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
          if (bytes == NULL)
            g_error ("built-in schema %s: %s", path, error->message);
          data = g_bytes_get_data (bytes, &size);
          builtin_schemas[i].text = g_strndup (data, size);
        }
      text = builtin_schemas[i].text;
    }

  G_UNLOCK (builtin_schemas);

  if (text == NULL)
    g_error ("no built-in schema %s", name);
  return text;
}

QvmSchema *
qvm_payload_load_builtin_schema (const char *name)
{
  g_autoptr(GError) error = NULL;
  QvmSchema *schema;

  schema = qvm_schema_new_from_data (qvm_payload_get_builtin_schema_text (name), -1, &error);
  if (schema == NULL)
    g_error ("built-in schema %s: %s", name, error->message);
  return schema;
}

char *
qvm_payload_to_text (JsonNode *root)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);

  return g_strconcat (text, "\n", NULL);
}
