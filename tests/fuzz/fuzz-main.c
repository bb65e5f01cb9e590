/* fuzz-main.c: runs a fuzz target over files, without libFuzzer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: fuzz-TARGET PATH…  where each PATH is an input file or a folder of
 * them (a corpus; not recursive). Every input goes once through
 * LLVMFuzzerTestOneInput(), in name order; a crash or failed check aborts
 * with the input's path printed first. This is what the 'fuzz' test suite
 * runs on the seed corpora, and how a crash found by tools/fuzz.sh is
 * replayed in a normal build or under a debugger.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
collect_inputs (const char *path,
                GPtrArray  *inputs)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (inputs, g_strdup (path));
      return;
    }

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      exit (2);
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (inputs, g_steal_pointer (&child));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func (g_free);

  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s FILE-OR-CORPUS-FOLDER…\n", argv[0]);
      return 2;
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);

      collect_inputs (argv[i], found);
      g_ptr_array_sort (found, compare_paths);
      for (guint j = 0; j < found->len; j++)
        g_ptr_array_add (inputs, g_strdup (found->pdata[j]));
    }

  if (inputs->len == 0)
    {
      /* An empty corpus is a mistake in the tree, not a pass. */
      fprintf (stderr, "%s: no input found\n", argv[0]);
      return 1;
    }

  for (guint i = 0; i < inputs->len; i++)
    {
      const char *path = inputs->pdata[i];
      g_autoptr(GError) error = NULL;
      g_autofree char *contents = NULL;
      g_autofree guint8 *exact = NULL;
      gsize length;

      if (!g_file_get_contents (path, &contents, &length, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 2;
        }
      /* Named before running, so a crash says which input it was. */
      fprintf (stderr, "Running %s (%" G_GSIZE_FORMAT " bytes)\n", path, length);
      /* An exactly sized copy, so that AddressSanitizer (when enabled)
       * sees a read past the end: g_file_get_contents() adds a NUL. */
      exact = g_malloc (MAX (length, 1));
      memcpy (exact, contents, length);
      LLVMFuzzerTestOneInput (exact, length);
    }

  printf ("%s: %u inputs ran without a failure\n", argv[0], inputs->len);
  return 0;
}
