/* fuzz-schema-instance.c: the JSON Schema validator on hostile instances
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a JSON document, read the way author documents are
 * (qvm_payload_parse), then validated against the machine and the options
 * schemas. The verdict must agree with the problem list, and every problem
 * must be one readable "path: problem" line.
 */

#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "qvm.h"
#include "qvm-payload-private.h"
#include "qvm-schema-private.h"

static void
check_problems (QvmSchema *schema,
                JsonNode  *instance)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  gboolean valid;

  g_ptr_array_add (problems, g_strdup ("earlier: kept"));
  valid = qvm_schema_validate (schema, instance, problems);
  if (fuzz_verbose ())
    for (guint i = 1; i < problems->len; i++)
      g_printerr ("  problem: %s\n", (const char *) problems->pdata[i]);

  /* Problems are appended: what was there stays first. */
  fuzz_check (strcmp (problems->pdata[0], "earlier: kept") == 0);
  fuzz_check (valid == (problems->len == 1));
  for (guint i = 1; i < problems->len; i++)
    {
      const char *line = problems->pdata[i];

      fuzz_check (g_utf8_validate (line, -1, NULL));
      fuzz_check (strchr (line, '\n') == NULL);
      fuzz_check (strstr (line, ": ") != NULL);
    }

  /* Without a list, the same verdict. */
  fuzz_check (qvm_schema_validate (schema, instance, NULL) == valid);
}

/* Compiled once: the fuzzer is about instances. */
static QvmSchema *machine_schema;
static QvmSchema *options_schema;

static void
free_schemas (void)
{
  g_clear_pointer (&machine_schema, qvm_schema_unref);
  g_clear_pointer (&options_schema, qvm_schema_unref);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;

  fuzz_setup ();

  if (machine_schema == NULL)
    {
      machine_schema = qvm_payload_load_builtin_schema ("machine.schema.json");
      options_schema = qvm_payload_load_builtin_schema ("options.schema.json");
      /* Freed for valgrind's sake, which runs the seeds in the unit suite. */
      atexit (free_schemas);
    }

  root = qvm_payload_parse ((const char *) data, size, "fuzz.json", &error);
  fuzz_report ("parse", error);
  if (root == NULL)
    {
      fuzz_check (error != NULL);
      fuzz_check (g_error_matches (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD));
      fuzz_check (g_str_has_prefix (error->message, "fuzz.json: "));
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  fuzz_check (fuzz_json_is_utf8 (root));
  check_problems (machine_schema, root);
  check_problems (options_schema, root);
  return 0;
}
