/* fuzz-machine.c: machine.json, as QvmMachine reads it
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The whole path of an author's definition: size, UTF-8 and token checks,
 * json-glib, the machine schema, the explanations of its problems. What is
 * accepted must survive a save and reload unchanged; what is refused must
 * be one QVM_ERROR_MALFORMED_PAYLOAD with a readable message.
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm.h"

static void
check_round_trip (QvmMachine *machine)
{
  g_autofree char *saved = qvm_machine_to_data (machine);
  g_autoptr(GBytes) saved_bytes = g_bytes_new_static (saved, strlen (saved));
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) reloaded = qvm_machine_new_from_bytes (saved_bytes, &error);
  g_autoptr(JsonNode) json = qvm_machine_to_json (machine);
  g_autoptr(QvmMachine) from_json = NULL;
  g_autoptr(QvmMachine) copy = qvm_machine_copy (machine);
  g_autofree char *resaved = NULL;

  /* What the library writes, it reads back the same. */
  fuzz_check (error == NULL);
  fuzz_check (reloaded != NULL);
  fuzz_check (qvm_machine_equal (machine, reloaded));
  resaved = qvm_machine_to_data (reloaded);
  fuzz_check (strcmp (saved, resaved) == 0);

  from_json = qvm_machine_new_from_json (json, &error);
  fuzz_check (error == NULL);
  fuzz_check (qvm_machine_equal (machine, from_json));
  fuzz_check (qvm_machine_equal (machine, copy));
}

static void
check_defaults (QvmMachine *machine)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY);
  g_autoptr(GError) error = NULL;
  guint memory = qvm_machine_get_memory (machine);

  if (qvm_machine_set_defaults (machine, options, &error))
    {
      fuzz_check (error == NULL);
      fuzz_check (qvm_machine_get_memory (machine) == (memory != 0 ? memory : QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY));
    }
  else
    {
      fuzz_check_malformed (error);
      fuzz_check (memory > QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY);
      fuzz_check (qvm_machine_get_memory (machine) == memory);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = NULL;

  fuzz_setup ();

  bytes = g_bytes_new_static (data, size);
  machine = qvm_machine_new_from_bytes (bytes, &error);
  fuzz_report ("machine", error);
  if (machine == NULL)
    {
      fuzz_check_malformed (error);
      return 0;
    }

  fuzz_check (error == NULL);
  fuzz_check (qvm_machine_get_uuid (machine) != NULL);
  check_round_trip (machine);
  check_defaults (machine);
  return 0;
}
