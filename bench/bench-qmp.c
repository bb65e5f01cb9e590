/* bench-qmp.c: query-status round trips per second, QvmQmpClient against a
 * minimal blocking C client
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a test: prints figures. One QEMU (-machine none) gets two QMP
 * monitors, each on a socket pair; QvmQmpClient talks to one, a plain
 * read()/write() client to the other, taking turns so they never compete.
 * Each client runs query-status sequentially (one in flight) and pipelined
 * (--window commands in flight); the best of --rounds rounds counts.
 *
 *   meson compile -C _build && _build/bench/bench-qmp [--count N] [--window W] [--rounds R]
 *
 * Run it from a -Dcoroutine=gthread build folder too for that backend.
 */

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-coroutine-private.h"
#include "testutil.h"

static int count = 5000;
static int window = 32;
static int rounds = 3;

/* ---- The minimal blocking client -------------------------------------- */

typedef struct {
  int     fd;
  char    buffer[65536];
  gsize   length;
} RawClient;

static void
raw_write (RawClient  *raw,
           const char *text,
           gsize       length)
{
  while (length > 0)
    {
      gssize n = write (raw->fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      text += n;
      length -= n;
    }
}

/* Reads one message (QEMU ends each with "\r\n"); returns whether it is a
 * reply rather than an event. */
static gboolean
raw_read_message (RawClient *raw)
{
  char *newline;
  gboolean is_reply;

  while ((newline = memchr (raw->buffer, '\n', raw->length)) == NULL)
    {
      gssize n = read (raw->fd, raw->buffer + raw->length, sizeof raw->buffer - raw->length);

      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      raw->length += n;
    }

  *newline = '\0';
  is_reply = g_str_has_prefix (raw->buffer, "{\"return\"") || strstr (raw->buffer, "\"return\":") != NULL;
  raw->length -= newline + 1 - raw->buffer;
  memmove (raw->buffer, newline + 1, raw->length);
  return is_reply;
}

static void
raw_read_reply (RawClient *raw)
{
  while (!raw_read_message (raw))
    ;
}

static void
raw_send_status (RawClient *raw,
                 int        id)
{
  char command[128];
  int length = g_snprintf (command, sizeof command, "{\"execute\": \"query-status\", \"id\": %d}\n", id);

  raw_write (raw, command, length);
}

static void
raw_handshake (RawClient *raw)
{
  const char *capabilities = "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}\n";

  raw_read_message (raw);   /* the greeting */
  raw_write (raw, capabilities, strlen (capabilities));
  raw_read_reply (raw);
}

static double
raw_sequential (RawClient *raw)
{
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < count; i++)
    {
      raw_send_status (raw, i);
      raw_read_reply (raw);
    }
  return count / ((g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
}

static double
raw_pipelined (RawClient *raw)
{
  gint64 start = g_get_monotonic_time ();
  int sent = 0;

  for (; sent < MIN (window, count); sent++)
    raw_send_status (raw, sent);
  for (int received = 0; received < count; received++)
    {
      raw_read_reply (raw);
      if (sent < count)
        raw_send_status (raw, sent++);
    }
  return count / ((g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
}

/* ---- QvmQmpClient ------------------------------------------------------ */

typedef struct {
  QvmQmpClient *client;
  int           sent;
  int           received;
  gboolean      done;
} Run;

static void send_status (Run *run);

static void
on_status (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = qvm_qmp_client_execute_finish (run->client, result, &error);

  g_assert_no_error (error);
  run->received++;
  if (run->sent < count)
    send_status (run);
  else if (run->received == count)
    run->done = TRUE;
}

static void
send_status (Run *run)
{
  run->sent++;
  qvm_qmp_client_execute_async (run->client, "query-status", NULL, NULL, on_status, run);
}

static double
client_run (QvmQmpClient *client,
            int           in_flight)
{
  Run run = { client, 0, 0, FALSE };
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < MIN (in_flight, count); i++)
    send_status (&run);
  while (!run.done)
    g_main_context_iteration (NULL, TRUE);
  return count / ((g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
}

typedef struct {
  gboolean      done;
  QvmQmpClient *client;
} Made;

static void
on_made (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Made *made = data;
  g_autoptr(GError) error = NULL;

  made->client = qvm_qmp_client_new_finish (result, &error);
  g_assert_no_error (error);
  made->done = TRUE;
}

/* ---- QEMU --------------------------------------------------------------- */

static GSubprocess *
start_qemu (int *out_fd_a,
            int *out_fd_b)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  const char *qemu = g_getenv ("QVM_QEMU") != NULL ? g_getenv ("QVM_QEMU") : "qemu-system-x86_64";
  GSubprocess *process;
  int a[2], b[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), ==, 0);
  g_subprocess_launcher_set_child_setup (launcher, testutil_die_with_parent, NULL, NULL);
  g_subprocess_launcher_take_fd (launcher, a[1], 3);
  g_subprocess_launcher_take_fd (launcher, b[1], 4);
  process = g_subprocess_launcher_spawn (launcher, &error, qemu,
                                         "-machine", "none", "-accel", "tcg",
                                         "-nodefaults", "-display", "none",
                                         "-chardev", "socket,id=qmp0,fd=3",
                                         "-mon", "chardev=qmp0,mode=control",
                                         "-chardev", "socket,id=qmp1,fd=4",
                                         "-mon", "chardev=qmp1,mode=control",
                                         NULL);
  g_assert_no_error (error);
  *out_fd_a = a[0];
  *out_fd_b = b[0];
  return process;
}

int
main (int argc, char *argv[])
{
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Round trips per measurement (5000)", "N" },
    { "window", 'w', 0, G_OPTION_ARG_INT, &window, "Commands in flight when pipelined (32)", "W" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Measurements of each kind; the best counts (3)", "R" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- QMP round trips per second");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) qemu = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(QvmQmpClient) client = NULL;
  RawClient *raw = g_new0 (RawClient, 1);
  Made made = { FALSE, NULL };
  double raw_seq = 0, raw_pipe = 0, client_seq = 0, client_pipe = 0;
  int fd_client;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  count = MAX (count, 1);
  window = MAX (window, 1);
  rounds = MAX (rounds, 1);

  qemu = start_qemu (&fd_client, &raw->fd);
  socket = g_socket_new_from_fd (fd_client, &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  qvm_qmp_client_new_async (G_IO_STREAM (connection), NULL, on_made, &made);
  while (!made.done)
    g_main_context_iteration (NULL, TRUE);
  client = made.client;
  raw_handshake (raw);

  /* Warm up both paths once. */
  raw_sequential (raw);
  client_run (client, 1);

  for (int round = 0; round < rounds; round++)
    {
      raw_seq = MAX (raw_seq, raw_sequential (raw));
      client_seq = MAX (client_seq, client_run (client, 1));
      raw_pipe = MAX (raw_pipe, raw_pipelined (raw));
      client_pipe = MAX (client_pipe, client_run (client, window));
    }

  g_print ("QMP query-status round trips per second, QEMU %s, coroutine backend %s, %d per run, best of %d\n",
           qvm_qmp_client_get_qemu_version (client), qvm_coroutine_get_backend_name (), count, rounds);
  g_print ("  %-24s %12s %14s %8s\n", "", "blocking C", "QvmQmpClient", "ratio");
  g_print ("  %-24s %12.0f %14.0f %7.2fx\n", "sequential (1 in flight)", raw_seq, client_seq, client_seq / raw_seq);
  g_print ("  pipelined (%3d in flight) %11.0f %14.0f %7.2fx\n", window, raw_pipe, client_pipe, client_pipe / raw_pipe);

  g_clear_object (&client);
  close (raw->fd);
  g_free (raw);
  g_subprocess_force_exit (qemu);
  g_subprocess_wait (qemu, NULL, NULL);
  return 0;
}
