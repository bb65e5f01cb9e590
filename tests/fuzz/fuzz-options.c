/* fuzz-options.c: machine options JSON (QvmMachineOptions)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm.h"
#include "qvm-payload-private.h"

static const char machine_json[] =
  "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\", \"memory\": 2048,"
  " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
  " \"keyboard\": {\"layout\": \"en-us\"}}";

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) options = NULL;
  g_autoptr(QvmMachineOptions) reloaded = NULL;
  g_autoptr(QvmMachineOptions) from_json = NULL;
  g_autoptr(QvmMachine) machine = NULL;
  g_autoptr(GBytes) machine_bytes = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *saved = NULL;
  guint max_memory;

  fuzz_setup ();

  options = qvm_machine_options_new_from_data ((const char *) data, (gssize) size, &error);
  fuzz_report ("options", error);
  if (options == NULL)
    {
      fuzz_check_malformed (error);
      return 0;
    }
  fuzz_check (error == NULL);

  max_memory = qvm_machine_options_get_max_memory (options);
  fuzz_check (max_memory <= QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT);

  /* Saved and read back, the options are the same. */
  saved = qvm_machine_options_to_data (options);
  reloaded = qvm_machine_options_new_from_data (saved, -1, &error);
  fuzz_check (error == NULL && reloaded != NULL);
  fuzz_check (qvm_machine_options_get_max_memory (reloaded) == max_memory);

  /* The JSON node entry point agrees with the text one. */
  root = qvm_payload_parse ((const char *) data, size, NULL, &error);
  fuzz_check (error == NULL && root != NULL);
  from_json = qvm_machine_options_new_from_json (root, &error);
  fuzz_check (error == NULL && from_json != NULL);
  fuzz_check (qvm_machine_options_get_max_memory (from_json) == max_memory);

  /* And the limit applies to a machine as documented. */
  machine_bytes = g_bytes_new_static (machine_json, sizeof machine_json - 1);
  machine = qvm_machine_new_from_bytes (machine_bytes, &error);
  fuzz_check (error == NULL && machine != NULL);
  if (qvm_machine_set_defaults (machine, options, &error))
    fuzz_check (max_memory >= 2048);
  else
    {
      fuzz_check_malformed (error);
      fuzz_check (max_memory < 2048);
    }
  return 0;
}
