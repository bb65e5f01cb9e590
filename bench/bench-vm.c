/* bench-vm.c: QvmVirtualMachine against raw QEMU, side by side
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures (medians over --runs, default 15).
 *
 *  1. start: qvm_virtual_machine_start_async() until its callback (the
 *     guest runs), against the floor: the same argv run by /bin/sh with
 *     the same inherited QMP socket and a minimal blocking QMP handshake
 *     (greeting, qmp_capabilities, cont). Goal: ratio <= 1.05.
 *  3. soak (--soak N, default 50): N start/kill cycles of the library,
 *     then the open descriptors, child processes and socket folder
 *     entries left, against the counts after the first cycle.
 *  2. screenshot: qvm_virtual_machine_screenshot_async() until its
 *     callback (memfd, add-fd, screendump, remove-fd, decode), against
 *     the floor: a plain screendump to a file in /tmp over blocking QMP,
 *     then gdk_pixbuf_new_from_file(). Goal: ratio <= 1.2.
 *
 * Run: QVM_GUESTFWD=_build/tools/qvm-guestfwd _build/bench/bench-vm [--runs N] [--soak N]
 * (TCG unless QVM_ACCEL says otherwise; runs are interleaved, so a busy
 * machine slows both sides alike).
 */

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-qemu-argv-private.h"
#include "testutil.h"

/* A guard against a hung run, not a measurement. */
#define TIMEOUT_S 600

static char *folder;
static char *socket_folder;
static QvmMachineOptions *options;
static QvmFolderImage *image;
static QvmFolderImage *raw_image;   /* QEMU locks its disk: one each */
static const char *accel;

/* After testutil_median(): the samples are sorted. */
static double
minimum (GArray *samples)
{
  return g_array_index (samples, double, 0);
}

static QvmUserNetwork *
new_network (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (folder, "network", NULL);
  QvmUserNetwork *network;

  g_mkdir_with_parents (path, 0700);
  network = qvm_user_network_new (path, &error);
  g_assert_no_error (error);
  return network;
}

/* ---- The library ------------------------------------------------------- */

typedef struct {
  gboolean done;
  gint64   end;
  gpointer value;
} Wait;

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GError) error = NULL;
  Wait *wait = data;

  wait->end = g_get_monotonic_time ();
  qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (source), result, &error);
  g_assert_no_error (error);
  wait->done = TRUE;
}

static void
on_screenshot (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GError) error = NULL;
  Wait *wait = data;

  wait->value = qvm_virtual_machine_screenshot_finish (QVM_VIRTUAL_MACHINE (source), result, &error);
  wait->end = g_get_monotonic_time ();
  g_assert_no_error (error);
  wait->done = TRUE;
}

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  *(gboolean *) data = TRUE;
}

static QvmVirtualMachine *
new_vm (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmUserNetwork) network = new_network ();
  QvmVirtualMachine *vm = qvm_virtual_machine_new (options, QVM_IMAGE (image), QVM_NETWORK (network),
                                                   socket_folder, NULL, NULL, &error);

  g_assert_no_error (error);
  qvm_virtual_machine_set_accel (vm, g_str_equal (accel, "kvm") ? QVM_ACCEL_KVM : QVM_ACCEL_TCG);
  return vm;
}

static void
kill_vm (QvmVirtualMachine *vm)
{
  gboolean done = FALSE;

  g_signal_connect (vm, "done", G_CALLBACK (on_done), &done);
  qvm_virtual_machine_kill (vm);
  testutil_iterate_until (NULL, &done, TIMEOUT_S);
  g_object_unref (vm);
}

static double
library_start (QvmVirtualMachine **out_vm)
{
  QvmVirtualMachine *vm = new_vm ();
  Wait wait = { 0 };
  gint64 start = g_get_monotonic_time ();

  qvm_virtual_machine_start_async (vm, NULL, on_started, &wait);
  testutil_iterate_until (NULL, &wait.done, TIMEOUT_S);

  if (out_vm != NULL)
    *out_vm = vm;
  else
    kill_vm (vm);
  return (wait.end - start) / 1000.0;
}

static double
library_screenshot (QvmVirtualMachine *vm,
                    int               *width)
{
  Wait wait = { 0 };
  gint64 start = g_get_monotonic_time ();

  qvm_virtual_machine_screenshot_async (vm, NULL, on_screenshot, &wait);
  testutil_iterate_until (NULL, &wait.done, TIMEOUT_S);
  *width = gdk_pixbuf_get_width (wait.value);
  g_object_unref (wait.value);
  return (wait.end - start) / 1000.0;
}

/* ---- The floor: a shell, QEMU, blocking QMP ------------------------------ */

typedef struct {
  GSubprocess      *qemu;
  GSocketConnection *connection;
  GDataInputStream *input;
  GOutputStream    *output;
  char             *vm_folder;
  QvmUserNetwork   *network;
} Raw;

static char *
raw_read_reply (Raw *raw)
{
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      char *line = g_data_input_stream_read_line (raw->input, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "\"event\"") == NULL)
        return line;
      g_free (line);
    }
}

static void
raw_command (Raw        *raw,
             const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  g_output_stream_write_all (raw->output, command, strlen (command), NULL, NULL, &error);
  g_assert_no_error (error);
  reply = raw_read_reply (raw);
  g_assert_nonnull (strstr (reply, "\"return\""));
}

static double
raw_start (Raw *raw)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_copy (qvm_image_get_machine (QVM_IMAGE (raw_image)));
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *netdev = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *template = g_build_filename (socket_folder, "raw-XXXXXX", NULL);
  g_auto(GStrv) qemu_argv = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  QvmQemuArgvConfig config = { 0 };
  gint64 start;
  int fds[2];

  qvm_machine_set_defaults (machine, options, &error);
  g_assert_no_error (error);
  raw->network = new_network ();
  netdev = qvm_network_get_netdev (QVM_NETWORK (raw->network), QVM_QEMU_NETDEV_ID, &error);
  g_assert_no_error (error);
  raw->vm_folder = g_mkdtemp (g_steal_pointer (&template));

  config.machine.uuid = qvm_machine_get_uuid (machine);
  config.machine.memory_mib = qvm_machine_get_memory (machine);
  config.machine.nic_device = qvm_machine_get_network_device (machine);
  config.machine.mac_address = qvm_machine_get_mac_address (machine);
  config.machine.keyboard_layout = qvm_machine_get_keyboard_layout (machine);
  config.qemu_binary = "qemu-system-x86_64";
  config.accel = accel;
  config.disk_file = qvm_image_get_disk_file (QVM_IMAGE (raw_image));
  config.disk_format = qvm_image_get_format (QVM_IMAGE (raw_image));
  config.netdev = netdev;
  config.socket_folder = raw->vm_folder;
  config.qmp_fd = 3;
  qemu_argv = qvm_qemu_argv_build (&config);

  g_ptr_array_add (argv, "/bin/sh");
  g_ptr_array_add (argv, "-c");
  g_ptr_array_add (argv, "exec \"$0\" \"$@\"");
  for (guint i = 0; qemu_argv[i] != NULL; i++)
    g_ptr_array_add (argv, qemu_argv[i]);
  g_ptr_array_add (argv, NULL);

  start = g_get_monotonic_time ();
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  raw->connection = g_socket_connection_factory_create_connection (socket);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  raw->qemu = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher);   /* closes QEMU's end here: EOF if it dies */

  raw->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (raw->connection)));
  raw->output = g_io_stream_get_output_stream (G_IO_STREAM (raw->connection));
  greeting = raw_read_reply (raw);
  g_assert_nonnull (strstr (greeting, "\"QMP\""));
  raw_command (raw, "{\"execute\":\"qmp_capabilities\"}\n");
  raw_command (raw, "{\"execute\":\"cont\"}\n");
  return (g_get_monotonic_time () - start) / 1000.0;
}

static double
raw_screenshot (Raw *raw,
                int *width)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (raw->vm_folder, "shot.ppm", NULL);
  g_autofree char *command = g_strdup_printf ("{\"execute\":\"screendump\",\"arguments\":"
                                              "{\"filename\":\"%s\"}}\n", path);
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  gint64 start = g_get_monotonic_time ();

  raw_command (raw, command);
  pixbuf = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  *width = gdk_pixbuf_get_width (pixbuf);
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
raw_stop (Raw *raw)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_subprocess_force_exit (raw->qemu);
  g_subprocess_wait (raw->qemu, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (raw->connection), NULL, NULL);
  g_clear_object (&raw->input);
  g_clear_object (&raw->connection);
  g_clear_object (&raw->qemu);
  qvm_network_release (QVM_NETWORK (raw->network));
  g_clear_object (&raw->network);

  dir = g_dir_open (raw->vm_folder, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (raw->vm_folder, name, NULL);
      g_unlink (child);
    }
  g_rmdir (raw->vm_folder);
  g_clear_pointer (&raw->vm_folder, g_free);
}

static void
soak (int cycles)
{
  guint fds_before = 0;
  gint64 start = 0;

  for (int i = 0; i <= cycles; i++)
    {
      /* Cycle 0 settles what libraries keep open for good. */
      if (i == 1)
        {
          fds_before = testutil_count_entries ("/proc/self/fd");
          start = g_get_monotonic_time ();
        }
      library_start (NULL);
    }

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_print ("soak: %d start/kill cycles in %.1f s:\n", cycles,
           (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  g_print ("  descriptors: %u before, %u after\n", fds_before, testutil_count_entries ("/proc/self/fd"));
  g_print ("  child processes left: %u\n", testutil_count_children ());
  g_print ("  socket folder entries left: %u\n", testutil_count_entries (socket_folder));
}

/* ---- Main ------------------------------------------------------------------ */

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autofree char *image_folder = NULL;
  g_autoptr(GArray) library_starts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) raw_starts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) library_shots = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) raw_shots = g_array_new (FALSE, FALSE, sizeof (double));
  QvmVirtualMachine *vm = NULL;
  Raw raw = { 0 };
  int runs = 15;
  int soak_cycles = 50;
  int library_width = 0, raw_width = 0;
  double library_median, raw_median;

  for (int i = 1; i + 1 < argc; i += 2)
    {
      if (g_str_equal (argv[i], "--runs"))
        runs = MAX (1, atoi (argv[i + 1]));
      else if (g_str_equal (argv[i], "--soak"))
        soak_cycles = MAX (0, atoi (argv[i + 1]));
    }
  accel = g_getenv ("QVM_ACCEL") != NULL ? g_getenv ("QVM_ACCEL") : "tcg";

  folder = g_dir_make_tmp ("qvm-bench-vm-XXXXXX", &error);
  g_assert_no_error (error);
  socket_folder = g_build_filename (folder, "sockets", NULL);
  g_mkdir (socket_folder, 0700);
  image_folder = g_build_filename (folder, "image", NULL);
  image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024, machine, &error);
  g_assert_no_error (error);
  g_free (image_folder);
  image_folder = g_build_filename (folder, "raw-image", NULL);
  raw_image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024, machine, &error);
  g_assert_no_error (error);
  options = qvm_machine_options_new (64);

  /* Warm up both paths once (page cache, GIO modules, QEMU's ROMs). */
  library_start (NULL);
  raw_start (&raw);
  raw_stop (&raw);

  for (int i = 0; i < runs; i++)
    {
      double sample = library_start (NULL);
      g_array_append_val (library_starts, sample);
      sample = raw_start (&raw);
      g_array_append_val (raw_starts, sample);
      raw_stop (&raw);
    }

  library_median = testutil_median (library_starts);
  raw_median = testutil_median (raw_starts);
  g_print ("start to running (accel %s, median and minimum of %d):\n", accel, runs);
  g_print ("  raw QEMU via sh + blocking QMP: %7.2f ms  (min %7.2f)\n", raw_median, minimum (raw_starts));
  g_print ("  QvmVirtualMachine start_async:  %7.2f ms  (min %7.2f)\n", library_median,
           minimum (library_starts));
  g_print ("  ratio: %.3f (goal <= 1.05)\n", library_median / raw_median);

  /* Screenshots of SeaBIOS's text screen on both. */
  library_start (&vm);
  raw_start (&raw);
  while (library_width != 720 || raw_width != 720)
    {
      g_usleep (100 * 1000);
      library_screenshot (vm, &library_width);
      raw_screenshot (&raw, &raw_width);
    }

  for (int i = 0; i < runs * 4; i++)
    {
      double sample = library_screenshot (vm, &library_width);
      g_array_append_val (library_shots, sample);
      sample = raw_screenshot (&raw, &raw_width);
      g_array_append_val (raw_shots, sample);
    }

  library_median = testutil_median (library_shots);
  raw_median = testutil_median (raw_shots);
  g_print ("screenshot, %dx400 (median and minimum of %d):\n", library_width, runs * 4);
  g_print ("  raw screendump to a file + gdk_pixbuf_new_from_file: %7.2f ms  (min %7.2f)\n",
           raw_median, minimum (raw_shots));
  g_print ("  QvmVirtualMachine screenshot_async (memfd):          %7.2f ms  (min %7.2f)\n",
           library_median, minimum (library_shots));
  g_print ("  ratio: %.3f (goal <= 1.2)\n", library_median / raw_median);

  kill_vm (vm);
  raw_stop (&raw);

  if (soak_cycles > 0)
    soak (soak_cycles);

  qvm_folder_image_delete (image, &error);
  g_assert_no_error (error);
  g_clear_object (&image);
  qvm_image_release (QVM_IMAGE (raw_image));
  qvm_folder_image_delete (raw_image, &error);
  g_assert_no_error (error);
  g_clear_object (&raw_image);
  g_clear_object (&options);
  g_rmdir (socket_folder);
  {
    g_autofree char *network_folder = g_build_filename (folder, "network", NULL);
    g_rmdir (network_folder);
  }
  g_rmdir (folder);
  g_free (socket_folder);
  g_free (folder);
  return 0;
}
