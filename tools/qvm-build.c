/* qvm-build.c: qvm build, an image booted with CD-ROMs and packaged
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A blank disk (--size, --machine) or an image archive (--from) is booted
 * as qvm run boots one (qvm-boot.c), with up to two CD-ROMs; when its
 * guest powers off, the disk it left is packaged into --output.
 */

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "qvm-boot.h"
#include "qvm-progress.h"
#include "qvm-tool.h"

/* The options of qvm build alone. */
typedef struct {
  char   *output;
  char   *from;
  char   *machine_path;
  char  **cdroms;
  double  size_gib;
} BuildOptions;

typedef struct {
  QvmBoot         boot;
  QvmFolderImage *image;          /* the image booted, then packaged */
  GError         *package_error;
  gboolean        packaged;
  QvmProgressLimit progress;
} Build;

static void
package_progress_cb (QvmMutableImage *image,
                     guint64          done,
                     guint64          total,
                     gpointer         user_data)
{
  Build *build = user_data;
  guint64 done_mib = done / (1024 * 1024);

  /* A few lines a second, each with a new figure: readable in a log as
   * on a terminal. */
  if (!qvm_progress_limit_check (&build->progress, done_mib, done >= total, g_get_monotonic_time ()))
    return;
  qvm_boot_say (&build->boot, _("packaging: %" PRIu64 " of %" PRIu64 " MiB of data"),
                done_mib, total / (1024 * 1024));
}

static void
package_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Build *build = user_data;

  qvm_mutable_image_package_finish (QVM_MUTABLE_IMAGE (source), result, &build->package_error);
  build->packaged = TRUE;
}

/* Packages the image the guest left into @output; Ctrl-C cancels. The
 * exit status. */
static int
build_package (Build      *build,
               const char *output)
{
  QvmBoot *boot = &build->boot;
  g_autoptr(GError) error = NULL;
  gulong handler;

  qvm_boot_say (boot, _("packaging the image to %s"), output);
  handler = g_signal_connect (build->image, "progress", G_CALLBACK (package_progress_cb), build);
  qvm_mutable_image_package_async (QVM_MUTABLE_IMAGE (build->image), output, boot->cancellable,
                                   package_done_cb, build);
  while (!build->packaged)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (build->image, handler);
  error = g_steal_pointer (&build->package_error);

  if (error == NULL)
    {
      qvm_boot_say (boot, _("image saved to %s"), output);
      return EXIT_SUCCESS;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      qvm_boot_say (boot, _("interrupted"));
      return 128 + boot->signal_received;
    }
  qvm_tool_print_error (output, error->message);
  return EXIT_INVALID;
}

static gboolean
start_build_machine (gpointer user_data)
{
  Build *build = user_data;

  qvm_boot_start_machine (&build->boot, QVM_IMAGE (build->image));
  return G_SOURCE_REMOVE;
}

/* The image to boot, blank or from an archive, in @folder. */
static QvmFolderImage *
build_image (BuildOptions *options,
             const char   *folder,
             int          *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = NULL;
  g_autoptr(GFile) machine_file = NULL;
  QvmFolderImage *image;

  if (options->from != NULL)
    {
      image = qvm_folder_image_new_from_archive (options->from, folder, NULL, &error);
      if (image == NULL)
        {
          qvm_tool_print_file_error (options->from, error);
          *status = EXIT_BAD_IMAGE;
        }
      return image;
    }

  machine_file = g_file_new_for_commandline_arg (options->machine_path);
  machine = qvm_machine_new_from_file (machine_file, NULL, &error);
  if (machine == NULL)
    {
      qvm_tool_print_problems (error->message, machine_file, options->machine_path);
      *status = EXIT_BAD_IMAGE;
      return NULL;
    }
  image = qvm_folder_image_new_blank (folder, (guint64) (options->size_gib * 1024 * 1024 * 1024),
                                      machine, &error);
  if (image == NULL)
    {
      qvm_tool_print_error (_("build"), error->message);
      *status = EXIT_INVALID;
    }
  return image;
}

/* Boots the image until the guest is done, then packages it. */
static void
build_and_package (Build        *build,
                   BuildOptions *options)
{
  QvmBoot *boot = &build->boot;
  g_autoptr(GError) error = NULL;
  g_autofree char *image_folder = g_build_filename (boot->temporary, "image", NULL);

  if (options->from != NULL)
    qvm_boot_say (boot, _("extracting %s"), options->from);
  else
    qvm_boot_say (boot, _("making a blank %g GiB disk for %s"), options->size_gib,
                  options->machine_path);
  build->image = build_image (options, image_folder, &boot->status);
  if (build->image == NULL)
    return;

  boot->cdrom1 = options->cdroms != NULL ? options->cdroms[0] : NULL;
  boot->cdrom2 = boot->cdrom1 != NULL ? options->cdroms[1] : NULL;
  g_idle_add (start_build_machine, build);
  g_main_loop_run (boot->loop);
  /* Done: the machine has released the image. */
  qvm_boot_stop (boot);
  if (boot->status == EXIT_SUCCESS)
    boot->status = build_package (build, options->output);
  if (!qvm_folder_image_delete (build->image, &error))
    qvm_tool_print_error (qvm_folder_image_get_folder (build->image), error->message);
  g_clear_object (&build->image);
}

/* What the options of qvm build alone say wrong, or NULL. */
static const char *
check_build_options (BuildOptions *options,
                     int           argc)
{
  if (argc != 1)
    return _("takes no arguments besides its options (see qvm build --help)");
  if (options->output == NULL)
    return _("--output is required");
  if ((options->from != NULL) == (options->machine_path != NULL || options->size_gib != 0))
    return _("expected either --from or --size with --machine");
  if (options->from == NULL &&
      (options->machine_path == NULL || options->size_gib <= 0 || options->size_gib > 1024))
    return _("a blank image needs --machine and a --size above 0, at most 1024 GiB");
  if (options->cdroms != NULL && g_strv_length (options->cdroms) > 2)
    return _("at most two --cdrom");
  return NULL;
}

static gboolean
check_cdroms (BuildOptions *options)
{
  for (guint i = 0; options->cdroms != NULL && options->cdroms[i] != NULL; i++)
    if (!g_file_test (options->cdroms[i], G_FILE_TEST_IS_REGULAR))
      {
        qvm_tool_print_error (options->cdroms[i], _("not a regular file (--cdrom)"));
        return FALSE;
      }
  return TRUE;
}

static gboolean
parse_build_options (GOptionContext  *context,
                     BuildOptions    *options,
                     QvmBootOptions  *boot_options,
                     int              argc,
                     char           **argv)
{
  const char *problem;

  if (!qvm_tool_parse_options (context, "build", &argc, &argv))
    return FALSE;
  problem = check_build_options (options, argc);
  if (problem != NULL)
    {
      qvm_tool_print_error ("build", problem);
      return FALSE;
    }
  return check_cdroms (options) && qvm_boot_options_check (boot_options, "build");
}

int
qvm_command_build (int    argc,
                   char **argv)
{
  BuildOptions options = { NULL };
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options.output,
      N_("The image archive to write (required)"), N_("IMAGE.tar.zst") },
    { "from", 'f', 0, G_OPTION_ARG_FILENAME, &options.from,
      N_("Start from this image archive"), N_("IMAGE.tar.zst") },
    { "size", 0, 0, G_OPTION_ARG_DOUBLE, &options.size_gib,
      N_("Start from a blank disk of this size (with --machine)"), N_("GiB") },
    { "machine", 0, 0, G_OPTION_ARG_FILENAME, &options.machine_path,
      N_("The machine definition of a blank image (with --size)"), N_("machine.json") },
    { "cdrom", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options.cdroms,
      N_("A CD-ROM image to insert (at most twice; the guest boots from the disk "
         "first, then from the CD-ROMs)"), N_("ISO") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  QvmBootOptions boot_options = { 0 };
  Build build = { { 0 } };
  int status;

  context = qvm_tool_command_context (NULL,
                                      _("Builds an image archive: boots a blank disk (--size and "
                                        "--machine) or an image archive (--from) with up to two "
                                        "CD-ROMs and the metadata service of qvm run, waits for the "
                                        "guest to power off, and packages the disk it left into "
                                        "--output.\n"
                                        "\n"
                                        "Exit status: 0 the image was written; 1 the machine crashed "
                                        "or failed, or packaging failed; 2 bad command line; 3 the "
                                        "--from archive or the --machine definition is invalid; 4 "
                                        "timeout (nothing written); 130 (SIGINT) or 143 (SIGTERM) "
                                        "interrupted."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  qvm_boot_options_add_to (&boot_options, context);
  if (!parse_build_options (context, &options, &boot_options, argc, argv))
    status = EXIT_USAGE;
  else
    {
      const char *image_argument = options.from != NULL ? options.from : options.machine_path;

      if (qvm_boot_begin (&build.boot, &boot_options, "build", image_argument))
        build_and_package (&build, &options);
      status = qvm_boot_end (&build.boot);
    }

  qvm_boot_options_clear (&boot_options);
  g_free (options.output);
  g_free (options.from);
  g_free (options.machine_path);
  g_strfreev (options.cdroms);
  return status;
}
