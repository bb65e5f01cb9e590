/* qvm-run.c: qvm run, an image archive run until its guest powers off
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The archive becomes an instance in a private image store (in the run's
 * temporary folder, deleted at the end); the rest is qvm-boot.c's.
 */

#include "config.h"

#include <glib/gi18n.h>

#include "qvm-boot.h"
#include "qvm-tool.h"

static void
instance_ready_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  QvmBoot *boot = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImage) image = qvm_image_store_instance_finish (QVM_IMAGE_STORE (source),
                                                               result, &error);

  if (image == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      qvm_boot_say (boot, _("interrupted"));
      qvm_boot_finish (boot, 128 + boot->signal_received);
      return;
    }
  if (image == NULL)
    {
      qvm_tool_print_file_error (boot->image_argument, error);
      qvm_boot_finish (boot, EXIT_BAD_IMAGE);
      return;
    }
  qvm_boot_say (boot, _("image loaded"));
  qvm_boot_start_machine (boot, image);
}

/* Loads the archive into a new store in the run's folder and boots it. */
static void
run_archive (QvmBoot    *boot,
             const char *archive_argument)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GFile) archive = NULL;
  g_autofree char *store_folder = g_build_filename (boot->temporary, "store", NULL);

  store = qvm_image_store_new (store_folder, &error);
  if (store == NULL)
    {
      qvm_tool_print_error (store_folder, error->message);
      boot->status = EXIT_INVALID;
      return;
    }
  qvm_boot_say (boot, _("loading %s"), archive_argument);
  archive = g_file_new_for_commandline_arg (archive_argument);
  qvm_image_store_instance_async (store, "image", archive, boot->cancellable,
                                  instance_ready_cb, boot);
  g_main_loop_run (boot->loop);
  qvm_boot_stop (boot);
  qvm_image_store_collect (store);
}

int
qvm_command_run (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  QvmBootOptions options = { 0 };
  QvmBoot boot = { 0 };
  int status;

  context = qvm_tool_command_context (_("ARCHIVE"),
                                      _("Runs an image archive (image.tar.zst) until its guest powers off, "
                                        "serving it a metadata service at 169.254.169.254. Prints each state "
                                        "change with the time since the start. Ctrl-C shuts the machine down "
                                        "(ACPI, then kill after --grace) and removes everything it made.\n"
                                        "\n"
                                        "Exit status: 0 the guest powered off; 1 the machine crashed or failed "
                                        "to start; 2 bad command line; 3 the image archive could not be loaded; "
                                        "4 timeout; 130 (SIGINT) or 143 (SIGTERM) interrupted."));
  qvm_boot_options_add_to (&options, context);
  if (!qvm_tool_parse_options (context, "run", &argc, &argv))
    status = EXIT_USAGE;
  else if (argc != 2)
    {
      qvm_tool_print_error ("run", _("expected one image archive (see qvm run --help)"));
      status = EXIT_USAGE;
    }
  else if (!qvm_boot_options_check (&options, "run"))
    status = EXIT_USAGE;
  else
    {
      if (qvm_boot_begin (&boot, &options, "run", argv[1]))
        run_archive (&boot, argv[1]);
      status = qvm_boot_end (&boot);
    }
  qvm_boot_options_clear (&options);
  return status;
}
