/* test-qmp-fake.c: QvmQmpClient against a scripted fake QMP peer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a real QEMU will not do on request: garbage, a 100 MiB line, a slow
 * drip, a half message then silence, JSON that is not QMP, dying in the
 * middle of a reply, every error class. The peer is a thread doing blocking
 * I/O on its end of a socket pair, following a script; the client runs on
 * the test's main loop.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qvm.h"
#include "qvm-qmp-client-private.h"
#include "qmp-test-util.h"

#define GREETING_OOB "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
                     "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define GREETING_PLAIN "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 6}}, " \
                       "\"capabilities\": []}}\r\n"

typedef struct _Peer Peer;
typedef void (*PeerScript) (Peer *peer);

struct _Peer {
  int         fd;
  GThread    *thread;
  PeerScript  script;
  GString    *in;           /* read, not yet consumed */
  guint64     written;      /* bytes written successfully */
  gboolean    write_failed;
  gboolean    saw_eof;
  guint       commands;     /* commands read */

  GMutex      lock;
  GCond       cond;
  guint       signals;      /* peer_signal() calls */
  guint       signals_seen;
};

/* ---- The peer's side (its own thread) ---------------------------------- */

static gboolean
peer_write (Peer       *peer,
            const char *data,
            gsize       length)
{
  while (length > 0)
    {
      gssize n = send (peer->fd, data, length, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          peer->write_failed = TRUE;
          return FALSE;
        }
      peer->written += n;
      data += n;
      length -= n;
    }
  return TRUE;
}

static gboolean
peer_send (Peer       *peer,
           const char *text)
{
  return peer_write (peer, text, strlen (text));
}

G_GNUC_PRINTF (2, 3)
static gboolean
peer_sendf (Peer       *peer,
            const char *format,
            ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  return peer_send (peer, text);
}

/* Reads one command line; NULL at end of stream. */
static JsonObject *
peer_read_command (Peer *peer)
{
  char buffer[65536];
  const char *newline;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  while ((newline = memchr (peer->in->str, '\n', peer->in->len)) == NULL)
    {
      gssize n = recv (peer->fd, buffer, sizeof buffer, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          peer->saw_eof = TRUE;
          return NULL;
        }
      g_string_append_len (peer->in, buffer, n);
    }

  line = g_strndup (peer->in->str, newline - peer->in->str);
  g_string_erase (peer->in, 0, newline - peer->in->str + 1);

  node = json_from_string (line, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  peer->commands++;
  return json_object_ref (json_node_get_object (node));
}

/* Reads a command, checks its name, returns its id. */
static gint64
peer_expect (Peer       *peer,
             const char *command)
{
  g_autoptr(JsonObject) object = peer_read_command (peer);

  g_assert_nonnull (object);
  g_assert_cmpstr (json_object_get_string_member (object, "execute"), ==, command);
  return json_object_get_int_member (object, "id");
}

static void
peer_wait_eof (Peer *peer)
{
  JsonObject *object;

  while ((object = peer_read_command (peer)) != NULL)
    json_object_unref (object);
}

static void
peer_wait_signal (Peer *peer)
{
  g_mutex_lock (&peer->lock);
  while (peer->signals == peer->signals_seen)
    g_cond_wait (&peer->cond, &peer->lock);
  peer->signals_seen++;
  g_mutex_unlock (&peer->lock);
}

/* Sends @greeting, answers qmp_capabilities and checks what it enabled. */
static void
peer_handshake_with (Peer       *peer,
                     const char *greeting,
                     const char *expected_enable)
{
  g_autoptr(JsonObject) command = NULL;
  g_autoptr(JsonNode) enable = NULL;
  g_autofree char *enable_text = NULL;

  g_assert_true (peer_send (peer, greeting));
  command = peer_read_command (peer);
  g_assert_nonnull (command);
  g_assert_cmpstr (json_object_get_string_member (command, "execute"), ==, "qmp_capabilities");
  enable = json_node_ref (json_object_get_member (json_object_get_object_member (command, "arguments"), "enable"));
  enable_text = json_to_string (enable, FALSE);
  g_assert_cmpstr (enable_text, ==, expected_enable);
  g_assert_true (peer_sendf (peer, "{\"return\": {}, \"id\": %" G_GINT64_FORMAT "}\r\n",
                             json_object_get_int_member (command, "id")));
}

static void
peer_handshake (Peer *peer)
{
  peer_handshake_with (peer, GREETING_OOB, "[\"oob\"]");
}

static gpointer
peer_main (gpointer data)
{
  Peer *peer = data;

  peer->script (peer);
  /* Closing is part of every script's end. */
  shutdown (peer->fd, SHUT_RDWR);
  return NULL;
}

/* ---- The test's side --------------------------------------------------- */

static Peer *
peer_start (PeerScript  script,
            GIOStream **out_stream)
{
  Peer *peer = g_new0 (Peer, 1);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  *out_stream = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));

  peer->fd = fds[1];
  peer->script = script;
  peer->in = g_string_new (NULL);
  g_mutex_init (&peer->lock);
  g_cond_init (&peer->cond);
  peer->thread = g_thread_new ("fake-qmp-peer", peer_main, peer);
  return peer;
}

static void
peer_signal (Peer *peer)
{
  g_mutex_lock (&peer->lock);
  peer->signals++;
  g_cond_signal (&peer->cond);
  g_mutex_unlock (&peer->lock);
}

/* Waits for the script to end; its counters are final then. */
static void
peer_finish_with_stats (Peer    *peer,
                        guint64 *out_written,
                        guint   *out_commands)
{
  g_thread_join (peer->thread);
  if (out_written != NULL)
    *out_written = peer->written;
  if (out_commands != NULL)
    *out_commands = peer->commands;
  close (peer->fd);
  g_string_free (peer->in, TRUE);
  g_mutex_clear (&peer->lock);
  g_cond_clear (&peer->cond);
  g_free (peer);
}

static void
peer_finish (Peer *peer)
{
  peer_finish_with_stats (peer, NULL, NULL);
}

static void
assert_message_contains (const GError *error,
                         const char   *fragment)
{
  g_assert_nonnull (error);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s” is not in the error message “%s”", fragment, error->message);
}

/* A client on a fresh peer running @script, with a recorder attached. */
static QvmQmpClient *
start_client (PeerScript       script,
              Peer           **out_peer,
              QmpTestRecorder *recorder)
{
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  QvmQmpClient *client;

  *out_peer = peer_start (script, &stream);
  client = qmp_test_client_new (stream, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  if (recorder != NULL)
    qmp_test_recorder_attach (recorder, client);
  return client;
}

/* After the connection broke: a new call fails with QVM_ERROR_CLOSED
 * without any I/O, only by dispatching what is already queued. */
static void
assert_later_calls_fail (QvmQmpClient *client)
{
  QmpTestCall call = { 0 };

  qvm_qmp_client_execute_async (client, "query-status", NULL, NULL, qmp_test_on_executed, &call);
  qmp_test_drain ();
  g_assert_true (call.done);
  g_assert_error (call.error, QVM_ERROR, QVM_ERROR_CLOSED);
  qmp_test_call_clear (&call);
}

/* ---- Handshake --------------------------------------------------------- */

static void
script_handshake_and_status (Peer *peer)
{
  gint64 id;

  peer_handshake (peer);
  id = peer_expect (peer, "query-status");
  peer_sendf (peer, "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, "
                    "\"id\": %" G_GINT64_FORMAT "}\r\n", id);
  peer_wait_eof (peer);
}

static void
test_handshake (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_handshake_and_status, &peer, NULL);
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) capabilities = NULL;
  g_autofree char *version = NULL;
  g_autoptr(GIOStream) stream = NULL;
  guint timeout = 1;
  gboolean closed = TRUE;

  g_assert_cmpstr (qvm_qmp_client_get_qemu_version (client), ==, "7.2.22");
  g_assert_cmpstr (qvm_qmp_client_get_qemu_package (client), ==, "Debian 1:7.2+dfsg-7+deb12u18+b3");
  g_assert_cmpstrv (qvm_qmp_client_get_capabilities (client), ((const char *[]) { "oob", NULL }));
  g_object_get (client, "qemu-version", &version, "capabilities", &capabilities, "closed", &closed,
                "timeout", &timeout, "stream", &stream, NULL);
  g_assert_cmpstr (version, ==, "7.2.22");
  g_assert_cmpstrv (capabilities, ((const char *[]) { "oob", NULL }));
  g_assert_false (closed);
  g_assert_cmpuint (timeout, ==, 0);
  g_assert_true (stream == qvm_qmp_client_get_stream (client));

  status = qmp_test_execute (client, "query-status", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (status), "status"), ==, "running");

  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_no_oob (Peer *peer)
{
  peer_handshake_with (peer, GREETING_PLAIN, "[]");
  peer_wait_eof (peer);
}

static void
test_handshake_without_oob (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_no_oob, &peer, NULL);

  g_assert_cmpstr (qvm_qmp_client_get_qemu_version (client), ==, "6.0.0");
  g_assert_null (qvm_qmp_client_get_qemu_package (client));
  g_assert_cmpstrv (qvm_qmp_client_get_capabilities (client), ((const char *[]) { NULL }));

  g_clear_object (&client);
  peer_finish (peer);
}

typedef struct {
  gboolean      done;
  QvmQmpClient *client;
  GError       *error;
} InitData;

static void
on_init_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  InitData *init = data;

  init->client = qvm_qmp_client_new_finish (result, &init->error);
  init->done = TRUE;
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_REMOVE;
}

static GError *
handshake_error (PeerScript script,
                 guint      timeout_ms,
                 gboolean   cancel)
{
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  InitData init = { FALSE, NULL, NULL };
  Peer *peer = peer_start (script, &stream);

  g_async_initable_new_async (QVM_TYPE_QMP_CLIENT, G_PRIORITY_DEFAULT, cancellable,
                              on_init_done, &init, "stream", stream, "timeout", timeout_ms, NULL);
  if (cancel)
    g_timeout_add (50, cancel_later, cancellable);
  qmp_test_wait_for (&init.done);
  g_assert_null (init.client);
  g_assert_nonnull (init.error);

  /* The failed client let go of the stream: the peer saw the end. */
  g_clear_object (&stream);
  qmp_test_drain ();
  peer_finish (peer);
  return init.error;
}

static void
script_return_first (Peer *peer)
{
  peer_send (peer, "{\"return\": {}, \"id\": 1}\r\n");
  peer_wait_eof (peer);
}

static void
script_garbage_first (Peer *peer)
{
  peer_send (peer, "Welcome to my server\r\n");
  peer_wait_eof (peer);
}

static void
script_eof_first (Peer *peer)
{
  peer_send (peer, "{\"QMP\": {\"version\"");
}

static void
script_silent (Peer *peer)
{
  peer_wait_eof (peer);
}

static void
script_capabilities_refused (Peer *peer)
{
  gint64 id;

  peer_send (peer, GREETING_OOB);
  id = peer_expect (peer, "qmp_capabilities");
  peer_sendf (peer, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Capabilities negotiation is already complete\"}, "
                    "\"id\": %" G_GINT64_FORMAT "}\r\n", id);
  peer_wait_eof (peer);
}

static void
test_handshake_errors (void)
{
  g_autoptr(GError) return_first = handshake_error (script_return_first, 0, FALSE);
  g_autoptr(GError) garbage_first = handshake_error (script_garbage_first, 0, FALSE);
  g_autoptr(GError) eof_first = handshake_error (script_eof_first, 0, FALSE);
  g_autoptr(GError) timed_out = handshake_error (script_silent, 100, FALSE);
  g_autoptr(GError) cancelled = handshake_error (script_silent, 0, TRUE);
  g_autoptr(GError) refused = handshake_error (script_capabilities_refused, 0, FALSE);

  g_assert_error (return_first, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (return_first, "Expected the QMP greeting");
  g_assert_error (garbage_first, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (garbage_first, "Welcome to my server");
  g_assert_error (eof_first, QVM_ERROR, QVM_ERROR_CLOSED);
  assert_message_contains (eof_first, "before QEMU’s greeting");
  g_assert_error (timed_out, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  assert_message_contains (timed_out, "100 ms");
  g_assert_error (cancelled, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (refused, QVM_QMP_ERROR, QVM_QMP_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (refused->message, ==, "Capabilities negotiation is already complete");
}

/* ---- Broken peers ------------------------------------------------------ */

static void
script_garbage (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, "garbage\r\n");
  peer_wait_eof (peer);
}

static void
test_garbage (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_garbage, &peer, &recorder);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);

  g_assert_null (result);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (error, "expected a JSON object");
  assert_message_contains (error, "garbage");

  qmp_test_wait_for (&recorder.closed);
  g_assert_error (recorder.closed_reason, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (recorder.closed_reason, "garbage");
  g_assert_true (qvm_qmp_client_is_closed (client));
  assert_later_calls_fail (client);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

#define HUGE_LINE_SIZE (100 * 1024 * 1024)

static void
script_huge_line (Peer *peer)
{
  g_autofree char *chunk = g_malloc (1024 * 1024);

  memset (chunk, 'a', 1024 * 1024);
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer->written = 0;
  peer_send (peer, "{\"return\": \"");
  for (int i = 0; i < HUGE_LINE_SIZE / (1024 * 1024); i++)
    if (!peer_write (peer, chunk, 1024 * 1024))
      break;
  if (!peer->write_failed)
    peer_send (peer, "\"}\r\n");
}

static void
test_huge_line (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_huge_line, &peer, &recorder);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);
  guint64 written = 0;

  g_assert_null (result);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (error, "longer than the limit of 16777216 bytes");
  qmp_test_wait_for (&recorder.closed);
  g_assert_error (recorder.closed_reason, QVM_ERROR, QVM_ERROR_PROTOCOL);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish_with_stats (peer, &written, NULL);

  /* The client stopped reading once past the limit, so the peer could not
   * send the whole line: it got about the limit plus the socket buffers. */
  g_test_message ("the peer wrote %" G_GUINT64_FORMAT " bytes of the huge line", written);
  g_assert_cmpuint (written, >, 16 * 1024 * 1024);
  g_assert_cmpuint (written, <, 32 * 1024 * 1024);
}

static void
script_slow_drip (Peer *peer)
{
  g_autofree char *reply = NULL;
  gint64 id;

  peer_handshake (peer);
  id = peer_expect (peer, "query-status");
  reply = g_strdup_printf ("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, "
                           "\"id\": %" G_GINT64_FORMAT "}\r\n", id);
  for (const char *p = reply; *p != '\0'; p++)
    {
      peer_write (peer, p, 1);
      g_usleep (1000);
    }
  peer_wait_eof (peer);
}

static void
test_slow_drip (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_slow_drip, &peer, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (result), "status"), ==, "running");
  g_assert_false (qvm_qmp_client_is_closed (client));

  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_half_then_silence (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, "{\"return\": {\"status\": \"runn");
  peer_wait_eof (peer);
}

static void
test_half_then_silence (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_half_then_silence, &peer, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  QmpTestCall timed = { 0 };
  QmpTestCall cancelled = { 0 };
  gint64 start;

  /* A timeout ends the wait... */
  qvm_qmp_client_set_timeout (client, 100);
  g_assert_cmpuint (qvm_qmp_client_get_timeout (client), ==, 100);
  qvm_qmp_client_execute_async (client, "query-status", NULL, NULL, qmp_test_on_executed, &timed);
  qmp_test_wait_for (&timed.done);
  g_assert_error (timed.error, QVM_ERROR, QVM_ERROR_TIMED_OUT);
  assert_message_contains (timed.error, "query-status");
  assert_message_contains (timed.error, "100 ms");

  /* ...and so does a cancellable, at once. */
  qvm_qmp_client_set_timeout (client, 0);
  qvm_qmp_client_execute_async (client, "query-version", NULL, cancellable, qmp_test_on_executed, &cancelled);
  g_timeout_add (50, cancel_later, cancellable);
  start = g_get_monotonic_time ();
  qmp_test_wait_for (&cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);

  g_assert_false (qvm_qmp_client_is_closed (client));
  g_assert_cmpuint (qvm_qmp_client_get_pending_count (client), ==, 0);

  qmp_test_call_clear (&timed);
  qmp_test_call_clear (&cancelled);
  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_not_qmp (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}\r\n");
  peer_wait_eof (peer);
}

static void
test_not_qmp (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_not_qmp, &peer, &recorder);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);

  g_assert_null (result);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (error, "not a QMP message");
  assert_message_contains (error, "jsonrpc");
  qmp_test_wait_for (&recorder.closed);
  g_assert_error (recorder.closed_reason, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_later_calls_fail (client);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_dies_mid_reply (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_expect (peer, "query-version");
  peer_expect (peer, "query-name");
  peer_send (peer, "{\"return\": {\"status\": \"runn");
  /* peer_main() closes the connection. */
}

static void
test_dies_mid_reply (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_dies_mid_reply, &peer, &recorder);
  const char *commands[] = { "query-status", "query-version", "query-name" };
  QmpTestCall calls[3] = { { 0 } };

  for (gsize i = 0; i < G_N_ELEMENTS (calls); i++)
    qvm_qmp_client_execute_async (client, commands[i], NULL, NULL, qmp_test_on_executed, &calls[i]);

  /* All pending calls fail together, when the connection ends. */
  qmp_test_wait_for (&calls[0].done);
  qmp_test_drain ();
  for (gsize i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_assert_true (calls[i].done);
      g_assert_error (calls[i].error, QVM_ERROR, QVM_ERROR_CLOSED);
      assert_message_contains (calls[i].error, "in the middle of a message");
      qmp_test_call_clear (&calls[i]);
    }
  g_assert_true (recorder.closed);
  g_assert_cmpuint (recorder.closed_count, ==, 1);
  g_assert_error (recorder.closed_reason, QVM_ERROR, QVM_ERROR_CLOSED);
  assert_later_calls_fail (client);
  g_assert_cmpuint (recorder.closed_count, ==, 1);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_clean_eof (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
}

static void
test_clean_eof (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_clean_eof, &peer, &recorder);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);

  g_assert_null (result);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_CLOSED);
  assert_message_contains (error, "QEMU closed the QMP connection");
  qmp_test_wait_for (&recorder.closed);
  g_assert_no_error (recorder.closed_reason);
  assert_later_calls_fail (client);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

/* ---- Replies ----------------------------------------------------------- */

static const struct {
  const char *class;
  QvmQmpError code;
} error_classes[] = {
  /* The test's own list, not the library's table. */
  { "BrandNewClass", QVM_QMP_ERROR_UNKNOWN },
  { "KVMMissingCap", QVM_QMP_ERROR_KVM_MISSING_CAP },
  { "DeviceNotActive", QVM_QMP_ERROR_DEVICE_NOT_ACTIVE },
  { "DeviceNotFound", QVM_QMP_ERROR_DEVICE_NOT_FOUND },
  { "CommandNotFound", QVM_QMP_ERROR_COMMAND_NOT_FOUND },
  { "GenericError", QVM_QMP_ERROR_GENERIC_ERROR },
};

static void
script_error_classes (Peer *peer)
{
  peer_handshake (peer);
  for (gsize i = 0; i < G_N_ELEMENTS (error_classes); i++)
    {
      gint64 id = peer_expect (peer, "device_del");

      peer_sendf (peer, "{\"id\": %" G_GINT64_FORMAT ", \"error\": {\"class\": \"%s\", \"desc\": \"failure %" G_GSIZE_FORMAT "\"}}\r\n",
                  id, error_classes[i].class, i);
    }
  peer_wait_eof (peer);
}

static void
test_error_classes (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_error_classes, &peer, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (error_classes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) result = qmp_test_execute (client, "device_del", NULL, &error);
      g_autofree char *desc = g_strdup_printf ("failure %" G_GSIZE_FORMAT, i);

      g_assert_null (result);
      g_assert_error (error, QVM_QMP_ERROR, (gint) error_classes[i].code);
      if (error_classes[i].code == QVM_QMP_ERROR_UNKNOWN)
        {
          assert_message_contains (error, desc);
          assert_message_contains (error, "BrandNewClass");
        }
      else
        g_assert_cmpstr (error->message, ==, desc);
    }
  g_assert_false (qvm_qmp_client_is_closed (client));

  g_clear_object (&client);
  peer_finish (peer);
}

static void
script_late_reply (Peer *peer)
{
  gint64 cancelled_id, id;

  peer_handshake (peer);
  cancelled_id = peer_expect (peer, "query-status");
  peer_wait_signal (peer);
  peer_sendf (peer, "{\"return\": {\"late\": true}, \"id\": %" G_GINT64_FORMAT "}\r\n", cancelled_id);
  id = peer_expect (peer, "query-name");
  peer_sendf (peer, "{\"return\": {\"name\": \"second\"}, \"id\": %" G_GINT64_FORMAT "}\r\n", id);
  peer_wait_eof (peer);
}

static void
test_cancel_drops_late_reply (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_late_reply, &peer, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  QmpTestCall cancelled = { 0 };
  g_autoptr(JsonNode) second = NULL;
  g_autoptr(GError) error = NULL;
  guint commands = 0;

  qvm_qmp_client_execute_async (client, "query-status", NULL, cancellable, qmp_test_on_executed, &cancelled);
  g_assert_cmpuint (qvm_qmp_client_get_pending_count (client), ==, 1);
  g_cancellable_cancel (cancellable);
  qmp_test_wait_for (&cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (qvm_qmp_client_get_pending_count (client), ==, 0);

  /* The late reply is dropped; the next one reaches its own caller. */
  peer_signal (peer);
  second = qmp_test_execute (client, "query-name", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (second), "name"), ==, "second");
  g_assert_false (qvm_qmp_client_is_closed (client));

  /* A call cancelled before it starts is not even sent. */
  qmp_test_call_clear (&cancelled);
  qvm_qmp_client_execute_async (client, "query-status", NULL, cancellable, qmp_test_on_executed, &cancelled);
  qmp_test_wait_for (&cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  qmp_test_call_clear (&cancelled);

  g_clear_object (&client);
  peer_finish_with_stats (peer, NULL, &commands);
  /* qmp_capabilities, the cancelled one and query-name. */
  g_assert_cmpuint (commands, ==, 3);
}

static void
script_wrong_id (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, "{\"return\": {}, \"id\": 999}\r\n");
  peer_wait_eof (peer);
}

static void
script_no_id (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword\"}}\r\n");
  peer_wait_eof (peer);
}

static void
script_second_greeting (Peer *peer)
{
  peer_handshake (peer);
  peer_expect (peer, "query-status");
  peer_send (peer, GREETING_OOB);
  peer_wait_eof (peer);
}

static void
check_protocol_failure (PeerScript  script,
                        const char *fragment)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script, &peer, &recorder);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = qmp_test_execute (client, "query-status", NULL, &error);

  g_assert_null (result);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_PROTOCOL);
  assert_message_contains (error, fragment);
  qmp_test_wait_for (&recorder.closed);
  g_assert_error (recorder.closed_reason, QVM_ERROR, QVM_ERROR_PROTOCOL);

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

static void
test_bad_replies (void)
{
  check_protocol_failure (script_wrong_id, "never sent (id 999)");
  check_protocol_failure (script_no_id, "without an id: JSON parse error");
  check_protocol_failure (script_second_greeting, "second QMP greeting");
}

/* ---- Events ------------------------------------------------------------ */

static void
script_events (Peer *peer)
{
  gint64 id;

  peer_handshake (peer);
  id = peer_expect (peer, "stop");
  peer_sendf (peer, "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"STOP\"}\r\n"
                    "{\"return\": {}, \"id\": %" G_GINT64_FORMAT "}\r\n", id);
  id = peer_expect (peer, "cont");
  /* The event in the same write as the reply, and after it in the stream
   * for the second command. */
  peer_sendf (peer, "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 6}, \"event\": \"RESUME\", "
                    "\"data\": {\"why\": \"asked\"}}\r\n{\"return\": {}, \"id\": %" G_GINT64_FORMAT "}\r\n"
                    "{\"timestamp\": {\"seconds\": 1700000002, \"microseconds\": 7}, \"event\": \"UNRELATED\"}\r\n", id);
  peer_wait_eof (peer);
}

static void
on_stop_event (QvmQmpClient *client,
               const char   *name,
               JsonObject   *data,
               gint64        timestamp,
               gpointer      user_data)
{
  guint *count = user_data;

  g_assert_cmpstr (name, ==, "STOP");
  g_assert_null (data);
  g_assert_cmpint (timestamp, ==, G_GINT64_CONSTANT (1700000000000005));
  (*count)++;
}

static void
on_resume_event (QvmQmpClient *client,
                 const char   *name,
                 JsonObject   *data,
                 gint64        timestamp,
                 gpointer      user_data)
{
  guint *count = user_data;

  g_assert_cmpstr (name, ==, "RESUME");
  g_assert_nonnull (data);
  g_assert_cmpstr (json_object_get_string_member (data, "why"), ==, "asked");
  (*count)++;
}

static void
test_events (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_events, &peer, &recorder);
  QmpTestCall stop = { .recorder = &recorder };
  QmpTestCall cont = { .recorder = &recorder };
  guint stops = 0, resumes = 0;

  g_signal_connect (client, "event::STOP", G_CALLBACK (on_stop_event), &stops);
  g_signal_connect (client, "event::RESUME", G_CALLBACK (on_resume_event), &resumes);

  qvm_qmp_client_execute_async (client, "stop", NULL, NULL, qmp_test_on_executed, &stop);
  qmp_test_wait_for (&stop.done);
  g_assert_no_error (stop.error);
  g_assert_cmpuint (stop.events_seen, ==, 1);
  g_assert_cmpuint (stops, ==, 1);

  qvm_qmp_client_execute_async (client, "cont", NULL, NULL, qmp_test_on_executed, &cont);
  qmp_test_wait_for (&cont.done);
  g_assert_no_error (cont.error);
  g_assert_cmpuint (cont.events_seen, ==, 2);
  g_assert_cmpuint (resumes, ==, 1);

  while (recorder.names->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 0), ==, "STOP");
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 1), ==, "RESUME");
  g_assert_cmpstr (g_ptr_array_index (recorder.names, 2), ==, "UNRELATED");
  g_assert_cmpint (g_array_index (recorder.timestamps, gint64, 2), ==, G_GINT64_CONSTANT (1700000002000007));
  g_assert_cmpuint (stops, ==, 1);
  g_assert_cmpuint (resumes, ==, 1);

  qmp_test_call_clear (&stop);
  qmp_test_call_clear (&cont);
  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  peer_finish (peer);
}

/* ---- Closing ----------------------------------------------------------- */

static void
script_never_answers (Peer *peer)
{
  peer_handshake (peer);
  peer_wait_eof (peer);
}

static void
on_close_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  QmpTestCall *call = data;

  g_assert_true (qvm_qmp_client_close_finish (QVM_QMP_CLIENT (source), result, &call->error));
  call->done = TRUE;
}

static void
on_notify_closed (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    data)
{
  guint *count = data;

  (*count)++;
}

static void
test_close (void)
{
  QmpTestRecorder recorder = { 0 };
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_never_answers, &peer, &recorder);
  QmpTestCall pending = { 0 };
  QmpTestCall closing = { 0 };
  QmpTestCall closing_again = { 0 };
  guint notified = 0;

  g_signal_connect (client, "notify::closed", G_CALLBACK (on_notify_closed), &notified);
  qvm_qmp_client_execute_async (client, "query-status", NULL, NULL, qmp_test_on_executed, &pending);
  qvm_qmp_client_close_async (client, NULL, on_close_done, &closing);
  g_assert_true (qvm_qmp_client_is_closed (client));
  qmp_test_wait_for (&closing.done);
  g_assert_no_error (closing.error);

  /* The pending call failed, ::closed ran before close's callback. */
  g_assert_true (recorder.closed);
  g_assert_no_error (recorder.closed_reason);
  qmp_test_wait_for (&pending.done);
  g_assert_error (pending.error, QVM_ERROR, QVM_ERROR_CLOSED);
  g_assert_cmpuint (notified, ==, 1);

  /* Idempotent. */
  qvm_qmp_client_close_async (client, NULL, on_close_done, &closing_again);
  qmp_test_wait_for (&closing_again.done);
  g_assert_no_error (closing_again.error);
  qmp_test_drain ();
  g_assert_cmpuint (recorder.closed_count, ==, 1);
  g_assert_cmpuint (notified, ==, 1);
  assert_later_calls_fail (client);

  /* The peer saw the end of the stream. */
  peer_finish (peer);

  qmp_test_call_clear (&pending);
  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
}

static void
test_dispose_closes (void)
{
  Peer *peer;
  QvmQmpClient *client = start_client (script_never_answers, &peer, NULL);

  g_object_unref (client);
  /* Joins only once the peer saw the end of the stream. */
  peer_finish (peer);
  qmp_test_drain ();
}

/* Each _finish() takes only the results of its own _async(): another
 * operation's result is a programmer error, refused with a critical. */
static void
on_result_kept (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static void
test_finish_checks_tag (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_never_answers, &peer, NULL);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GAsyncResult) executed = NULL;
  g_autoptr(GAsyncResult) closed = NULL;
  g_autoptr(GTask) foreign = g_task_new (NULL, NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancelled);
  qvm_qmp_client_execute_async (client, "query-status", NULL, cancelled, on_result_kept, &executed);
  qvm_qmp_client_close_async (client, NULL, on_result_kept, &closed);
  while (executed == NULL || closed == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_null (qvm_qmp_client_execute_finish (client, closed, &error));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_false (qvm_qmp_client_close_finish (client, executed, &error));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_false (g_async_initable_init_finish (G_ASYNC_INITABLE (client), closed, &error));
  g_test_assert_expected_messages ();
  /* A task of nobody's, as the socket-path constructor's are. */
  g_task_set_source_tag (foreign, test_finish_checks_tag);
  g_task_return_boolean (foreign, TRUE);
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL, "*g_async_result_is_tagged*");
  g_assert_null (qvm_qmp_client_connect_finish (G_ASYNC_RESULT (foreign), &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  /* The right pairs still work. */
  g_assert_null (qvm_qmp_client_execute_finish (client, executed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (qvm_qmp_client_close_finish (client, closed, NULL));

  peer_finish (peer);
  qmp_test_drain ();
}

/* ---- Flow control ------------------------------------------------------ */

#define BACKLOG_COMMANDS 100
#define BACKLOG_ARGUMENT_SIZE (64 * 1024)

static void
script_slow_reader (Peer *peer)
{
  peer_handshake (peer);
  /* Let the client's queue back up before reading anything. */
  peer_wait_signal (peer);
  for (int i = 0; i < BACKLOG_COMMANDS; i++)
    {
      g_autoptr(JsonObject) command = peer_read_command (peer);
      JsonObject *arguments;

      g_assert_nonnull (command);
      arguments = json_object_get_object_member (command, "arguments");
      g_assert_cmpuint (strlen (json_object_get_string_member (arguments, "filler")), ==, BACKLOG_ARGUMENT_SIZE);
      peer_sendf (peer, "{\"return\": {\"n\": %" G_GINT64_FORMAT "}, \"id\": %" G_GINT64_FORMAT "}\r\n",
                  json_object_get_int_member (arguments, "n"), json_object_get_int_member (command, "id"));
    }
  peer_wait_eof (peer);
}

typedef struct {
  Peer *peer;
  guint ticks;
} Ticker;

static gboolean
on_tick (gpointer data)
{
  Ticker *ticker = data;

  /* The main loop runs while the writer waits for room. */
  if (++ticker->ticks == 3)
    peer_signal (ticker->peer);
  return ticker->ticks < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
test_backpressure (void)
{
  Peer *peer;
  g_autoptr(QvmQmpClient) client = start_client (script_slow_reader, &peer, NULL);
  g_autofree char *filler = g_malloc (BACKLOG_ARGUMENT_SIZE + 1);
  QmpTestCall *calls = g_new0 (QmpTestCall, BACKLOG_COMMANDS);
  Ticker ticker = { peer, 0 };

  memset (filler, 'f', BACKLOG_ARGUMENT_SIZE);
  filler[BACKLOG_ARGUMENT_SIZE] = '\0';
  for (int i = 0; i < BACKLOG_COMMANDS; i++)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();

      json_object_set_string_member (arguments, "filler", filler);
      json_object_set_int_member (arguments, "n", i);
      qvm_qmp_client_execute_async (client, "fill", arguments, NULL, qmp_test_on_executed, &calls[i]);
    }
  g_timeout_add (10, on_tick, &ticker);

  for (int i = 0; i < BACKLOG_COMMANDS; i++)
    {
      qmp_test_wait_for (&calls[i].done);
      g_assert_no_error (calls[i].error);
      g_assert_cmpint (json_object_get_int_member (json_node_get_object (calls[i].result), "n"), ==, i);
      qmp_test_call_clear (&calls[i]);
    }
  g_assert_cmpuint (ticker.ticks, ==, 3);
  g_free (calls);

  g_clear_object (&client);
  peer_finish (peer);
}

/* ---- Other streams and the blocking API -------------------------------- */

static void
script_generic_stream (Peer *peer)
{
  peer_handshake (peer);
  for (int i = 0; i < 50; i++)
    {
      gint64 id = peer_expect (peer, "query-status");

      peer_sendf (peer, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": %d}, \"event\": \"TICK\"}\r\n"
                        "{\"return\": {\"n\": %d}, \"id\": %" G_GINT64_FORMAT "}\r\n", i, i, id);
    }
  peer_wait_eof (peer);
}

/* A stream that is not a GSocketConnection takes the GIO stream path. */
static void
test_generic_stream (void)
{
  QmpTestRecorder recorder = { 0 };
  g_autoptr(GIOStream) connection = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(QvmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  QmpTestCall calls[50] = { { 0 } };
  Peer *peer = peer_start (script_generic_stream, &connection);

  /* The connection closes its socket when finalized: keep it until the
   * end. */
  stream = g_simple_io_stream_new (g_io_stream_get_input_stream (connection),
                                   g_io_stream_get_output_stream (connection));
  client = qmp_test_client_new (stream, &error);
  g_assert_no_error (error);
  g_clear_object (&stream);
  qmp_test_recorder_attach (&recorder, client);

  for (int i = 0; i < 50; i++)
    {
      calls[i].recorder = &recorder;
      qvm_qmp_client_execute_async (client, "query-status", NULL, NULL, qmp_test_on_executed, &calls[i]);
    }
  for (int i = 0; i < 50; i++)
    {
      qmp_test_wait_for (&calls[i].done);
      g_assert_no_error (calls[i].error);
      g_assert_cmpint (json_object_get_int_member (json_node_get_object (calls[i].result), "n"), ==, i);
      g_assert_cmpuint (calls[i].events_seen, >=, (guint) i + 1);
      qmp_test_call_clear (&calls[i]);
    }

  qmp_test_recorder_clear (&recorder);
  g_clear_object (&client);
  qmp_test_drain ();
  g_clear_object (&connection);
  peer_finish (peer);
}

static void
on_closed_count (QvmQmpClient *client,
                 GError       *reason,
                 gpointer      data)
{
  guint *count = data;

  g_assert_no_error (reason);
  (*count)++;
}

static void
test_blocking (void)
{
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(QvmQmpClient) client = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;
  guint closed = 0;
  Peer *peer = peer_start (script_handshake_and_status, &stream);

  client = qvm_qmp_client_new_sync (stream, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_qmp_client_get_qemu_version (client), ==, "7.2.22");
  g_signal_connect (client, "closed", G_CALLBACK (on_closed_count), &closed);

  status = qvm_qmp_client_execute (client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (status), "running"));

  g_assert_true (qvm_qmp_client_close (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (closed, ==, 1);
  g_assert_true (qvm_qmp_client_close (client, NULL, &error));
  g_assert_cmpuint (closed, ==, 1);

  g_assert_null (qvm_qmp_client_execute (client, "query-status", NULL, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_CLOSED);

  g_clear_object (&client);
  peer_finish (peer);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp-fake/handshake", test_handshake);
  g_test_add_func ("/qmp-fake/handshake-without-oob", test_handshake_without_oob);
  g_test_add_func ("/qmp-fake/handshake-errors", test_handshake_errors);
  g_test_add_func ("/qmp-fake/garbage", test_garbage);
  g_test_add_func ("/qmp-fake/huge-line", test_huge_line);
  g_test_add_func ("/qmp-fake/slow-drip", test_slow_drip);
  g_test_add_func ("/qmp-fake/half-then-silence", test_half_then_silence);
  g_test_add_func ("/qmp-fake/not-qmp", test_not_qmp);
  g_test_add_func ("/qmp-fake/dies-mid-reply", test_dies_mid_reply);
  g_test_add_func ("/qmp-fake/clean-eof", test_clean_eof);
  g_test_add_func ("/qmp-fake/error-classes", test_error_classes);
  g_test_add_func ("/qmp-fake/cancel-drops-late-reply", test_cancel_drops_late_reply);
  g_test_add_func ("/qmp-fake/bad-replies", test_bad_replies);
  g_test_add_func ("/qmp-fake/events", test_events);
  g_test_add_func ("/qmp-fake/close", test_close);
  g_test_add_func ("/qmp-fake/dispose-closes", test_dispose_closes);
  g_test_add_func ("/qmp-fake/finish-checks-tag", test_finish_checks_tag);
  g_test_add_func ("/qmp-fake/backpressure", test_backpressure);
  g_test_add_func ("/qmp-fake/generic-stream", test_generic_stream);
  g_test_add_func ("/qmp-fake/blocking", test_blocking);

  return g_test_run ();
}
