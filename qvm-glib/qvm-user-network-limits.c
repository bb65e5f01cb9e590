/* qvm-user-network-limits.c: what a guest's request may be
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The size of the request line and headers, Content-Length and Range
 * checked before libsoup acts on them (qvm-request-headers.c parses
 * them), the body's size as it arrives, and the answer a refused request
 * gets. Every handler of a QvmUserNetwork is behind these checks.
 */

#include "config.h"
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-request-headers-private.h"
#include "qvm-user-network.h"
#include "qvm-user-network-private.h"

/* ------------------------------------------------------------------ */
/* Limits on requests                                                   */

/* The size of the request line and headers, as the guest sent them. */
static gsize
request_header_size (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;
  /* "METHOD PATH?QUERY HTTP/1.1\r\n" and the final "\r\n" */
  gsize size = strlen (method != NULL ? method : "") + 1 + 11 + 2;

  if (uri != NULL)
    {
      const char *query = g_uri_get_query (uri);

      size += strlen (g_uri_get_path (uri));
      if (query != NULL)
        size += 1 + strlen (query);
    }

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    size += strlen (name) + 2 + strlen (value) + 2;

  return size;
}

typedef struct {
  GIOStream *stream;
  char *response;
} Rejection;

static void
rejection_free (Rejection *rejection)
{
  g_clear_object (&rejection->stream);
  g_free (rejection->response);
  g_free (rejection);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rejection, rejection_free)

static void
on_rejection_written (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(Rejection) rejection = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_debug ("Could not send a refusal to the guest: %s", error->message);

  /* Closing a socket connection does not block. */
  g_io_stream_close (rejection->stream, NULL, NULL);
}

/* RFC 9110's reason phrases of the statuses the network answers itself. */
static const char *
rejection_phrase (guint status)
{
  switch (status)
    {
    case STATUS_BAD_REQUEST:
      return "Bad Request";
    case STATUS_CONTENT_TOO_LARGE:
      return "Content Too Large";
    case STATUS_HEADER_FIELDS_TOO_LARGE:
      return "Request Header Fields Too Large";
    default:
      g_assert_not_reached ();
    }
}

/* Answers @msg with @status and closes its connection, without reading any
 * more of the request: taking the connection away from libsoup is the one
 * way to stop it from reading the body. */
static void
reject_message (QvmUserNetwork    *self,
                SoupServerMessage *msg,
                guint              status)
{
  g_autoptr(Rejection) rejection = g_new0 (Rejection, 1);
  GOutputStream *output;
  const char *response;

  rejection->stream = soup_server_message_steal_connection (msg);
  if (rejection->stream == NULL)
    return;

  rejection->response = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                         "Connection: close\r\n"
                                         "Content-Length: 0\r\n"
                                         "\r\n",
                                         status, rejection_phrase (status));

  /* Arguments are evaluated in no set order: nothing may read rejection
   * next to g_steal_pointer(). */
  output = g_io_stream_get_output_stream (rejection->stream);
  response = rejection->response;
  g_output_stream_write_all_async (output, response, strlen (response),
                                   G_PRIORITY_DEFAULT, self->cancellable,
                                   on_rejection_written,
                                   g_steal_pointer (&rejection));
}

/* libsoup reads a body by Content-Length as g_ascii_strtoull() gives it,
 * so "-1" or a list would reach its asserts: only a plain number passes.
 * Every Content-Length header counts (get_list joins them with ", "). */
static gboolean
check_content_length (QvmUserNetwork    *self,
                      SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *value = soup_message_headers_get_list (headers, "Content-Length");
  guint64 length;

  if (value == NULL)
    return TRUE;

  if (!qvm_request_parse_content_length (value, &length))
    {
      g_debug ("Refusing a request with Content-Length “%s”", value);
      reject_message (self, msg, STATUS_BAD_REQUEST);
      return FALSE;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      length > self->max_body_size)
    {
      g_debug ("Refusing a request body of %" G_GUINT64_FORMAT " bytes (limit %u)",
               length, self->max_body_size);
      reject_message (self, msg, STATUS_CONTENT_TOO_LARGE);
      return FALSE;
    }

  return TRUE;
}

/* libsoup answers Range by itself once the handler has set a 200 answer,
 * with one in-memory copy of the body per listed range and numbers it
 * trusts to overflow. Only one plain range reaches the handler; without the
 * header the whole answer goes out, which RFC 9110 allows. */
static void
drop_unplain_range (SoupMessageHeaders *headers)
{
  const char *range = soup_message_headers_get_list (headers, "Range");
  gint64 first;
  gint64 last;

  if (range != NULL && !qvm_request_parse_range (range, &first, &last))
    {
      g_debug ("Ignoring the request's Range “%.64s”", range);
      soup_message_headers_remove (headers, "Range");
    }
}

/* Once the handler is done, the range is fitted to the answer's body, as
 * libsoup does not check it against the body's length. An answer not
 * complete by then (a paused message without a 200 and a body yet) goes
 * out whole. (A handler that pauses after a 200 with a body and later
 * shortens that body would take the fitted range out of bounds again: the
 * documentation asks handlers not to.) */
void
qvm_user_network_fit_range_to_answer (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  const char *range = soup_message_headers_get_one (headers, "Range");
  g_autofree char *fitted = NULL;

  if (range == NULL)
    return;

  if (soup_server_message_get_status (msg) == SOUP_STATUS_OK && body->length > 0)
    fitted = qvm_request_range_fit (range, body->length);

  if (fitted != NULL)
    soup_message_headers_replace (headers, "Range", fitted);
  else
    soup_message_headers_remove (headers, "Range");
}

static void
on_got_headers (SoupServerMessage *msg,
                gpointer           user_data)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (user_data);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gsize header_size = request_header_size (msg);

  if (header_size > self->max_header_size)
    {
      g_debug ("Refusing a request with %" G_GSIZE_FORMAT " bytes of headers (limit %u)",
               header_size, self->max_header_size);
      reject_message (self, msg, STATUS_HEADER_FIELDS_TOO_LARGE);
      return;
    }

  if (!check_content_length (self, msg))
    return;

  drop_unplain_range (headers);
}

/* A body without announced length (chunked) is counted as it arrives. */
static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (user_data);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  if (body->length > (goffset) self->max_body_size)
    {
      g_debug ("Refusing a request body of more than %u bytes", self->max_body_size);
      reject_message (self, msg, STATUS_CONTENT_TOO_LARGE);
    }
}

void
qvm_user_network_on_request_started (SoupServer        *server,
                                     SoupServerMessage *msg,
                                     gpointer           user_data)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (user_data);
  SoupMessageHeaders *response_headers = soup_server_message_get_response_headers (msg);

  /* libsoup keeps a connection open only on a server with listeners of its
   * own, which ours has not (it accepts connections itself, see
   * on_listener_ready()): say so to the guest. */
  soup_message_headers_replace (response_headers, "Connection", "close");

  /* Connected after libsoup's own handlers, so the request line is parsed. */
  g_signal_connect_object (msg, "got-headers", G_CALLBACK (on_got_headers), self, 0);
  g_signal_connect_object (msg, "got-chunk", G_CALLBACK (on_got_chunk), self, 0);
}

