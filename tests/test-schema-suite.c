/* test-schema-suite.c: the validator against the JSON-Schema-Test-Suite
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs the draft-04 files of the official test suite (Debian's
 * json-schema-test-suite package) for exactly the keywords the validator
 * claims. Each test group is one GTest case. A group whose schema uses a
 * keyword the validator does not implement ($ref, patternProperties, …) is
 * refused at load time with "unsupported keyword", and skipped; every other
 * group must load and give the expected verdict for each of its tests.
 */

#include <locale.h>
#include <string.h>

#include <gio/gio.h>

#include "qvm-schema-private.h"

#define DEFAULT_SUITE_DIR "/usr/share/json-schema-test-suite"

/* The files for the keywords in qvm-schema-private.h, plus the annotation
 * "default" and the one optional file about a keyword we claim ("type": is
 * 1.0 an integer?). optional/bignum.json is left out: json-glib wraps
 * integers beyond 64 bits before the validator sees them. */
static const char *const keyword_files[] = {
  "type.json",
  "properties.json",
  "required.json",
  "additionalProperties.json",
  "enum.json",
  "pattern.json",
  "minimum.json",
  "maximum.json",
  "minLength.json",
  "maxLength.json",
  "items.json",
  "anyOf.json",
  "oneOf.json",
  "default.json",
  "optional/zeroTerminatedFloats.json",
};

typedef struct {
  const char *file;
  guint passed;
  guint skipped;
  guint failed;
} FileTotals;

static FileTotals totals[G_N_ELEMENTS (keyword_files)];

typedef struct {
  FileTotals *totals;
  JsonNode *group;      /* {"description", "schema", "tests": [...]} */
} GroupCase;

static void
group_case_free (gpointer data)
{
  GroupCase *group_case = data;

  json_node_unref (group_case->group);
  g_free (group_case);
}

static void
test_group (gconstpointer data)
{
  const GroupCase *group_case = data;
  JsonObject *group = json_node_get_object (group_case->group);
  JsonArray *tests = json_object_get_array_member (group, "tests");
  guint n_tests = json_array_get_length (tests);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmSchema) schema = NULL;

  schema = qvm_schema_new_from_node (json_object_get_member (group, "schema"), &error);
  if (schema == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      if (strstr (error->message, "unsupported keyword") != NULL)
        {
          group_case->totals->skipped += n_tests;
          g_test_skip (error->message);
          return;
        }
      /* A schema the suite considers valid, refused for another reason. */
      group_case->totals->failed += n_tests;
      g_test_fail_printf ("schema refused: %s", error->message);
      return;
    }

  for (guint i = 0; i < n_tests; i++)
    {
      JsonObject *test = json_array_get_object_element (tests, i);
      const char *description = json_object_get_string_member (test, "description");
      gboolean expected = json_object_get_boolean_member (test, "valid");
      g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
      gboolean valid = qvm_schema_validate (schema, json_object_get_member (test, "data"), problems);

      /* The verdict and the problem list must agree. */
      g_assert_cmpint (valid, ==, problems->len == 0);

      if (valid == expected)
        {
          group_case->totals->passed++;
          if (!valid)
            g_test_message ("%s: %s", description, (const char *) g_ptr_array_index (problems, 0));
        }
      else
        {
          group_case->totals->failed++;
          g_test_fail_printf ("%s: expected %s, got %s%s%s", description,
                              expected ? "valid" : "invalid", valid ? "valid" : "invalid",
                              valid ? "" : ": ",
                              valid ? "" : (const char *) g_ptr_array_index (problems, 0));
        }
    }
}

static void
test_totals (void)
{
  guint passed = 0, skipped = 0, failed = 0;

  for (guint i = 0; i < G_N_ELEMENTS (totals); i++)
    {
      g_test_message ("%-36s passed %3u  skipped %3u  failed %u",
                      totals[i].file, totals[i].passed, totals[i].skipped, totals[i].failed);
      passed += totals[i].passed;
      skipped += totals[i].skipped;
      failed += totals[i].failed;
    }
  g_test_message ("%-36s passed %3u  skipped %3u  failed %u", "total", passed, skipped, failed);

  g_assert_cmpuint (failed, ==, 0);
  g_assert_cmpuint (passed, >, 0);
}

static void
test_suite_missing (gconstpointer data)
{
  g_autofree char *reason = g_strdup_printf ("no JSON-Schema-Test-Suite at %s", (const char *) data);

  g_test_skip (reason);
}

/* Registers one case per test group of @file_index's file. */
static void
add_file (const char *draft_dir,
          guint       file_index)
{
  const char *file = keyword_files[file_index];
  g_autofree char *path = g_build_filename (draft_dir, file, NULL);
  g_autofree char *name = g_path_get_basename (file);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  JsonArray *groups;

  totals[file_index].file = file;

  /* A missing or broken file of an installed suite is a failure. */
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  groups = json_node_get_array (json_parser_get_root (parser));

  *strrchr (name, '.') = '\0';
  for (guint i = 0; i < json_array_get_length (groups); i++)
    {
      JsonNode *group = json_array_get_element (groups, i);
      GroupCase *group_case = g_new0 (GroupCase, 1);
      g_autofree char *description =
        g_strdup (json_object_get_string_member (json_node_get_object (group), "description"));
      g_autofree char *test_path = NULL;

      /* GTest paths use '/' as their separator. */
      g_strdelimit (description, "/", '-');
      test_path = g_strdup_printf ("/schema-suite/%s/%02u %s", name, i, description);

      group_case->totals = &totals[file_index];
      group_case->group = json_node_ref (group);
      g_test_add_data_func_full (test_path, group_case, test_group, group_case_free);
    }
}

int
main (int argc, char *argv[])
{
  const char *suite_dir = g_getenv ("QVM_JSON_SCHEMA_TEST_SUITE");
  g_autofree char *draft_dir = NULL;

  /* Messages quote the suite's non-ASCII data; show it as it is. */
  setlocale (LC_ALL, "C.UTF-8");
  g_test_init (&argc, &argv, NULL);

  if (suite_dir == NULL || *suite_dir == '\0')
    suite_dir = DEFAULT_SUITE_DIR;
  draft_dir = g_build_filename (suite_dir, "tests", "draft4", NULL);

  if (!g_file_test (draft_dir, G_FILE_TEST_IS_DIR))
    {
      g_test_add_data_func ("/schema-totals/missing", draft_dir, test_suite_missing);
      return g_test_run ();
    }

  for (guint i = 0; i < G_N_ELEMENTS (keyword_files); i++)
    add_file (draft_dir, i);
  g_test_add_func ("/schema-totals/all", test_totals);

  return g_test_run ();
}
