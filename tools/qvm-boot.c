/* qvm-boot.c: boot one machine and watch it, for qvm run and qvm build
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qvm-boot.h"
#include "qvm-console.h"
#include "qvm-fs-private.h"
#include "qvm-owned-folder-private.h"
#include "qvm-tool.h"

/* On a terminal, a status line (elapsed time, spinner, state) stays under
 * the printed lines; it is erased before each of them. */
static gboolean status_line_shown;

/* --console with a terminal on stdin and stdout: the terminal is the
 * guest's serial terminal (raw mode: keys go to the guest as typed,
 * Ctrl-C included) until Ctrl-] detaches or the machine is done; the
 * terminal is restored on every way out (atexit() too). */
#define CONSOLE_ESCAPE 0x1d   /* Ctrl-] */

static struct {
  gboolean          wanted;
  gboolean          raw;            /* the terminal is in raw mode */
  gboolean          restore_at_exit;
  struct termios    saved;
  guint             stdin_id;
  GSource          *output_source;
  QvmConsoleStream *stream;
} interactive;

void
qvm_boot_clear_status_line (void)
{
  if (!status_line_shown)
    return;
  g_print ("\r\033[K");
  status_line_shown = FALSE;
}

void
qvm_boot_say (QvmBoot    *boot,
              const char *format,
              ...)
{
  double elapsed_s = (g_get_monotonic_time () - boot->began) / 1e6;
  g_autofree char *text = NULL;
  va_list args;

  qvm_boot_clear_status_line ();
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  /* In raw mode a newline does not return the carriage. */
  g_print ("[%6.1fs] %s%s", elapsed_s, text, interactive.raw ? "\r\n" : "\n");
}

static void
remove_tree (const char *folder)
{
  g_autoptr(GError) error = NULL;

  if (folder != NULL && !qvm_fs_remove_tree (folder, &error))
    g_printerr ("qvm: %s\n", error->message);
}

void
qvm_boot_finish (QvmBoot *boot,
                 int      status)
{
  boot->status = status;
  g_main_loop_quit (boot->loop);
}

static void
screenshot_saved (QvmBoot   *boot,
                  GdkPixbuf *pixbuf,
                  GError    *error)
{
  g_autoptr(GError) save_error = NULL;

  if (pixbuf == NULL)
    {
      qvm_tool_print_error (_("screenshot"), error->message);
      return;
    }
  if (!gdk_pixbuf_save (pixbuf, boot->screenshot, "png", &save_error, NULL))
    {
      qvm_tool_print_error (boot->screenshot, save_error->message);
      return;
    }
  qvm_boot_say (boot, _("screenshot %d×%d saved to %s"), gdk_pixbuf_get_width (pixbuf),
                gdk_pixbuf_get_height (pixbuf), boot->screenshot);
}

/* Saves the screenshot of @result to --screenshot. */
static void
save_screenshot (QvmBoot      *boot,
                 GObject      *source,
                 GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = qvm_virtual_machine_screenshot_finish (QVM_VIRTUAL_MACHINE (source),
                                                                       result, &error);

  screenshot_saved (boot, pixbuf, error);
}

static void
payload_screenshot_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  QvmBoot *boot = user_data;

  save_screenshot (boot, source, result);
  if (boot->serve != NULL)
    qvm_serve_payload_release (boot->serve);
}

/* The guest asked for its payload: it runs, and its screen shows its boot.
 * The answer waits for the screenshot, so the guest cannot be gone by
 * then. */
static void
boot_on_payload (QvmServe *serve,
                 gpointer  user_data)
{
  QvmBoot *boot = user_data;

  if (boot->screenshot == NULL || boot->screenshot_taken)
    {
      qvm_serve_payload_release (serve);
      return;
    }
  boot->screenshot_taken = TRUE;
  qvm_virtual_machine_screenshot_async (boot->vm, NULL, payload_screenshot_cb, boot);
}

static void
boot_on_request (const char *method,
                 const char *path,
                 guint       status,
                 gpointer    user_data)
{
  qvm_boot_say (user_data, _("guest: %s %s → %u"), method, path, status);
}

static void
boot_on_result (const char *status,
                gpointer    user_data)
{
  QvmBoot *boot = user_data;

  g_free (boot->result_status);
  boot->result_status = g_strdup (status);
  qvm_boot_say (boot, _("guest posted its result (status %s) to %s/result"),
                status != NULL ? status : "?", boot->outbox);
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
boot_shut_down (QvmBoot *boot)
{
  if (boot->stopping)
    return;
  boot->stopping = TRUE;
  qvm_boot_say (boot, _("shutting down (ACPI power button, killed after %u s)"), boot->grace_seconds);
  qvm_virtual_machine_shutdown_async (boot->vm, boot->grace_seconds * 1000, NULL, shutdown_cb, boot);
}

static void
timeout_screenshot_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  save_screenshot (user_data, source, result);
  boot_shut_down (user_data);
}

static gboolean
boot_timeout (gpointer user_data)
{
  QvmBoot *boot = user_data;

  boot->timeout_id = 0;
  boot->timed_out = TRUE;
  qvm_boot_say (boot, _("timeout: the guest still runs after %u s"), boot->timeout_seconds);
  /* A guest that never fetched its payload still leaves its screen. */
  if (boot->screenshot != NULL && !boot->screenshot_taken &&
      qvm_virtual_machine_get_state (boot->vm) == QVM_VM_STATE_RUNNING)
    {
      boot->screenshot_taken = TRUE;
      qvm_virtual_machine_screenshot_async (boot->vm, NULL, timeout_screenshot_cb, boot);
    }
  else
    boot_shut_down (boot);
  return G_SOURCE_REMOVE;
}

/* The first SIGINT/SIGTERM shuts the machine down (or stops loading the
 * image); the next one kills it. */
static void
boot_interrupt (QvmBoot *boot,
                int      signum)
{
  gboolean again = boot->signal_received != 0;

  if (!again)
    boot->signal_received = signum;
  if (boot->vm == NULL)
    {
      g_cancellable_cancel (boot->cancellable);
      return;
    }
  if (again || boot->stopping)
    {
      qvm_boot_say (boot, _("interrupted again: killing the machine"));
      qvm_virtual_machine_kill (boot->vm);
      return;
    }
  qvm_boot_say (boot, _("interrupted"));
  boot_shut_down (boot);
}

static gboolean
boot_sigint (gpointer user_data)
{
  boot_interrupt (user_data, SIGINT);
  return G_SOURCE_CONTINUE;
}

static gboolean
boot_sigterm (gpointer user_data)
{
  boot_interrupt (user_data, SIGTERM);
  return G_SOURCE_CONTINUE;
}

/* --console: the machine logs each line of the guest's serial port (its
 * QvmConsole) as one structured record, QVM_QEMU_STREAM=console. */
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
  if (console_began >= 0 && g_strcmp0 (stream, "console") == 0 && line != NULL)
    {
      qvm_boot_clear_status_line ();
      g_print ("[%6.1fs] console: %s\n", (g_get_monotonic_time () - console_began) / 1e6, line);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
terminal_restore (void)
{
  if (!interactive.raw)
    return;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &interactive.saved);
  interactive.raw = FALSE;
}

static gboolean
terminal_make_raw (void)
{
  struct termios raw;

  if (tcgetattr (STDIN_FILENO, &interactive.saved) != 0)
    return FALSE;
  raw = interactive.saved;
  cfmakeraw (&raw);
  if (!interactive.restore_at_exit)
    {
      interactive.restore_at_exit = TRUE;
      atexit (terminal_restore);
    }
  if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw) != 0)
    return FALSE;
  interactive.raw = TRUE;
  return TRUE;
}

static void
write_all_to_stdout (const char *data,
                     gsize       length)
{
  while (length > 0)
    {
      gssize n = write (STDOUT_FILENO, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      length -= n;
    }
}

/* Ends the interactive console: back to one printed line per console
 * line, the machine going on. */
static void
console_detach (QvmBoot  *boot,
                gboolean  quiet)
{
  gboolean was_attached = interactive.stream != NULL;

  terminal_restore ();
  g_clear_handle_id (&interactive.stdin_id, g_source_remove);
  if (interactive.output_source != NULL)
    {
      g_source_destroy (interactive.output_source);
      g_clear_pointer (&interactive.output_source, g_source_unref);
    }
  g_clear_object (&interactive.stream);
  if (!was_attached || quiet)
    return;
  g_print ("\n");
  qvm_boot_say (boot, _("console detached; the machine goes on (Ctrl-C shuts it down)"));
  console_began = boot->began;
}

static gboolean
console_output_cb (GObject  *pollable,
                   gpointer  user_data)
{
  char buffer[4096];

  for (;;)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (pollable),
                                                           buffer, sizeof buffer, NULL, NULL);
      if (n < 0)
        return G_SOURCE_CONTINUE;
      if (n == 0)
        {
          /* The machine is done: "done" says the rest. */
          g_clear_pointer (&interactive.output_source, g_source_unref);
          return G_SOURCE_REMOVE;
        }
      write_all_to_stdout (buffer, n);
    }
}

static gboolean
console_stdin_cb (int           fd,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  QvmBoot *boot = user_data;
  g_autoptr(GError) error = NULL;
  char buffer[256];
  gssize n = read (fd, buffer, sizeof buffer);
  const char *escape;

  if (n < 0 && errno == EINTR)
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      interactive.stdin_id = 0;
      console_detach (boot, FALSE);
      return G_SOURCE_REMOVE;
    }

  escape = memchr (buffer, CONSOLE_ESCAPE, n);
  if (escape != NULL)
    n = escape - buffer;
  if (n > 0 && !qvm_console_write (qvm_virtual_machine_get_console (boot->vm), buffer, n, &error))
    qvm_boot_say (boot, _("console: %s"), error->message);
  if (escape != NULL)
    {
      interactive.stdin_id = 0;
      console_detach (boot, FALSE);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Makes the terminal the guest's serial terminal, from the console's
 * first byte on. */
static void
console_attach (QvmBoot *boot)
{
  QvmConsole *console = qvm_virtual_machine_get_console (boot->vm);
  GInputStream *input;

  if (!terminal_make_raw ())
    {
      qvm_boot_say (boot, _("console: cannot set up the terminal: %s"), g_strerror (errno));
      console_began = boot->began;
      return;
    }
  qvm_boot_say (boot, _("console attached: keys go to the guest; Ctrl-] detaches"));
  interactive.stream = qvm_console_open_stream (console, QVM_CONSOLE_FROM_OLDEST);
  input = g_io_stream_get_input_stream (G_IO_STREAM (interactive.stream));
  interactive.output_source =
    g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
  g_source_set_callback (interactive.output_source,
                         (GSourceFunc) (void (*) (void)) console_output_cb, boot, NULL);
  g_source_attach (interactive.output_source, NULL);
  interactive.stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                        console_stdin_cb, boot);
}

static void
state_changed_cb (QvmVirtualMachine *vm,
                  GParamSpec        *pspec,
                  gpointer           user_data)
{
  QvmBoot *boot = user_data;
  QvmVmState state = qvm_virtual_machine_get_state (vm);
  g_autoptr(GEnumClass) states = g_type_class_ref (QVM_TYPE_VM_STATE);
  GEnumValue *value = g_enum_get_value (states, state);

  qvm_boot_say (boot, _("machine %s"), value != NULL ? value->value_nick : "?");
  if (state == QVM_VM_STATE_RUNNING && boot->vnc)
    qvm_boot_say (boot, _("VNC socket: %s"), qvm_virtual_machine_get_vnc_socket (vm));
}

static gboolean
status_tick (gpointer user_data)
{
  static const char spinner[] = "|/-\\";
  static guint turn;
  QvmBoot *boot = user_data;
  const char *state = _("loading the image");

  if (boot->vm != NULL)
    {
      g_autoptr(GEnumClass) states = g_type_class_ref (QVM_TYPE_VM_STATE);
      GEnumValue *value = g_enum_get_value (states, qvm_virtual_machine_get_state (boot->vm));

      state = value != NULL ? value->value_nick : "?";
    }
  g_print ("\r\033[K[%6.1fs] %c %s", (g_get_monotonic_time () - boot->began) / 1e6,
           spinner[turn++ % 4], state);
  fflush (stdout);
  status_line_shown = TRUE;
  return G_SOURCE_CONTINUE;
}

static void
done_cb (QvmVirtualMachine *vm,
         gpointer           user_data)
{
  QvmBoot *boot = user_data;
  QvmVmDoneReason reason = qvm_virtual_machine_get_done_reason (vm);
  const GError *error = qvm_virtual_machine_get_error (vm);
  g_autoptr(GEnumClass) reasons = g_type_class_ref (QVM_TYPE_VM_DONE_REASON);
  GEnumValue *value = g_enum_get_value (reasons, reason);
  int status;

  qvm_boot_say (boot, _("done: %s"), value != NULL ? value->value_nick : "?");
  if (boot->timed_out)
    status = EXIT_TIMEOUT;
  else if (boot->signal_received != 0)
    status = 128 + boot->signal_received;
  else if (reason == QVM_VM_DONE_REASON_POWEROFF || reason == QVM_VM_DONE_REASON_SHUTDOWN)
    status = EXIT_SUCCESS;
  else
    status = EXIT_INVALID;

  if (error != NULL && status == EXIT_INVALID)
    {
      qvm_tool_print_lines (_("run"), error->message);
    }
  qvm_boot_finish (boot, status);
}

/* Whether the machine of @image fits --memory and --vcpus; says why not
 * in the words of the command line (the library's message names the
 * options' JSON members, which a user of qvm never sees). */
static gboolean
machine_fits (QvmBoot  *boot,
              QvmImage *image)
{
  QvmMachine *machine = qvm_image_get_machine (image);
  gboolean fits = TRUE;

  if (qvm_machine_get_memory (machine) > boot->memory)
    {
      g_autofree char *why = g_strdup_printf (_("machine.json asks for %u MiB of memory, more than --memory %u allows"),
                                              qvm_machine_get_memory (machine), boot->memory);

      qvm_tool_print_error (boot->image_argument, why);
      fits = FALSE;
    }
  if (qvm_machine_get_vcpus (machine) > boot->vcpus)
    {
      g_autofree char *why = g_strdup_printf (_("machine.json asks for %u vCPUs, more than --vcpus %u allows"),
                                              qvm_machine_get_vcpus (machine), boot->vcpus);

      qvm_tool_print_error (boot->image_argument, why);
      fits = FALSE;
    }
  return fits;
}

/* Boots @image on a new user network with the boot's handler. */
void
qvm_boot_start_machine (QvmBoot  *boot,
                        QvmImage *image)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmMachineOptions) options = NULL;

  if (!machine_fits (boot, image))
    {
      qvm_image_release (image);
      qvm_boot_finish (boot, EXIT_BAD_IMAGE);
      return;
    }

  network = qvm_user_network_new (boot->temporary, &error);
  if (network == NULL)
    {
      qvm_image_release (image);
      qvm_tool_print_error (_("network"), error->message);
      qvm_boot_finish (boot, EXIT_INVALID);
      return;
    }
  qvm_user_network_set_tokens_required (network, boot->metadata_tokens);
  options = qvm_machine_options_new (boot->memory);
  qvm_machine_options_set_max_vcpus (options, boot->vcpus);
  boot->vm = qvm_virtual_machine_new (options, image, QVM_NETWORK (network), boot->temporary,
                                      boot->cdrom1, boot->cdrom2, &error);
  if (boot->vm == NULL)
    {
      qvm_image_release (image);
      qvm_network_release (QVM_NETWORK (network));
      qvm_tool_print_error (boot->image_argument, error->message);
      qvm_boot_finish (boot, EXIT_BAD_IMAGE);
      return;
    }

  /* Without --accel, the library's default applies ($QVM_ACCEL, else auto). */
  if (boot->accel_set)
    qvm_virtual_machine_set_accel (boot->vm, boot->accel);
  qvm_virtual_machine_set_http_handler (boot->vm, qvm_serve_handle, boot->serve, NULL);
  g_signal_connect (boot->vm, "notify::state", G_CALLBACK (state_changed_cb), boot);
  g_signal_connect (boot->vm, "done", G_CALLBACK (done_cb), boot);
  if (boot->timeout_seconds > 0)
    boot->timeout_id = g_timeout_add_seconds (boot->timeout_seconds, boot_timeout, boot);
  if (interactive.wanted)
    console_attach (boot);
  /* A failed start is also the machine's error, told by "done". */
  qvm_virtual_machine_start_in_background (boot->vm);
}

/* Uses the folder @folder, named by the option @option, making it when it
 * does not exist; its parent must, as for mkdir(1) without -p: a typo in
 * a path (run as root, too) must not create a tree of folders. */
static gboolean
make_folder (const char *folder,
             const char *option)
{
  g_autofree char *why = NULL;
  g_autofree char *parent = NULL;
  int saved_errno;

  if (g_file_test (folder, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (g_mkdir (folder, 0755) == 0)
    return TRUE;

  saved_errno = errno;
  parent = g_path_get_dirname (folder);
  if (saved_errno == EEXIST)
    why = g_strdup_printf (_("not a folder (%s)"), option);
  else if (saved_errno == ENOENT && !g_file_test (parent, G_FILE_TEST_IS_DIR))
    why = g_strdup_printf (_("cannot create it: there is no folder “%s” (%s)"), parent, option);
  else
    why = g_strdup_printf (_("cannot create it: %s (%s)"), g_strerror (saved_errno), option);
  qvm_tool_print_error (folder, why);
  return FALSE;
}

/* Prints the guest's answer: the outbox's files, one line each. */
static void
print_outbox (QvmBoot *boot)
{
  g_autoptr(GDir) dir = g_dir_open (boot->outbox, 0, NULL);
  const char *name;

  g_print (_("outbox: %s\n"), boot->outbox);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (boot->outbox, name, NULL);
      GStatBuf st;

      if (g_stat (path, &st) == 0)
        g_print ("  %s (%" G_GINT64_FORMAT " bytes)\n", name, (gint64) st.st_size);
    }
  if (boot->result_status != NULL)
    g_print (_("guest result status: %s\n"), boot->result_status);
}


void
qvm_boot_options_add_to (QvmBootOptions *options,
                         GOptionContext *context)
{
  const GOptionEntry entries[] = {
    { "metadata-dir", 'd', 0, G_OPTION_ARG_FILENAME, &options->metadata_dir,
      N_("Serve DIR read-only at http://169.254.169.254/ (GET /x answers DIR/x; "
         "nothing outside DIR)"), N_("DIR") },
    { "payload", 'p', 0, G_OPTION_ARG_FILENAME, &options->payload,
      N_("Serve FILE at /payload"), N_("FILE") },
    { "outbox", 0, 0, G_OPTION_ARG_FILENAME, &options->outbox,
      N_("Store each PUT/POST body as DIR/NAME, NAME being its path with “/” as “_” "
         "(default: a new temporary folder for each run; never inside --metadata-dir); "
         "POST /result?status=N also writes result.status"), N_("DIR") },
    { "screenshot", 's', 0, G_OPTION_ARG_FILENAME, &options->screenshot,
      N_("Save a PNG screenshot when the guest first fetches /payload (its answer "
         "waits for it), or at --timeout if it never does"), N_("PNG") },
    { "console", 'c', 0, G_OPTION_ARG_NONE, &options->console,
      N_("Print the guest's serial console (its first serial port), one line each; "
         "with a terminal on stdin and stdout, be its terminal: keys go to the guest "
         "(Ctrl-C too), Ctrl-] detaches"), NULL },
    { "vnc", 0, 0, G_OPTION_ARG_NONE, &options->vnc,
      N_("Print the path of the VNC socket once the machine runs"), NULL },
    { "metadata-tokens", 0, 0, G_OPTION_ARG_NONE, &options->metadata_tokens,
      N_("Require a session token with every metadata request (PUT /latest/api/token with "
         "X-metadata-token-ttl-seconds first, then X-metadata-token), as IMDSv2 does"), NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &options->timeout_seconds,
      N_("Shut the machine down if it still runs SECS seconds after it started "
         "(default: no limit)"), N_("SECS") },
    { "grace", 0, 0, G_OPTION_ARG_INT, &options->grace_seconds,
      N_("Seconds a guest gets to power off after the ACPI power button before it is "
         "killed (default: 10)"), N_("SECS") },
    { "memory", 'm', 0, G_OPTION_ARG_INT, &options->memory,
      N_("The most memory the machine may have (its machine.json asks for less or "
         "gets this; default: 1024)"), N_("MiB") },
    { "vcpus", 0, 0, G_OPTION_ARG_INT, &options->vcpus,
      N_("The most vCPUs the machine may have: sockets × cores × threads of its "
         "machine.json (default: 16, at most 255)"), N_("N") },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &options->accel,
      N_("The accelerator: auto (KVM when usable), kvm or tcg (default: $QVM_ACCEL, else auto)"),
      "auto|kvm|tcg" },
    { NULL }
  };

  options->grace_seconds = 10;
  options->memory = 1024;
  options->vcpus = QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS;
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
}

gboolean
qvm_boot_options_check (QvmBootOptions *options,
                        const char     *command)
{
  g_autoptr(GError) error = NULL;

  if (options->accel != NULL)
    options->accel_value = qvm_accel_parse (options->accel, &error);
  if (error != NULL)
    {
      qvm_tool_print_error ("--accel", error->message);
      return FALSE;
    }
  if (options->timeout_seconds < 0 || options->grace_seconds < 0 || options->memory <= 0)
    {
      qvm_tool_print_error (command, _("--timeout and --grace must not be negative, --memory must be positive"));
      return FALSE;
    }
  if (options->vcpus < 1 || options->vcpus > QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT)
    {
      g_autofree char *why = g_strdup_printf (_("%d is not a number of vCPUs from 1 to %d"),
                                              options->vcpus, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT);

      qvm_tool_print_error ("--vcpus", why);
      return FALSE;
    }
  if (options->metadata_dir != NULL && !g_file_test (options->metadata_dir, G_FILE_TEST_IS_DIR))
    {
      qvm_tool_print_error (options->metadata_dir, _("not a folder (--metadata-dir)"));
      return FALSE;
    }
  if (options->payload != NULL && !g_file_test (options->payload, G_FILE_TEST_IS_REGULAR))
    {
      qvm_tool_print_error (options->payload, _("not a regular file (--payload)"));
      return FALSE;
    }
  return TRUE;
}

void
qvm_boot_options_clear (QvmBootOptions *options)
{
  g_clear_pointer (&options->metadata_dir, g_free);
  g_clear_pointer (&options->payload, g_free);
  g_clear_pointer (&options->outbox, g_free);
  g_clear_pointer (&options->screenshot, g_free);
  g_clear_pointer (&options->accel, g_free);
}

/* Whether @inner is @outer or lies below it, both existing folders
 * compared as the kernel resolves them (links, "..", bind mounts aside). */
static gboolean
folder_is_within (const char *inner,
                  const char *outer)
{
  g_autofree char *inner_real = realpath (inner, NULL);
  g_autofree char *outer_real = realpath (outer, NULL);
  gsize outer_length;

  if (inner_real == NULL || outer_real == NULL)
    return FALSE;
  outer_length = strlen (outer_real);
  return g_str_has_prefix (inner_real, outer_real) &&
         (inner_real[outer_length] == '\0' || inner_real[outer_length] == '/' ||
          g_str_equal (outer_real, "/"));
}

/* The guest must not read what it (or an earlier run's guest) wrote, nor
 * write what it is served: the outbox and the served folder stay apart. */
static gboolean
check_outbox_apart (const char *outbox,
                    const char *metadata_dir)
{
  if (metadata_dir == NULL)
    return TRUE;
  if (folder_is_within (outbox, metadata_dir))
    qvm_tool_print_error (outbox, _("lies inside the served --metadata-dir: "
                                    "the guest could read what was uploaded (--outbox)"));
  else if (folder_is_within (metadata_dir, outbox))
    qvm_tool_print_error (outbox, _("holds the served --metadata-dir: "
                                    "the guest could change what is served (--outbox)"));
  else
    return TRUE;
  return FALSE;
}

/* The outbox of --outbox, or a new temporary one for each run: never
 * inside the served folder. */
static gboolean
make_outbox (QvmBoot        *boot,
             QvmBootOptions *options)
{
  g_autoptr(GError) error = NULL;

  if (options->outbox != NULL)
    {
      gboolean existed = g_file_test (options->outbox, G_FILE_TEST_IS_DIR);

      boot->status = EXIT_USAGE;
      if (!make_folder (options->outbox, "--outbox"))
        return FALSE;
      if (!check_outbox_apart (options->outbox, options->metadata_dir))
        {
          if (!existed)
            g_rmdir (options->outbox);
          return FALSE;
        }
      boot->outbox = g_strdup (options->outbox);
      return TRUE;
    }

  boot->outbox_temporary = TRUE;
  boot->outbox = g_dir_make_tmp ("qvm-outbox-XXXXXX", &error);
  if (boot->outbox == NULL)
    {
      qvm_tool_print_lines ("--outbox", error->message);
      boot->status = EXIT_INVALID;
      return FALSE;
    }
  return TRUE;
}

gboolean
qvm_boot_begin (QvmBoot        *boot,
                QvmBootOptions *options,
                const char     *command,
                const char     *image_argument)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = g_strdup_printf ("qvm-%s-", command);

  if (!make_outbox (boot, options))
    return FALSE;
  /* What a qvm killed without cleaning up left (its image, its QEMU's
   * sockets) goes first; this run's folder is marked the same way. */
  qvm_owned_folder_sweep (g_get_tmp_dir (), prefix);
  boot->temporary = qvm_owned_folder_make (g_get_tmp_dir (), prefix, &boot->temporary_lock, &error);
  if (boot->temporary == NULL)
    {
      qvm_tool_print_error (command, error->message);
      boot->status = EXIT_INVALID;
      return FALSE;
    }

  boot->status = EXIT_SUCCESS;
  boot->loop = g_main_loop_new (NULL, FALSE);
  boot->began = g_get_monotonic_time ();
  boot->image_argument = image_argument;
  boot->cancellable = g_cancellable_new ();
  boot->screenshot = options->screenshot;
  boot->vnc = options->vnc;
  boot->metadata_tokens = options->metadata_tokens;
  boot->memory = options->memory;
  boot->vcpus = options->vcpus;
  boot->accel_set = options->accel != NULL;
  boot->accel = options->accel_value;
  boot->timeout_seconds = options->timeout_seconds;
  boot->grace_seconds = options->grace_seconds;
  boot->serve = qvm_serve_new (options->metadata_dir, options->payload, boot->outbox);
  qvm_serve_set_callbacks (boot->serve, boot_on_request, boot_on_payload, boot_on_result, boot);
  interactive.wanted = options->console && isatty (STDIN_FILENO) && isatty (STDOUT_FILENO);
  if (options->console && !interactive.wanted)
    console_began = boot->began;
  g_log_set_writer_func (console_log_writer, NULL, NULL);
  if (isatty (STDOUT_FILENO) && !interactive.wanted)
    boot->status_id = g_timeout_add (250, status_tick, boot);
  boot->signal_ids[0] = g_unix_signal_add (SIGINT, boot_sigint, boot);
  boot->signal_ids[1] = g_unix_signal_add (SIGTERM, boot_sigterm, boot);
  return TRUE;
}

void
qvm_boot_stop (QvmBoot *boot)
{
  g_clear_handle_id (&boot->timeout_id, g_source_remove);
  g_clear_handle_id (&boot->status_id, g_source_remove);
  qvm_boot_clear_status_line ();
  console_detach (boot, TRUE);
  g_clear_object (&boot->vm);
}

int
qvm_boot_end (QvmBoot *boot)
{
  qvm_boot_stop (boot);
  for (guint i = 0; i < G_N_ELEMENTS (boot->signal_ids); i++)
    g_clear_handle_id (&boot->signal_ids[i], g_source_remove);
  g_clear_pointer (&boot->serve, qvm_serve_free);
  remove_tree (boot->temporary);
  /* Only once the folder is gone: a sweeper may take an unlocked one. */
  if (boot->temporary != NULL)
    close (boot->temporary_lock);

  /* A temporary outbox is worth keeping only with something in it. */
  if (boot->outbox != NULL && boot->outbox_temporary && g_rmdir (boot->outbox) == 0)
    ;
  else if (boot->outbox != NULL && boot->status != EXIT_BAD_IMAGE && boot->status != EXIT_USAGE)
    print_outbox (boot);
  g_clear_pointer (&boot->temporary, g_free);
  g_clear_pointer (&boot->outbox, g_free);
  g_clear_pointer (&boot->result_status, g_free);
  g_clear_object (&boot->cancellable);
  g_clear_pointer (&boot->loop, g_main_loop_unref);
  return boot->status;
}
