/* qvm-qmp-parser.c: QMP framing and message parsing
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <inttypes.h>

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-parser-private.h"

#define EXCERPT_LENGTH 40

struct _QvmQmpParser {
  gsize max_message_size;
  JsonParser *json;

  /* The bytes of the current message fed so far, when it spans feeds. */
  GByteArray *partial;

  gboolean in_message;
  gboolean in_string;
  gboolean escaped;
  guint depth;

  guint64 offset;           /* bytes consumed by earlier feeds */
  guint64 message_start;    /* offset of the current message's '{' */

  GError *error;            /* sticky once set */
};

char *
qvm_qmp_excerpt (const char *data,
                 gsize       length)
{
  GString *text = g_string_new (NULL);
  gsize shown = MIN (length, EXCERPT_LENGTH);

  for (gsize i = 0; i < shown; i++)
    {
      guchar c = data[i];

      if (c == '\\')
        g_string_append (text, "\\\\");
      else if (c >= 0x20 && c < 0x7f)
        g_string_append_c (text, c);
      else if (c == '\n')
        g_string_append (text, "\\n");
      else if (c == '\r')
        g_string_append (text, "\\r");
      else
        g_string_append_printf (text, "\\x%02x", c);
    }
  if (shown < length)
    g_string_append (text, "…");

  return g_string_free (text, FALSE);
}

void
qvm_qmp_message_free (QvmQmpMessage *message)
{
  if (message == NULL)
    return;
  g_clear_pointer (&message->root, json_node_unref);
  g_free (message);
}

static gboolean
set_not_qmp (GError    **error,
             JsonNode   *root,
             const char *what)
{
  g_autofree char *text = json_to_string (root, FALSE);
  g_autofree char *excerpt = qvm_qmp_excerpt (text, strlen (text));

  /* Translators: the first %s says what is wrong, the second is an
   * excerpt of the JSON QEMU sent. */
  g_set_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL,
               _("not a QMP message (%s): %s"), what, excerpt);
  return FALSE;
}

/* The member @name of @object if it holds a value of @type, else NULL. */
static JsonNode *
get_member_of_type (JsonObject *object,
                    const char *name,
                    GType       type)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
    return NULL;
  return node;
}

static JsonObject *
get_object_member (JsonObject *object,
                   const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static gboolean
classify_greeting (QvmQmpMessage *message,
                   JsonObject    *qmp,
                   GError       **error)
{
  JsonObject *version = get_object_member (qmp, "version");
  JsonObject *qemu = version != NULL ? get_object_member (version, "qemu") : NULL;
  JsonNode *major = qemu != NULL ? get_member_of_type (qemu, "major", G_TYPE_INT64) : NULL;
  JsonNode *minor = qemu != NULL ? get_member_of_type (qemu, "minor", G_TYPE_INT64) : NULL;
  JsonNode *micro = qemu != NULL ? get_member_of_type (qemu, "micro", G_TYPE_INT64) : NULL;
  JsonNode *package = version != NULL ? get_member_of_type (version, "package", G_TYPE_STRING) : NULL;
  JsonNode *capabilities = json_object_get_member (qmp, "capabilities");

  if (major == NULL || minor == NULL || micro == NULL)
    return set_not_qmp (error, message->root, _("greeting without a QEMU version"));
  if (capabilities == NULL || !JSON_NODE_HOLDS_ARRAY (capabilities))
    return set_not_qmp (error, message->root, _("greeting without a capabilities array"));

  message->capabilities = json_node_get_array (capabilities);
  for (guint i = 0; i < json_array_get_length (message->capabilities); i++)
    {
      JsonNode *element = json_array_get_element (message->capabilities, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return set_not_qmp (error, message->root, _("a capability is not a string"));
    }

  message->kind = QVM_QMP_MESSAGE_GREETING;
  message->version_major = json_node_get_int (major);
  message->version_minor = json_node_get_int (minor);
  message->version_micro = json_node_get_int (micro);
  message->package = package != NULL ? json_node_get_string (package) : NULL;
  return TRUE;
}

static gboolean
classify_error (QvmQmpMessage *message,
                JsonObject    *root,
                GError       **error)
{
  JsonObject *qmp_error = get_object_member (root, "error");
  JsonNode *class = qmp_error != NULL ? get_member_of_type (qmp_error, "class", G_TYPE_STRING) : NULL;
  JsonNode *desc = qmp_error != NULL ? get_member_of_type (qmp_error, "desc", G_TYPE_STRING) : NULL;

  if (class == NULL || desc == NULL)
    return set_not_qmp (error, message->root, _("an error without a class and a description"));

  message->kind = QVM_QMP_MESSAGE_ERROR;
  message->error_class = json_node_get_string (class);
  message->error_desc = json_node_get_string (desc);
  return TRUE;
}

static gboolean
classify_event (QvmQmpMessage *message,
                JsonObject    *root,
                GError       **error)
{
  JsonNode *event = get_member_of_type (root, "event", G_TYPE_STRING);
  JsonObject *timestamp = get_object_member (root, "timestamp");
  JsonNode *seconds = timestamp != NULL ? get_member_of_type (timestamp, "seconds", G_TYPE_INT64) : NULL;
  JsonNode *microseconds = timestamp != NULL ? get_member_of_type (timestamp, "microseconds", G_TYPE_INT64) : NULL;
  JsonNode *data = json_object_get_member (root, "data");
  gint64 whole_seconds;

  if (event == NULL)
    return set_not_qmp (error, message->root, _("an event name that is not a string"));
  if (seconds == NULL || microseconds == NULL)
    return set_not_qmp (error, message->root, _("an event without a timestamp"));
  if (data != NULL && !JSON_NODE_HOLDS_OBJECT (data))
    return set_not_qmp (error, message->root, _("event data that is not an object"));

  whole_seconds = json_node_get_int (seconds);
  if (whole_seconds > G_MAXINT64 / G_USEC_PER_SEC - 1 || whole_seconds < G_MININT64 / G_USEC_PER_SEC + 1)
    return set_not_qmp (error, message->root, _("an event timestamp out of range"));

  message->kind = QVM_QMP_MESSAGE_EVENT;
  message->event = json_node_get_string (event);
  message->event_data = data != NULL ? json_node_get_object (data) : NULL;
  message->timestamp_us = whole_seconds * G_USEC_PER_SEC
                          + CLAMP (json_node_get_int (microseconds), 0, G_USEC_PER_SEC - 1);
  return TRUE;
}

QvmQmpMessage *
qvm_qmp_message_new (JsonNode  *root,
                     GError   **error)
{
  g_autoptr(QvmQmpMessage) message = NULL;
  JsonObject *object;
  JsonObject *qmp;
  gboolean ok;

  g_return_val_if_fail (root != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      set_not_qmp (error, root, _("not a JSON object"));
      return NULL;
    }

  message = g_new0 (QvmQmpMessage, 1);
  message->root = json_node_ref (root);
  object = json_node_get_object (root);
  message->id = json_object_get_member (object, "id");

  if ((qmp = get_object_member (object, "QMP")) != NULL)
    ok = classify_greeting (message, qmp, error);
  else if (json_object_has_member (object, "return"))
    {
      message->kind = QVM_QMP_MESSAGE_RETURN;
      message->value = json_object_get_member (object, "return");
      ok = TRUE;
    }
  else if (json_object_has_member (object, "error"))
    ok = classify_error (message, object, error);
  else if (json_object_has_member (object, "event"))
    ok = classify_event (message, object, error);
  else
    ok = set_not_qmp (error, root, _("no QMP, return, error or event member"));

  return ok ? g_steal_pointer (&message) : NULL;
}

QvmQmpParser *
qvm_qmp_parser_new (gsize max_message_size)
{
  QvmQmpParser *parser = g_new0 (QvmQmpParser, 1);

  parser->max_message_size = max_message_size != 0 ? max_message_size : QVM_QMP_MAX_MESSAGE_SIZE;
  parser->json = json_parser_new ();
  parser->partial = g_byte_array_new ();
  return parser;
}

void
qvm_qmp_parser_free (QvmQmpParser *parser)
{
  if (parser == NULL)
    return;
  g_clear_object (&parser->json);
  g_byte_array_unref (parser->partial);
  g_clear_error (&parser->error);
  g_free (parser);
}

gboolean
qvm_qmp_parser_in_message (QvmQmpParser *parser)
{
  return parser->in_message;
}

guint64
qvm_qmp_parser_get_offset (QvmQmpParser *parser)
{
  return parser->offset;
}

/* Records the parser's first error, prefixed with where it happened. */
static gboolean
fail (QvmQmpParser *parser,
      guint64       at,
      const char   *reason,
      GError      **error)
{
  /* Stop holding a possibly large partial message. */
  g_byte_array_unref (parser->partial);
  parser->partial = g_byte_array_new ();
  parser->in_message = FALSE;

  /* Translators: the first %s is a byte offset in what QEMU sent, the
   * second the reason. */
  parser->error = g_error_new (QVM_ERROR, QVM_ERROR_PROTOCOL,
                               _("QMP protocol error at byte %" PRIu64 ": %s"),
                               at, reason);
  g_propagate_error (error, g_error_copy (parser->error));
  return FALSE;
}

/* The value of the \\u escape at @text, or -1 when @text does not start
 * with a backslash, "u" and four hex digits. */
static gint
unicode_escape (const char *text,
                gsize       length)
{
  gint value = 0;

  if (length < 6 || text[0] != '\\' || text[1] != 'u')
    return -1;
  for (guint k = 2; k < 6; k++)
    {
      if (!g_ascii_isxdigit (text[k]))
        return -1;
      value = value * 16 + g_ascii_xdigit_value (text[k]);
    }
  return value;
}

static gboolean
is_high_surrogate (gint value)
{
  return value >= 0xd800 && value < 0xdc00;
}

static gboolean
is_low_surrogate (gint value)
{
  return value >= 0xdc00 && value < 0xe000;
}

/* json-glib decodes a \\u escape with fewer than four hex digits, or one
 * half of a surrogate pair without the other, into bytes that are not
 * UTF-8, which would reach event names, error messages and its own parse
 * errors. Returns the offset of the first such escape in @text and sets
 * @what, or returns -1. */
static gssize
find_bad_escape (const char  *text,
                 gsize        length,
                 const char **what)
{
  gboolean in_string = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      if (text[i] == '"')
        in_string = !in_string;
      else if (in_string && text[i] == '\\')
        {
          if (i + 1 < length && text[i + 1] == 'u')
            {
              gint value = unicode_escape (text + i, length - i);

              if (value < 0)
                {
                  *what = _("invalid JSON (a malformed \\u escape in a string)");
                  return i;
                }
              if (is_low_surrogate (value) ||
                  (is_high_surrogate (value) && !is_low_surrogate (unicode_escape (text + i + 6, length - i - 6))))
                {
                  *what = _("invalid JSON (an unpaired UTF-16 surrogate escape in a string)");
                  return i;
                }
              if (is_high_surrogate (value))
                i += 6;
            }
          /* Skip the escaped character; the digits of a \\u escape are
           * neither quotes nor backslashes. */
          i++;
        }
    }
  return -1;
}

/* Parses one complete message of @length bytes. */
static gboolean
complete_message (QvmQmpParser *parser,
                  const char   *text,
                  gsize         length,
                  GQueue       *messages,
                  GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  QvmQmpMessage *message;
  const char *what = NULL;
  gssize bad_escape = find_bad_escape (text, length, &what);

  if (bad_escape >= 0)
    return fail (parser, parser->message_start + bad_escape, what, error);

  if (!json_parser_load_from_data (parser->json, text, length, &local_error))
    {
      g_autofree char *excerpt = qvm_qmp_excerpt (text, length);
      /* json-glib quotes the token it stopped at, cut after 29 bytes even
       * in the middle of a character. */
      g_autofree char *why = g_utf8_make_valid (local_error->message, -1);
      g_autofree char *reason = g_strdup_printf (_("invalid JSON (%s): %s"), why, excerpt);

      return fail (parser, parser->message_start, reason, error);
    }

  root = json_parser_steal_root (parser->json);
  if (root == NULL)
    return fail (parser, parser->message_start, _("empty JSON document"), error);

  message = qvm_qmp_message_new (root, &local_error);
  if (message == NULL)
    return fail (parser, parser->message_start, local_error->message, error);

  g_queue_push_tail (messages, message);
  return TRUE;
}

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

gboolean
qvm_qmp_parser_feed (QvmQmpParser  *parser,
                     const char    *data,
                     gsize          length,
                     GQueue        *messages,
                     GError       **error)
{
  /* Where the current message's bytes start in @data, and the index at
   * which it would exceed the maximum size. */
  gsize span_start = 0;
  gsize limit = 0;

  g_return_val_if_fail (parser != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (messages != NULL, FALSE);

  if (parser->error != NULL)
    {
      g_propagate_error (error, g_error_copy (parser->error));
      return FALSE;
    }

  if (parser->in_message)
    limit = parser->max_message_size - parser->partial->len;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (!parser->in_message)
        {
          if (is_json_space (c))
            continue;
          if (c != '{')
            {
              g_autofree char *excerpt = qvm_qmp_excerpt (data + i, length - i);
              /* Translators: %s is an excerpt of what QEMU sent. */
              g_autofree char *reason = g_strdup_printf (_("expected a JSON object, got “%s”"), excerpt);

              return fail (parser, parser->offset + i, reason, error);
            }
          parser->in_message = TRUE;
          parser->in_string = FALSE;
          parser->escaped = FALSE;
          parser->depth = 1;
          parser->message_start = parser->offset + i;
          span_start = i;
          limit = i + parser->max_message_size;
          continue;
        }

      if (i >= limit)
        {
          g_autofree char *reason = g_strdup_printf (_("a message is longer than the limit of %zu bytes"),
                                                     parser->max_message_size);

          return fail (parser, parser->message_start, reason, error);
        }

      if (parser->in_string)
        {
          if (parser->escaped)
            parser->escaped = FALSE;
          else if (c == '\\')
            parser->escaped = TRUE;
          else if (c == '"')
            parser->in_string = FALSE;
          continue;
        }

      switch (c)
        {
        case '"':
          parser->in_string = TRUE;
          break;

        case '{':
        case '[':
          if (++parser->depth > QVM_QMP_MAX_DEPTH)
            {
              g_autofree char *reason = g_strdup_printf (_("a message nests deeper than %d levels"),
                                                         QVM_QMP_MAX_DEPTH);

              return fail (parser, parser->offset + i, reason, error);
            }
          break;

        case '}':
        case ']':
          if (--parser->depth == 0)
            {
              gboolean ok;

              parser->in_message = FALSE;
              if (parser->partial->len == 0)
                ok = complete_message (parser, data + span_start, i + 1 - span_start, messages, error);
              else
                {
                  g_byte_array_append (parser->partial, (const guint8 *) data + span_start, i + 1 - span_start);
                  ok = complete_message (parser, (const char *) parser->partial->data,
                                         parser->partial->len, messages, error);
                  g_byte_array_set_size (parser->partial, 0);
                }
              if (!ok)
                return FALSE;
            }
          break;

        default:
          break;
        }
    }

  if (parser->in_message)
    g_byte_array_append (parser->partial, (const guint8 *) data + span_start, length - span_start);
  parser->offset += length;
  return TRUE;
}

char *
qvm_qmp_build_command (const char *command,
                       JsonObject *arguments,
                       guint64     id,
                       gsize      *out_length)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_alloc ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *json = NULL;
  char *text;
  gsize length;

  json_object_set_string_member (object, "execute", command);
  if (arguments != NULL)
    json_object_set_object_member (object, "arguments", json_object_ref (arguments));
  json_object_set_int_member (object, "id", (gint64) id);
  json_node_init_object (root, object);

  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, &length);

  text = g_malloc (length + 2);
  memcpy (text, json, length);
  text[length] = '\n';
  text[length + 1] = '\0';
  if (out_length != NULL)
    *out_length = length + 1;
  return text;
}
