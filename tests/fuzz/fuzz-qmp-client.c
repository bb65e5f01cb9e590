/* fuzz-qmp-client.c: QvmQmpClient's dispatcher against a hostile peer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is what the peer (QEMU) sends, line by line, on one end of a
 * socket pair; the client runs on a private main context that this target
 * iterates itself, so a run is synchronous and replays. Once the
 * handshake is done the target sends commands (ids 2, 3… since the
 * handshake's qmp_capabilities is 1), more as replies come in, and cancels
 * one of them at some line. After the last line the connection ends one of
 * three ways: the peer's end of stream, close() by the caller, or the
 * caller dropping the client. Every callback must run exactly once with a
 * result or an error, "closed" at most once and after every event, and
 * nothing may be left behind (the sanitizers check memory).
 */

#include "fuzz-common.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qvm.h"

#define MAX_CALLS 8

typedef struct _Run Run;

typedef struct {
  Run          *run;
  GCancellable *cancellable;
  gboolean      done;
} Call;

struct _Run {
  QvmQmpClient *client;
  gboolean      made;
  gboolean      made_ok;
  guint         n_calls;
  guint         n_done;
  Call          calls[MAX_CALLS];
  guint         closed_count;
  guint         events;
  gboolean      close_done;
};

static const char *const commands[] = {
  "query-status", "cont", "stop", "system_powerdown", "screendump", "quit",
};

static void
check_call_error (const GError *error)
{
  fuzz_check (error != NULL && error->message != NULL);
  fuzz_check (g_utf8_validate (error->message, -1, NULL));
  fuzz_check (error->domain == QVM_QMP_ERROR || error->domain == QVM_ERROR ||
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
}

static void
on_executed (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qvm_qmp_client_execute_finish (QVM_QMP_CLIENT (source), result, &error);

  fuzz_check (!call->done);
  call->done = TRUE;
  call->run->n_done++;
  fuzz_check ((value == NULL) != (error == NULL));
  fuzz_report ("call", error);
  if (error != NULL)
    check_call_error (error);
}

static void
start_call (Run *run)
{
  Call *call;
  g_autoptr(JsonObject) arguments = NULL;

  if (run->n_calls == MAX_CALLS)
    return;
  call = &run->calls[run->n_calls];
  call->run = run;
  call->cancellable = g_cancellable_new ();
  if (run->n_calls % 2 == 1)
    {
      arguments = json_object_new ();
      json_object_set_string_member (arguments, "filename", "/dev/null");
    }
  qvm_qmp_client_execute_async (run->client, commands[run->n_calls % G_N_ELEMENTS (commands)],
                                arguments, call->cancellable, on_executed, call);
  run->n_calls++;
}

static void
on_event (QvmQmpClient *client,
          const char   *name,
          JsonObject   *data,
          gint64        timestamp,
          gpointer      user_data)
{
  Run *run = user_data;

  fuzz_check (run->closed_count == 0);
  fuzz_check (name != NULL);
  run->events++;
}

static void
on_closed (QvmQmpClient *client,
           GError       *reason,
           gpointer      user_data)
{
  Run *run = user_data;

  fuzz_check (qvm_qmp_client_is_closed (client));
  run->closed_count++;
  fuzz_report ("closed", reason);
  fuzz_check (run->closed_count == 1);
  if (reason != NULL)
    fuzz_check (g_utf8_validate (reason->message, -1, NULL));
}

static void
on_made (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  fuzz_check (!run->made);
  run->made = TRUE;
  run->client = qvm_qmp_client_new_finish (result, &error);
  run->made_ok = run->client != NULL;
  fuzz_report ("handshake", error);
  fuzz_check (run->made_ok == (error == NULL));
  if (error != NULL)
    {
      check_call_error (error);
      return;
    }

  g_signal_connect (run->client, "event", G_CALLBACK (on_event), run);
  g_signal_connect (run->client, "closed", G_CALLBACK (on_closed), run);
  fuzz_check (qvm_qmp_client_get_qemu_version (run->client) != NULL);
  for (int i = 0; i < 3; i++)
    start_call (run);
}

static void
on_close_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  fuzz_check (!run->close_done);
  run->close_done = TRUE;
  /* Closing never fails for lack of a peer. */
  qvm_qmp_client_close_finish (QVM_QMP_CLIENT (source), result, &error);
}

/* Runs what is ready without blocking, reading (and dropping) what the
 * client sent; starts a new command for each reply that came in. */
static void
drain (Run          *run,
       GMainContext *context,
       int           peer)
{
  char buffer[4096];

  for (;;)
    {
      guint done_before = run->n_done;
      gboolean dispatched = FALSE;

      while (recv (peer, buffer, sizeof buffer, MSG_DONTWAIT) > 0)
        ;
      while (g_main_context_iteration (context, FALSE))
        dispatched = TRUE;
      if (run->client != NULL && !qvm_qmp_client_is_closed (run->client))
        for (guint i = done_before; i < run->n_done; i++)
          start_call (run);
      if (!dispatched)
        break;
    }
}

/* Sends @data, running the client when the socket is full. FALSE when the
 * client is gone. */
static gboolean
peer_send (Run          *run,
           GMainContext *context,
           int           peer,
           const char   *data,
           gsize         length)
{
  while (length > 0)
    {
      gssize n = send (peer, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        {
          drain (run, context, peer);
          g_main_context_iteration (context, FALSE);
          continue;
        }
      if (n <= 0)
        return FALSE;
      data += n;
      length -= n;
    }
  return TRUE;
}

static gboolean
all_calls_done (Run *run)
{
  return run->n_done == run->n_calls;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  FuzzRandom random;
  guint cancel_at_line, ending, line = 0;
  gsize offset = 0;
  int fds[2];

  fuzz_setup ();
  fuzz_random_init (&random, data, size);
  cancel_at_line = fuzz_random_below (&random, 8);
  ending = fuzz_random_below (&random, 3);

  fuzz_check (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  fuzz_check (socket != NULL);
  stream = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));

  g_main_context_push_thread_default (context);
  qvm_qmp_client_new_async (stream, NULL, on_made, &run);
  g_clear_object (&stream);

  while (offset < size)
    {
      const uint8_t *newline = memchr (data + offset, '\n', size - offset);
      gsize length = newline != NULL ? (gsize) (newline - (data + offset)) + 1 : size - offset;

      if (!peer_send (&run, context, fds[1], (const char *) data + offset, length))
        break;
      offset += length;
      drain (&run, context, fds[1]);

      if (line++ == cancel_at_line && run.n_calls > 0)
        g_cancellable_cancel (run.calls[run.n_calls - 1].cancellable);
      drain (&run, context, fds[1]);
    }

  /* The peer has nothing more to say. */
  shutdown (fds[1], SHUT_WR);
  while (!run.made)
    g_main_context_iteration (context, TRUE);

  if (run.client != NULL)
    {
      switch (ending)
        {
        case 0:
          /* The end of stream closes the client and fails what waits. */
          while (run.closed_count == 0 || !all_calls_done (&run))
            g_main_context_iteration (context, TRUE);
          fuzz_check (qvm_qmp_client_is_closed (run.client));
          break;
        case 1:
          qvm_qmp_client_close_async (run.client, NULL, on_close_done, &run);
          while (!run.close_done || !all_calls_done (&run))
            g_main_context_iteration (context, TRUE);
          fuzz_check (qvm_qmp_client_is_closed (run.client));
          break;
        default:
          /* Dropping the client closes it too. */
          g_signal_handlers_disconnect_by_data (run.client, &run);
          g_clear_object (&run.client);
          while (!all_calls_done (&run))
            g_main_context_iteration (context, TRUE);
          break;
        }
    }
  fuzz_check (all_calls_done (&run));

  if (run.client != NULL)
    g_signal_handlers_disconnect_by_data (run.client, &run);
  g_clear_object (&run.client);
  close (fds[1]);
  /* Whatever the client left to run (its coroutines winding down). */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);

  for (guint i = 0; i < run.n_calls; i++)
    g_clear_object (&run.calls[i].cancellable);
  return 0;
}
