/* bench-console.c: how soon a QvmConsole reader sees what was written, and
 * what a flood costs
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures.
 *
 *  1. one way, socketpair: a thread plays QEMU and writes a timestamp every
 *     millisecond; a reader's pollable source in the main loop sees it
 *     (the console drains the socket, the reader reads the ring);
 *  2. round trip, real QEMU: QEMU's human monitor on a console socket
 *     (`-machine none`, no guest needed): write "info version", wait for
 *     the next "(qemu) " prompt on a reader stream; beside a blocking
 *     read()/write() client on a second monitor of the same QEMU, taking
 *     turns. The round trip bounds QEMU write -> reader from above;
 *  3. 10 MiB through a 64 KiB ring: throughput, the console's buffers and
 *     the process's resident memory before and after.
 *
 *   meson compile -C _build && _build/bench/bench-console [--count N]
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-console-private.h"
#include "testutil.h"

static int count = 2000;

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
print_figures (const char *what,
               GArray     *samples)
{
  gint64 *values = (gint64 *) samples->data;
  guint n = samples->len;

  g_array_sort (samples, compare_gint64);
  g_print ("%-44s n=%u  median %.3f ms  p99 %.3f ms  max %.3f ms\n", what, n,
           values[n / 2] / 1000.0, values[MIN (n - 1, n * 99 / 100)] / 1000.0,
           values[n - 1] / 1000.0);
}

static QvmConsole *
console_on_pair (int *peer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  QvmConsole *console;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  console = qvm_console_new ("bench", NULL);
  qvm_console_attach (console, socket);
  *peer = fds[1];
  return console;
}

/* ---- 1. One way over a socketpair ------------------------------------------ */

static gpointer
stamp_thread (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);

  for (int i = 0; i < count; i++)
    {
      gint64 now = g_get_monotonic_time ();

      g_assert_cmpint (write (fd, &now, sizeof now), ==, sizeof now);
      g_usleep (1000);
    }
  close (fd);
  return NULL;
}

typedef struct {
  GArray  *samples;
  guint8   partial[sizeof (gint64)];
  gsize    have;
  gboolean ended;
} Stamps;

static gboolean
stamp_readable_cb (GObject  *pollable,
                   gpointer  data)
{
  Stamps *stamps = data;

  for (;;)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (pollable),
                                                           stamps->partial + stamps->have,
                                                           sizeof stamps->partial - stamps->have,
                                                           NULL, NULL);
      if (n == 0)
        {
          stamps->ended = TRUE;
          return G_SOURCE_REMOVE;
        }
      if (n < 0)
        return G_SOURCE_CONTINUE;
      stamps->have += n;
      if (stamps->have == sizeof stamps->partial)
        {
          gint64 sent;
          gint64 latency;

          memcpy (&sent, stamps->partial, sizeof sent);
          latency = g_get_monotonic_time () - sent;
          g_array_append_val (stamps->samples, latency);
          stamps->have = 0;
        }
    }
}

static void
bench_one_way (void)
{
  int peer;
  g_autoptr(QvmConsole) console = console_on_pair (&peer);
  g_autoptr(QvmConsoleStream) stream = qvm_console_open_stream (console, QVM_CONSOLE_FROM_NOW);
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  g_autoptr(GSource) source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input),
                                                                     NULL);
  Stamps stamps = { g_array_new (FALSE, FALSE, sizeof (gint64)), { 0 }, 0, FALSE };
  GThread *thread;

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) stamp_readable_cb, &stamps, NULL);
  g_source_attach (source, NULL);
  thread = g_thread_new ("stamps", stamp_thread, GINT_TO_POINTER (peer));
  while (!stamps.ended)
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_source_destroy (source);
  qvm_console_end (console, NULL);

  print_figures ("socketpair write -> reader (one way)", stamps.samples);
  g_array_unref (stamps.samples);
}

/* ---- 2. Round trips through QEMU's human monitor -------------------------- */

#define PROMPT "(qemu) "

static void
raw_round_trip (int fd)
{
  char buffer[4096];
  GString *seen = g_string_new (NULL);
  static const char command[] = "info version\n";

  g_assert_cmpint (write (fd, command, strlen (command)), ==, (gssize) strlen (command));
  /* The answer, then the next prompt. */
  while (strstr (seen->str, "\n" PROMPT) == NULL)
    {
      gssize n = read (fd, buffer, sizeof buffer);

      g_assert_cmpint (n, >, 0);
      g_string_append_len (seen, buffer, n);
    }
  g_string_free (seen, TRUE);
}

static void
raw_wait_prompt (int fd)
{
  char buffer[4096];
  GString *seen = g_string_new (NULL);

  while (strstr (seen->str, PROMPT) == NULL)
    {
      gssize n = read (fd, buffer, sizeof buffer);

      g_assert_cmpint (n, >, 0);
      g_string_append_len (seen, buffer, n);
    }
  g_string_free (seen, TRUE);
}

static void
console_round_trip (QvmConsole *console)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_true (qvm_console_write (console, "info version\n", -1, &error));
  text = qvm_console_wait_for (console, NULL, "\n\\(qemu\\) ", 10000, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
bench_qemu_monitor (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) qemu = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(QvmConsole) console = NULL;
  g_autoptr(GArray) library = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) raw = g_array_new (FALSE, FALSE, sizeof (gint64));
  int console_fds[2], raw_fds[2];
  int rounds = MAX (count / 4, 50);
  g_autofree char *text = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console_fds), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw_fds), ==, 0);
  g_subprocess_launcher_take_fd (launcher, console_fds[1], 3);
  g_subprocess_launcher_take_fd (launcher, raw_fds[1], 4);
  g_subprocess_launcher_set_child_setup (launcher, testutil_die_with_parent, NULL, NULL);
  qemu = g_subprocess_launcher_spawn (launcher, &error, testutil_qemu_binary (),
                                      "-machine", "none", "-nodefaults", "-no-user-config",
                                      "-display", "none",
                                      "-chardev", "socket,id=c0,fd=3",
                                      "-mon", "chardev=c0,mode=readline",
                                      "-chardev", "socket,id=c1,fd=4",
                                      "-mon", "chardev=c1,mode=readline",
                                      NULL);
  if (qemu == NULL)
    {
      g_print ("QEMU monitor round trip: skipped (%s)\n", error->message);
      return;
    }
  g_clear_object (&launcher);

  socket = g_socket_new_from_fd (console_fds[0], &error);
  g_assert_no_error (error);
  console = qvm_console_new ("bench-qemu", NULL);
  qvm_console_attach (console, socket);
  text = qvm_console_wait_for (console, NULL, "\\(qemu\\) ", 30000, NULL, NULL, &error);
  g_assert_no_error (error);
  raw_wait_prompt (raw_fds[0]);

  /* Taking turns, so that neither client waits for the other. */
  for (int i = 0; i < rounds; i++)
    {
      gint64 began = g_get_monotonic_time ();
      gint64 took;

      console_round_trip (console);
      took = g_get_monotonic_time () - began;
      g_array_append_val (library, took);

      began = g_get_monotonic_time ();
      raw_round_trip (raw_fds[0]);
      took = g_get_monotonic_time () - began;
      g_array_append_val (raw, took);
    }

  print_figures ("QEMU monitor round trip, QvmConsole", library);
  print_figures ("QEMU monitor round trip, blocking read()", raw);

  g_subprocess_force_exit (qemu);
  g_subprocess_wait (qemu, NULL, NULL);
  qvm_console_end (console, NULL);
  close (raw_fds[0]);
}

/* ---- 3. A flood through a small ring ---------------------------------------- */

#define FLOOD_SIZE (10 * 1024 * 1024)

static gpointer
flood_thread (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  char block[8192];

  memset (block, 'x', sizeof block);
  for (gsize i = 63; i < sizeof block; i += 64)
    block[i] = '\n';
  for (gsize done = 0; done < FLOOD_SIZE; done += sizeof block)
    {
      gsize written = 0;

      while (written < sizeof block)
        {
          gssize n = write (fd, block + written, sizeof block - written);

          g_assert_cmpint (n, >, 0);
          written += n;
        }
    }
  close (fd);
  return NULL;
}

static guint64
resident_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line != NULL ? g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10) : 0;
}

static void
bench_flood (void)
{
  int peer;
  g_autoptr(QvmConsole) console = console_on_pair (&peer);
  gsize buffers_max;
  guint64 rss_before, rss_after;
  gint64 began, took;
  GThread *thread;

  qvm_console_set_ring_size (console, 64 * 1024);
  buffers_max = qvm_console_get_memory_used (console);
  rss_before = resident_kib ();
  began = g_get_monotonic_time ();
  thread = g_thread_new ("flood", flood_thread, GINT_TO_POINTER (peer));
  while (!qvm_console_input_ended (console))
    {
      g_main_context_iteration (NULL, TRUE);
      buffers_max = MAX (buffers_max, qvm_console_get_memory_used (console));
    }
  took = g_get_monotonic_time () - began;
  g_thread_join (thread);
  rss_after = resident_kib ();

  g_print ("10 MiB through a 64 KiB ring (%" G_GUINT64_FORMAT " lines logged): %.0f MiB/s, "
           "console buffers at most %" G_GSIZE_FORMAT " KiB, "
           "resident %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB\n",
           qvm_console_get_bytes_received (console) / 64,
           FLOOD_SIZE / 1048576.0 / (took / 1e6), buffers_max / 1024, rss_before, rss_after);
  qvm_console_end (console, NULL);
}

/* The console logs every line at debug level: not what is measured. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags   level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         data)
{
  if (level & G_LOG_LEVEL_DEBUG)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

int
main (int argc, char *argv[])
{
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Timestamps of the one-way run", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- QvmConsole latency and floods");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  g_log_set_writer_func (quiet_writer, NULL, NULL);

  bench_one_way ();
  bench_qemu_monitor ();
  bench_flood ();
  return 0;
}
