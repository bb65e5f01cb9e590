/* qvm-serve.c: the metadata service of `qvm run`
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GET /x answers the file DIR/x, never anything outside DIR: the path is
 * checked component by component, then its canonical form (symbolic links
 * resolved) must still lie inside DIR's. PUT and POST bodies go to the
 * outbox, one file per path, opened without following links. Bodies are
 * bounded by the network (max-body-size), the outbox as a whole by
 * QVM_SERVE_OUTBOX_LIMIT (charged by blocks and per file, since a guest
 * could otherwise fill a disk's inodes with empty files) and its number of
 * files by QVM_SERVE_OUTBOX_MAX_FILES.
 */

#include "config.h"

#include <inttypes.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "qvm-serve.h"

struct _QvmServe {
  char                *root;      /* canonical, or NULL */
  char                *payload;   /* nullable */
  char                *outbox;
  guint64              outbox_used;
  guint64              outbox_limit;
  guint                outbox_max_files;
  GHashTable          *outbox_charges;  /* file name -> guint64 charged */
  QvmServeLogFunc      log;
  QvmServePayloadFunc  on_payload;
  QvmServeResultFunc   on_result;
  gpointer             user_data;
  SoupServerMessage   *paused;    /* the /payload answer held back */
};

QvmServe *
qvm_serve_new (const char *root,
               const char *payload,
               const char *outbox)
{
  QvmServe *serve = g_new0 (QvmServe, 1);

  serve->root = root != NULL ? realpath (root, NULL) : NULL;
  if (root != NULL && serve->root == NULL)
    serve->root = g_strdup (root);
  serve->payload = g_strdup (payload);
  serve->outbox = g_strdup (outbox);
  serve->outbox_limit = QVM_SERVE_OUTBOX_LIMIT;
  serve->outbox_max_files = QVM_SERVE_OUTBOX_MAX_FILES;
  serve->outbox_charges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return serve;
}

void
qvm_serve_free (QvmServe *serve)
{
  if (serve == NULL)
    return;
  /* The machine is done: its server, and the guest, are gone. */
  g_clear_object (&serve->paused);
  g_free (serve->root);
  g_free (serve->payload);
  g_free (serve->outbox);
  g_hash_table_unref (serve->outbox_charges);
  g_free (serve);
}

void
qvm_serve_set_callbacks (QvmServe            *serve,
                         QvmServeLogFunc      log,
                         QvmServePayloadFunc  payload,
                         QvmServeResultFunc   result,
                         gpointer             user_data)
{
  serve->log = log;
  serve->on_payload = payload;
  serve->on_result = result;
  serve->user_data = user_data;
}

void
qvm_serve_set_outbox_limit (QvmServe *serve,
                            guint64   limit)
{
  serve->outbox_limit = limit;
}

void
qvm_serve_set_outbox_max_files (QvmServe *serve,
                                guint     max_files)
{
  serve->outbox_max_files = max_files;
}

/* Appends the character at @p, valid UTF-8 of @length bytes, or its
 * escape when it is not printable. */
static void
append_escaped_char (GString    *escaped,
                     const char *p,
                     gsize       length)
{
  gunichar c = g_utf8_get_char (p);

  if (c == '\\')
    g_string_append (escaped, "\\\\");
  else if (c < 0x80 && !g_ascii_isprint (c))
    g_string_append_printf (escaped, "\\x%02x", c);
  else if (!g_unichar_isprint (c) && c > 0xffff)
    g_string_append_printf (escaped, "\\U%08x", c);
  else if (!g_unichar_isprint (c))
    g_string_append_printf (escaped, "\\u%04x", c);
  else
    g_string_append_len (escaped, p, length);
}

char *
qvm_serve_escape (const char *text)
{
  GString *escaped;
  const char *p = text;
  const char *stop;

  if (text == NULL)
    return NULL;

  stop = text + strlen (text);
  escaped = g_string_sized_new (stop - text);
  while (p < stop)
    {
      const char *end;

      /* One character at a time: a byte that starts no valid sequence is
       * shown alone, and the next one is tried afresh. */
      if (!g_utf8_validate (p, MIN (stop - p, 4), &end) && end == p)
        {
          g_string_append_printf (escaped, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      end = g_utf8_next_char (p);
      append_escaped_char (escaped, p, end - p);
      p = end;
    }

  return g_string_free (escaped, FALSE);
}

gboolean
qvm_serve_is_printable (const char *text)
{
  const char *end;

  if (!g_utf8_validate (text, -1, &end))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      if (!g_unichar_isprint (g_utf8_get_char (p)))
        return FALSE;
    }
  return TRUE;
}

/* Splits an encoded URI path into decoded components, refusing every
 * component that could climb or hide a separator. */
static GStrv
split_path (const char  *path,
            GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (path == NULL || path[0] != '/')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("“%s” is not an absolute URI path"), path != NULL ? path : "");
      return NULL;
    }

  parts = g_strsplit (path + 1, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      /* "%2F" and "%00" would smuggle a separator or cut the name. */
      g_autofree char *name = g_uri_unescape_string (parts[i], "/");

      if (name == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       _("“%s”: an encoded “/” or NUL byte in a component"), path);
          return NULL;
        }
      if (name[0] == '\0')
        continue;
      if (g_str_equal (name, ".") || g_str_equal (name, ".."))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       _("“%s”: “.” and “..” are not allowed"), path);
          return NULL;
        }
      g_strv_builder_add (builder, name);
    }
  return g_strv_builder_end (builder);
}

char *
qvm_serve_resolve (const char  *root,
                   const char  *path,
                   GError     **error)
{
  g_auto(GStrv) parts = split_path (path, error);
  g_autofree char *canonical_root = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *candidate = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *prefix = NULL;
  GStatBuf st;

  if (parts == NULL)
    return NULL;
  if (parts[0] == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, _("“%s” is a folder"), path);
      return NULL;
    }

  canonical_root = realpath (root, NULL);
  if (canonical_root == NULL)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                   root, g_strerror (saved));
      return NULL;
    }

  joined = g_strjoinv ("/", parts);
  candidate = g_build_filename (canonical_root, joined, NULL);
  canonical = realpath (candidate, NULL);
  if (canonical == NULL)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "“%s”: %s",
                   path, g_strerror (saved));
      return NULL;
    }

  /* Symbolic links may point anywhere: only where they end counts. */
  prefix = g_strconcat (canonical_root, "/", NULL);
  if (!g_str_has_prefix (canonical, prefix) && !g_str_equal (canonical_root, "/"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("“%s” leads out of the served folder"), path);
      return NULL;
    }

  if (g_stat (canonical, &st) != 0 || !S_ISREG (st.st_mode))
    {
      gboolean folder = g_file_test (canonical, G_FILE_TEST_IS_DIR);

      g_set_error (error, G_IO_ERROR,
                   folder ? G_IO_ERROR_IS_DIRECTORY : G_IO_ERROR_NOT_REGULAR_FILE,
                   folder ? _("“%s” is a folder") : _("“%s” is not a regular file"), path);
      return NULL;
    }

  return g_steal_pointer (&canonical);
}

char *
qvm_serve_outbox_name (const char  *path,
                       GError     **error)
{
  g_auto(GStrv) parts = split_path (path, error);
  g_autofree char *name = NULL;

  if (parts == NULL)
    return NULL;
  if (parts[0] == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("“%s” names no file"), path);
      return NULL;
    }
  name = g_strjoinv ("_", parts);
  /* The name is printed: what could not be printed as it is stays out. */
  if (!qvm_serve_is_printable (name))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           _("a control character or invalid UTF-8 in a file name"));
      return NULL;
    }
  return g_steal_pointer (&name);
}

/* The log callback sees the guest's strings escaped for a terminal. */
static void
serve_log (QvmServe   *serve,
           const char *method,
           const char *path,
           guint       status)
{
  g_autofree char *escaped_method = NULL;
  g_autofree char *escaped_path = NULL;

  if (serve->log == NULL)
    return;
  escaped_method = qvm_serve_escape (method);
  escaped_path = qvm_serve_escape (path);
  serve->log (escaped_method, escaped_path, status, serve->user_data);
}

static void
answer (QvmServe          *serve,
        SoupServerMessage *message,
        const char        *path,
        guint              status,
        const char        *text)
{
  soup_server_message_set_status (message, status, NULL);
  if (text != NULL)
    soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_COPY,
                                      text, strlen (text));
  serve_log (serve, soup_server_message_get_method (message), path, status);
}

static void
answer_file (QvmServe          *serve,
             SoupServerMessage *message,
             const char        *path,
             const char        *file)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMappedFile) mapped = g_mapped_file_new (file, FALSE, &error);
  g_autoptr(GBytes) bytes = NULL;

  if (mapped == NULL)
    {
      answer (serve, message, path, SOUP_STATUS_NOT_FOUND, error->message);
      return;
    }
  bytes = g_mapped_file_get_bytes (mapped);
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (soup_server_message_get_response_headers (message),
                                         "application/octet-stream", NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (message), bytes);
  serve_log (serve, "GET", path, SOUP_STATUS_OK);
}

/* What a file of @size bytes costs the outbox: its blocks, and one more
 * for the file itself. */
static guint64
outbox_charge (gsize size)
{
  guint64 blocks = ((guint64) size + QVM_SERVE_OUTBOX_BLOCK - 1) / QVM_SERVE_OUTBOX_BLOCK;

  return (blocks + 1) * QVM_SERVE_OUTBOX_BLOCK;
}

/* Checks that @name may take @charge in the outbox: a new name needs room
 * for one more file, and a rewritten one gives back what it cost. Sets
 * *@used_after to the outbox's use once written. */
static gboolean
outbox_reserve (QvmServe    *serve,
                const char  *name,
                guint64      charge,
                guint64     *used_after,
                GError     **error)
{
  const guint64 *previous = g_hash_table_lookup (serve->outbox_charges, name);
  guint64 used = serve->outbox_used - (previous != NULL ? *previous : 0);

  if (previous == NULL && g_hash_table_size (serve->outbox_charges) >= serve->outbox_max_files)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("the outbox is full (%u files at most)"), serve->outbox_max_files);
      return FALSE;
    }
  if (used + charge > serve->outbox_limit)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("the outbox is full (%" PRIu64 " bytes at most)"),
                   serve->outbox_limit);
      return FALSE;
    }

  *used_after = used + charge;
  return TRUE;
}

/* Records that @name now costs @charge: from the moment the file exists,
 * whether or not its data could be written. */
static void
outbox_record (QvmServe   *serve,
               const char *name,
               guint64     charge,
               guint64     used_after)
{
  guint64 *value = g_new (guint64, 1);

  *value = charge;
  g_hash_table_replace (serve->outbox_charges, g_strdup (name), value);
  serve->outbox_used = used_after;
}

static gboolean
write_outbox (QvmServe    *serve,
              const char  *name,
              GBytes      *body,
              GError     **error)
{
  g_autofree char *target = g_build_filename (serve->outbox, name, NULL);
  gsize size;
  const char *data = g_bytes_get_data (body, &size);
  guint64 charge = outbox_charge (size);
  guint64 used_after;
  int fd;

  if (!outbox_reserve (serve, name, charge, &used_after, error))
    return FALSE;

  /* O_NOFOLLOW: a link planted in the outbox must not redirect a write. */
  fd = g_open (target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0)
    outbox_record (serve, name, charge, used_after);
  if (fd < 0 || (size > 0 && write (fd, data, size) != (gssize) size))
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                   target, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static void
handle_put (QvmServe          *serve,
            SoupServerMessage *message,
            const char        *path,
            GHashTable        *query)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = qvm_serve_outbox_name (path, &error);
  g_autoptr(GBytes) body = NULL;
  const char *status = query != NULL ? g_hash_table_lookup (query, "status") : NULL;
  gboolean result = g_str_equal (path, "/result");

  if (name == NULL)
    {
      answer (serve, message, path, SOUP_STATUS_FORBIDDEN, error->message);
      return;
    }
  body = soup_message_body_flatten (soup_server_message_get_request_body (message));
  if (!write_outbox (serve, name, body, &error))
    {
      answer (serve, message, path, SOUP_STATUS_INSUFFICIENT_STORAGE, error->message);
      return;
    }

  if (result && status != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%s\n", status);
      g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));

      if (!write_outbox (serve, "result.status", bytes, &error))
        {
          answer (serve, message, path, SOUP_STATUS_INSUFFICIENT_STORAGE, error->message);
          return;
        }
    }

  answer (serve, message, path, SOUP_STATUS_OK, "");
  if (result && serve->on_result != NULL)
    {
      g_autofree char *escaped_status = qvm_serve_escape (status);

      serve->on_result (escaped_status, serve->user_data);
    }
}

void
qvm_serve_payload_release (QvmServe *serve)
{
  SoupServerMessage *message = g_steal_pointer (&serve->paused);

  if (message == NULL)
    return;
  soup_server_message_unpause (message);
  g_object_unref (message);
}

void
qvm_serve_handle (SoupServer        *server,
                  SoupServerMessage *message,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  QvmServe *serve = user_data;
  const char *method = soup_server_message_get_method (message);
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;

  if (g_str_equal (method, "PUT") || g_str_equal (method, "POST"))
    {
      handle_put (serve, message, path, query);
      return;
    }
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      answer (serve, message, path, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }

  if (serve->payload != NULL && g_str_equal (path, "/payload"))
    file = g_strdup (serve->payload);
  else if (serve->root != NULL)
    file = qvm_serve_resolve (serve->root, path, &error);
  else
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("nothing is served here"));

  if (file == NULL)
    {
      answer (serve, message, path,
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED)
              ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_NOT_FOUND,
              error->message);
      return;
    }

  answer_file (serve, message, path, file);
  if (g_str_equal (path, "/payload") && serve->on_payload != NULL && serve->paused == NULL)
    {
      serve->paused = g_object_ref (message);
      soup_server_message_pause (message);
      serve->on_payload (serve, serve->user_data);
    }
}
