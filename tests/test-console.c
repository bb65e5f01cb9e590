/* test-console.c: QvmConsole over a socketpair, without QEMU
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test plays QEMU on the other end of the socketpair: what it writes
 * is the guest's output, what it reads is what the console sends the
 * guest. Lines, the log, the ring and its readers (with a flood through a
 * small ring), writes, and wait_for.
 */

#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qvm-console-private.h"
#include "qvm-error.h"
#include "qvm-virtual-machine.h"
#include "testutil.h"

typedef struct {
  QvmConsole *console;
  int         peer;         /* QEMU's end */
  GPtrArray  *lines;        /* of char *, from "line" */
} Fixture;

static GPtrArray *console_log;   /* of char *: "id|line" */

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         data)
{
  const char *id = NULL, *stream = NULL, *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, QVM_VM_ID_FIELD))
        id = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_QEMU_STREAM"))
        stream = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_QEMU_LINE"))
        line = fields[i].value;
    }
  if (g_strcmp0 (stream, "console") == 0 && id != NULL && line != NULL)
    {
      g_ptr_array_add (console_log, g_strdup_printf ("%s|%s", id, line));
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, data);
}

static void
line_cb (QvmConsole *console,
         const char *text,
         GBytes     *bytes,
         gpointer    data)
{
  Fixture *fixture = data;

  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_ptr_array_add (fixture->lines, g_strdup (text));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  fixture->peer = fds[1];
  fixture->lines = g_ptr_array_new_with_free_func (g_free);
  fixture->console = qvm_console_new ("vm-test", NULL);
  g_signal_connect (fixture->console, "line", G_CALLBACK (line_cb), fixture);
  if (data != NULL)
    qvm_console_set_ring_size (fixture->console, GPOINTER_TO_UINT (data));
  qvm_console_attach (fixture->console, socket);
  g_ptr_array_set_size (console_log, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  qvm_console_end (fixture->console, NULL);
  g_clear_object (&fixture->console);
  if (fixture->peer >= 0)
    close (fixture->peer);
  g_ptr_array_unref (fixture->lines);
}

/* Returns the bytes written so far. */
static guint64
peer_write (Fixture    *fixture,
            const char *text)
{
  static guint64 total;
  gsize length = strlen (text);

  if (qvm_console_get_bytes_received (fixture->console) == 0)
    total = 0;
  g_assert_cmpint (write (fixture->peer, text, length), ==, (gssize) length);
  total += length;
  return total;
}

/* Closes QEMU's end: the console's input ends. */
static void
peer_close (Fixture *fixture)
{
  close (fixture->peer);
  fixture->peer = -1;
}

static void
iterate_until_received (Fixture *fixture,
                        guint64  count)
{
  while (qvm_console_get_bytes_received (fixture->console) < count)
    g_main_context_iteration (NULL, TRUE);
}

static void
iterate_until_input_ended (Fixture *fixture)
{
  while (!qvm_console_input_ended (fixture->console))
    g_main_context_iteration (NULL, TRUE);
}

/* ---- Lines and the log ------------------------------------------------------ */

static void
test_lines (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *long_line = g_strnfill (QVM_CONSOLE_LINE_MAX + 10, 'x');

  iterate_until_received (fixture, peer_write (fixture, "first\r\nsecond\nbad \xff byte\nctl\x01"));
  g_assert_cmpuint (fixture->lines->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (fixture->lines, 0), ==, "first");
  g_assert_cmpstr (g_ptr_array_index (fixture->lines, 1), ==, "second");
  g_assert_cmpstr (g_ptr_array_index (fixture->lines, 2), ==, "bad \xef\xbf\xbd byte");

  /* A guest that never ends its line: cut at the bound. */
  peer_write (fixture, "\n");
  peer_write (fixture, long_line);
  peer_close (fixture);
  iterate_until_input_ended (fixture);
  g_assert_cmpuint (fixture->lines->len, ==, 6);
  g_assert_cmpstr (g_ptr_array_index (fixture->lines, 3), ==, "ctl\x01");
  g_assert_cmpuint (strlen (g_ptr_array_index (fixture->lines, 4)), ==, QVM_CONSOLE_LINE_MAX);
  g_assert_cmpstr (g_ptr_array_index (fixture->lines, 5), ==, "xxxxxxxxxx");

  /* Each line went to the log too, tagged with the machine's id. */
  g_assert_cmpuint (console_log->len, ==, 6);
  g_assert_cmpstr (g_ptr_array_index (console_log, 0), ==, "vm-test|first");
  g_assert_cmpstr (g_ptr_array_index (console_log, 5), ==, "vm-test|xxxxxxxxxx");
}

/* ---- Readers ------------------------------------------------------------------- */

static char *
read_available (QvmConsoleStream *stream)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  g_autoptr(GString) text = g_string_new (NULL);
  char buffer[100];

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input),
                                                           buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      if (n == 0)
        break;
      g_string_append_len (text, buffer, n);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_readers (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(QvmConsoleStream) early = qvm_console_open_stream (fixture->console,
                                                               QVM_CONSOLE_FROM_NOW);
  g_autoptr(QvmConsoleStream) late = NULL;
  g_autoptr(QvmConsoleStream) now = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) recent = NULL;
  guint64 offset = 99;

  peer_write (fixture, "one\n");
  iterate_until_received (fixture, 4);
  late = qvm_console_open_stream (fixture->console, QVM_CONSOLE_FROM_OLDEST);
  now = qvm_console_open_stream (fixture->console, QVM_CONSOLE_FROM_NOW);
  g_assert_cmpuint (qvm_console_stream_get_position (now), ==, 4);
  peer_write (fixture, "two\n");
  iterate_until_received (fixture, 8);

  /* Each reader has its own position: reading takes nothing from others. */
  text = read_available (early);
  g_assert_cmpstr (text, ==, "one\ntwo\n");
  g_clear_pointer (&text, g_free);
  text = read_available (late);
  g_assert_cmpstr (text, ==, "one\ntwo\n");
  g_clear_pointer (&text, g_free);
  text = read_available (now);
  g_assert_cmpstr (text, ==, "two\n");
  g_clear_pointer (&text, g_free);
  g_assert_cmpuint (qvm_console_stream_get_position (early), ==, 8);
  g_assert_cmpuint (qvm_console_stream_get_bytes_lost (early), ==, 0);
  g_assert_true (qvm_console_stream_get_console (early) == fixture->console);

  recent = qvm_console_get_recent (fixture->console, &offset);
  g_assert_cmpuint (offset, ==, 0);
  g_assert_cmpmem (g_bytes_get_data (recent, NULL), g_bytes_get_size (recent), "one\ntwo\n", 8);

  /* Once the console ends, streams end after what they had not read. */
  peer_write (fixture, "three");
  iterate_until_received (fixture, 13);
  qvm_console_end (fixture->console, NULL);
  g_assert_true (qvm_console_is_closed (fixture->console));
  text = read_available (early);
  g_assert_cmpstr (text, ==, "three");
}

typedef struct {
  GString  *text;
  gboolean  done;
  char      buffer[64];
} AsyncRead;

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  AsyncRead *read = data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  g_assert_no_error (error);
  if (n == 0)
    {
      read->done = TRUE;
      return;
    }
  g_string_append_len (read->text, read->buffer, n);
  g_input_stream_read_async (G_INPUT_STREAM (source), read->buffer, sizeof read->buffer,
                             G_PRIORITY_DEFAULT, NULL, read_cb, read);
}

/* The GIO way: an asynchronous read waits for the guest, and ends. */
static void
test_stream_async (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(QvmConsoleStream) stream = qvm_console_open_stream (fixture->console,
                                                                QVM_CONSOLE_FROM_NOW);
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  AsyncRead read = { g_string_new (NULL), FALSE, { 0 } };

  g_input_stream_read_async (input, read.buffer, sizeof read.buffer, G_PRIORITY_DEFAULT, NULL,
                             read_cb, &read);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (read.text->len, ==, 0);
  peer_write (fixture, "login: ");
  while (read.text->len < 7)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (read.text->str, ==, "login: ");

  peer_write (fixture, "bye");
  peer_close (fixture);
  while (!read.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (read.text->str, ==, "login: bye");
  g_string_free (read.text, TRUE);
}

/* A blocking read runs the context until the guest writes. */
static void
test_stream_blocking (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(QvmConsoleStream) stream = qvm_console_open_stream (fixture->console,
                                                                QVM_CONSOLE_FROM_NOW);
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  char buffer[16] = { 0 };
  gssize n;

  peer_write (fixture, "ready\n");
  n = g_input_stream_read (input, buffer, sizeof buffer - 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (buffer, ==, "ready\n");
  g_assert_cmpint (n, ==, 6);

  g_cancellable_cancel (cancellable);
  n = g_input_stream_read (input, buffer, sizeof buffer, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (n, ==, -1);
}

/* ---- 10 MiB through a 64 KiB ring --------------------------------------------- */

#define FLOOD_SIZE (10 * 1024 * 1024)
#define FLOOD_RING (64 * 1024)

/* The byte at offset @i of the flood: lines of 64 bytes, numbered. */
static char
flood_byte (guint64 i)
{
  return (i % 64) == 63 ? '\n' : 'a' + (char) ((i / 64 + i % 64) % 26);
}

static gpointer
flood_thread (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  g_autofree char *block = g_malloc (8192);

  for (guint64 done = 0; done < FLOOD_SIZE; done += 8192)
    {
      gsize written = 0;

      for (guint i = 0; i < 8192; i++)
        block[i] = flood_byte (done + i);
      while (written < 8192)
        {
          gssize n = write (fd, block + written, 8192 - written);

          g_assert_cmpint (n, >, 0);
          written += n;
        }
    }
  close (fd);
  return NULL;
}

typedef struct {
  QvmConsoleStream *stream;
  guint64           checked;
  gboolean          mismatch;
} KeepUp;

/* Reads all it is offered each time: such a reader never loses a byte. */
static gboolean
keep_up_cb (GObject  *pollable,
            gpointer  data)
{
  KeepUp *reader = data;
  char buffer[8192];

  for (;;)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (pollable),
                                                           buffer, sizeof buffer, NULL, NULL);
      if (n <= 0)
        return n == 0 ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
      for (gssize i = 0; i < n; i++)
        if (buffer[i] != flood_byte (reader->checked + i))
          reader->mismatch = TRUE;
      reader->checked += n;
    }
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    count)
{
  (*(guint *) count)++;
}

static void
test_flood (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(QvmConsoleStream) sleeper = qvm_console_open_stream (fixture->console,
                                                                 QVM_CONSOLE_FROM_OLDEST);
  g_autoptr(QvmConsoleStream) keeper = qvm_console_open_stream (fixture->console,
                                                                QVM_CONSOLE_FROM_OLDEST);
  GInputStream *keeper_input = g_io_stream_get_input_stream (G_IO_STREAM (keeper));
  g_autoptr(GSource) source = NULL;
  KeepUp reader = { keeper, 0, FALSE };
  gsize memory_before = qvm_console_get_memory_used (fixture->console);
  gsize memory_max = memory_before;
  g_autofree char *rest = g_malloc (FLOOD_RING + 1);
  GThread *thread;
  guint lost_notified = 0;
  gsize n_rest = 0;

  g_signal_connect (sleeper, "notify::bytes-lost", G_CALLBACK (count_notify_cb), &lost_notified);

  source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (keeper_input), NULL);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) keep_up_cb, &reader, NULL);
  g_source_attach (source, NULL);

  thread = g_thread_new ("flood", flood_thread, GINT_TO_POINTER (fixture->peer));
  fixture->peer = -1;
  while (!qvm_console_input_ended (fixture->console))
    {
      g_main_context_iteration (NULL, TRUE);
      memory_max = MAX (memory_max, qvm_console_get_memory_used (fixture->console));
    }
  g_thread_join (thread);
  while (reader.checked < FLOOD_SIZE)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (source);

  /* Memory stayed at the ring's bound; every line came. */
  g_assert_cmpuint (memory_max, ==, memory_before);
  g_assert_cmpuint (memory_max, <=, FLOOD_RING + 64 * 1024 + 2 * QVM_CONSOLE_LINE_MAX + 1);
  g_assert_cmpuint (qvm_console_get_bytes_received (fixture->console), ==, FLOOD_SIZE);
  g_assert_cmpuint (fixture->lines->len, ==, FLOOD_SIZE / 64);

  /* The reader that kept up got it all, in order. */
  g_assert_false (reader.mismatch);
  g_assert_cmpuint (reader.checked, ==, FLOOD_SIZE);
  g_assert_cmpuint (qvm_console_stream_get_bytes_lost (keeper), ==, 0);

  /* The one that slept gets the ring's last 64 KiB and is told the rest
   * was lost. */
  {
    GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (sleeper));
    g_autoptr(GError) error = NULL;
    gssize n;

    while ((n = g_input_stream_read (input, rest + n_rest, FLOOD_RING + 1 - n_rest,
                                     NULL, &error)) > 0)
      n_rest += n;
    g_assert_no_error (error);
  }
  g_assert_cmpuint (n_rest, ==, FLOOD_RING);
  g_assert_cmpuint (qvm_console_stream_get_bytes_lost (sleeper), ==, FLOOD_SIZE - FLOOD_RING);
  g_assert_cmpuint (lost_notified, ==, 1);
  for (gsize i = 0; i < n_rest; i++)
    if (rest[i] != flood_byte (FLOOD_SIZE - FLOOD_RING + i))
      g_assert_not_reached ();
}

/* A smaller ring keeps the newest bytes. */
static void
test_ring_resize (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *text = g_strnfill (8000, 'a');
  g_autoptr(GBytes) recent = NULL;
  guint64 offset;

  text[7999] = 'z';
  peer_write (fixture, text);
  iterate_until_received (fixture, 8000);
  qvm_console_set_ring_size (fixture->console, 4096);
  g_assert_cmpuint (qvm_console_get_ring_size (fixture->console), ==, 4096);
  recent = qvm_console_get_recent (fixture->console, &offset);
  g_assert_cmpuint (offset, ==, 8000 - 4096);
  g_assert_cmpuint (g_bytes_get_size (recent), ==, 4096);
  g_assert_cmpint (((const char *) g_bytes_get_data (recent, NULL))[4095], ==, 'z');
}

/* ---- Writes ------------------------------------------------------------------------ */

static void
peer_expect (Fixture    *fixture,
             const char *expected)
{
  gsize length = strlen (expected);
  g_autofree char *got = g_malloc0 (length + 1);
  gsize have = 0;

  while (have < length)
    {
      gssize n = recv (fixture->peer, got + have, length - have, MSG_DONTWAIT);

      if (n > 0)
        have += n;
      else
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpstr (got, ==, expected);
}

static void
test_writes (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmConsoleStream) stream = qvm_console_open_stream (fixture->console,
                                                                QVM_CONSOLE_FROM_NOW);
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  g_autofree char *too_much = g_malloc0 (QVM_CONSOLE_OUTGOING_MAX + 1);

  g_assert_true (qvm_console_write (fixture->console, "root\n", -1, &error));
  g_assert_no_error (error);
  peer_expect (fixture, "root\n");

  g_assert_true (g_output_stream_write_all (output, "ls\n", 3, NULL, NULL, &error));
  g_assert_no_error (error);
  peer_expect (fixture, "ls\n");

  g_assert_false (qvm_console_write (fixture->console, too_much, QVM_CONSOLE_OUTGOING_MAX + 1,
                                     &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);

  qvm_console_end (fixture->console, NULL);
  g_assert_false (qvm_console_write (fixture->console, "x", 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* Written before QEMU runs: sent once the socket is there. */
static void
test_write_before_attach (void)
{
  g_autoptr(QvmConsole) console = qvm_console_new ("vm-early", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  Fixture fixture = { console, -1, NULL };
  int fds[2];

  g_assert_true (qvm_console_write (console, "early\n", -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  fixture.peer = fds[1];
  qvm_console_attach (console, socket);
  peer_expect (&fixture, "early\n");
  qvm_console_end (console, NULL);
  close (fds[1]);
}

/* ---- wait_for ---------------------------------------------------------------------- */

typedef struct {
  GAsyncResult *result;
} Waited;

static void
waited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  ((Waited *) data)->result = g_object_ref (result);
}

static GAsyncResult *
wait_result (Waited *waited)
{
  while (waited->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return waited->result;
}

static void
test_wait_for (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  Waited waited = { NULL };
  Waited second = { NULL };
  guint64 offset = 0;

  peer_write (fixture, "boot\nlogin: ");
  text = qvm_console_wait_for (fixture->console, NULL, "log[a-z]+: ", 0, &offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "login: ");
  g_assert_cmpuint (offset, ==, 5);
  g_clear_pointer (&text, g_free);

  /* The position moved past the match: the same text is not seen again. */
  text = qvm_console_wait_for (fixture->console, NULL, "login", 50, NULL, NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_assert_null (text);
  g_clear_error (&error);

  /* A wait that is running sees what comes later. */
  qvm_console_wait_for_async (fixture->console, NULL, "hello-(\\d+)", 0, NULL, waited_cb, &waited);
  qvm_console_wait_for_async (fixture->console, NULL, "x", 0, NULL, waited_cb, &second);
  g_assert_null (qvm_console_wait_for_finish (fixture->console, wait_result (&second), NULL,
                                              &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  peer_write (fixture, "echo hello\nhel");
  g_main_context_iteration (NULL, FALSE);
  peer_write (fixture, "lo-42\n");
  text = qvm_console_wait_for_finish (fixture->console, wait_result (&waited), &offset, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "hello-42");
  g_assert_cmpuint (offset, ==, 12 + 11);
  g_clear_object (&waited.result);
  g_clear_object (&second.result);
  g_clear_pointer (&text, g_free);

  /* A bad regex fails at once. */
  text = qvm_console_wait_for (fixture->console, NULL, "(", 0, NULL, NULL, &error);
  g_assert_error (error, G_REGEX_ERROR, G_REGEX_ERROR_UNMATCHED_PARENTHESIS);
  g_assert_nonnull (strstr (error->message, "“(”"));
  g_clear_error (&error);
}

/* The end of the machine ends the wait with its error, or CLOSED. */
static void
test_wait_for_end (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) machine_error = g_error_new_literal (QVM_ERROR, QVM_ERROR_GUEST_FAILED,
                                                         "The guest panicked");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Waited waited = { NULL };
  char *text;

  qvm_console_wait_for_async (fixture->console, NULL, "never", 0, cancellable, waited_cb, &waited);
  g_cancellable_cancel (cancellable);
  text = qvm_console_wait_for_finish (fixture->console, wait_result (&waited), NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (text);
  g_clear_error (&error);
  g_clear_object (&waited.result);

  qvm_console_wait_for_async (fixture->console, NULL, "never", 0, NULL, waited_cb, &waited);
  g_main_context_iteration (NULL, FALSE);
  qvm_console_end (fixture->console, machine_error);
  text = qvm_console_wait_for_finish (fixture->console, wait_result (&waited), NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_GUEST_FAILED);
  g_assert_null (text);
  g_clear_error (&error);
  g_clear_object (&waited.result);
}

/* A match may span writes: what a failed try scanned is not scanned
 * again, yet anchors and lookbehinds still see the bytes before. */
static void
test_wait_for_spanning (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Waited waited = { NULL };
  guint64 offset = 0;
  char *text;

  qvm_console_wait_for_async (fixture->console, NULL, "(?<=a)bc", 0, NULL, waited_cb, &waited);
  iterate_until_received (fixture, peer_write (fixture, "xxa"));
  g_main_context_iteration (NULL, FALSE);
  g_assert_null (waited.result);
  peer_write (fixture, "bc\nlast ");
  text = qvm_console_wait_for_finish (fixture->console, wait_result (&waited), &offset, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "bc");
  g_assert_cmpuint (offset, ==, 3);
  g_free (text);
  g_clear_object (&waited.result);

  qvm_console_wait_for_async (fixture->console, NULL, "(?m)^line$", 0, NULL, waited_cb, &waited);
  iterate_until_received (fixture, peer_write (fixture, "line\nli"));
  g_main_context_iteration (NULL, FALSE);
  g_assert_null (waited.result);
  peer_write (fixture, "ne\n");
  text = qvm_console_wait_for_finish (fixture->console, wait_result (&waited), &offset, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "line");
  g_assert_cmpuint (offset, ==, 16);
  g_free (text);
  g_clear_object (&waited.result);
}

/* Each stream waits at its own position, which its reads share. */
static void
test_stream_wait_for (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(QvmConsoleStream) first = qvm_console_open_stream (fixture->console,
                                                               QVM_CONSOLE_FROM_OLDEST);
  g_autoptr(QvmConsoleStream) second = qvm_console_open_stream (fixture->console,
                                                                QVM_CONSOLE_FROM_OLDEST);
  g_autoptr(GError) error = NULL;
  g_autofree char *rest = NULL;
  guint64 offset = 0;
  char *text;

  iterate_until_received (fixture, peer_write (fixture, "login: root\nPassword: "));
  text = qvm_console_wait_for (fixture->console, first, "login: ", 0, &offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "login: ");
  g_assert_cmpuint (offset, ==, 0);
  g_free (text);
  rest = read_available (first);
  g_assert_cmpstr (rest, ==, "root\nPassword: ");

  text = qvm_console_wait_for (fixture->console, second, "Pass[a-z]+", 0, &offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "Password");
  g_assert_cmpuint (offset, ==, 12);
  g_free (text);
  g_assert_cmpuint (qvm_console_stream_get_position (second), ==, 20);

  /* The console's own position did not move. */
  text = qvm_console_wait_for (fixture->console, NULL, "login", 0, &offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (offset, ==, 0);
  g_free (text);

  text = qvm_console_wait_for (fixture->console, first, "login", 20, NULL, NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  g_assert_null (text);
}

static void
test_wait_for_closed (void)
{
  g_autoptr(QvmConsole) console = qvm_console_new ("vm-closed", NULL);
  g_autoptr(GError) error = NULL;
  char *text;

  qvm_console_end (console, NULL);
  text = qvm_console_wait_for (console, NULL, "x", 0, NULL, NULL, &error);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_CLOSED);
  g_assert_null (text);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  console_log = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer, NULL, NULL);

#define ADD(path, func, data) \
  g_test_add ("/console/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)

  ADD ("lines", test_lines, NULL);
  ADD ("readers", test_readers, NULL);
  ADD ("stream-async", test_stream_async, NULL);
  ADD ("stream-blocking", test_stream_blocking, NULL);
  ADD ("flood", test_flood, GUINT_TO_POINTER (FLOOD_RING));
  ADD ("ring-resize", test_ring_resize, NULL);
  ADD ("writes", test_writes, NULL);
  ADD ("wait-for", test_wait_for, NULL);
  ADD ("wait-for-end", test_wait_for_end, NULL);
  ADD ("wait-for-spanning", test_wait_for_spanning, NULL);
  ADD ("stream-wait-for", test_stream_wait_for, NULL);
  g_test_add_func ("/console/write-before-attach", test_write_before_attach);
  g_test_add_func ("/console/wait-for-closed", test_wait_for_closed);

  return g_test_run ();
}
