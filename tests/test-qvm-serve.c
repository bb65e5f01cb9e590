/* test-qvm-serve.c: the metadata service of `qvm run`: the path rules of
 * the served folder and the outbox, and the handler over real HTTP
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <glib/gstdio.h>

#include "qvm-serve.h"
#include "testutil.h"

#define SECRET "the secret outside the served folder"

/* FOLDER/secret, and FOLDER/root served: a, sub/b, in -> a, out ->
 * ../secret, up -> .., outbox/ with evil -> ../../secret. */
typedef struct {
  char *folder;
  char *root;
  char *outbox;
} Fixture;

static char *
path_in (Fixture *fixture, const char *name)
{
  return g_build_filename (fixture->folder, name, NULL);
}

static void
write_file (Fixture *fixture, const char *name, const char *text)
{
  g_autofree char *path = path_in (fixture, name);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
make_link (Fixture *fixture, const char *target, const char *name)
{
  g_autofree char *path = path_in (fixture, name);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-test-serve-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->root = path_in (fixture, "root");
  fixture->outbox = path_in (fixture, "root/outbox");
  sub = path_in (fixture, "root/sub");
  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (fixture->outbox, 0755), ==, 0);
  write_file (fixture, "secret", SECRET);
  write_file (fixture, "root/a", "file a");
  write_file (fixture, "root/sub/b", "file b");
  make_link (fixture, "a", "root/in");
  make_link (fixture, "../secret", "root/out");
  make_link (fixture, "..", "root/up");
  make_link (fixture, "../../secret", "root/outbox/evil");
}

static int
remove_entry (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_entry (child);
        }
    }
  return g_remove (path);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  remove_entry (fixture->folder);
  g_free (fixture->folder);
  g_free (fixture->root);
  g_free (fixture->outbox);
}

/* ------------------------------------------------------------------ */
/* The rules                                                            */

static void
assert_resolves (Fixture *fixture, const char *path, const char *expected_name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = qvm_serve_resolve (fixture->root, path, &error);
  g_autofree char *expected_path = path_in (fixture, expected_name);
  g_autofree char *expected = realpath (expected_path, NULL);

  g_assert_no_error (error);
  g_assert_cmpstr (resolved, ==, expected);
}

static void
assert_refused (Fixture *fixture, const char *path, int code)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = qvm_serve_resolve (fixture->root, path, &error);

  g_test_message ("%s: %s", path, error != NULL ? error->message : "(accepted)");
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_null (resolved);
}

static void
test_resolve (Fixture *fixture, gconstpointer data)
{
  assert_resolves (fixture, "/a", "root/a");
  assert_resolves (fixture, "/sub/b", "root/sub/b");
  assert_resolves (fixture, "//sub//b", "root/sub/b");
  /* A link that stays inside is followed. */
  assert_resolves (fixture, "/in", "root/a");

  /* Climbing, plain or encoded. */
  assert_refused (fixture, "/../secret", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/sub/../a", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/./a", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/%2e%2e/secret", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/sub%2f..%2f..%2fsecret", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/a%00.txt", G_IO_ERROR_PERMISSION_DENIED);
  /* Not absolute. */
  assert_refused (fixture, "a", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "", G_IO_ERROR_PERMISSION_DENIED);
  /* Links that lead out, to a file or through a folder. */
  assert_refused (fixture, "/out", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/up/secret", G_IO_ERROR_PERMISSION_DENIED);
  assert_refused (fixture, "/outbox/evil", G_IO_ERROR_PERMISSION_DENIED);
  /* What is not a file. */
  assert_refused (fixture, "/", G_IO_ERROR_IS_DIRECTORY);
  assert_refused (fixture, "/sub", G_IO_ERROR_IS_DIRECTORY);
  assert_refused (fixture, "/missing", G_IO_ERROR_NOT_FOUND);
}

static void
test_outbox_name (void)
{
  const struct { const char *path; const char *name; } cases[] = {
    { "/result", "result" },
    { "/a/b", "a_b" },
    { "/logs/2026/x.txt", "logs_2026_x.txt" },
    { "/../x", NULL },
    { "/a/./b", NULL },
    { "/%2e%2e", NULL },
    { "/a%2fb", NULL },
    { "/", NULL },
    { "x", NULL },
    /* Names are printed: no control characters, UTF-8 only. */
    { "/caf%c3%a9", "caf\xc3\xa9" },
    { "/a%1b%5b2J", NULL },
    { "/a%0a", NULL },
    { "/a%c2%9b", NULL },
    { "/a%ff", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = qvm_serve_outbox_name (cases[i].path, &error);

      g_assert_cmpstr (name, ==, cases[i].name);
      if (cases[i].name == NULL)
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      else
        g_assert_no_error (error);
    }
}

/* ------------------------------------------------------------------ */
/* Over HTTP: a real SoupServer, requests written by hand so that paths
 * reach the server as written.                                         */

typedef struct {
  GSocket *socket;
  char    *request;
  char    *response;
  gboolean done;
} RawRequest;

static gpointer
raw_request_thread (gpointer data)
{
  RawRequest *raw = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) received = g_byte_array_new ();
  gsize length = strlen (raw->request);
  gsize sent = 0;
  char buffer[4096];
  gssize got;

  while (sent < length)
    {
      gssize n = g_socket_send (raw->socket, raw->request + sent, length - sent, NULL, &error);

      g_assert_no_error (error);
      sent += n;
    }
  while ((got = g_socket_receive (raw->socket, buffer, sizeof buffer, NULL, NULL)) > 0)
    g_byte_array_append (received, (guint8 *) buffer, got);
  g_byte_array_append (received, (guint8 *) "", 1);
  raw->response = (char *) g_byte_array_free (g_steal_pointer (&received), FALSE);
  g_atomic_int_set (&raw->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* Sends @method @path with @body to @server over a socketpair, as written
 * (an HTTP client would normalise ".."), and returns the response's
 * status. */
static guint
request (SoupServer *server, const char *method, const char *path, const char *body,
         char **response)
{
  RawRequest raw = { NULL, NULL, NULL, FALSE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) server_end = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  GThread *thread;
  int fds[2];
  guint status = 0;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  server_end = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  raw.socket = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (server_end);
  /* A socketpair has no addresses; say what the guest's would be. */
  local = g_inet_socket_address_new_from_string ("169.254.169.254", 80);
  remote = g_inet_socket_address_new_from_string ("169.254.2.15", 40000);
  soup_server_accept_iostream (server, G_IO_STREAM (connection), local, remote, &error);
  g_assert_no_error (error);

  raw.request = g_strdup_printf ("%s %s HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                                 "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                                 method, path, body != NULL ? strlen (body) : 0,
                                 body != NULL ? body : "");
  thread = g_thread_new ("raw-request", raw_request_thread, &raw);
  while (!g_atomic_int_get (&raw.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_free (raw.request);
  g_object_unref (raw.socket);

  g_assert_true (g_str_has_prefix (raw.response, "HTTP/1.1 "));
  status = atoi (raw.response + strlen ("HTTP/1.1 "));
  {
    g_autofree char *printable = qvm_serve_escape (path);

    g_test_message ("%s %s -> %u", method, printable, status);
  }
  if (response != NULL)
    *response = raw.response;
  else
    g_free (raw.response);
  return status;
}

/* Stops @server and lets its connections finish closing, so that nothing
 * it accepted outlives the test. */
static void
stop_server (SoupServer *server)
{
  soup_server_disconnect (server);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static char *
read_in (Fixture *fixture, const char *name)
{
  g_autofree char *path = path_in (fixture, name);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

static void
test_handler (Fixture *fixture, gconstpointer data)
{
  g_autofree char *payload = path_in (fixture, "secret");
  QvmServe *serve = qvm_serve_new (fixture->root, NULL, fixture->outbox);
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  const char *escapes[] = { "/../secret", "/%2e%2e/secret", "/sub/../../secret", "/out",
                            "/up/secret", "/outbox/evil", "/..%2fsecret" };
  g_autofree char *answer = NULL;
  g_autofree char *result = NULL;
  g_autofree char *status = NULL;
  g_autofree char *nested = NULL;
  g_autofree char *secret = NULL;

  soup_server_add_handler (server, NULL, qvm_serve_handle, serve, NULL);

  g_assert_cmpuint (request (server, "GET", "/a", NULL, &answer), ==, 200);
  g_assert_true (g_str_has_suffix (answer, "\r\n\r\nfile a"));
  g_assert_cmpuint (request (server, "GET", "/sub/b", NULL, NULL), ==, 200);
  g_assert_cmpuint (request (server, "GET", "/missing", NULL, NULL), ==, 404);
  g_assert_cmpuint (request (server, "DELETE", "/a", NULL, NULL), ==, 405);

  /* No escape gets the secret, whatever the server makes of the path. */
  for (guint i = 0; i < G_N_ELEMENTS (escapes); i++)
    {
      g_autofree char *response = NULL;
      guint code = request (server, "GET", escapes[i], NULL, &response);

      g_assert_cmpuint (code, !=, 200);
      g_assert_null (strstr (response, SECRET));
    }
  g_assert_cmpuint (request (server, "GET", "/out", NULL, NULL), ==, 403);

  /* The outbox: one file per path; the result with its status. */
  g_assert_cmpuint (request (server, "POST", "/result?status=3", "the answer", NULL), ==, 200);
  g_assert_cmpuint (request (server, "PUT", "/logs/x", "nested", NULL), ==, 200);
  result = read_in (fixture, "root/outbox/result");
  status = read_in (fixture, "root/outbox/result.status");
  nested = read_in (fixture, "root/outbox/logs_x");
  g_assert_cmpstr (result, ==, "the answer");
  g_assert_cmpstr (status, ==, "3\n");
  g_assert_cmpstr (nested, ==, "nested");

  /* A link in the outbox is not followed; a climbing name is refused. */
  g_assert_cmpuint (request (server, "PUT", "/evil", "overwritten", NULL), !=, 200);
  g_assert_cmpuint (request (server, "PUT", "/%2e%2e", "overwritten", NULL), ==, 403);
  secret = read_in (fixture, "secret");
  g_assert_cmpstr (secret, ==, SECRET);

  /* The outbox as a whole is bounded. */
  qvm_serve_set_outbox_limit (serve, 32);
  g_assert_cmpuint (request (server, "PUT", "/big", "more than the few bytes left", NULL), ==, 507);
  {
    g_autofree char *big = read_in (fixture, "root/outbox/big");

    g_assert_null (big);
  }

  /* --payload: /payload is that file, wherever it lies. */
  stop_server (server);
  qvm_serve_free (serve);
  serve = qvm_serve_new (fixture->root, payload, fixture->outbox);
  g_clear_object (&server);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, qvm_serve_handle, serve, NULL);
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (request (server, "GET", "/payload", NULL, &answer), ==, 200);
  g_assert_true (g_str_has_suffix (answer, SECRET));
  stop_server (server);
  qvm_serve_free (serve);
}

static void
test_escape (void)
{
  const struct { const char *text; const char *escaped; } cases[] = {
    { "/plain/path?x=1", "/plain/path?x=1" },
    { "", "" },
    { "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80" },
    { "\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07" },
    { "a\nb\rc\td", "a\\x0ab\\x0dc\\x09d" },
    { "\x7f", "\\x7f" },
    /* C1 controls: CSI as a character, and as a lone byte. */
    { "\xc2\x9b" "31m", "\\u009b31m" },
    { "\x9b" "31m", "\\x9b31m" },
    /* Not UTF-8: each bad byte alone, good text around it kept. */
    { "\xff\xfe" "ok", "\\xff\\xfeok" },
    { "\xe2\x86", "\\xe2\\x86" },
    { "\xc0\xaf", "\\xc0\\xaf" },
    /* A right-to-left override, a format character beyond the BMP. */
    { "\xe2\x80\xae" "txt", "\\u202etxt" },
    { "\xf3\xa0\x80\x81", "\\U000e0001" },
    { "back\\slash", "back\\\\slash" },
  };

  g_assert_null (qvm_serve_escape (NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *escaped = qvm_serve_escape (cases[i].text);

      g_assert_cmpstr (escaped, ==, cases[i].escaped);
      g_assert_true (qvm_serve_is_printable (escaped));
      /* Printable exactly when nothing but backslashes were escaped. */
      g_assert_cmpint (qvm_serve_is_printable (cases[i].text), ==,
                       strstr (cases[i].escaped, "\\x") == NULL &&
                       strstr (cases[i].escaped, "\\u") == NULL &&
                       strstr (cases[i].escaped, "\\U") == NULL);
    }
}

typedef struct {
  GPtrArray *lines;
} Printed;

static void
record_log (const char *method, const char *path, guint status, gpointer user_data)
{
  Printed *printed = user_data;

  g_ptr_array_add (printed->lines, g_strdup_printf ("%s %s %u", method, path, status));
}

static void
record_result (const char *status, gpointer user_data)
{
  Printed *printed = user_data;

  g_ptr_array_add (printed->lines, g_strdup_printf ("result %s", status));
}

/* What `qvm run` prints from guest input carries no control character. */
static void
test_printed_escaped (Fixture *fixture, gconstpointer data)
{
  QvmServe *serve = qvm_serve_new (fixture->root, NULL, fixture->outbox);
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  Printed printed = { g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *status = NULL;

  qvm_serve_set_callbacks (serve, record_log, NULL, record_result, &printed);
  soup_server_add_handler (server, NULL, qvm_serve_handle, serve, NULL);

  g_assert_cmpuint (request (server, "POST", "/result?status=%1b%5d0%3bowned%07%c2%9b2J", "r", NULL),
                    ==, 200);
  g_assert_cmpuint (request (server, "GET", "/a\x1b[2J\x9b" "1m", NULL, NULL), ==, 404);
  /* A name that would print a control character is not stored. */
  g_assert_cmpuint (request (server, "PUT", "/x%1b%5b31m", "body", NULL), ==, 403);
  g_assert_cmpuint (request (server, "PUT", "/x%ff", "body", NULL), ==, 403);

  g_assert_cmpuint (printed.lines->len, ==, 5);
  g_assert_cmpstr (printed.lines->pdata[0], ==, "POST /result 200");
  g_assert_cmpstr (printed.lines->pdata[1], ==, "result \\x1b]0;owned\\x07\\u009b2J");
  g_assert_cmpstr (printed.lines->pdata[2], ==, "GET /a\\x1b[2J\\x9b1m 404");
  /* libsoup hands handlers the path decoded. */
  g_assert_cmpstr (printed.lines->pdata[3], ==, "PUT /x\\x1b[31m 403");
  g_assert_cmpstr (printed.lines->pdata[4], ==, "PUT /x\\xff 403");
  for (guint i = 0; i < printed.lines->len; i++)
    g_assert_true (qvm_serve_is_printable (printed.lines->pdata[i]));
  status = read_in (fixture, "root/outbox/result.status");
  g_assert_cmpstr (status, ==, "\x1b]0;owned\x07\xc2\x9b" "2J\n");
  g_assert_cmpuint (testutil_count_entries (fixture->outbox), ==, 3);

  stop_server (server);
  qvm_serve_free (serve);
  g_ptr_array_unref (printed.lines);
}

/* Empty bodies cost what they take on disk: the outbox holds at most
 * QVM_SERVE_OUTBOX_MAX_FILES files, and charges blocks and files. */
static void
test_outbox_limits (Fixture *fixture, gconstpointer data)
{
  QvmServe *serve = qvm_serve_new (fixture->root, NULL, fixture->outbox);
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  guint before = testutil_count_entries (fixture->outbox);
  guint stored = 0;
  g_autofree char *large = g_strnfill (QVM_SERVE_OUTBOX_BLOCK + 1, 'x');

  soup_server_add_handler (server, NULL, qvm_serve_handle, serve, NULL);

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *path = g_strdup_printf ("/empty%u", i);
      guint status = request (server, "PUT", path, NULL, NULL);

      if (status == 200)
        stored++;
      else
        g_assert_cmpuint (status, ==, 507);
      /* Once refused, always refused. */
      g_assert_cmpuint (stored, ==, MIN (i + 1, QVM_SERVE_OUTBOX_MAX_FILES));
    }
  g_assert_cmpuint (testutil_count_entries (fixture->outbox), ==, before + QVM_SERVE_OUTBOX_MAX_FILES);
  /* A file already there may still be rewritten. */
  g_assert_cmpuint (request (server, "PUT", "/empty0", "again", NULL), ==, 200);
  stop_server (server);
  qvm_serve_free (serve);

  /* Each 1-byte file costs two blocks: five fit in ten. */
  serve = qvm_serve_new (fixture->root, NULL, fixture->outbox);
  qvm_serve_set_outbox_limit (serve, 10 * QVM_SERVE_OUTBOX_BLOCK);
  g_clear_object (&server);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, qvm_serve_handle, serve, NULL);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *path = g_strdup_printf ("/byte%u", i);

      g_assert_cmpuint (request (server, "PUT", path, "b", NULL), ==, 200);
    }
  g_assert_cmpuint (request (server, "PUT", "/byte5", "b", NULL), ==, 507);
  /* A rewrite gives back what the file cost, and pays for its blocks. */
  g_assert_cmpuint (request (server, "PUT", "/byte0", "c", NULL), ==, 200);
  g_assert_cmpuint (request (server, "PUT", "/byte0", large, NULL), ==, 507);
  {
    g_autofree char *byte0 = read_in (fixture, "root/outbox/byte0");
    g_autofree char *byte5 = read_in (fixture, "root/outbox/byte5");

    g_assert_cmpstr (byte0, ==, "c");
    g_assert_null (byte5);
  }
  stop_server (server);
  qvm_serve_free (serve);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/qvm-serve/resolve", Fixture, NULL, fixture_set_up, test_resolve, fixture_tear_down);
  g_test_add_func ("/qvm-serve/outbox-name", test_outbox_name);
  g_test_add ("/qvm-serve/handler", Fixture, NULL, fixture_set_up, test_handler, fixture_tear_down);
  g_test_add_func ("/qvm-serve/escape", test_escape);
  g_test_add ("/qvm-serve/printed-escaped", Fixture, NULL, fixture_set_up, test_printed_escaped,
              fixture_tear_down);
  g_test_add ("/qvm-serve/outbox-limits", Fixture, NULL, fixture_set_up, test_outbox_limits,
              fixture_tear_down);

  return g_test_run ();
}
