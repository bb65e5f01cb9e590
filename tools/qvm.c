/* qvm.c: the qvm command
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One program, one subcommand per task (validate, schema, new-machine,
 * inspect, run). Each subcommand parses its own options
 * with a GOptionContext, so `qvm SUBCOMMAND --help` works. Problems are
 * printed as "qvm: WHAT: WHY" lines on stderr.
 */

#define _GNU_SOURCE /* nftw */
#include "config.h"

#include <ftw.h>
#include <locale.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qvm.h"
#include "qvm-serve.h"

/* Exit statuses: 1 for an invalid input or a failed operation, 2 for a
 * command line that could not be understood. `qvm run` adds 3 for an image
 * archive it cannot load, 4 for a guest still running at --timeout, and
 * 128 + N when signal N (SIGINT, SIGTERM) stopped it; 1 there means the
 * machine crashed or failed to start. Keep them in sync with run's help. */
#define EXIT_INVALID 1
#define EXIT_USAGE 2
#define EXIT_BAD_IMAGE 3
#define EXIT_TIMEOUT 4

typedef int (*CommandFunc) (int argc, char **argv);

typedef struct {
  const char *name;
  const char *parameters;
  const char *summary;
  CommandFunc run;
} Command;

static void
print_error (const char *what,
             const char *why)
{
  if (what != NULL)
    g_printerr ("qvm: %s: %s\n", what, why);
  else
    g_printerr ("qvm: %s\n", why);
}

/* Parses the options of one subcommand; prints the error on failure. */
static gboolean
parse_options (GOptionContext  *context,
               const char      *command,
               int             *argc,
               char          ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      print_error (command, error->message);
      return FALSE;
    }
  return TRUE;
}

static GOptionContext *
command_context (const char *parameters,
                 const char *summary)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  return context;
}

/* The library names files by their parse name (an absolute path for a
 * relative argument); say them as the user typed them. */
static void
print_problems (const char *message,
                GFile      *file,
                const char *argument)
{
  g_autofree char *name = g_file_get_parse_name (file);
  g_autoptr(GString) text = g_string_new (message);
  g_auto(GStrv) lines = NULL;

  g_string_replace (text, name, argument, 0);
  lines = g_strsplit (text->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    print_error (NULL, lines[i]);
}

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
    command_context (_("FILE…"),
                     _("Checks machine definitions (machine.json) and prints every problem."));
  int status = EXIT_SUCCESS;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!parse_options (context, "validate", &argc, &argv))
    return EXIT_USAGE;
  if (argc < 2)
    {
      print_error ("validate", _("expected a FILE (see qvm validate --help)"));
      return EXIT_USAGE;
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (argv[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmMachine) machine = qvm_machine_new_from_file (file, NULL, &error);

      if (machine == NULL)
        {
          print_problems (error->message, file, argv[i]);
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
    command_context ("machine|options",
                     _("Prints the JSON Schema of machine definitions (machine) or of machine options (options)."));

  if (!parse_options (context, "schema", &argc, &argv))
    return EXIT_USAGE;

  if (argc != 2)
    {
      print_error ("schema", _("expected “machine” or “options” (see qvm schema --help)"));
      return EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "machine"))
    g_print ("%s", qvm_machine_get_schema ());
  else if (g_str_equal (argv[1], "options"))
    g_print ("%s", qvm_machine_options_get_schema ());
  else
    {
      g_autofree char *why = g_strdup_printf (_("unknown schema “%s”; expected “machine” or “options”"), argv[1]);

      print_error ("schema", why);
      return EXIT_USAGE;
    }

  return EXIT_SUCCESS;
}

static int
command_new_machine (int    argc,
                     char **argv)
{
  g_autoptr(GOptionContext) context =
    command_context (NULL,
                     _("Prints a new machine definition with a random UUID and MAC address."));
  g_autoptr(QvmMachine) machine = NULL;
  g_autofree char *data = NULL;

  if (!parse_options (context, "new-machine", &argc, &argv))
    return EXIT_USAGE;
  if (argc != 1)
    {
      print_error ("new-machine", _("takes no arguments"));
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
    command_context (_("ARCHIVE"),
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

  if (!parse_options (context, "inspect", &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    {
      print_error ("inspect", _("expected one image archive (see qvm inspect --help)"));
      return EXIT_USAGE;
    }

  temporary = g_dir_make_tmp ("qvm-inspect-XXXXXX", &error);
  if (temporary == NULL)
    {
      print_error ("inspect", error->message);
      return EXIT_INVALID;
    }
  folder = g_build_filename (temporary, "image", NULL);
  image = qvm_folder_image_new_from_archive (argv[1], folder, NULL, &error);
  if (image == NULL)
    {
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        print_error (argv[1], lines[i]);
      g_rmdir (temporary);
      g_print (_("verdict: invalid image archive\n"));
      return EXIT_INVALID;
    }

  data = qvm_machine_to_data (qvm_image_get_machine (QVM_IMAGE (image)));
  disk = qvm_image_get_disk_file (QVM_IMAGE (image));
  if (stat (disk, &st) != 0)
    memset (&st, 0, sizeof st);
  qvm_image_release (QVM_IMAGE (image));
  g_print ("machine.json:\n%s", data);
  g_print (_("disk.img: %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " bytes of data\n"),
           (gint64) st.st_size, (gint64) st.st_blocks * 512);
  g_print (_("verdict: valid image archive\n"));

  if (!qvm_folder_image_delete (image, &error))
    print_error (folder, error->message);
  g_rmdir (temporary);
  return EXIT_SUCCESS;
}

/* ---- qvm run ------------------------------------------------------------------ */

typedef struct {
  GMainLoop         *loop;
  gint64             began;               /* monotonic µs */
  const char        *image_argument;
  char              *temporary;           /* store, network and sockets; deleted */
  QvmImageStore     *store;
  QvmVirtualMachine *vm;
  QvmServe          *serve;
  GCancellable      *cancellable;
  char              *outbox;
  const char        *screenshot;          /* nullable */
  gboolean           screenshot_taken;
  gboolean           vnc;
  guint              memory;
  const char        *accel;
  guint              timeout_seconds;     /* 0 = none */
  guint              grace_seconds;
  guint              timeout_id;
  guint              status_id;           /* the terminal's status line */
  guint              signal_ids[2];
  int                signal_received;     /* 0 = none */
  gboolean           timed_out;
  gboolean           stopping;
  char              *result_status;       /* of POST /result, nullable */
  int                status;              /* the exit status */
  const char        *cdrom1;              /* qvm build: nullable */
  const char        *cdrom2;
  QvmImage          *image;               /* qvm build: the image to boot */
} Run;

/* On a terminal, a status line (elapsed time, spinner, state) stays under
 * the printed lines; it is erased before each of them. */
static gboolean status_line_shown;

static void
clear_status_line (void)
{
  if (!status_line_shown)
    return;
  g_print ("\r\033[K");
  status_line_shown = FALSE;
}

static void G_GNUC_PRINTF (2, 3)
run_say (Run        *run,
         const char *format,
         ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  clear_status_line ();
  g_print ("[%6.1fs] %s\n", (g_get_monotonic_time () - run->began) / 1e6, text);
}

static int
remove_entry (const char        *path,
              const struct stat *st,
              int                type,
              struct FTW        *ftw)
{
  if (g_remove (path) != 0)
    g_printerr ("qvm: %s: %s\n", path, g_strerror (errno));
  return 0;
}

static void
remove_tree (const char *folder)
{
  if (folder != NULL && g_file_test (folder, G_FILE_TEST_EXISTS))
    nftw (folder, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
run_finish (Run *run,
            int  status)
{
  run->status = status;
  g_main_loop_quit (run->loop);
}

static void
screenshot_saved (Run       *run,
                  GdkPixbuf *pixbuf,
                  GError    *error)
{
  g_autoptr(GError) save_error = NULL;

  if (pixbuf == NULL)
    {
      print_error (_("screenshot"), error->message);
      return;
    }
  if (!gdk_pixbuf_save (pixbuf, run->screenshot, "png", &save_error, NULL))
    {
      print_error (run->screenshot, save_error->message);
      return;
    }
  run_say (run, _("screenshot %d×%d saved to %s"), gdk_pixbuf_get_width (pixbuf),
           gdk_pixbuf_get_height (pixbuf), run->screenshot);
}

static void
payload_screenshot_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = qvm_virtual_machine_screenshot_finish (QVM_VIRTUAL_MACHINE (source),
                                                                       result, &error);

  screenshot_saved (run, pixbuf, error);
  if (run->serve != NULL)
    qvm_serve_payload_release (run->serve);
}

/* The guest asked for its payload: it runs, and its screen shows its boot.
 * The answer waits for the screenshot, so the guest cannot be gone by
 * then. */
static void
run_on_payload (QvmServe *serve,
                gpointer  user_data)
{
  Run *run = user_data;

  if (run->screenshot == NULL || run->screenshot_taken)
    {
      qvm_serve_payload_release (serve);
      return;
    }
  run->screenshot_taken = TRUE;
  qvm_virtual_machine_screenshot_async (run->vm, NULL, payload_screenshot_cb, run);
}

static void
run_on_request (const char *method,
                const char *path,
                guint       status,
                gpointer    user_data)
{
  run_say (user_data, _("guest: %s %s → %u"), method, path, status);
}

static void
run_on_result (const char *status,
               gpointer    user_data)
{
  Run *run = user_data;

  g_free (run->result_status);
  run->result_status = g_strdup (status);
  run_say (run, _("guest posted its result (status %s) to %s/result"),
           status != NULL ? status : "?", run->outbox);
}

static void
shutdown_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* "done" reports how it ended; a kill after the grace period is no
   * problem of its own here. */
  if (!qvm_virtual_machine_shutdown_finish (QVM_VIRTUAL_MACHINE (source), result, &error))
    g_debug ("shutdown: %s", error->message);
}

static void
run_shut_down (Run *run)
{
  if (run->stopping)
    return;
  run->stopping = TRUE;
  run_say (run, _("shutting down (ACPI power button, killed after %u s)"), run->grace_seconds);
  qvm_virtual_machine_shutdown_async (run->vm, run->grace_seconds * 1000, NULL, shutdown_cb, run);
}

static void
timeout_screenshot_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = qvm_virtual_machine_screenshot_finish (QVM_VIRTUAL_MACHINE (source),
                                                                       result, &error);

  screenshot_saved (run, pixbuf, error);
  run_shut_down (run);
}

static gboolean
run_timeout (gpointer user_data)
{
  Run *run = user_data;

  run->timeout_id = 0;
  run->timed_out = TRUE;
  run_say (run, _("timeout: the guest still runs after %u s"), run->timeout_seconds);
  /* A guest that never fetched its payload still leaves its screen. */
  if (run->screenshot != NULL && !run->screenshot_taken &&
      qvm_virtual_machine_get_state (run->vm) == QVM_VM_STATE_RUNNING)
    {
      run->screenshot_taken = TRUE;
      qvm_virtual_machine_screenshot_async (run->vm, NULL, timeout_screenshot_cb, run);
    }
  else
    run_shut_down (run);
  return G_SOURCE_REMOVE;
}

/* The first SIGINT/SIGTERM shuts the machine down (or stops loading the
 * image); the next one kills it. */
static void
run_interrupt (Run *run,
               int  signum)
{
  gboolean again = run->signal_received != 0;

  if (!again)
    run->signal_received = signum;
  if (run->vm == NULL)
    {
      g_cancellable_cancel (run->cancellable);
      return;
    }
  if (again || run->stopping)
    {
      run_say (run, _("interrupted again: killing the machine"));
      qvm_virtual_machine_kill (run->vm);
      return;
    }
  run_say (run, _("interrupted"));
  run_shut_down (run);
}

static gboolean
run_sigint (gpointer user_data)
{
  run_interrupt (user_data, SIGINT);
  return G_SOURCE_CONTINUE;
}

static gboolean
run_sigterm (gpointer user_data)
{
  run_interrupt (user_data, SIGTERM);
  return G_SOURCE_CONTINUE;
}

/* --console: the machine logs QEMU's stdout, which is the guest's serial
 * port, one structured record per line. */
static gint64 console_began = -1;

static GLogWriterOutput
console_log_writer (GLogLevelFlags   level,
                    const GLogField *fields,
                    gsize            n_fields,
                    gpointer         user_data)
{
  const char *stream = NULL;
  const char *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "QVM_QEMU_STREAM"))
        stream = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_QEMU_LINE"))
        line = fields[i].value;
    }
  if (console_began >= 0 && g_strcmp0 (stream, "stdout") == 0 && line != NULL)
    {
      clear_status_line ();
      g_print ("[%6.1fs] console: %s\n", (g_get_monotonic_time () - console_began) / 1e6, line);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
state_changed_cb (QvmVirtualMachine *vm,
                  GParamSpec        *pspec,
                  gpointer           user_data)
{
  Run *run = user_data;
  QvmVmState state = qvm_virtual_machine_get_state (vm);
  g_autoptr(GEnumClass) states = g_type_class_ref (QVM_TYPE_VM_STATE);
  GEnumValue *value = g_enum_get_value (states, state);

  run_say (run, _("machine %s"), value != NULL ? value->value_nick : "?");
  if (state == QVM_VM_STATE_RUNNING && run->vnc)
    run_say (run, _("VNC socket: %s"), qvm_virtual_machine_get_vnc_socket (vm));
}

static gboolean
status_tick (gpointer user_data)
{
  static const char spinner[] = "|/-\\";
  static guint turn;
  Run *run = user_data;
  const char *state = _("loading the image");

  if (run->vm != NULL)
    {
      g_autoptr(GEnumClass) states = g_type_class_ref (QVM_TYPE_VM_STATE);
      GEnumValue *value = g_enum_get_value (states, qvm_virtual_machine_get_state (run->vm));

      state = value != NULL ? value->value_nick : "?";
    }
  g_print ("\r\033[K[%6.1fs] %c %s", (g_get_monotonic_time () - run->began) / 1e6,
           spinner[turn++ % 4], state);
  fflush (stdout);
  status_line_shown = TRUE;
  return G_SOURCE_CONTINUE;
}

static void
done_cb (QvmVirtualMachine *vm,
         gpointer           user_data)
{
  Run *run = user_data;
  QvmVmDoneReason reason = qvm_virtual_machine_get_done_reason (vm);
  const GError *error = qvm_virtual_machine_get_error (vm);
  g_autoptr(GEnumClass) reasons = g_type_class_ref (QVM_TYPE_VM_DONE_REASON);
  GEnumValue *value = g_enum_get_value (reasons, reason);
  int status;

  run_say (run, _("done: %s"), value != NULL ? value->value_nick : "?");
  if (run->timed_out)
    status = EXIT_TIMEOUT;
  else if (run->signal_received != 0)
    status = 128 + run->signal_received;
  else if (reason == QVM_VM_DONE_REASON_POWEROFF || reason == QVM_VM_DONE_REASON_SHUTDOWN)
    status = EXIT_SUCCESS;
  else
    status = EXIT_INVALID;

  if (error != NULL && status == EXIT_INVALID)
    {
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        print_error (_("run"), lines[i]);
    }
  run_finish (run, status);
}

static void
machine_started_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* A failed start is also the machine's error, told by "done". */
  if (!qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (source), result, &error))
    g_debug ("start: %s", error->message);
}

static void run_start_machine (Run      *run,
                               QvmImage *image);

static void
instance_ready_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImage) image = qvm_image_store_instance_finish (QVM_IMAGE_STORE (source),
                                                               result, &error);

  if (image == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          run_say (run, _("interrupted"));
          run_finish (run, 128 + run->signal_received);
          return;
        }
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        print_error (run->image_argument, lines[i]);
      run_finish (run, EXIT_BAD_IMAGE);
      return;
    }
  run_say (run, _("image loaded"));
  run_start_machine (run, image);
}

/* Boots @image on a new user network with the run's handler. */
static void
run_start_machine (Run      *run,
                   QvmImage *image)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmMachineOptions) options = NULL;

  network = qvm_user_network_new (run->temporary, &error);
  if (network == NULL)
    {
      qvm_image_release (image);
      print_error (_("network"), error->message);
      run_finish (run, EXIT_INVALID);
      return;
    }
  options = qvm_machine_options_new (run->memory);
  run->vm = qvm_virtual_machine_new (options, image, QVM_NETWORK (network), run->temporary,
                                     run->cdrom1, run->cdrom2, &error);
  if (run->vm == NULL)
    {
      qvm_image_release (image);
      qvm_network_release (QVM_NETWORK (network));
      print_error (run->image_argument, error->message);
      run_finish (run, EXIT_BAD_IMAGE);
      return;
    }

  /* Without --accel, the library's default applies ($QVM_ACCEL, else auto). */
  if (run->accel != NULL)
    qvm_virtual_machine_set_accel (run->vm, run->accel);
  qvm_virtual_machine_set_http_handler (run->vm, qvm_serve_handle, run->serve, NULL);
  g_signal_connect (run->vm, "notify::state", G_CALLBACK (state_changed_cb), run);
  g_signal_connect (run->vm, "done", G_CALLBACK (done_cb), run);
  if (run->timeout_seconds > 0)
    run->timeout_id = g_timeout_add_seconds (run->timeout_seconds, run_timeout, run);
  qvm_virtual_machine_start_async (run->vm, NULL, machine_started_cb, run);
}

/* Makes @folder (and its parents) and checks that it is one. */
static gboolean
make_folder (const char *folder)
{
  if (g_mkdir_with_parents (folder, 0755) != 0 || !g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      print_error (folder, g_strerror (errno != 0 ? errno : ENOTDIR));
      return FALSE;
    }
  return TRUE;
}

/* Prints the guest's answer: the outbox's files, one line each. */
static void
print_outbox (Run *run)
{
  g_autoptr(GDir) dir = g_dir_open (run->outbox, 0, NULL);
  const char *name;

  g_print (_("outbox: %s\n"), run->outbox);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (run->outbox, name, NULL);
      GStatBuf st;

      if (g_stat (path, &st) == 0)
        g_print ("  %s (%" G_GINT64_FORMAT " bytes)\n", name, (gint64) st.st_size);
    }
  if (run->result_status != NULL)
    g_print (_("guest result status: %s\n"), run->result_status);
}

static void
package_progress_cb (QvmMutableImage *image,
                     guint64          done,
                     guint64          total,
                     gpointer         user_data)
{
  Run *run = user_data;
  static int last_tenth = -1;
  int tenth = total > 0 ? (int) (done * 10 / total) : 10;

  /* One line per tenth: readable in a log as on a terminal. */
  if (tenth == last_tenth)
    return;
  last_tenth = tenth;
  run_say (run, _("packaging: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " MiB of data"),
           done / (1024 * 1024), total / (1024 * 1024));
}

typedef struct {
  gboolean finished;
  GError  *error;
} Packaging;

static void
package_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Packaging *packaging = user_data;

  qvm_mutable_image_package_finish (QVM_MUTABLE_IMAGE (source), result, &packaging->error);
  packaging->finished = TRUE;
}

/* qvm build: packages the image the guest left. Ctrl-C cancels. */
static int
build_package (Run        *run,
               const char *output)
{
  Packaging packaging = { FALSE, NULL };
  g_autoptr(GError) error = NULL;
  gulong handler;

  run_say (run, _("packaging the image to %s"), output);
  handler = g_signal_connect (run->image, "progress", G_CALLBACK (package_progress_cb), run);
  qvm_mutable_image_package_async (QVM_MUTABLE_IMAGE (run->image), output, run->cancellable,
                                   package_done_cb, &packaging);
  while (!packaging.finished)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (run->image, handler);
  error = packaging.error;

  if (error == NULL)
    {
      run_say (run, _("image saved to %s"), output);
      return EXIT_SUCCESS;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      run_say (run, _("interrupted"));
      return 128 + run->signal_received;
    }
  print_error (output, error->message);
  return EXIT_INVALID;
}

static gboolean
start_build_machine (gpointer user_data)
{
  Run *run = user_data;

  run_start_machine (run, run->image);
  return G_SOURCE_REMOVE;
}

/* qvm build: the image to boot, blank or from an archive, in @folder. */
static QvmFolderImage *
build_image (const char *from,
             const char *machine_path,
             double      size_gib,
             const char *folder,
             int        *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = NULL;
  g_autoptr(GFile) machine_file = NULL;
  QvmFolderImage *image;

  if (from != NULL)
    {
      image = qvm_folder_image_new_from_archive (from, folder, NULL, &error);
      if (image == NULL)
        {
          g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            print_error (from, lines[i]);
          *status = EXIT_BAD_IMAGE;
        }
      return image;
    }

  machine_file = g_file_new_for_commandline_arg (machine_path);
  machine = qvm_machine_new_from_file (machine_file, NULL, &error);
  if (machine == NULL)
    {
      print_problems (error->message, machine_file, machine_path);
      *status = EXIT_BAD_IMAGE;
      return NULL;
    }
  image = qvm_folder_image_new_blank (folder, (guint64) (size_gib * 1024 * 1024 * 1024),
                                      machine, &error);
  if (image == NULL)
    {
      print_error (_("build"), error->message);
      *status = EXIT_INVALID;
    }
  return image;
}

/* qvm run and qvm build: one machine, its metadata service, its end. */
static int
machine_command (int      argc,
                 char   **argv,
                 gboolean build)
{
  g_autofree char *metadata_dir = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *outbox = NULL;
  g_autofree char *screenshot = NULL;
  g_autofree char *accel = NULL;
  g_autofree char *from = NULL;
  g_autofree char *machine_path = NULL;
  g_autofree char *output = NULL;
  g_auto(GStrv) cdroms = NULL;
  double size_gib = 0;
  gboolean vnc = FALSE;
  gboolean console = FALSE;
  int timeout_seconds = 0;
  int grace_seconds = 10;
  int memory = 1024;
  const GOptionEntry entries[] = {
    { "metadata-dir", 'd', 0, G_OPTION_ARG_FILENAME, &metadata_dir,
      N_("Serve DIR read-only at http://169.254.169.254/ (GET /x answers DIR/x; "
         "nothing outside DIR)"), N_("DIR") },
    { "payload", 'p', 0, G_OPTION_ARG_FILENAME, &payload,
      N_("Serve FILE at /payload"), N_("FILE") },
    { "outbox", 0, 0, G_OPTION_ARG_FILENAME, &outbox,
      N_("Store each PUT/POST body as DIR/NAME, NAME being its path with “/” as “_” "
         "(default: DIR/outbox of --metadata-dir, else a new temporary folder); "
         "POST /result?status=N also writes result.status"), N_("DIR") },
    { "screenshot", 's', 0, G_OPTION_ARG_FILENAME, &screenshot,
      N_("Save a PNG screenshot when the guest first fetches /payload (its answer "
         "waits for it), or at --timeout if it never does"), N_("PNG") },
    { "console", 'c', 0, G_OPTION_ARG_NONE, &console,
      N_("Print the guest's serial console (its first serial port), one line each"), NULL },
    { "vnc", 0, 0, G_OPTION_ARG_NONE, &vnc,
      N_("Print the path of the VNC socket once the machine runs"), NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_seconds,
      N_("Shut the machine down if it still runs SECS seconds after it started "
         "(default: no limit)"), N_("SECS") },
    { "grace", 0, 0, G_OPTION_ARG_INT, &grace_seconds,
      N_("Seconds a guest gets to power off after the ACPI power button before it is "
         "killed (default: 10)"), N_("SECS") },
    { "memory", 'm', 0, G_OPTION_ARG_INT, &memory,
      N_("The most memory the machine may have (its machine.json asks for less or "
         "gets this; default: 1024)"), N_("MiB") },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &accel,
      N_("The accelerator: auto (KVM when usable), kvm or tcg (default: $QVM_ACCEL, else auto)"),
      "auto|kvm|tcg" },
    { NULL }
  };
  const GOptionEntry build_entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("The image archive to write (required)"), N_("IMAGE.tar.zst") },
    { "from", 'f', 0, G_OPTION_ARG_FILENAME, &from,
      N_("Start from this image archive"), N_("IMAGE.tar.zst") },
    { "size", 0, 0, G_OPTION_ARG_DOUBLE, &size_gib,
      N_("Start from a blank disk of this size (with --machine)"), N_("GiB") },
    { "machine", 0, 0, G_OPTION_ARG_FILENAME, &machine_path,
      N_("The machine definition of a blank image (with --size)"), N_("machine.json") },
    { "cdrom", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cdroms,
      N_("A CD-ROM image to insert (at most twice; the guest boots from the disk "
         "first, then from the CD-ROMs)"), N_("ISO") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) archive = NULL;
  g_autoptr(QvmFolderImage) folder_image = NULL;
  g_autofree char *store_folder = NULL;
  const char *command = build ? "build" : "run";
  gboolean outbox_temporary = FALSE;
  Run run = { 0 };

  if (build)
    context = command_context (NULL,
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
  else
    context = command_context (_("ARCHIVE"),
                               _("Runs an image archive (image.tar.zst) until its guest powers off, "
                                 "serving it a metadata service at 169.254.169.254. Prints each state "
                                 "change with the time since the start. Ctrl-C shuts the machine down "
                                 "(ACPI, then kill after --grace) and removes everything it made.\n"
                                 "\n"
                                 "Exit status: 0 the guest powered off; 1 the machine crashed or failed "
                                 "to start; 2 bad command line; 3 the image archive could not be loaded; "
                                 "4 timeout; 130 (SIGINT) or 143 (SIGTERM) interrupted."));
  if (build)
    g_option_context_add_main_entries (context, build_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!parse_options (context, command, &argc, &argv))
    return EXIT_USAGE;
  if (!build && argc != 2)
    {
      print_error ("run", _("expected one image archive (see qvm run --help)"));
      return EXIT_USAGE;
    }
  if (build)
    {
      const char *problem = NULL;

      if (argc != 1)
        problem = _("takes no arguments besides its options (see qvm build --help)");
      else if (output == NULL)
        problem = _("--output is required");
      else if ((from != NULL) == (machine_path != NULL || size_gib != 0))
        problem = _("expected either --from or --size with --machine");
      else if (from == NULL && (machine_path == NULL || size_gib <= 0 || size_gib > 1024))
        problem = _("a blank image needs --machine and a --size above 0, at most 1024 GiB");
      else if (cdroms != NULL && g_strv_length (cdroms) > 2)
        problem = _("at most two --cdrom");
      if (problem != NULL)
        {
          print_error ("build", problem);
          return EXIT_USAGE;
        }
      for (guint i = 0; cdroms != NULL && cdroms[i] != NULL; i++)
        if (!g_file_test (cdroms[i], G_FILE_TEST_IS_REGULAR))
          {
            print_error (cdroms[i], _("not a regular file (--cdrom)"));
            return EXIT_USAGE;
          }
    }
  if (accel != NULL && !g_str_equal (accel, "auto") && !g_str_equal (accel, "kvm") &&
      !g_str_equal (accel, "tcg"))
    {
      g_autofree char *why = g_strdup_printf (_("unknown accelerator “%s”; expected auto, kvm or tcg"), accel);

      print_error ("--accel", why);
      return EXIT_USAGE;
    }
  if (timeout_seconds < 0 || grace_seconds < 0 || memory <= 0)
    {
      print_error (command, _("--timeout and --grace must not be negative, --memory must be positive"));
      return EXIT_USAGE;
    }
  if (metadata_dir != NULL && !g_file_test (metadata_dir, G_FILE_TEST_IS_DIR))
    {
      print_error (metadata_dir, _("not a folder (--metadata-dir)"));
      return EXIT_USAGE;
    }
  if (payload != NULL && !g_file_test (payload, G_FILE_TEST_IS_REGULAR))
    {
      print_error (payload, _("not a regular file (--payload)"));
      return EXIT_USAGE;
    }

  if (outbox == NULL && metadata_dir != NULL)
    outbox = g_build_filename (metadata_dir, "outbox", NULL);
  if (outbox == NULL)
    {
      outbox_temporary = TRUE;
      outbox = g_dir_make_tmp ("qvm-outbox-XXXXXX", &error);
      if (outbox == NULL)
        {
          print_error ("--outbox", error->message);
          return EXIT_INVALID;
        }
    }
  else if (!make_folder (outbox))
    return EXIT_USAGE;

  run.temporary = g_dir_make_tmp (build ? "qvm-build-XXXXXX" : "qvm-run-XXXXXX", &error);
  if (run.temporary == NULL)
    {
      print_error (command, error->message);
      return EXIT_INVALID;
    }

  run.loop = g_main_loop_new (NULL, FALSE);
  run.began = g_get_monotonic_time ();
  run.image_argument = build ? (from != NULL ? from : machine_path) : argv[1];
  run.cancellable = g_cancellable_new ();
  run.outbox = g_steal_pointer (&outbox);
  run.screenshot = screenshot;
  run.vnc = vnc;
  run.memory = memory;
  run.accel = accel;
  run.timeout_seconds = timeout_seconds;
  run.grace_seconds = grace_seconds;
  run.cdrom1 = cdroms != NULL ? cdroms[0] : NULL;
  run.cdrom2 = cdroms != NULL && run.cdrom1 != NULL ? cdroms[1] : NULL;
  run.serve = qvm_serve_new (metadata_dir, payload, run.outbox);
  qvm_serve_set_callbacks (run.serve, run_on_request, run_on_payload, run_on_result, &run);
  if (console)
    console_began = run.began;
  g_log_set_writer_func (console_log_writer, NULL, NULL);
  if (isatty (STDOUT_FILENO))
    run.status_id = g_timeout_add (250, status_tick, &run);
  run.signal_ids[0] = g_unix_signal_add (SIGINT, run_sigint, &run);
  run.signal_ids[1] = g_unix_signal_add (SIGTERM, run_sigterm, &run);

  if (build)
    {
      g_autofree char *image_folder = g_build_filename (run.temporary, "image", NULL);

      if (from != NULL)
        run_say (&run, _("extracting %s"), from);
      else
        run_say (&run, _("making a blank %g GiB disk for %s"), size_gib, machine_path);
      folder_image = build_image (from, machine_path, size_gib, image_folder, &run.status);
      if (folder_image != NULL)
        {
          run.image = QVM_IMAGE (folder_image);
          g_idle_add (start_build_machine, &run);
          g_main_loop_run (run.loop);
        }
    }
  else
    {
      store_folder = g_build_filename (run.temporary, "store", NULL);
      run.store = qvm_image_store_new (store_folder, &error);
      if (run.store == NULL)
        {
          print_error (store_folder, error->message);
          run.status = EXIT_INVALID;
        }
      else
        {
          run_say (&run, _("loading %s"), argv[1]);
          archive = g_file_new_for_commandline_arg (argv[1]);
          qvm_image_store_instance_async (run.store, "image", archive, run.cancellable,
                                          instance_ready_cb, &run);
          g_main_loop_run (run.loop);
        }
    }

  g_clear_handle_id (&run.timeout_id, g_source_remove);
  g_clear_handle_id (&run.status_id, g_source_remove);
  clear_status_line ();
  /* Done: the machine has released its image, network and sockets. */
  g_clear_object (&run.vm);
  if (build && run.status == EXIT_SUCCESS)
    run.status = build_package (&run, output);
  for (guint i = 0; i < G_N_ELEMENTS (run.signal_ids); i++)
    g_clear_handle_id (&run.signal_ids[i], g_source_remove);
  if (folder_image != NULL && !qvm_folder_image_delete (folder_image, &error))
    print_error (qvm_folder_image_get_folder (folder_image), error->message);
  if (run.store != NULL)
    qvm_image_store_collect (run.store);
  g_clear_object (&run.store);
  qvm_serve_free (run.serve);
  remove_tree (run.temporary);

  /* A temporary outbox is worth keeping only with something in it. */
  if (outbox_temporary && g_rmdir (run.outbox) == 0)
    ;
  else if (run.status != EXIT_BAD_IMAGE && run.status != EXIT_USAGE)
    print_outbox (&run);
  g_free (run.temporary);
  g_free (run.outbox);
  g_free (run.result_status);
  g_object_unref (run.cancellable);
  g_main_loop_unref (run.loop);
  return run.status;
}

static int
command_run (int    argc,
             char **argv)
{
  return machine_command (argc, argv, FALSE);
}

static int
command_build (int    argc,
               char **argv)
{
  return machine_command (argc, argv, TRUE);
}

static const Command commands[] = {
  { "validate", N_("FILE…"), N_("Check machine definitions"), command_validate },
  { "schema", "machine|options", N_("Print a JSON Schema"), command_schema },
  { "new-machine", "", N_("Print a random valid machine definition"), command_new_machine },
  { "inspect", N_("ARCHIVE"), N_("Check an image archive and describe it"), command_inspect },
  { "run", N_("ARCHIVE"), N_("Run an image archive with a metadata service"), command_run },
  { "build", N_("-o ARCHIVE"), N_("Boot an image with CD-ROMs and package what it leaves"), command_build },
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
  fprintf (stream, "\n%s\n", _("Run “qvm COMMAND --help” for the options of a command."));
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

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
  print_error (argv[1], _("unknown command; run “qvm --help” for the list"));
  return EXIT_USAGE;
}
