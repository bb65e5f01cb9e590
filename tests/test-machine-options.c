/* test-machine-options.c: QvmMachineOptions and its schema
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "qvm.h"
#include "testutil.h"

/* The published options schema's texts, written for this library's users. */
static const char expected_description[] =
  "The host's limits and defaults for machine definitions. A machine "
  "definition that does not fit them is refused with QVM_ERROR_MALFORMED_PAYLOAD "
  "(qvm exits 3): the definition is at fault, and using it again fails the same way.";
static const char expected_max_memory_description[] =
  "The most memory, in MiB, a virtual machine may have. It is also the memory "
  "of a machine whose definition does not say. A machine that asks for more is refused.";

static void
assert_valid (const char *text,
              guint       max_memory)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data (text, -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, max_memory);
}

/* Asserts that @text is refused with a line starting with "@path: " that
 * contains @fragment. */
static void
assert_invalid (const char *text,
                const char *path,
                const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data (text, -1, &error);
  g_autofree char *prefix = g_strconcat (path, ": ", NULL);
  g_auto(GStrv) lines = NULL;
  gboolean found = FALSE;

  g_assert_null (options);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);

  lines = g_strsplit (error->message, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && strstr (lines[i], fragment) != NULL)
      found = TRUE;
  if (!found)
    {
      g_test_message ("no line “%s…%s” in: %s", prefix, fragment, error->message);
      g_test_fail ();
    }
}

static void
test_options_new (void)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (2048);
  g_autoptr(QvmMachineOptions) plain = g_object_new (QVM_TYPE_MACHINE_OPTIONS, NULL);
  g_autoptr(QvmMachineOptions) edge = qvm_machine_options_new (QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT);
  g_autoptr(QvmMachineOptions) zero = qvm_machine_options_new (0);
  guint max_memory = 0;

  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, 2048);
  g_object_get (options, "max-memory", &max_memory, NULL);
  g_assert_cmpuint (max_memory, ==, 2048);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (plain), ==, QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (edge), ==, 1048576);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (zero), ==, 0);
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (options), ==, 16);
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (plain), ==, QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS);
}

static void
test_options_max_vcpus (void)
{
  g_autoptr(QvmMachineOptions) options = g_object_new (QVM_TYPE_MACHINE_OPTIONS, "max-vcpus", 4, NULL);
  guint max_vcpus = 0;
  guint notified = 0;

  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (options), ==, 4);
  g_signal_connect (options, "notify::max-vcpus", G_CALLBACK (testutil_count_notify), &notified);
  qvm_machine_options_set_max_vcpus (options, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT);
  g_assert_cmpuint (notified, ==, 1);
  qvm_machine_options_set_max_vcpus (options, 255);
  g_assert_cmpuint (notified, ==, 1);
  g_object_get (options, "max-vcpus", &max_vcpus, NULL);
  g_assert_cmpuint (max_vcpus, ==, 255);

  /* Programmer errors, with a critical; the value stays. */
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*max_vcpus*");
  qvm_machine_options_set_max_vcpus (options, 0);
  g_test_assert_expected_messages ();
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*max_vcpus*");
  qvm_machine_options_set_max_vcpus (options, 256);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (options), ==, 255);
  g_assert_cmpuint (notified, ==, 1);
}

static void
test_options_max_vcpus_from_data (void)
{
  const struct { const char *text; guint max_vcpus; } good[] = {
    { "{\"maxMemory\": 1024}", QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS },
    { "{\"maxMemory\": 1024, \"maxVcpus\": 1}", 1 },
    { "{\"maxMemory\": 1024, \"maxVcpus\": 255}", 255 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data (good[i].text, -1, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (qvm_machine_options_get_max_vcpus (options), ==, good[i].max_vcpus);
    }

  assert_invalid ("{\"maxMemory\": 1024, \"maxVcpus\": 0}", "maxVcpus", "0");
  assert_invalid ("{\"maxMemory\": 1024, \"maxVcpus\": 256}", "maxVcpus", "256");
  assert_invalid ("{\"maxMemory\": 1024, \"maxVcpus\": 2.5}", "maxVcpus", "2.5");
  assert_invalid ("{\"maxMemory\": 1024, \"maxVcpus\": \"4\"}", "maxVcpus", "string");
}

static void
test_options_set (void)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (2048);
  guint notified = 0;

  g_signal_connect (options, "notify::max-memory", G_CALLBACK (testutil_count_notify), &notified);
  qvm_machine_options_set_max_memory (options, 1024);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, 1024);
  g_assert_cmpuint (notified, ==, 1);
  qvm_machine_options_set_max_memory (options, 1024);
  g_assert_cmpuint (notified, ==, 1);
  g_object_set (options, "max-memory", 512, NULL);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, 512);
  g_assert_cmpuint (notified, ==, 2);
}

static void
test_options_out_of_range (void)
{
  g_autoptr(QvmMachineOptions) options = NULL;

  /* A programmer error, not a user's: refused with a critical. */
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*max_memory <= QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT*");
  options = qvm_machine_options_new (1048577);
  g_test_assert_expected_messages ();
  g_assert_null (options);
}

static void
test_options_from_data (void)
{
  assert_valid ("{\"maxMemory\": 0}", 0);
  assert_valid ("{\"maxMemory\": 1}", 1);
  assert_valid ("{\"maxMemory\": 4096}", 4096);
  assert_valid ("  {\n \"maxMemory\" : 1048576 }\n", 1048576);

  assert_invalid ("{\"maxMemory\": 1048577}", "maxMemory", "1048577");
  assert_invalid ("{\"maxMemory\": -1}", "maxMemory", "-1");
  assert_invalid ("{\"maxMemory\": 2.5}", "maxMemory", "2.5");
  assert_invalid ("{\"maxMemory\": \"4096\"}", "maxMemory", "string");
  assert_invalid ("{\"maxMemory\": null}", "maxMemory", "null");
  assert_invalid ("{}", "(root)", "maxMemory");
  assert_invalid ("{\"maxMemory\": 1024, \"maxCpus\": 4}", "(root)", "maxCpus");
  assert_invalid ("[]", "(root)", "object");
  assert_invalid ("4096", "(root)", "object");
}

static void
test_options_bad_documents (void)
{
  const struct { const char *text; const char *fragment; } cases[] = {
    { "", "(root): is empty; expected a JSON object" },
    { "{\"maxMemory\": 1024", "not valid JSON at line 1" },
    { "{\"maxMemory\": 1024} // host", "(root): not valid JSON at line 1, column 21: more after the end of the document" },
    { "{\"maxMemory\": /* host */ 1024}", "unexpected character “/”" },
    { "{\"maxMemory\": 99999999999999999999}", "does not fit in 64 bits" },
    { "{\"maxMemory\": \"\xfe\"}", "not valid UTF-8 at byte offset 15" },
  };
  g_autofree char *deep = g_strnfill (100000, '[');

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data (cases[i].text, -1, &error);

      g_assert_null (options);
      g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
      g_assert_nonnull (strstr (error->message, cases[i].fragment));
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data (deep, -1, &error);

    g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    g_assert_nonnull (strstr (error->message, "nested deeper than 32 levels"));
  }

  /* The length is respected: what follows it is not read. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(QvmMachineOptions) options = qvm_machine_options_new_from_data ("{\"maxMemory\": 64}garbage", 17, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, 64);
  }
}

static void
test_options_json (void)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (3072);
  g_autoptr(JsonNode) json = qvm_machine_options_to_json (options);
  g_autofree char *data = qvm_machine_options_to_data (options);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) again = qvm_machine_options_new_from_json (json, &error);
  g_autoptr(QvmMachineOptions) from_data = NULL;
  g_autoptr(JsonNode) bad = json_from_string ("{\"maxMemory\": true, \"x\": 1}", NULL);
  g_autoptr(QvmMachineOptions) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json), "maxMemory"), ==, 3072);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json), "maxVcpus"), ==, 16);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (again), ==, 3072);

  from_data = qvm_machine_options_new_from_data (data, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (from_data), ==, 3072);
  g_assert_true (g_str_has_suffix (data, "}\n"));

  /* Every problem, one line each. */
  none = qvm_machine_options_new_from_json (bad, &error);
  g_assert_null (none);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "maxMemory: "));
  g_assert_nonnull (strstr (error->message, "\n"));
  g_assert_nonnull (strstr (error->message, "\"x\""));
}

static void
test_options_schema (void)
{
  const char *text = qvm_machine_options_get_schema ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) schema = json_from_string (text, &error);
  JsonObject *root, *max_memory, *max_vcpus;
  JsonArray *required;

  g_assert_no_error (error);
  root = json_node_get_object (schema);
  g_assert_cmpstr (json_object_get_string_member (root, "$schema"), ==, "http://json-schema.org/draft-04/schema#");
  g_assert_cmpstr (json_object_get_string_member (root, "title"), ==, "Machine Options");
  g_assert_cmpstr (json_object_get_string_member (root, "description"), ==, expected_description);

  max_memory = json_object_get_object_member (json_object_get_object_member (root, "properties"), "maxMemory");
  g_assert_cmpstr (json_object_get_string_member (max_memory, "title"), ==, "Max Memory");
  g_assert_cmpstr (json_object_get_string_member (max_memory, "description"), ==, expected_max_memory_description);
  g_assert_cmpstr (json_object_get_string_member (max_memory, "type"), ==, "integer");
  g_assert_cmpint (json_object_get_int_member (max_memory, "minimum"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (max_memory, "maximum"), ==, QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT);

  required = json_object_get_array_member (root, "required");
  g_assert_cmpuint (json_array_get_length (required), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (required, 0), ==, "maxMemory");

  /* The GParamSpecs have the schema's ranges and defaults. */
  max_vcpus = json_object_get_object_member (json_object_get_object_member (root, "properties"), "maxVcpus");
  g_assert_cmpstr (json_object_get_string_member (max_vcpus, "type"), ==, "integer");
  {
    g_autoptr(GTypeClass) klass = g_type_class_ref (QVM_TYPE_MACHINE_OPTIONS);
    GParamSpecUInt *pspec = G_PARAM_SPEC_UINT (g_object_class_find_property (G_OBJECT_CLASS (klass), "max-memory"));
    GParamSpecUInt *vcpus = G_PARAM_SPEC_UINT (g_object_class_find_property (G_OBJECT_CLASS (klass), "max-vcpus"));

    g_assert_cmpuint (pspec->minimum, ==, 0);
    g_assert_cmpuint (pspec->maximum, ==, json_object_get_int_member (max_memory, "maximum"));
    g_assert_cmpuint (vcpus->minimum, ==, json_object_get_int_member (max_vcpus, "minimum"));
    g_assert_cmpuint (vcpus->maximum, ==, json_object_get_int_member (max_vcpus, "maximum"));
    g_assert_cmpuint (vcpus->default_value, ==, json_object_get_int_member (max_vcpus, "default"));
    g_assert_cmpuint (vcpus->maximum, ==, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/machine-options/new", test_options_new);
  g_test_add_func ("/machine-options/set", test_options_set);
  g_test_add_func ("/machine-options/max-vcpus", test_options_max_vcpus);
  g_test_add_func ("/machine-options/max-vcpus/from-data", test_options_max_vcpus_from_data);
  g_test_add_func ("/machine-options/out-of-range", test_options_out_of_range);
  g_test_add_func ("/machine-options/from-data", test_options_from_data);
  g_test_add_func ("/machine-options/bad-documents", test_options_bad_documents);
  g_test_add_func ("/machine-options/json", test_options_json);
  g_test_add_func ("/machine-options/schema", test_options_schema);

  return g_test_run ();
}
