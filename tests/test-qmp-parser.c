/* test-qmp-parser.c: QMP framing, classification and error mapping
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "qvm.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-parser-private.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
                 "\"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* Feeds @text in one go; returns the messages, or NULL with @error set. */
static GQueue *
parse_all (const char *text,
           gsize       max_size,
           GError    **error)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (max_size);
  GQueue *messages = g_queue_new ();

  if (!qvm_qmp_parser_feed (parser, text, strlen (text), messages, error))
    {
      g_queue_free_full (messages, (GDestroyNotify) qvm_qmp_message_free);
      return NULL;
    }
  return messages;
}

static void
free_messages (GQueue *messages)
{
  g_queue_free_full (messages, (GDestroyNotify) qvm_qmp_message_free);
}

/* A GQueue of QvmQmpMessage, freed with its messages. */
typedef GQueue MessageQueue;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MessageQueue, free_messages)

static QvmQmpMessage *
parse_one (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MessageQueue) messages = parse_all (text, 0, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_queue_get_length (messages), ==, 1);
  return g_queue_pop_head (messages);
}

static void
test_greeting (void)
{
  g_autoptr(QvmQmpMessage) message = parse_one (GREETING);

  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_GREETING);
  g_assert_cmpint (message->version_major, ==, 7);
  g_assert_cmpint (message->version_minor, ==, 2);
  g_assert_cmpint (message->version_micro, ==, 22);
  g_assert_cmpstr (message->package, ==, "Debian 1:7.2+dfsg-7");
  g_assert_cmpuint (json_array_get_length (message->capabilities), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (message->capabilities, 0), ==, "oob");
}

static void
test_return (void)
{
  g_autoptr(QvmQmpMessage) message =
    parse_one ("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 42}\r\n");
  JsonObject *value;

  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_RETURN);
  g_assert_nonnull (message->id);
  g_assert_cmpint (json_node_get_int (message->id), ==, 42);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (message->value));
  value = json_node_get_object (message->value);
  g_assert_cmpstr (json_object_get_string_member (value, "status"), ==, "running");
  g_assert_true (json_object_get_boolean_member (value, "running"));
}

static void
test_error_reply (void)
{
  g_autoptr(QvmQmpMessage) message =
    parse_one ("{\"id\": 3, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}}");

  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_ERROR);
  g_assert_cmpint (json_node_get_int (message->id), ==, 3);
  g_assert_cmpstr (message->error_class, ==, "CommandNotFound");
  g_assert_cmpstr (message->error_desc, ==, "The command nope has not been found");
}

static void
test_event (void)
{
  g_autoptr(QvmQmpMessage) with_data =
    parse_one ("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 174828}, \"event\": \"SHUTDOWN\", "
               "\"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}");
  g_autoptr(QvmQmpMessage) without_data =
    parse_one ("{\"timestamp\": {\"seconds\": 5, \"microseconds\": 7}, \"event\": \"STOP\"}");

  g_assert_cmpint (with_data->kind, ==, QVM_QMP_MESSAGE_EVENT);
  g_assert_cmpstr (with_data->event, ==, "SHUTDOWN");
  g_assert_cmpint (with_data->timestamp_us, ==, G_GINT64_CONSTANT (1700000000174828));
  g_assert_nonnull (with_data->event_data);
  g_assert_cmpstr (json_object_get_string_member (with_data->event_data, "reason"), ==, "host-qmp-quit");

  g_assert_cmpint (without_data->kind, ==, QVM_QMP_MESSAGE_EVENT);
  g_assert_cmpstr (without_data->event, ==, "STOP");
  g_assert_null (without_data->event_data);
  g_assert_cmpint (without_data->timestamp_us, ==, 5000007);
}

/* Strings with braces, escaped quotes and backslashes, pretty-printing and
 * several messages in one feed. */
static const char tricky_stream[] =
  GREETING
  "{\"return\": \"}{]\\\"[\", \"id\": 1}\r\n"
  "  \n\t{\n  \"return\": {\n    \"a\": [1, {\"b\": \"\\\\\"}]\n  },\n  \"id\": 2\n}\r\n"
  "{\"return\": \"\\u00e9t\xc3\xa9 \\\\\", \"id\": 3}{\"event\": \"X\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}";

static void
check_tricky_messages (GQueue *messages)
{
  QvmQmpMessage *message;
  JsonObject *object;

  g_assert_cmpuint (g_queue_get_length (messages), ==, 5);
  message = g_queue_peek_nth (messages, 0);
  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_GREETING);

  message = g_queue_peek_nth (messages, 1);
  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_RETURN);
  g_assert_cmpstr (json_node_get_string (message->value), ==, "}{]\"[");

  message = g_queue_peek_nth (messages, 2);
  g_assert_cmpint (json_node_get_int (message->id), ==, 2);
  object = json_node_get_object (message->value);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_object_get_array_member (object, "a"), 1), "b"),
                   ==, "\\");

  message = g_queue_peek_nth (messages, 3);
  g_assert_cmpstr (json_node_get_string (message->value), ==, "\xc3\xa9t\xc3\xa9 \\");

  message = g_queue_peek_nth (messages, 4);
  g_assert_cmpint (message->kind, ==, QVM_QMP_MESSAGE_EVENT);
  g_assert_cmpstr (message->event, ==, "X");
}

static void
test_tricky_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MessageQueue) messages = parse_all (tricky_stream, 0, &error);

  g_assert_no_error (error);
  check_tricky_messages (messages);
}

/* Any split of the stream gives the same messages. */
static void
test_any_split (void)
{
  gsize length = strlen (tricky_stream);

  for (gsize split = 0; split <= length; split++)
    {
      g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (0);
      g_autoptr(MessageQueue) messages = g_queue_new ();
      g_autoptr(GError) error = NULL;

      g_assert_true (qvm_qmp_parser_feed (parser, tricky_stream, split, messages, &error));
      g_assert_true (qvm_qmp_parser_feed (parser, tricky_stream + split, length - split, messages, &error));
      g_assert_no_error (error);
      check_tricky_messages (messages);
      g_assert_false (qvm_qmp_parser_in_message (parser));
      g_assert_cmpuint (qvm_qmp_parser_get_offset (parser), ==, length);
    }
}

static void
test_byte_by_byte (void)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (0);
  g_autoptr(MessageQueue) messages = g_queue_new ();
  gsize length = strlen (tricky_stream);

  for (gsize i = 0; i < length; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (qvm_qmp_parser_feed (parser, tricky_stream + i, 1, messages, &error));
      g_assert_no_error (error);
    }
  check_tricky_messages (messages);
}

static void
test_in_message (void)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (0);
  g_autoptr(MessageQueue) messages = g_queue_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (qvm_qmp_parser_in_message (parser));
  g_assert_true (qvm_qmp_parser_feed (parser, "\r\n{\"return\": {", 14, messages, &error));
  g_assert_true (qvm_qmp_parser_in_message (parser));
  g_assert_cmpuint (g_queue_get_length (messages), ==, 0);
  g_assert_true (qvm_qmp_parser_feed (parser, "}, \"id\": 1}\r\n", 13, messages, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_qmp_parser_in_message (parser));
  g_assert_cmpuint (g_queue_get_length (messages), ==, 1);
}

/* Feeds @text and checks it fails with a protocol error whose message
 * contains each of the NULL-terminated fragments. */
static void
assert_protocol_error (const char *text,
                       gsize       max_size,
                       ...)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MessageQueue) messages = parse_all (text, max_size, &error);
  const char *fragment;
  va_list args;

  g_assert_null (messages);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  va_start (args, max_size);
  while ((fragment = va_arg (args, const char *)) != NULL)
    if (strstr (error->message, fragment) == NULL)
      g_error ("“%s” is not in the error message “%s”", fragment, error->message);
  va_end (args);
}

static void
test_garbage (void)
{
  assert_protocol_error ("garbage\r\n", 0, "at byte 0", "expected a JSON object", "garbage\\r\\n", NULL);
  assert_protocol_error ("  \r\n\x01\xff", 0, "at byte 4", "\\x01\\xff", NULL);
  assert_protocol_error ("[1, 2]", 0, "expected a JSON object", "[1, 2]", NULL);
  assert_protocol_error ("42\n", 0, "expected a JSON object", "42", NULL);
  assert_protocol_error ("\"QMP\"", 0, "expected a JSON object", NULL);
  assert_protocol_error ("null", 0, "expected a JSON object", "null", NULL);
  assert_protocol_error ("{\"return\": {}}}", 0, "at byte 14", "got “}”", NULL);
}

static void
test_invalid_json (void)
{
  assert_protocol_error ("{\"return\": tru}", 0, "at byte 0", "invalid JSON", "{\"return\": tru}", NULL);
  assert_protocol_error ("{\"return\": 1]", 0, "invalid JSON", NULL);
  assert_protocol_error ("{\"return\" 1}", 0, "invalid JSON", NULL);
  assert_protocol_error ("{\"return\": \"\xff\xfe\"}", 0, "invalid JSON", NULL);
  assert_protocol_error ("\n\n{\"return\": 1, }", 0, "at byte 2", "invalid JSON", NULL);

  /* json-glib's message quotes the last token, cut in the middle of a
   * character: the message stays UTF-8. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MessageQueue) messages = parse_all ("{\"return\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                                  "\xc3\xa9\xc3\xa9\" ]", 0, &error);

    g_assert_null (messages);
    g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (error->message, "invalid JSON"));
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
  }

  /* json-glib turns an escape of half a surrogate pair into bytes that are
   * not UTF-8, even in its own error messages (found by tests/fuzz). */
  assert_protocol_error ("{\"event\": \"A\\ud83d\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}", 0,
                         "at byte 12", "unpaired UTF-16 surrogate", NULL);
  assert_protocol_error ("{\"\\ud84ddrro \"b:r\"ad\", \"id\": 1}", 0, "at byte 2", "unpaired", NULL);
  assert_protocol_error ("{\"return\": \"\\ude00\", \"id\": 1}", 0, "unpaired", NULL);
  /* A \u escape with fewer than four digits, which json-glib may decode
   * into a surrogate as well. */
  assert_protocol_error ("{\"id\": 2, \"error\": {\"class\": \"a\r\n8{\\ud83nericError\", \"desc\": \"x\"}}", 0,
                         "at byte 35", "malformed \\u escape", NULL);
  assert_protocol_error ("{\"return\": \"\\u12\"}", 0, "malformed \\u escape", NULL);
  assert_protocol_error ("{\"return\": \"\\ud83d\\ud83d\\ude00\", \"id\": 1}", 0, "unpaired", NULL);
  {
    /* A pair is fine, and so are escaped backslashes before a "u". */
    g_autoptr(GError) error = NULL;
    g_autoptr(MessageQueue) messages = parse_all ("{\"return\": [\"\\ud83d\\ude00\", \"\\\\ud83d\"], \"id\": 1}",
                                                  0, &error);
    QvmQmpMessage *message;
    JsonArray *array;

    g_assert_no_error (error);
    message = g_queue_peek_head (messages);
    array = json_node_get_array (message->value);
    g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "\xf0\x9f\x98\x80");
    g_assert_cmpstr (json_array_get_string_element (array, 1), ==, "\\ud83d");
  }
}

static void
test_not_qmp (void)
{
  assert_protocol_error ("{\"foo\": 1}", 0, "not a QMP message", "no QMP, return, error or event member",
                         "{\"foo\":1}", NULL);
  assert_protocol_error ("{}", 0, "not a QMP message", NULL);
  assert_protocol_error ("{\"QMP\": {\"capabilities\": []}}", 0, "greeting without a QEMU version", NULL);
  assert_protocol_error ("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}}}", 0,
                         "greeting without a capabilities array", NULL);
  assert_protocol_error ("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, "
                         "\"capabilities\": [1]}}", 0, "a capability is not a string", NULL);
  assert_protocol_error ("{\"error\": {\"desc\": \"x\"}, \"id\": 1}", 0, "an error without a class", NULL);
  assert_protocol_error ("{\"error\": \"bad\", \"id\": 1}", 0, "an error without a class", NULL);
  assert_protocol_error ("{\"event\": 5, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}", 0,
                         "an event name that is not a string", NULL);
  assert_protocol_error ("{\"event\": \"STOP\"}", 0, "an event without a timestamp", NULL);
  assert_protocol_error ("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"data\": 3}", 0,
                         "event data that is not an object", NULL);
  assert_protocol_error ("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 9223372036854775807, \"microseconds\": 2}}", 0,
                         "timestamp out of range", NULL);
}

static void
test_message_new_not_object (void)
{
  g_autoptr(JsonNode) node = json_from_string ("[1]", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmQmpMessage) message = qvm_qmp_message_new (node, &error);

  g_assert_null (message);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "not a JSON object"));
}

/* Messages complete before the bad byte are still delivered. */
static void
test_messages_before_error (void)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (0);
  g_autoptr(MessageQueue) messages = g_queue_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) again = NULL;
  const char *text = "{\"return\": {}, \"id\": 1}\r\nxyz";

  g_assert_false (qvm_qmp_parser_feed (parser, text, strlen (text), messages, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "at byte 25"));
  g_assert_cmpuint (g_queue_get_length (messages), ==, 1);

  /* The error sticks. */
  g_assert_false (qvm_qmp_parser_feed (parser, "{\"return\": {}}", 14, messages, &again));
  g_assert_error (again, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_cmpstr (again->message, ==, error->message);
  g_assert_cmpuint (g_queue_get_length (messages), ==, 1);
}

static void
test_size_limit (void)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (64);
  g_autoptr(MessageQueue) messages = g_queue_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *exact = NULL;
  const char *head = "{\"return\": \"";
  gsize fed = 0;

  /* A message of exactly the limit passes. */
  exact = g_strdup_printf ("{\"return\": \"%s\"}", "01234567890123456789012345678901234567890123456789");
  g_assert_cmpuint (strlen (exact), ==, 64);
  g_assert_true (qvm_qmp_parser_feed (parser, exact, 64, messages, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_queue_get_length (messages), ==, 1);

  /* An endless string fails on the first byte past the limit. */
  g_assert_true (qvm_qmp_parser_feed (parser, head, strlen (head), messages, &error));
  fed = strlen (head);
  while (qvm_qmp_parser_feed (parser, "a", 1, messages, &error))
    {
      fed++;
      g_assert_cmpuint (fed, <=, 64);
    }
  g_assert_cmpuint (fed, ==, 64);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "longer than the limit of 64 bytes"));
  g_assert_nonnull (strstr (error->message, "at byte 64"));
  g_assert_false (qvm_qmp_parser_in_message (parser));
}

/* A huge chunk fails without the parser copying it. */
static void
test_size_limit_one_chunk (void)
{
  gsize size = 4 * 1024 * 1024;
  g_autofree char *huge = g_malloc (size + 1);
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (1024);
  g_autoptr(MessageQueue) messages = g_queue_new ();
  g_autoptr(GError) error = NULL;

  memset (huge, ' ', size);
  huge[100] = '{';
  huge[size] = '\0';
  g_assert_false (qvm_qmp_parser_feed (parser, huge, size, messages, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "at byte 100"));
  g_assert_nonnull (strstr (error->message, "limit of 1024 bytes"));
}

static void
test_depth_limit (void)
{
  GString *deep = g_string_new ("{\"return\": ");
  g_autoptr(GError) error = NULL;
  g_autoptr(MessageQueue) ok_messages = NULL;
  g_autofree char *ok_text = NULL;
  g_autofree char *deep_text = NULL;

  /* QVM_QMP_MAX_DEPTH levels, counting the message itself, pass. */
  for (int i = 1; i < QVM_QMP_MAX_DEPTH; i++)
    g_string_append_c (deep, '[');
  for (int i = 1; i < QVM_QMP_MAX_DEPTH; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  ok_text = g_strdup (deep->str);
  ok_messages = parse_all (ok_text, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_queue_get_length (ok_messages), ==, 1);

  g_string_insert_c (deep, 11, '[');
  deep_text = g_string_free (deep, FALSE);
  assert_protocol_error (deep_text, 0, "nests deeper than", NULL);
}

static void
test_build_command (void)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autofree char *plain = NULL;
  g_autofree char *with_arguments = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  gsize length;

  plain = qvm_qmp_build_command ("query-status", NULL, 7, &length);
  g_assert_cmpstr (plain, ==, "{\"execute\":\"query-status\",\"id\":7}\n");
  g_assert_cmpuint (length, ==, strlen (plain));

  json_object_set_string_member (arguments, "device", "a\"b\\c");
  with_arguments = qvm_qmp_build_command ("eject\"", arguments, G_GUINT64_CONSTANT (1) << 40, &length);
  g_assert_true (g_str_has_suffix (with_arguments, "}\n"));
  parsed = json_from_string (with_arguments, &error);
  g_assert_no_error (error);
  object = json_node_get_object (parsed);
  g_assert_cmpstr (json_object_get_string_member (object, "execute"), ==, "eject\"");
  g_assert_cmpint (json_object_get_int_member (object, "id"), ==, G_GINT64_CONSTANT (1) << 40);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "arguments"), "device"),
                   ==, "a\"b\\c");
}

static void
test_error_mapping (void)
{
  static const struct {
    const char *class;
    QvmQmpError code;
  } cases[] = {
    { "GenericError", QVM_QMP_ERROR_GENERIC_ERROR },
    { "CommandNotFound", QVM_QMP_ERROR_COMMAND_NOT_FOUND },
    { "DeviceNotFound", QVM_QMP_ERROR_DEVICE_NOT_FOUND },
    { "DeviceNotActive", QVM_QMP_ERROR_DEVICE_NOT_ACTIVE },
    { "KVMMissingCap", QVM_QMP_ERROR_KVM_MISSING_CAP },
  };
  g_autoptr(GError) unknown = qvm_qmp_error_new_from_reply ("SomethingNew", "it broke");
  g_autoptr(GEnumClass) enum_class = g_type_class_ref (QVM_TYPE_QMP_ERROR);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = qvm_qmp_error_new_from_reply (cases[i].class, "the description");

      g_assert_error (error, QVM_QMP_ERROR, (gint) cases[i].code);
      g_assert_cmpstr (error->message, ==, "the description");
    }

  g_assert_error (unknown, QVM_QMP_ERROR, QVM_QMP_ERROR_UNKNOWN);
  g_assert_nonnull (strstr (unknown->message, "it broke"));
  g_assert_nonnull (strstr (unknown->message, "SomethingNew"));

  g_assert_cmpstr (g_quark_to_string (QVM_QMP_ERROR), ==, "qvm-qmp-error-quark");
  g_assert_cmpstr (g_enum_get_value (enum_class, QVM_QMP_ERROR_COMMAND_NOT_FOUND)->value_nick,
                   ==, "command-not-found");
}

static void
test_excerpt (void)
{
  g_autofree char *short_text = qvm_qmp_excerpt ("a\\b\r\n\x01", 6);
  g_autofree char *long_text = qvm_qmp_excerpt ("0123456789012345678901234567890123456789012345", 46);

  g_assert_cmpstr (short_text, ==, "a\\\\b\\r\\n\\x01");
  g_assert_cmpstr (long_text, ==, "0123456789012345678901234567890123456789…");
}

/* Random bytes and mutated valid streams, in random chunks: the parser
 * either accepts or fails with a protocol error, never anything else. */
static void
test_fuzz (void)
{
  gsize stream_length = strlen (tricky_stream);
  guint accepted = 0, rejected = 0;

  for (int round = 0; round < 2000; round++)
    {
      g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (g_test_rand_int_range (1, 512));
      g_autoptr(MessageQueue) messages = g_queue_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *data = g_memdup2 (tricky_stream, stream_length);
      gsize offset = 0;
      gboolean ok = TRUE;

      if (round % 2 == 0)
        {
          for (int flips = g_test_rand_int_range (1, 4); flips > 0; flips--)
            data[g_test_rand_int_range (0, stream_length)] = g_test_rand_int_range (0, 256);
        }
      else
        {
          for (gsize i = 0; i < stream_length; i++)
            data[i] = "{}[]\"\\ a:,\n"[g_test_rand_int_range (0, 11)];
        }

      while (ok && offset < stream_length)
        {
          gsize wanted = g_test_rand_int_range (1, 40);
          gsize chunk = MIN (wanted, stream_length - offset);

          ok = qvm_qmp_parser_feed (parser, data + offset, chunk, messages, &error);
          offset += chunk;
        }

      if (ok)
        {
          g_assert_no_error (error);
          accepted++;
        }
      else
        {
          g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
          rejected++;
        }
      for (GList *l = messages->head; l != NULL; l = l->next)
        g_assert_nonnull (((QvmQmpMessage *) l->data)->root);
    }

  g_test_message ("fuzz: %u accepted, %u rejected", accepted, rejected);
  g_assert_cmpuint (rejected, >, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp-parser/greeting", test_greeting);
  g_test_add_func ("/qmp-parser/return", test_return);
  g_test_add_func ("/qmp-parser/error-reply", test_error_reply);
  g_test_add_func ("/qmp-parser/event", test_event);
  g_test_add_func ("/qmp-parser/tricky-stream", test_tricky_stream);
  g_test_add_func ("/qmp-parser/any-split", test_any_split);
  g_test_add_func ("/qmp-parser/byte-by-byte", test_byte_by_byte);
  g_test_add_func ("/qmp-parser/in-message", test_in_message);
  g_test_add_func ("/qmp-parser/garbage", test_garbage);
  g_test_add_func ("/qmp-parser/invalid-json", test_invalid_json);
  g_test_add_func ("/qmp-parser/not-qmp", test_not_qmp);
  g_test_add_func ("/qmp-parser/message-new-not-object", test_message_new_not_object);
  g_test_add_func ("/qmp-parser/messages-before-error", test_messages_before_error);
  g_test_add_func ("/qmp-parser/size-limit", test_size_limit);
  g_test_add_func ("/qmp-parser/size-limit-one-chunk", test_size_limit_one_chunk);
  g_test_add_func ("/qmp-parser/depth-limit", test_depth_limit);
  g_test_add_func ("/qmp-parser/build-command", test_build_command);
  g_test_add_func ("/qmp-parser/error-mapping", test_error_mapping);
  g_test_add_func ("/qmp-parser/excerpt", test_excerpt);
  g_test_add_func ("/qmp-parser/fuzz", test_fuzz);

  return g_test_run ();
}
