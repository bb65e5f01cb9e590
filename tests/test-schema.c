/* test-schema.c: the private JSON Schema validator
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <locale.h>

#include <gio/gio.h>

#include "qvm-schema-private.h"

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static QvmSchema *
load_schema (const char *schema_text)
{
  g_autoptr(GError) error = NULL;
  QvmSchema *schema = qvm_schema_new_from_data (schema_text, -1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (schema);
  return schema;
}

/* Validates and checks that the verdict agrees with the problem list, and
 * that the verdict alone (problems NULL) is the same. */
static GPtrArray *
validate (const char *schema_text,
          const char *instance_text)
{
  g_autoptr(QvmSchema) schema = load_schema (schema_text);
  g_autoptr(JsonNode) instance = parse_json (instance_text);
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);
  gboolean valid = qvm_schema_validate (schema, instance, problems);

  g_assert_cmpint (valid, ==, problems->len == 0);
  g_assert_cmpint (qvm_schema_validate (schema, instance, NULL), ==, valid);
  return problems;
}

static void
assert_valid (const char *schema_text,
              const char *instance_text)
{
  g_autoptr(GPtrArray) problems = validate (schema_text, instance_text);

  if (problems->len > 0)
    g_error ("%s should accept %s, but: %s", schema_text, instance_text,
             (const char *) g_ptr_array_index (problems, 0));
}

/* The problem lines, exactly and in order, NULL-terminated. */
static void
assert_problems (const char *schema_text,
                 const char *instance_text,
                 ...)
{
  g_autoptr(GPtrArray) problems = validate (schema_text, instance_text);
  g_autoptr(GPtrArray) expected = g_ptr_array_new ();
  const char *line;
  va_list args;

  va_start (args, instance_text);
  while ((line = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (expected, (gpointer) line);
  va_end (args);

  g_assert_cmpuint (expected->len, >, 0);
  for (guint i = 0; i < MAX (problems->len, expected->len); i++)
    g_assert_cmpstr (i < problems->len ? g_ptr_array_index (problems, i) : NULL, ==,
                     i < expected->len ? g_ptr_array_index (expected, i) : NULL);
}

static void
assert_refused (const char *schema_text,
                const char *expected_message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = qvm_schema_new_from_data (schema_text, -1, &error);

  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpstr (error->message, ==, expected_message);
}

/* ---------------------------------------------------------------------- */

static void
test_type (void)
{
  assert_valid ("{\"type\": \"null\"}", "null");
  assert_valid ("{\"type\": \"boolean\"}", "false");
  assert_valid ("{\"type\": \"object\"}", "{}");
  assert_valid ("{\"type\": \"array\"}", "[]");
  assert_valid ("{\"type\": \"number\"}", "1.5");
  assert_valid ("{\"type\": \"number\"}", "7");
  assert_valid ("{\"type\": \"integer\"}", "-7");
  assert_valid ("{\"type\": \"string\"}", "\"\"");
  assert_valid ("{\"type\": [\"string\", \"null\"]}", "null");
  assert_valid ("{}", "[1, {\"a\": null}]");

  assert_problems ("{\"type\": \"integer\"}", "\"four\"",
                   "(root): expected an integer, got a string (\"four\")", NULL);
  /* Draft-04 (its suite's zeroTerminatedFloats): 1.0 is not an integer. */
  assert_problems ("{\"type\": \"integer\"}", "1.0",
                   "(root): expected an integer, got a number (1.0)", NULL);
  assert_problems ("{\"type\": \"integer\"}", "2.5",
                   "(root): expected an integer, got a number (2.5)", NULL);
  assert_problems ("{\"type\": \"number\"}", "true",
                   "(root): expected a number, got a boolean (true)", NULL);
  assert_problems ("{\"type\": \"string\"}", "null",
                   "(root): expected a string, got null", NULL);
  assert_problems ("{\"type\": \"null\"}", "0",
                   "(root): expected null, got an integer (0)", NULL);
  assert_problems ("{\"type\": \"object\"}", "[1,2]",
                   "(root): expected an object, got an array ([1,2])", NULL);
  assert_problems ("{\"type\": \"array\"}", "{\"a\": 1}",
                   "(root): expected an array, got an object ({\"a\":1})", NULL);
  assert_problems ("{\"type\": \"boolean\"}", "\"true\"",
                   "(root): expected a boolean, got a string (\"true\")", NULL);
  assert_problems ("{\"type\": [\"string\", \"null\"]}", "3",
                   "(root): expected a string or null, got an integer (3)", NULL);
  assert_problems ("{\"type\": [\"string\", \"integer\", \"object\"]}", "[]",
                   "(root): expected a string, an integer or an object, got an array ([])", NULL);
}

static void
test_type_stops_other_checks (void)
{
  /* A value of the wrong type gets one line, not one per keyword. */
  assert_problems ("{\"type\": \"integer\", \"minimum\": 3, \"enum\": [4]}", "1.5",
                   "(root): expected an integer, got a number (1.5)", NULL);
}

static void
test_properties (void)
{
  const char *schema =
    "{\"type\": \"object\", \"properties\": {"
    "  \"cpu\": {\"type\": \"object\", \"properties\": {"
    "    \"cores\": {\"type\": \"integer\"}}},"
    "  \"name\": {\"type\": \"string\"}}}";

  assert_valid (schema, "{}");
  assert_valid (schema, "{\"cpu\": {\"cores\": 4}, \"name\": \"vm\", \"other\": 1}");
  assert_problems (schema, "{\"cpu\": {\"cores\": \"four\"}}",
                   "cpu.cores: expected an integer, got a string (\"four\")", NULL);
  assert_problems (schema, "{\"name\": 3, \"cpu\": []}",
                   "name: expected a string, got an integer (3)",
                   "cpu: expected an object, got an array ([])", NULL);
  /* properties ignores non-objects */
  assert_valid ("{\"properties\": {\"a\": {\"type\": \"string\"}}}", "[1]");
}

static void
test_required (void)
{
  const char *schema = "{\"required\": [\"uuid\", \"network\"]}";

  assert_valid (schema, "{\"uuid\": 1, \"network\": 2}");
  assert_valid (schema, "\"not an object\"");
  assert_problems (schema, "{\"network\": {}}",
                   "(root): missing required property \"uuid\"", NULL);
  assert_problems (schema, "{}",
                   "(root): missing required property \"uuid\"",
                   "(root): missing required property \"network\"", NULL);
  assert_problems ("{\"properties\": {\"sound\": {\"required\": [\"device\"]}}}",
                   "{\"sound\": {}}",
                   "sound: missing required property \"device\"", NULL);
}

static void
test_additional_properties (void)
{
  const char *closed =
    "{\"properties\": {\"sound\": {\"properties\": {\"device\": {}},"
    "                             \"additionalProperties\": false}}}";
  const char *typed =
    "{\"properties\": {\"a\": {}}, \"additionalProperties\": {\"type\": \"integer\"}}";

  assert_valid (closed, "{\"sound\": {\"device\": \"AC97\"}, \"x\": 1}");
  assert_problems (closed, "{\"sound\": {\"volume\": 3, \"device\": 1, \"bass\": 2}}",
                   "sound: unknown property \"volume\"",
                   "sound: unknown property \"bass\"", NULL);

  assert_valid (typed, "{\"a\": \"listed\", \"b\": 2}");
  assert_problems (typed, "{\"a\": \"listed\", \"b\": \"two\"}",
                   "b: expected an integer, got a string (\"two\")", NULL);

  assert_valid ("{\"additionalProperties\": true}", "{\"a\": 1}");
  assert_problems ("{\"additionalProperties\": false}", "{\"\": 1}",
                   "(root): unknown property \"\"", NULL);
}

static void
test_enum (void)
{
  const char *layouts =
    "{\"enum\": [\"ar\", \"da\", \"de\", \"de-ch\", \"en-gb\", \"en-us\", \"es\", \"et\","
    "           \"fi\", \"fo\", \"fr\", \"fr-be\", \"fr-ca\", \"fr-ch\", \"hr\"]}";

  assert_valid ("{\"enum\": [1, \"foo\", null, [1, 2], {\"a\": [true]}]}", "{\"a\": [true]}");
  assert_valid ("{\"enum\": [1, \"foo\", null, [1, 2], {\"a\": [true]}]}", "[1, 2]");
  assert_valid ("{\"enum\": [1, \"foo\", null]}", "null");
  /* numbers compare by value */
  assert_valid ("{\"enum\": [1]}", "1.0");
  assert_valid ("{\"enum\": [2.0]}", "2");
  /* objects compare regardless of member order */
  assert_valid ("{\"enum\": [{\"a\": 1, \"b\": 2}]}", "{\"b\": 2, \"a\": 1}");

  assert_problems ("{\"enum\": [\"AC97\", \"ES1370\"]}", "\"ac97\"",
                   "(root): \"ac97\" is not one of \"AC97\", \"ES1370\"", NULL);
  assert_problems ("{\"enum\": [1]}", "true",
                   "(root): true is not one of 1", NULL);
  assert_problems ("{\"enum\": [false]}", "0",
                   "(root): 0 is not one of false", NULL);
  assert_problems ("{\"enum\": [[1, 2]]}", "[2, 1]",
                   "(root): [2,1] is not one of [1,2]", NULL);
  assert_problems ("{\"enum\": [{\"a\": 1}]}", "{\"a\": 1, \"b\": 2}",
                   "(root): {\"a\":1,\"b\":2} is not one of {\"a\":1}", NULL);
  assert_problems ("{\"enum\": [9007199254740992]}", "9007199254740993",
                   "(root): 9007199254740993 is not one of 9007199254740992", NULL);
  /* long lists are cut */
  assert_problems (layouts, "\"xx\"",
                   "(root): \"xx\" is not one of \"ar\", \"da\", \"de\", \"de-ch\", \"en-gb\", "
                   "\"en-us\", \"es\", \"et\", \"fi\", …", NULL);
}

static void
test_pattern (void)
{
  const char *mac = "{\"pattern\": \"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$\"}";

  assert_valid (mac, "\"02:00:00:00:00:01\"");
  assert_valid (mac, "12");          /* ignores non-strings */
  assert_problems (mac, "\"02:00:00:00:00:0g\"",
                   "(root): \"02:00:00:00:00:0g\" does not match ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                   NULL);
  /* ECMA-262: $ is the very end, not before a final newline */
  assert_problems (mac, "\"02:00:00:00:00:01\\n\"",
                   "(root): \"02:00:00:00:00:01\\n\" does not match ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                   NULL);
  /* a search, not anchored */
  assert_valid ("{\"pattern\": \"a+\"}", "\"xxaayy\"");
  assert_problems ("{\"pattern\": \"a+\"}", "\"xyz\"",
                   "(root): \"xyz\" does not match a+", NULL);
  /* ECMA-262 \d, \w and \b are ASCII */
  assert_valid ("{\"pattern\": \"^\\\\d+$\"}", "\"0123456789\"");
  assert_problems ("{\"pattern\": \"^\\\\d+$\"}", "\"\\u0663\"",
                   "(root): \"\u0663\" does not match ^\\d+$", NULL);
  assert_problems ("{\"pattern\": \"^[\\\\dx]+$\"}", "\"1x\\u0663\"",
                   "(root): \"1x\u0663\" does not match ^[\\dx]+$", NULL);
  assert_valid ("{\"pattern\": \"^\\\\D$\"}", "\"\\u0663\"");
  assert_valid ("{\"pattern\": \"^\\\\w+$\"}", "\"ab_Z9\"");
  assert_problems ("{\"pattern\": \"^\\\\w+$\"}", "\"caf\\u00e9\"",
                   "(root): \"café\" does not match ^\\w+$", NULL);
  assert_valid ("{\"pattern\": \"^\\\\W$\"}", "\"\\u00e9\"");
  assert_valid ("{\"pattern\": \"\\\\bcaf\\\\b\"}", "\"caf\\u00e9\"");
  assert_problems ("{\"pattern\": \"\\\\Bb\"}", "\"\\u00e9b\"",
                   "(root): \"éb\" does not match \\Bb", NULL);
  /* other escapes pass through, as do non-ASCII characters */
  assert_valid ("{\"pattern\": \"^\\\\.\\\\u00e9\\\\[\\u00e9]$\"}", "\".\\u00e9[\\u00e9]\"");
  assert_valid ("{\"pattern\": \"^[\\\\]a]+$\"}", "\"]a]\"");
  /* ECMA-262: [] matches nothing, [^] anything (even a newline) */
  assert_problems ("{\"pattern\": \"^[]a]+$\"}", "\"]a]\"",
                   "(root): \"]a]\" does not match ^[]a]+$", NULL);
  assert_valid ("{\"pattern\": \"^a[^]b$\"}", "\"a\\nb\"");
  assert_valid ("{\"pattern\": \"^a[]*b$\"}", "\"ab\"");
  assert_problems ("{\"pattern\": \"^a[]+b$\"}", "\"ab\"",
                   "(root): \"ab\" does not match ^a[]+b$", NULL);
  /* \uXXXX escapes, surrogate pairs included */
  assert_valid ("{\"pattern\": \"^\\\\u00e9\\\\ud83d\\\\udca9$\"}", "\"\\u00e9\\ud83d\\udca9\"");
  assert_problems ("{\"pattern\": \"^\\\\u00e9$\"}", "\"e\"",
                   "(root): \"e\" does not match ^\\u00e9$", NULL);
  /* Unicode is matched as characters, not bytes */
  assert_valid ("{\"pattern\": \"^.$\"}", "\"\\u00e9\"");
  /* long patterns are shortened */
  assert_problems ("{\"pattern\": \"^(aaaaaaaaaa|bbbbbbbbbb|cccccccccc|dddddddddd|eeeeeeeeee|ffffffffff|gggggggggg)$\"}",
                   "\"x\"",
                   "(root): \"x\" does not match ^(aaaaaaaaaa|bbbbbbbbbb|cccccccccc|dddddddddd|eeeeeeeeee|fff…",
                   NULL);
}

static void
test_pattern_match_error (void)
{
  g_autoptr(QvmSchema) schema = load_schema ("{\"pattern\": \"^([a-z]+ ?)*$\"}");
  g_autoptr(JsonNode) instance = parse_json ("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"");
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  /* Catastrophic backtracking hits PCRE's limit: the value cannot be
   * checked, which is a problem, not a hang or a pass. (Validated once
   * only: reaching the limit takes a while under valgrind.) */
  g_assert_false (qvm_schema_validate (schema, instance, problems));
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (problems, 0), ==,
                   "(root): \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\" could not be matched against "
                   "^([a-z]+ ?)*$ (backtracking limit reached)");
}

static void
test_minimum_maximum (void)
{
  const char *memory = "{\"minimum\": 1, \"maximum\": 1048576}";
  const char *exclusive =
    "{\"minimum\": 0, \"exclusiveMinimum\": true, \"maximum\": 2.5, \"exclusiveMaximum\": true}";

  assert_valid (memory, "1");
  assert_valid (memory, "1048576");
  assert_valid (memory, "1.5");
  assert_valid (memory, "\"ignores strings\"");
  assert_problems (memory, "0",
                   "(root): 0 is less than the minimum 1", NULL);
  assert_problems (memory, "2000000",
                   "(root): 2000000 is greater than the maximum 1048576", NULL);
  assert_problems (memory, "0.5",
                   "(root): 0.5 is less than the minimum 1", NULL);
  assert_problems (memory, "1048576.5",
                   "(root): 1048576.5 is greater than the maximum 1048576", NULL);

  assert_valid (exclusive, "1");
  assert_valid (exclusive, "2.4");
  assert_valid (exclusive, "0.1");
  assert_problems (exclusive, "0",
                   "(root): 0 is not greater than the exclusive minimum 0", NULL);
  assert_problems (exclusive, "2.5",
                   "(root): 2.5 is not less than the exclusive maximum 2.5", NULL);
  assert_problems (exclusive, "-3",
                   "(root): -3 is not greater than the exclusive minimum 0", NULL);
  assert_valid ("{\"minimum\": 3, \"exclusiveMinimum\": false}", "3");
  assert_valid ("{\"maximum\": 3, \"exclusiveMaximum\": false}", "3.0");

  /* exact comparison beyond 2^53, where doubles cannot tell them apart */
  assert_valid ("{\"maximum\": 9007199254740993}", "9007199254740993");
  assert_problems ("{\"maximum\": 9007199254740992}", "9007199254740993",
                   "(root): 9007199254740993 is greater than the maximum 9007199254740992", NULL);
  assert_problems ("{\"maximum\": 9007199254740992.0}", "9007199254740993",
                   "(root): 9007199254740993 is greater than the maximum 9007199254740992.0", NULL);
  assert_problems ("{\"minimum\": 9223372036854775807}", "9223372036854775806",
                   "(root): 9223372036854775806 is less than the minimum 9223372036854775807", NULL);
  assert_problems ("{\"maximum\": 1e300}", "1e301",
                   "(root): 1e+301 is greater than the maximum 1e+300", NULL);
  assert_valid ("{\"maximum\": 1e300}", "9223372036854775807");
  assert_problems ("{\"minimum\": 1e300}", "9223372036854775807",
                   "(root): 9223372036854775807 is less than the minimum 1e+300", NULL);
  assert_problems ("{\"maximum\": -1e300}", "-9223372036854775807",
                   "(root): -9223372036854775807 is greater than the maximum -1e+300", NULL);
  assert_problems ("{\"maximum\": 0.1}", "0.30000000000000004",
                   "(root): 0.30000000000000004 is greater than the maximum 0.1", NULL);
}

static void
test_lengths (void)
{
  const char *schema = "{\"minLength\": 2, \"maxLength\": 3}";

  assert_valid (schema, "\"ab\"");
  assert_valid (schema, "\"abc\"");
  assert_valid (schema, "4");
  /* characters, not bytes: é is 2 bytes, 💩 is 4 */
  assert_valid (schema, "\"\\u00e9\\u00e9\\u00e9\"");
  assert_valid (schema, "\"\\ud83d\\udca9\\ud83d\\udca9\"");
  assert_problems (schema, "\"\\ud83d\\udca9\"",
                   "(root): \"\xf0\x9f\x92\xa9\" is shorter than 2 characters", NULL);
  assert_problems (schema, "\"abcd\"",
                   "(root): \"abcd\" is longer than 3 characters", NULL);
  assert_problems ("{\"minLength\": 1}", "\"\"",
                   "(root): \"\" is shorter than 1 character", NULL);
  assert_problems ("{\"maxLength\": 0}", "\"a\"",
                   "(root): \"a\" is longer than 0 characters", NULL);
}

static void
test_items (void)
{
  const char *schema =
    "{\"properties\": {\"disks\": {\"type\": \"array\", \"items\": {"
    "  \"type\": \"object\", \"properties\": {\"size\": {\"type\": \"integer\"}},"
    "  \"required\": [\"size\"]}}}}";

  assert_valid (schema, "{\"disks\": []}");
  assert_valid (schema, "{\"disks\": [{\"size\": 1}, {\"size\": 2}]}");
  assert_problems (schema, "{\"disks\": [{\"size\": 1}, {\"size\": \"big\"}, {}, 3]}",
                   "disks[1].size: expected an integer, got a string (\"big\")",
                   "disks[2]: missing required property \"size\"",
                   "disks[3]: expected an object, got an integer (3)", NULL);
  assert_problems ("{\"items\": {\"items\": {\"maximum\": 1}}}", "[[0], [1, 2]]",
                   "[1][1]: 2 is greater than the maximum 1", NULL);
  assert_valid ("{\"items\": {\"type\": \"string\"}}", "{\"0\": 1}");
}

static void
test_any_of (void)
{
  const char *schema =
    "{\"anyOf\": [{\"type\": \"string\", \"maxLength\": 2}, {\"type\": \"integer\", \"minimum\": 5}]}";
  const char *objects =
    "{\"properties\": {\"sound\": {\"anyOf\": ["
    "  {\"type\": \"object\", \"properties\": {\"device\": {\"enum\": [\"AC97\"]},"
    "                                         \"controller\": {\"enum\": [\"pci\"]}}},"
    "  {\"type\": \"object\", \"properties\": {\"device\": {\"enum\": [\"hda-duplex\"]},"
    "                                         \"controller\": {\"enum\": [\"intel-hda\"]}}}]}}}";

  assert_valid (schema, "\"ab\"");
  assert_valid (schema, "7");
  /* one alternative accepts the type: its problems follow */
  assert_problems (schema, "3",
                   "(root): 3 matches none of the 2 alternatives (the closest is alternative 2)",
                   "(root): 3 is less than the minimum 5", NULL);
  assert_problems (schema, "\"abc\"",
                   "(root): \"abc\" matches none of the 2 alternatives (the closest is alternative 1)",
                   "(root): \"abc\" is longer than 2 characters", NULL);
  /* none accepts the type */
  assert_problems (schema, "null",
                   "(root): null matches none of the 2 alternatives", NULL);

  assert_valid (objects, "{\"sound\": {\"device\": \"AC97\", \"controller\": \"pci\"}}");
  assert_problems (objects, "{\"sound\": {\"device\": \"AC97\", \"controller\": \"intel-hda\"}}",
                   "sound: {\"device\":\"AC97\",\"controller\":\"intel-hda\"} matches none of the 2 alternatives",
                   NULL);
  assert_problems (objects, "{\"sound\": {\"device\": \"AC97\", \"controller\": \"isa\"}}",
                   "sound: {\"device\":\"AC97\",\"controller\":\"isa\"} matches none of the 2 alternatives (the closest is alternative 1)",
                   "sound.controller: \"isa\" is not one of \"pci\"", NULL);
}

static void
test_one_of (void)
{
  const char *schema = "{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}";

  assert_valid (schema, "1");
  assert_valid (schema, "2.5");
  assert_problems (schema, "3",
                   "(root): 3 matches more than one of the 2 alternatives (1 and 2), but must match exactly one",
                   NULL);
  assert_problems (schema, "1.5",
                   "(root): 1.5 matches none of the 2 alternatives (the closest is alternative 2)",
                   "(root): 1.5 is less than the minimum 2", NULL);
  assert_problems ("{\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}, {}]}", "null",
                   "(root): null matches more than one of the 3 alternatives (2 and 3), but must match exactly one",
                   NULL);
  assert_problems ("{\"properties\": {\"a\": {\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}}}",
                   "{\"a\": 5}",
                   "a: 5 matches none of the 2 alternatives", NULL);
}

static void
test_several_problems (void)
{
  const char *schema =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"required\": [\"uuid\", \"network\", \"keyboard\"],"
    " \"properties\": {"
    "  \"uuid\": {\"type\": \"string\"},"
    "  \"memory\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 1048576},"
    "  \"network\": {\"type\": \"object\", \"additionalProperties\": false,"
    "    \"properties\": {\"device\": {\"enum\": [\"rtl8139\", \"e1000\"]},"
    "                   \"mac\": {\"type\": \"string\", \"pattern\": \"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$\"}}},"
    "  \"cpu\": {\"properties\": {\"cores\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 255}}}}}";

  assert_problems (schema,
                   "{\"memory\": 2000000, \"network\": {\"device\": \"ne2k\", \"mac\": \"01-00\", \"speed\": 10},"
                   " \"cpu\": {\"cores\": 0}, \"sound\": {}}",
                   "memory: 2000000 is greater than the maximum 1048576",
                   "network.device: \"ne2k\" is not one of \"rtl8139\", \"e1000\"",
                   "network.mac: \"01-00\" does not match ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                   "network: unknown property \"speed\"",
                   "cpu.cores: 0 is less than the minimum 1",
                   "(root): unknown property \"sound\"",
                   "(root): missing required property \"uuid\"",
                   "(root): missing required property \"keyboard\"",
                   NULL);
}

static void
test_problems_appended (void)
{
  g_autoptr(QvmSchema) schema = load_schema ("{\"type\": \"string\"}");
  g_autoptr(JsonNode) good = parse_json ("\"yes\"");
  g_autoptr(JsonNode) bad = parse_json ("1");
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (problems, g_strdup ("earlier line"));
  g_assert_true (qvm_schema_validate (schema, good, problems));
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_false (qvm_schema_validate (schema, bad, problems));
  g_assert_cmpuint (problems->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (problems, 0), ==, "earlier line");
  g_assert_cmpstr (g_ptr_array_index (problems, 1), ==, "(root): expected a string, got an integer (1)");
  g_assert_false (qvm_schema_validate (schema, bad, NULL));
}

static void
test_value_shortening (void)
{
  g_autoptr(GString) long_string = g_string_new ("\"");
  g_autoptr(GString) long_array = g_string_new ("[");

  for (guint i = 0; i < 100; i++)
    g_string_append (long_string, "\\u00e9");
  g_string_append (long_string, "\"");
  for (guint i = 0; i < 100; i++)
    g_string_append_printf (long_array, "%s%u", i ? "," : "", i);
  g_string_append (long_array, "]");

  /* strings keep their closing quote; cut on a character, not a byte */
  assert_problems ("{\"type\": \"integer\"}", long_string->str,
                   "(root): expected an integer, got a string (\"ééééééééééééééééééééééééééééé…\")", NULL);
  assert_problems ("{\"type\": \"object\"}", long_array->str,
                   "(root): expected an object, got an array "
                   "([0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,…)", NULL);
  /* control characters, quotes and backslashes are escaped as in JSON */
  assert_problems ("{\"type\": \"integer\"}", "\"a\\\"b\\\\c\\u0001\\t\"",
                   "(root): expected an integer, got a string (\"a\\\"b\\\\c\\u0001\\t\")", NULL);
  /* member names in messages are shown as JSON strings */
  assert_problems ("{\"additionalProperties\": false}", "{\"we\\\"ird\": 1}",
                   "(root): unknown property \"we\\\"ird\"", NULL);
}

/* json-glib turns an escape of half a surrogate pair into bytes that are
 * not UTF-8 (found by tests/fuzz); lines show the escape instead. */
static void
test_not_utf8 (void)
{
  /* "\ud83d" followed by something other than its low half (which
   * json-glib drops as well) */
  assert_problems ("{\"type\": \"integer\"}", "\"a\\ud83dz\"",
                   "(root): expected an integer, got a string (\"a\\ud83d\")", NULL);
  assert_problems ("{\"additionalProperties\": false}", "{\"\\ud83dz\": 1}",
                   "(root): unknown property \"\\ud83d\"", NULL);
  assert_problems ("{\"additionalProperties\": {\"type\": \"string\"}}", "{\"\\ud83dz\": 1}",
                   "\\ud83d: expected a string, got an integer (1)", NULL);
  assert_refused ("{\"pattern\": \"^x\\ud83dz$\"}",
                  "(root): \"pattern\" \"^x\\ud83d$\" is not valid UTF-8");

  /* Other bytes that are not UTF-8, in a node made by the caller. */
  {
    g_autoptr(QvmSchema) schema = load_schema ("{\"type\": \"integer\"}");
    g_autoptr(JsonNode) instance = json_node_new (JSON_NODE_VALUE);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

    json_node_set_string (instance, "caf\xe9\xff");
    g_assert_false (qvm_schema_validate (schema, instance, problems));
    g_assert_cmpuint (problems->len, ==, 1);
    g_assert_cmpstr (problems->pdata[0], ==,
                     "(root): expected an integer, got a string (\"caf\xef\xbf\xbd\xef\xbf\xbd\")");
  }
}

static void
test_annotations (void)
{
  assert_valid ("{\"$schema\": \"http://json-schema.org/draft-04/schema#\","
                " \"id\": \"urn:x\", \"$id\": \"urn:y\", \"title\": \"T\", \"description\": \"D\","
                " \"properties\": {\"a\": {\"type\": \"integer\", \"default\": []}}}",
                "{}");
  assert_refused ("{\"title\": 3}", "(root): \"title\" must be a string, not 3");
  assert_refused ("{\"properties\": {\"a\": {\"description\": null}}}",
                  "properties.a: \"description\" must be a string, not null");
}

/* ---------------------------------------------------------------------- */
/* Refused schemas                                                        */

static void
test_refuse_unsupported (void)
{
  assert_refused ("{\"properties\": {\"cpu\": {\"patternProperties\": {}}}}",
                  "properties.cpu: unsupported keyword \"patternProperties\"");
  assert_refused ("{\"$ref\": \"#/definitions/a\"}", "(root): unsupported keyword \"$ref\"");
  assert_refused ("{\"anyOf\": [{}, {\"not\": {}}]}", "anyOf[1]: unsupported keyword \"not\"");
  assert_refused ("{\"items\": {\"properties\": {\"x\": {\"format\": \"ipv4\"}}}}",
                  "items.properties.x: unsupported keyword \"format\"");
  assert_refused ("{\"additionalProperties\": {\"uniqueItems\": true}}",
                  "additionalProperties: unsupported keyword \"uniqueItems\"");
  assert_refused ("{\"items\": [{}, {}]}",
                  "(root): unsupported keyword form: \"items\" as an array of schemas");
  /* a property may be named like a keyword */
  assert_valid ("{\"properties\": {\"patternProperties\": {\"type\": \"string\"}}}",
                "{\"patternProperties\": \"x\"}");
}

static void
test_refuse_malformed (void)
{
  assert_refused ("{\"properties\": {\"cpu\": {\"minimum\": \"x\"}}}",
                  "properties.cpu: \"minimum\" must be a number, not \"x\"");
  assert_refused ("{\"maximum\": true}", "(root): \"maximum\" must be a number, not true");
  assert_refused ("{\"maximum\": 1e400}", "(root): \"maximum\" must be a number, not Infinity");
  assert_refused ("{\"required\": 3}",
                  "(root): \"required\" must be a non-empty array of distinct strings, not 3");
  assert_refused ("{\"required\": []}",
                  "(root): \"required\" must be a non-empty array of distinct strings, not []");
  assert_refused ("{\"required\": [\"a\", 1]}",
                  "(root): \"required\" must be a non-empty array of distinct strings, not [\"a\",1]");
  assert_refused ("{\"required\": [\"a\", \"a\"]}",
                  "(root): \"required\" must be a non-empty array of distinct strings, not [\"a\",\"a\"]");
  assert_refused ("{\"type\": \"float\"}", "(root): unknown type \"float\" in \"type\"");
  assert_refused ("{\"type\": [\"string\", \"string\"]}",
                  "(root): type \"string\" is listed twice in \"type\"");
  assert_refused ("{\"type\": []}",
                  "(root): \"type\" must be a type name or a non-empty array of type names, not []");
  assert_refused ("{\"type\": 1}",
                  "(root): \"type\" must be a type name or a non-empty array of type names, not 1");
  assert_refused ("{\"type\": [\"string\", 1]}",
                  "(root): \"type\" must be a type name or a non-empty array of type names, not [\"string\",1]");
  assert_refused ("{\"properties\": []}", "(root): \"properties\" must be an object, not []");
  assert_refused ("{\"properties\": {\"a\": 1}}", "properties.a: a schema must be an object, not 1");
  assert_refused ("{\"additionalProperties\": \"no\"}",
                  "(root): \"additionalProperties\" must be a boolean or a schema, not \"no\"");
  assert_refused ("{\"enum\": []}", "(root): \"enum\" must be a non-empty array, not []");
  assert_refused ("{\"enum\": \"a\"}", "(root): \"enum\" must be a non-empty array, not \"a\"");
  assert_refused ("{\"enum\": [1, 2, 1.0]}", "(root): \"enum\" lists 1.0 twice");
  assert_refused ("{\"pattern\": 5}", "(root): \"pattern\" must be a regular expression, not 5");
  assert_refused ("{\"minLength\": -1}", "(root): \"minLength\" must be a non-negative integer, not -1");
  assert_refused ("{\"maxLength\": 2.0}", "(root): \"maxLength\" must be a non-negative integer, not 2.0");
  assert_refused ("{\"exclusiveMinimum\": true}", "(root): \"exclusiveMinimum\" needs \"minimum\"");
  assert_refused ("{\"maximum\": 1, \"exclusiveMaximum\": 1}",
                  "(root): \"exclusiveMaximum\" must be a boolean, not 1");
  assert_refused ("{\"exclusiveMaximum\": false}", "(root): \"exclusiveMaximum\" needs \"maximum\"");
  assert_refused ("{\"items\": 1}", "(root): \"items\" must be a schema, not 1");
  assert_refused ("{\"anyOf\": []}", "(root): \"anyOf\" must be a non-empty array of schemas, not []");
  assert_refused ("{\"oneOf\": {}}", "(root): \"oneOf\" must be a non-empty array of schemas, not {}");
  assert_refused ("{\"oneOf\": [{}, true]}", "oneOf[1]: a schema must be an object, not true");
  assert_refused ("[]", "(root): a schema must be an object, not []");
}

static void
test_refuse_bad_pattern (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema =
    qvm_schema_new_from_data ("{\"properties\": {\"mac\": {\"pattern\": \"^[0-9\"}}}", -1, &error);

  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message,
                                   "properties.mac: \"pattern\" \"^[0-9\" is not a valid regular expression: "));

  assert_refused ("{\"pattern\": \"[\\\\D]\"}",
                  "(root): \"pattern\" \"[\\\\D]\" is not a valid regular expression: "
                  "\\D inside a character class is not supported");
  assert_refused ("{\"pattern\": \"[a\\\\W]\"}",
                  "(root): \"pattern\" \"[a\\\\W]\" is not a valid regular expression: "
                  "\\W inside a character class is not supported");
}

static void
test_refuse_not_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = qvm_schema_new_from_data ("{\"type\": ", -1, &error);

  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "The schema is not valid JSON: "));
  g_clear_error (&error);

  schema = qvm_schema_new_from_data ("", 0, &error);
  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* json-glib's message quotes the last token, cut in the middle of a
   * character: the message stays UTF-8. */
  schema = qvm_schema_new_from_data ("{\"title\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"", -1, &error);
  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static char *
nested_schema (const char *open,
               const char *close,
               guint       levels)
{
  GString *text = g_string_new (NULL);

  for (guint i = 1; i < levels; i++)
    g_string_append (text, open);
  g_string_append (text, "{}");
  for (guint i = 1; i < levels; i++)
    g_string_append (text, close);
  return g_string_free (text, FALSE);
}

static void
test_refuse_deep (void)
{
  g_autofree char *deepest_allowed = nested_schema ("{\"items\": ", "}", 64);
  g_autofree char *too_deep = nested_schema ("{\"items\": ", "}", 65);
  g_autofree char *too_deep_any_of = nested_schema ("{\"anyOf\": [", "]}", 65);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = NULL;
  g_autoptr(GString) deep_enum = g_string_new ("{\"enum\": [");

  schema = qvm_schema_new_from_data (deepest_allowed, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (schema);
  g_clear_pointer (&schema, qvm_schema_unref);

  schema = qvm_schema_new_from_data (too_deep, -1, &error);
  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "items.items.items."));
  g_assert_true (g_str_has_suffix (error->message, ".items: schema nested deeper than 64 levels"));
  g_clear_error (&error);

  schema = qvm_schema_new_from_data (too_deep_any_of, -1, &error);
  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "anyOf[0].anyOf[0]."));
  g_assert_true (g_str_has_suffix (error->message, "[0]: schema nested deeper than 64 levels"));
  g_clear_error (&error);

  for (guint i = 0; i < 100; i++)
    g_string_append_c (deep_enum, '[');
  for (guint i = 0; i < 100; i++)
    g_string_append_c (deep_enum, ']');
  g_string_append (deep_enum, "]}");
  assert_refused (deep_enum->str, "(root): \"enum\" is nested deeper than 64 levels");
}

static void
test_resource (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema =
    qvm_schema_new_from_resource ("/org/qvm-glib/tests/test-schema-resource.json", &error);
  g_autoptr(JsonNode) good = parse_json ("{\"layout\": \"de\"}");
  g_autoptr(JsonNode) bad = parse_json ("{\"layout\": \"xx\", \"extra\": 1}");
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  g_assert_nonnull (schema);
  g_assert_true (qvm_schema_validate (schema, good, NULL));
  g_assert_false (qvm_schema_validate (schema, bad, problems));
  g_assert_cmpuint (problems->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (problems, 0), ==, "layout: \"xx\" is not one of \"de\", \"en-us\"");
  g_assert_cmpstr (g_ptr_array_index (problems, 1), ==, "(root): unknown property \"extra\"");
}

static void
test_resource_refused (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema =
    qvm_schema_new_from_resource ("/org/qvm-glib/tests/test-schema-resource-bad.json", &error);

  g_assert_null (schema);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpstr (error->message, ==, "/org/qvm-glib/tests/test-schema-resource-bad.json: "
                                       "properties.layout: unsupported keyword \"format\"");
}

static void
test_resource_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = qvm_schema_new_from_resource ("/org/example/none.json", &error);

  g_assert_null (schema);
  g_assert_error (error, G_RESOURCE_ERROR, G_RESOURCE_ERROR_NOT_FOUND);
}

static void
test_new_from_node_and_ref (void)
{
  g_autoptr(JsonNode) root = parse_json ("{\"enum\": [\"kept\"]}");
  g_autoptr(GError) error = NULL;
  QvmSchema *schema = qvm_schema_new_from_node (root, &error);
  g_autoptr(JsonNode) instance = parse_json ("\"kept\"");

  g_assert_no_error (error);
  g_assert_nonnull (schema);
  g_clear_pointer (&root, json_node_unref);   /* the schema keeps what it needs */

  g_assert_true (qvm_schema_ref (schema) == schema);
  qvm_schema_unref (schema);
  g_assert_true (qvm_schema_validate (schema, instance, NULL));
  qvm_schema_unref (schema);
}

int
main (int argc, char *argv[])
{
  /* The messages checked here are the untranslated ones. */
  setlocale (LC_ALL, "C.UTF-8");
  g_setenv ("LANGUAGE", "C", TRUE);

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/schema/type", test_type);
  g_test_add_func ("/schema/type-stops-other-checks", test_type_stops_other_checks);
  g_test_add_func ("/schema/properties", test_properties);
  g_test_add_func ("/schema/required", test_required);
  g_test_add_func ("/schema/additional-properties", test_additional_properties);
  g_test_add_func ("/schema/enum", test_enum);
  g_test_add_func ("/schema/pattern", test_pattern);
  g_test_add_func ("/schema/pattern-match-error", test_pattern_match_error);
  g_test_add_func ("/schema/minimum-maximum", test_minimum_maximum);
  g_test_add_func ("/schema/lengths", test_lengths);
  g_test_add_func ("/schema/items", test_items);
  g_test_add_func ("/schema/any-of", test_any_of);
  g_test_add_func ("/schema/one-of", test_one_of);
  g_test_add_func ("/schema/several-problems", test_several_problems);
  g_test_add_func ("/schema/problems-appended", test_problems_appended);
  g_test_add_func ("/schema/value-shortening", test_value_shortening);
  g_test_add_func ("/schema/annotations", test_annotations);
  g_test_add_func ("/schema/not-utf8", test_not_utf8);
  g_test_add_func ("/schema/refuse/unsupported", test_refuse_unsupported);
  g_test_add_func ("/schema/refuse/malformed", test_refuse_malformed);
  g_test_add_func ("/schema/refuse/bad-pattern", test_refuse_bad_pattern);
  g_test_add_func ("/schema/refuse/not-json", test_refuse_not_json);
  g_test_add_func ("/schema/refuse/deep", test_refuse_deep);
  g_test_add_func ("/schema/resource", test_resource);
  g_test_add_func ("/schema/resource-refused", test_resource_refused);
  g_test_add_func ("/schema/resource-missing", test_resource_missing);
  g_test_add_func ("/schema/new-from-node-and-ref", test_new_from_node_and_ref);

  return g_test_run ();
}
