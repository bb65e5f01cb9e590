/* fuzz-schema.c: the JSON Schema validator on hostile schemas
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a schema for qvm_schema_new_from_data(). A schema it loads
 * is applied to a fixed set of instances (and to its own text, when that
 * reads as an author document): loading must refuse with one
 * G_IO_ERROR_INVALID_DATA, validating must give a verdict that agrees
 * with its problem lines.
 */

#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "qvm.h"
#include "qvm-payload-private.h"
#include "qvm-schema-private.h"

static const char *const instance_texts[] = {
  "{\"version\": 1, \"uuid\": \"6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d\", \"memory\": 2048,"
  " \"network\": {\"device\": \"virtio-net-pci\", \"mac\": \"02:5e:1a:00:00:01\"},"
  " \"keyboard\": {\"layout\": \"de-ch\"},"
  " \"sound\": {\"device\": \"hda-duplex\", \"controller\": \"intel-hda\"},"
  " \"cpu\": {\"threads\": 2, \"cores\": 4, \"sockets\": 1}}",
  "{\"maxMemory\": 4096}",
  "{}",
  "[]",
  "[1, \"a\", null, true, 2.5, {\"a\": []}, [[[]]]]",
  "{\"a\": {\"b\": {\"c\": {\"d\": [1, 2, {\"e\": \"f\"}]}}}, \"\": 0, \"a.b\": -1}",
  "\"\"",
  "\"abc\"",
  "\"caf\\u00e9 \\ud83d\\ude00 \\u0000 \\n\"",
  "\"0a:00:27:00:00:00\"",
  "0",
  "-0",
  "1",
  "-1",
  "9223372036854775807",
  "-9223372036854775808",
  "18446744073709551616",
  "1e308",
  "-1e308",
  "0.5",
  "1.0",
  "4.9e-324",
  "true",
  "false",
  "null",
};

static void
check_validation (QvmSchema *schema,
                  JsonNode  *instance)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  gboolean valid = qvm_schema_validate (schema, instance, problems);

  fuzz_check (valid == (problems->len == 0));
  for (guint i = 0; i < problems->len; i++)
    {
      const char *line = problems->pdata[i];

      fuzz_check (g_utf8_validate (line, -1, NULL));
      fuzz_check (strstr (line, ": ") != NULL);
    }
  fuzz_check (qvm_schema_validate (schema, instance, NULL) == valid);
}

static JsonNode *instances[G_N_ELEMENTS (instance_texts)];

static void
free_instances (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (instances); i++)
    g_clear_pointer (&instances[i], json_node_unref);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = NULL;
  g_autoptr(JsonNode) self_instance = NULL;

  fuzz_setup ();

  if (instances[0] == NULL)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (instance_texts); i++)
        {
          instances[i] = json_from_string (instance_texts[i], &error);
          fuzz_check (instances[i] != NULL);
        }
      atexit (free_instances);
    }

  schema = qvm_schema_new_from_data ((const char *) data, (gssize) size, &error);
  fuzz_report ("schema", error);
  if (schema == NULL)
    {
      fuzz_check (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
      fuzz_check (error->message != NULL && error->message[0] != '\0');
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  fuzz_check (error == NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (instances); i++)
    check_validation (schema, instances[i]);

  self_instance = qvm_payload_parse ((const char *) data, size, NULL, NULL);
  if (self_instance != NULL)
    check_validation (schema, self_instance);

  /* A second reference outlives the first. */
  qvm_schema_unref (qvm_schema_ref (schema));
  return 0;
}
