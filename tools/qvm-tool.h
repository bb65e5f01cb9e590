/* qvm-tool.h: what the qvm command's files share
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The exit statuses, how problems are printed ("qvm: WHAT: WHY" lines on
 * stderr), how a subcommand parses its options, and the subcommands that
 * live in files of their own (qvm-run.c, qvm-build.c).
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Exit statuses: 1 for an invalid input or a failed operation, 2 for a
 * command line that could not be understood. `qvm run` adds 3 for an image
 * archive it cannot load, 4 for a guest still running at --timeout, and
 * 128 + N when signal N (SIGINT, SIGTERM) stopped it; 1 there means the
 * machine crashed or failed to start. Keep them in sync with run's help. */
#define EXIT_INVALID 1
#define EXIT_USAGE 2
#define EXIT_BAD_IMAGE 3
#define EXIT_TIMEOUT 4

/* "qvm: @what: @why" (or "qvm: @why" for a NULL @what) on stderr. */
void            qvm_tool_print_error     (const char      *what,
                                          const char      *why);

/* qvm_tool_print_error() for each line of @message. */
void            qvm_tool_print_lines     (const char      *what,
                                          const char      *message);

/* Each line of a library @message about @file, naming the file as the
 * user typed it (@argument) instead of its parse name. */
void            qvm_tool_print_problems  (const char      *message,
                                          GFile           *file,
                                          const char      *argument);

/* @error about the file the user typed as @argument (an image archive),
 * one "qvm: ARGUMENT: WHY" line per line of its message: the file's full
 * name, which the library's messages start with, is not repeated, and a
 * missing file is "no such file or folder" as for every other file. */
void            qvm_tool_print_file_error (const char     *argument,
                                           const GError   *error);

/* A subcommand's option context: @parameters after the options in its
 * usage line, @summary above them. */
GOptionContext *qvm_tool_command_context (const char      *parameters,
                                          const char      *summary);

/* Parses the options of the subcommand @command; prints the error on
 * failure. */
gboolean        qvm_tool_parse_options   (GOptionContext  *context,
                                          const char      *command,
                                          int             *argc,
                                          char          ***argv);

/* The subcommands of their own files; each returns the exit status. */
int             qvm_command_run          (int              argc,
                                          char           **argv);
int             qvm_command_build        (int              argc,
                                          char           **argv);

G_END_DECLS
