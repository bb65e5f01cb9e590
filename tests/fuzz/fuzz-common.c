/* fuzz-common.c: what every fuzz target shares
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>

#include "qvm-error.h"

static GLogWriterOutput
quiet_writer (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  /* Messages and debug output of the library are expected for bad input;
   * printing them would only slow the fuzzer down. Anything worse is
   * printed, then aborts (see g_log_set_always_fatal below). */
  if (log_level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
}

void
fuzz_setup (void)
{
  static gboolean done;

  if (G_LIKELY (done))
    return;
  done = TRUE;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_log_set_writer_func (quiet_writer, NULL, NULL);
}

gboolean
fuzz_verbose (void)
{
  static int verbose = -1;

  if (verbose < 0)
    verbose = g_getenv ("QVM_FUZZ_VERBOSE") != NULL;
  return verbose;
}

void
fuzz_report (const char   *what,
             const GError *error)
{
  if (!fuzz_verbose ())
    return;
  if (error == NULL)
    fprintf (stderr, "  %s: accepted\n", what);
  else
    fprintf (stderr, "  %s: %s %d: %s\n", what, g_quark_to_string (error->domain), error->code,
             error->message);
}

void
fuzz_fail (const char *file,
           int         line,
           const char *what)
{
  fprintf (stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  fflush (stderr);
  abort ();
}

gboolean
fuzz_json_is_utf8 (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !fuzz_json_is_utf8 (member))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!fuzz_json_is_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        return g_utf8_validate (json_node_get_string (node), -1, NULL);
      return TRUE;
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

guint64
fuzz_hash (const uint8_t *data,
           size_t         size)
{
  guint64 hash = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (size_t i = 0; i < size; i++)
    {
      hash ^= data[i];
      hash *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return hash;
}

void
fuzz_random_init (FuzzRandom    *random,
                  const uint8_t *data,
                  size_t         size)
{
  random->state = fuzz_hash (data, size);
}

guint64
fuzz_random_next (FuzzRandom *random)
{
  guint64 z = (random->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

guint64
fuzz_random_below (FuzzRandom *random,
                   guint64     bound)
{
  return fuzz_random_next (random) % bound;
}

void
fuzz_check_malformed (const GError *error)
{
  fuzz_check (error != NULL);
  fuzz_check (error->domain == QVM_ERROR);
  fuzz_check (error->code == QVM_ERROR_MALFORMED_PAYLOAD);
  fuzz_check (error->message != NULL && error->message[0] != '\0');
  fuzz_check (g_utf8_validate (error->message, -1, NULL));
}
