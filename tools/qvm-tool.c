/* qvm-tool.c: what the qvm command's files share
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "qvm-tool.h"

void
qvm_tool_print_error (const char *what,
                      const char *why)
{
  if (what != NULL)
    g_printerr ("qvm: %s: %s\n", what, why);
  else
    g_printerr ("qvm: %s\n", why);
}

void
qvm_tool_print_lines (const char *what,
                      const char *message)
{
  g_auto(GStrv) lines = g_strsplit (message, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    qvm_tool_print_error (what, lines[i]);
}

void
qvm_tool_print_problems (const char *message,
                         GFile      *file,
                         const char *argument)
{
  g_autofree char *name = g_file_get_parse_name (file);
  g_autoptr(GString) text = g_string_new (message);

  g_string_replace (text, name, argument, 0);
  qvm_tool_print_lines (NULL, text->str);
}

void
qvm_tool_print_file_error (const char   *argument,
                           const GError *error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (argument);
  g_autofree char *name = g_file_get_parse_name (file);
  g_autofree char *prefix = g_strconcat (name, ": ", NULL);
  g_auto(GStrv) lines = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      qvm_tool_print_error (argument, _("no such file or folder"));
      return;
    }

  lines = g_strsplit (error->message, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      g_autoptr(GString) why = NULL;

      if (g_str_has_prefix (line, prefix))
        line += strlen (prefix);
      why = g_string_new (line);
      g_string_replace (why, name, argument, 0);
      qvm_tool_print_error (argument, why->str);
    }
}

GOptionContext *
qvm_tool_command_context (const char *parameters,
                          const char *summary)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  return context;
}

gboolean
qvm_tool_parse_options (GOptionContext  *context,
                        const char      *command,
                        int             *argc,
                        char          ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      qvm_tool_print_error (command, error->message);
      return FALSE;
    }
  return TRUE;
}
