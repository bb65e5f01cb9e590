/* qvm.c: the qvm command
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One program, one subcommand per task (validate, schema, new-machine,
 * inspect here; run and build in qvm-run.c and qvm-build.c, which share
 * qvm-boot.c's "boot and watch"). Each subcommand parses its own options
 * with a GOptionContext, so `qvm SUBCOMMAND --help` works. Problems are
 * printed as "qvm: WHAT: WHY" lines on stderr (qvm-tool.c).
 */

#include "config.h"

#include <inttypes.h>

#include <unistd.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-fs-private.h"
#include "qvm-init.h"
#include "qvm-owned-folder-private.h"
#include "qvm-tool.h"

typedef int (*CommandFunc) (int argc, char **argv);

typedef struct {
  const char *name;
  const char *parameters;
  const char *summary;
  CommandFunc run;
} Command;

static int
command_validate (int    argc,
                  char **argv)
{
  gboolean print = FALSE;
  const GOptionEntry entries[] = {
    { "print", 'p', 0, G_OPTION_ARG_NONE, &print,
      N_("Print each valid machine as understood, in normal form"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    qvm_tool_command_context (_("FILE…"),
                     _("Checks machine definitions (machine.json) and prints every problem."));
  int status = EXIT_SUCCESS;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!qvm_tool_parse_options (context, "validate", &argc, &argv))
    return EXIT_USAGE;
  if (argc < 2)
    {
      qvm_tool_print_error ("validate", _("expected a FILE (see qvm validate --help)"));
      return EXIT_USAGE;
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (argv[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmMachine) machine = qvm_machine_new_from_file (file, NULL, &error);

      if (machine == NULL)
        {
          qvm_tool_print_problems (error->message, file, argv[i]);
          status = EXIT_INVALID;
          continue;
        }

      g_print (_("%s: valid\n"), argv[i]);
      if (print)
        {
          g_autofree char *data = qvm_machine_to_data (machine);

          g_print ("%s", data);
        }
    }

  return status;
}

static int
command_schema (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context =
    qvm_tool_command_context ("machine|options",
                     _("Prints the JSON Schema of machine definitions (machine) or of machine options (options)."));

  if (!qvm_tool_parse_options (context, "schema", &argc, &argv))
    return EXIT_USAGE;

  if (argc != 2)
    {
      qvm_tool_print_error ("schema", _("expected “machine” or “options” (see qvm schema --help)"));
      return EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "machine"))
    g_print ("%s", qvm_machine_get_schema ());
  else if (g_str_equal (argv[1], "options"))
    g_print ("%s", qvm_machine_options_get_schema ());
  else
    {
      g_autofree char *why = g_strdup_printf (_("unknown schema “%s”; expected “machine” or “options”"), argv[1]);

      qvm_tool_print_error ("schema", why);
      return EXIT_USAGE;
    }

  return EXIT_SUCCESS;
}

static int
command_new_machine (int    argc,
                     char **argv)
{
  g_autoptr(GOptionContext) context =
    qvm_tool_command_context (NULL,
                     _("Prints a new machine definition with a random UUID and MAC address."));
  g_autoptr(QvmMachine) machine = NULL;
  g_autofree char *data = NULL;

  if (!qvm_tool_parse_options (context, "new-machine", &argc, &argv))
    return EXIT_USAGE;
  if (argc != 1)
    {
      qvm_tool_print_error ("new-machine", _("takes no arguments"));
      return EXIT_USAGE;
    }

  machine = qvm_machine_new_random ();
  data = qvm_machine_to_data (machine);
  g_print ("%s", data);
  return EXIT_SUCCESS;
}

/* Extracts the archive as a store would (every rule checked) into a
 * temporary folder, reports, and deletes the folder. */
static int
command_inspect (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context =
    qvm_tool_command_context (_("ARCHIVE"),
                     _("Checks an image archive (image.tar.zst) as an image store does, and prints its "
                       "machine definition, the size of its disk and a verdict. The archive is "
                       "extracted to a temporary folder, deleted afterwards."));
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *temporary = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *data = NULL;
  const char *disk;
  struct stat st;
  int temporary_lock = -1;

  if (!qvm_tool_parse_options (context, "inspect", &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    {
      qvm_tool_print_error ("inspect", _("expected one image archive (see qvm inspect --help)"));
      return EXIT_USAGE;
    }

  /* Marked like the folder of qvm run: an inspect interrupted (Ctrl-C
   * while a large archive is extracted) leaves nothing the next one keeps. */
  qvm_owned_folder_sweep (g_get_tmp_dir (), "qvm-inspect-");
  temporary = qvm_owned_folder_make (g_get_tmp_dir (), "qvm-inspect-", &temporary_lock, &error);
  if (temporary == NULL)
    {
      qvm_tool_print_error ("inspect", error->message);
      return EXIT_INVALID;
    }
  folder = g_build_filename (temporary, "image", NULL);
  image = qvm_folder_image_new_from_archive (argv[1], folder, NULL, &error);
  if (image == NULL)
    {
      qvm_tool_print_file_error (argv[1], error);
      qvm_fs_remove_tree (temporary, NULL);
      close (temporary_lock);
      g_print (_("verdict: invalid image archive\n"));
      return EXIT_INVALID;
    }

  data = qvm_machine_to_data (qvm_image_get_machine (QVM_IMAGE (image)));
  disk = qvm_image_get_disk_file (QVM_IMAGE (image));
  if (stat (disk, &st) != 0)
    memset (&st, 0, sizeof st);
  qvm_image_release (QVM_IMAGE (image));
  g_print ("machine.json:\n%s", data);
  g_print (_("disk.img: %" PRId64 " bytes, %" PRId64 " bytes of data\n"),
           (gint64) st.st_size, (gint64) st.st_blocks * 512);
  g_print (_("verdict: valid image archive\n"));

  if (!qvm_folder_image_delete (image, &error))
    qvm_tool_print_error (folder, error->message);
  qvm_fs_remove_tree (temporary, NULL);
  close (temporary_lock);
  return EXIT_SUCCESS;
}

static const Command commands[] = {
  { "validate", N_("FILE…"), N_("Check machine definitions"), command_validate },
  { "schema", "machine|options", N_("Print a JSON Schema"), command_schema },
  { "new-machine", "", N_("Print a random valid machine definition"), command_new_machine },
  { "inspect", N_("ARCHIVE"), N_("Check an image archive and describe it"), command_inspect },
  { "run", N_("ARCHIVE"), N_("Run an image archive with a metadata service"), qvm_command_run },
  { "build", N_("-o ARCHIVE"), N_("Boot an image with CD-ROMs and package what it leaves"), qvm_command_build },
};

static void
print_usage (FILE *stream)
{
  fprintf (stream, "%s\n\n%s\n", _("Usage: qvm COMMAND [OPTION…]"), _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *call = g_strdup_printf ("%s %s", commands[i].name, _(commands[i].parameters));

      /* Pad by characters, not bytes: "…" is three bytes. */
      glong width = g_utf8_strlen (call, -1);

      fprintf (stream, "  %s%*s %s\n", call, (int) MAX (0, 28 - width), "", _(commands[i].summary));
    }
  fprintf (stream, "\n%s\n  %-28s %s\n  %-28s %s\n", _("Options:"),
           "--help", _("Show this list"), "--version", _("Print the version of qvm"));
  fprintf (stream, "\n%s\n", _("Run “qvm COMMAND --help” for the options of a command."));
}

/* The metadata helper of the user network is $QVM_GUESTFWD, else the
 * installed one. A qvm run from the build tree (or from any folder that
 * holds both programs) uses the helper beside it: it is the one built with
 * it, and an installed one may be older or missing. Called before any
 * thread starts, as g_setenv() needs. */
static void
use_helper_beside_self (void)
{
  const char *chosen = g_getenv ("QVM_GUESTFWD");
  g_autofree char *self = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *helper = NULL;

  if (chosen != NULL && *chosen != '\0')
    return;
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    return;
  folder = g_path_get_dirname (self);
  helper = g_build_filename (folder, "qvm-guestfwd", NULL);
  if (g_file_test (helper, G_FILE_TEST_IS_REGULAR) && g_file_test (helper, G_FILE_TEST_IS_EXECUTABLE))
    g_setenv ("QVM_GUESTFWD", helper, TRUE);
}

int
main (int    argc,
      char **argv)
{
  int init_status;

  if (qvm_init_supervise_if_pid1 (&init_status))
    return init_status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  use_helper_beside_self ();

  if (argc < 2)
    {
      g_set_prgname ("qvm");
      print_usage (stderr);
      return EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_usage (stdout);
      return EXIT_SUCCESS;
    }

  if (g_str_equal (argv[1], "--version"))
    {
      g_print ("qvm %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (argv[1], commands[i].name))
        {
          g_autofree char *prgname = g_strconcat ("qvm ", commands[i].name, NULL);

          /* GOptionContext's --help says "Usage: qvm validate …". The
           * name can be set once only, hence here. */
          g_set_prgname (prgname);
          return commands[i].run (argc - 1, argv + 1);
        }
    }

  g_set_prgname ("qvm");
  qvm_tool_print_error (argv[1], _("unknown command; run “qvm --help” for the list"));
  return EXIT_USAGE;
}
