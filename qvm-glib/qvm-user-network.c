/* qvm-user-network.c: an unprivileged network with a metadata service
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-metadata-tokens-private.h"
#include "qvm-owned-folder-private.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-request-headers-private.h"
#include "qvm-user-network.h"
#include "qvm-user-network-private.h"

/**
 * QvmUserNetwork:
 *
 * An unprivileged network: QEMU's user-mode network stack (slirp), cut off
 * from the host and the outside world, with a metadata service.
 *
 * The guest gets the address 169.254.2.15 by DHCP (from 169.254.2.2, with no
 * router and no DNS server) and reaches only `169.254.169.254:80`. QEMU
 * passes each connection to that address to a small helper program,
 * `qvm-guestfwd`, which joins it to a unix socket in a private folder of the
 * network (mode 0700, created inside the folder given to
 * [ctor@Qvm.UserNetwork.new]); a [class@Soup.Server] serves that socket with
 * the handler set by [method@Qvm.Network.set_handler]. Requests on the socket
 * can only come from the QEMU process given this network's netdev, so one
 * network serves one virtual machine.
 *
 * The helper program is `$QVM_GUESTFWD` when that variable is set, else the
 * one installed in qvm-glib's libexec folder.
 *
 * ## Limits
 *
 * A guest is not trusted. The network answers requests that break its limits
 * itself, then closes their connection, and the handler never sees them:
 *
 * - request line and headers above [property@Qvm.UserNetwork:max-header-size]
 *   bytes: 431 Request Header Fields Too Large (libsoup itself drops a
 *   connection whose headers exceed 64 KiB);
 * - a request body above [property@Qvm.UserNetwork:max-body-size] bytes: 413
 *   Content Too Large, before the body is read when its length is announced;
 * - more than [property@Qvm.UserNetwork:max-connections] open connections:
 *   the new ones are closed at once;
 * - a connection that sends or takes no data for
 *   [property@Qvm.UserNetwork:idle-timeout] seconds while the network waits
 *   for the guest is closed. Time the handler takes (a paused message) does
 *   not count;
 * - a `Content-Length` that is not one decimal number: 400 Bad Request.
 *
 * A `Range` header is honoured only when it names one byte range
 * (`bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`, numbers of at most
 * 18 digits); otherwise the network removes it before the handler runs and
 * the answer goes out whole, never as a multipart/byteranges answer.
 * libsoup answers a plain range by itself when the handler answers 200 with
 * a body; the network fits it to that body first.
 *
 * For the handler, the local address of a request is `169.254.169.254:80`
 * and its remote address `0.0.0.0` (slirp does not tell the guest's
 * address); the host of its URI is whatever the guest sent in `Host`.
 *
 * Each connection carries one request: answers say `Connection: close`, and
 * pipelined requests after the first are not read. (QEMU runs one helper
 * per connection either way.)
 *
 * All of the network's work happens in the thread-default main context that
 * was current when it was created, in small steps: a guest that floods its
 * service does not block that main context or the service of another
 * network. Use a network from that context's thread only.
 *
 * Changed limits apply to connections and requests that start afterwards.
 */

#define DEFAULT_MAX_HEADER_SIZE (16 * 1024)
/* libsoup drops a request whose headers exceed 64 KiB before we see them. */
#define MAX_MAX_HEADER_SIZE (64 * 1024)
#define MIN_MAX_HEADER_SIZE 256
#define DEFAULT_MAX_BODY_SIZE (8 * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 8
#define MAX_MAX_CONNECTIONS 1024
#define DEFAULT_IDLE_TIMEOUT 30
#define MAX_IDLE_TIMEOUT (24 * 60 * 60)

/* Connections accepted per wake-up of the listening socket, so a flood of
 * connections leaves room for the rest of the main context. */
#define ACCEPT_BATCH 8

#define LISTEN_BACKLOG 32

/* The start of the name of each network's private folder in its folder. */
#define PRIVATE_FOLDER_PREFIX "qvm-net-"

static void qvm_user_network_initable_iface_init (GInitableIface *iface);
static void qvm_user_network_network_iface_init (QvmNetworkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmUserNetwork, qvm_user_network, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      qvm_user_network_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (QVM_TYPE_NETWORK,
                                                      qvm_user_network_network_iface_init))

enum {
  PROP_0,
  PROP_FOLDER,
  PROP_SOCKET_PATH,
  PROP_MAX_HEADER_SIZE,
  PROP_MAX_BODY_SIZE,
  PROP_MAX_CONNECTIONS,
  PROP_IDLE_TIMEOUT,
  PROP_TOKENS_REQUIRED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------ */
/* The netdev string                                                    */

gboolean
qvm_netdev_id_is_valid (const char *id)
{
  /* QEMU's rule for ids (id_wellformed). */
  if (id == NULL || !g_ascii_isalpha (id[0]))
    return FALSE;

  for (const char *p = id + 1; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
        return FALSE;
    }

  return TRUE;
}

char *
qvm_user_network_build_netdev (const char *id,
                               const char *helper,
                               const char *socket_path)
{
  g_autofree char *quoted_helper = NULL;
  g_autofree char *quoted_socket = NULL;
  g_autofree char *command = NULL;
  g_autofree char *escaped_command = NULL;

  g_return_val_if_fail (qvm_netdev_id_is_valid (id), NULL);
  g_return_val_if_fail (helper != NULL, NULL);
  g_return_val_if_fail (socket_path != NULL, NULL);

  /* libslirp splits the command with g_shell_parse_argv() (older QEMUs ran
   * it through /bin/sh -c); single quotes mean the same to both. */
  quoted_helper = g_shell_quote (helper);
  quoted_socket = g_shell_quote (socket_path);
  command = g_strdup_printf ("%s %s", quoted_helper, quoted_socket);
  escaped_command = qvm_qemu_escape_option (command);

  /* Slirp puts its host at .2.2 and DNS at .2.3 of the net and leases from
   * .2.15; restrict=on keeps the guest from everything but the guestfwd,
   * whose address must lie inside the net. */
  return g_strdup_printf ("user,id=%s,restrict=on,ipv6=off,"
                          "net=169.254.0.0/16,host=169.254.2.2,"
                          "dns=169.254.2.3,dhcpstart=169.254.2.15,"
                          "guestfwd=tcp:" METADATA_ADDRESS ":%d-cmd:%s",
                          id, METADATA_PORT, escaped_command);
}

char *
qvm_user_network_find_helper (void)
{
  const char *from_environment = g_getenv ("QVM_GUESTFWD");

  if (from_environment != NULL && *from_environment != '\0')
    return g_canonicalize_filename (from_environment, NULL);

  return g_build_filename (QVM_LIBEXECDIR, "qvm-guestfwd", NULL);
}

/* ------------------------------------------------------------------ */
/* The handler                                                          */

static void
handler_clear (Handler *handler)
{
  if (handler->destroy != NULL)
    handler->destroy (handler->user_data);
}

static Handler *
handler_new (SoupServerCallback callback,
             gpointer           user_data,
             GDestroyNotify     destroy)
{
  Handler *handler = g_rc_box_new0 (Handler);

  handler->callback = callback;
  handler->user_data = user_data;
  handler->destroy = destroy;

  return handler;
}

static void
handler_release (Handler *handler)
{
  g_rc_box_release_full (handler, (GDestroyNotify) handler_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Handler, handler_release)


/* The token rules, before the handler: FALSE when they answered @msg. */
static gboolean
pass_token_check (QvmUserNetwork    *self,
                  SoupServerMessage *msg,
                  const char        *path)
{
  g_autofree char *token = NULL;
  guint status;

  if (qvm_metadata_tokens_check (self->tokens, soup_server_message_get_method (msg), path,
                                 soup_server_message_get_request_headers (msg),
                                 g_get_monotonic_time (), &status, &token))
    return TRUE;
  soup_server_message_set_status (msg, status, NULL);
  if (token != NULL)
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, token, strlen (token));
  return FALSE;
}

static void
on_request (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (user_data);
  g_autoptr(Handler) handler = NULL;

  if (self->handler == NULL || self->released)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (self->tokens_required && !pass_token_check (self, msg, path))
    return;

  handler = g_rc_box_acquire (self->handler);
  handler->callback (server, msg, path, query, handler->user_data);
  qvm_user_network_fit_range_to_answer (msg);
}

static void
qvm_user_network_set_handler (QvmNetwork         *network,
                              SoupServerCallback  callback,
                              gpointer            user_data,
                              GDestroyNotify      destroy)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (network);
  g_autoptr(Handler) old_handler = g_steal_pointer (&self->handler);

  if (self->released || callback == NULL)
    {
      /* Nothing will ever call it, so its data goes at once. */
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  self->handler = handler_new (callback, user_data, destroy);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

static void
on_connection_finalized (gpointer  user_data,
                         GObject  *where_the_object_was)
{
  ConnectionCount *count = user_data;

  g_atomic_int_add (&count->n_open, -1);
  g_atomic_rc_box_release (count);
}

static void
serve_connection (QvmUserNetwork *self,
                  GSocket        *client)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  gboolean accepted;

  /* A GSocket with a timeout fails its I/O once a source waiting on it has
   * seen no activity for that long; libsoup only waits on the socket while
   * it waits for the guest, so a handler's own delay never counts. */
  g_socket_set_timeout (client, self->idle_timeout);

  connection = g_socket_connection_factory_create_connection (client);
  g_atomic_int_inc (&self->connections->n_open);
  g_object_weak_ref (G_OBJECT (connection), on_connection_finalized,
                     g_atomic_rc_box_acquire (self->connections));

  /* libsoup attaches a connection's sources to the thread-default context. */
  g_main_context_push_thread_default (self->context);
  accepted = soup_server_accept_iostream (self->server, G_IO_STREAM (connection),
                                          self->local_address, self->remote_address,
                                          &error);
  g_main_context_pop_thread_default (self->context);

  if (!accepted)
    {
      g_debug ("Could not serve a guest connection: %s", error->message);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    }
}

/* The network accepts connections itself rather than through
 * soup_server_listen_socket(): so it can refuse connections above the cap
 * before libsoup sets anything up, give each socket its idle timeout, and
 * hand libsoup inet addresses (libsoup 3.2 casts the local address to
 * GInetSocketAddress for an HTTP/1.0 request without Host, which with a unix
 * socket address gives a guest a way to trigger g_critical()s). */
static gboolean
on_listener_ready (GSocket      *listener,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (user_data);

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GSocket) client = NULL;
      g_autoptr(GError) error = NULL;

      client = g_socket_accept (listener, NULL, &error);
      if (client == NULL)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("Could not accept a guest connection: %s", error->message);
          break;
        }

      if ((guint) g_atomic_int_get (&self->connections->n_open) >= self->max_connections)
        {
          g_debug ("Refusing a guest connection: %u are open already",
                   self->max_connections);
          g_socket_close (client, NULL);
          continue;
        }

      serve_connection (self, client);
    }

  return G_SOURCE_CONTINUE;
}

guint
qvm_user_network_get_n_connections (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), 0);

  return (guint) g_atomic_int_get (&self->connections->n_open);
}

/* ------------------------------------------------------------------ */
/* Set-up and release                                                   */

static gboolean
create_private_folder (QvmUserNetwork  *self,
                       GError         **error)
{
  g_autofree char *template = g_build_filename (self->folder, PRIVATE_FOLDER_PREFIX "XXXXXX", NULL);
  g_autofree char *socket_path = g_build_filename (template, QVM_USER_NETWORK_SOCKET_NAME, NULL);
  struct sockaddr_un address;

  /* A unix socket path has a small fixed maximum length. */
  if (strlen (socket_path) >= sizeof address.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("Cannot create a network socket in “%s”: the path “%s” "
                     "would be longer than the %u bytes a unix socket path may have"),
                   self->folder, socket_path, (guint) sizeof address.sun_path - 1);
      return FALSE;
    }

  /* Those of networks whose owner died without cleaning up go first. */
  qvm_owned_folder_sweep (self->folder, PRIVATE_FOLDER_PREFIX);
  self->private_folder = qvm_owned_folder_make (self->folder, PRIVATE_FOLDER_PREFIX,
                                                &self->private_folder_lock, error);
  if (self->private_folder == NULL)
    {
      g_prefix_error (error, _("Cannot create a private folder for a network: "));
      return FALSE;
    }
  self->socket_path = g_build_filename (self->private_folder,
                                        QVM_USER_NETWORK_SOCKET_NAME, NULL);
  return TRUE;
}

static gboolean
create_listener (QvmUserNetwork  *self,
                 GError         **error)
{
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_DEFAULT, error);
  if (listener == NULL)
    return FALSE;

  address = g_unix_socket_address_new (self->socket_path);
  g_socket_set_listen_backlog (listener, LISTEN_BACKLOG);
  g_socket_set_blocking (listener, FALSE);

  if (!g_socket_bind (listener, address, FALSE, error) ||
      !g_socket_listen (listener, error))
    {
      g_prefix_error (error, _("Cannot listen on “%s”: "), self->socket_path);
      return FALSE;
    }

  self->listener = g_steal_pointer (&listener);
  return TRUE;
}

static void
remove_private_folder (QvmUserNetwork *self)
{
  if (self->socket_path != NULL && g_unlink (self->socket_path) != 0 && errno != ENOENT)
    g_debug ("Could not remove %s: %s", self->socket_path, g_strerror (errno));

  if (self->private_folder != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!qvm_fs_remove_tree (self->private_folder, &error))
        g_message ("Could not remove the network folder: %s", error->message);
    }
  /* Only once the folder is gone: a sweeper may take an unlocked one. */
  if (self->private_folder_lock >= 0)
    {
      close (self->private_folder_lock);
      self->private_folder_lock = -1;
    }

  g_clear_pointer (&self->socket_path, g_free);
  g_clear_pointer (&self->private_folder, g_free);
}

static void
qvm_user_network_release (QvmNetwork *network)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (network);
  g_autoptr(Handler) handler = NULL;

  if (self->released)
    return;
  self->released = TRUE;

  g_cancellable_cancel (self->cancellable);

  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }

  if (self->listener != NULL)
    {
      g_socket_close (self->listener, NULL);
      g_clear_object (&self->listener);
    }

  if (self->server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->server, self);
      soup_server_disconnect (self->server);
    }

  remove_private_folder (self);

  /* Last, as the handler's destroy function may drop the last reference to
   * the network. */
  handler = g_steal_pointer (&self->handler);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOCKET_PATH]);
}

static char *
qvm_user_network_get_netdev (QvmNetwork  *network,
                             const char  *id,
                             GError     **error)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (network);

  if (self->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return NULL;
    }
  if (self->released)
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                           _("The network has been released"));
      return NULL;
    }

  if (!qvm_netdev_id_is_valid (id))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED,
                   _("“%s” is not a valid netdev id: it must start with a letter "
                     "and hold only letters, digits, “-”, “.” and “_”"), id);
      return NULL;
    }

  return qvm_user_network_build_netdev (id, self->helper, self->socket_path);
}

/* Run once, from constructed(), so that g_object_new() makes a working
 * network too. */
static gboolean
set_up (QvmUserNetwork  *self,
        GError         **error)
{

  self->helper = qvm_user_network_find_helper ();
  if (!g_file_test (self->helper, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("The metadata helper program “%s” is missing or not "
                     "executable (set QVM_GUESTFWD to use another one)"),
                   self->helper);
      return FALSE;
    }

  if (!create_private_folder (self, error))
    return FALSE;

  if (!create_listener (self, error))
    {
      remove_private_folder (self);
      return FALSE;
    }

  self->context = g_main_context_ref_thread_default ();
  self->server = g_object_new (SOUP_TYPE_SERVER, NULL);
  soup_server_add_handler (self->server, NULL, on_request, self, NULL);
  g_signal_connect (self->server, "request-started", G_CALLBACK (qvm_user_network_on_request_started), self);

  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_listener_ready), self, NULL);
  g_source_set_static_name (self->accept_source, "QvmUserNetwork listener");
  g_source_attach (self->accept_source, self->context);

  g_debug ("Network serving metadata on %s", self->socket_path);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* GObject                                                              */

static void
qvm_user_network_constructed (GObject *object)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (object);

  G_OBJECT_CLASS (qvm_user_network_parent_class)->constructed (object);

  if (!set_up (self, &self->init_error))
    g_debug ("Network not usable: %s", self->init_error->message);
}

/* The work is done in constructed(): init tells how it went. */
static gboolean
qvm_user_network_initable_init (GInitable     *initable,
                                GCancellable  *cancellable,
                                GError       **error)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (initable);

  if (self->init_error == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (self->init_error));
  return FALSE;
}

static void
qvm_user_network_dispose (GObject *object)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (object);

  qvm_user_network_release (QVM_NETWORK (self));
  g_clear_object (&self->server);

  G_OBJECT_CLASS (qvm_user_network_parent_class)->dispose (object);
}

static void
qvm_user_network_finalize (GObject *object)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (object);

  if (self->private_folder_lock >= 0)
    close (self->private_folder_lock);
  g_clear_pointer (&self->tokens, qvm_metadata_tokens_free);
  g_clear_pointer (&self->folder, g_free);
  g_clear_pointer (&self->helper, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->local_address);
  g_clear_object (&self->remote_address);
  g_clear_object (&self->cancellable);
  g_clear_error (&self->init_error);
  g_atomic_rc_box_release (self->connections);

  G_OBJECT_CLASS (qvm_user_network_parent_class)->finalize (object);
}

static void
qvm_user_network_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      g_value_set_string (value, self->folder);
      break;
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_MAX_HEADER_SIZE:
      g_value_set_uint (value, self->max_header_size);
      break;
    case PROP_MAX_BODY_SIZE:
      g_value_set_uint (value, self->max_body_size);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, self->max_connections);
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->idle_timeout);
      break;
    case PROP_TOKENS_REQUIRED:
      g_value_set_boolean (value, self->tokens_required);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_folder (QvmUserNetwork *self,
            const char     *folder)
{
  /* QEMU runs the helper from its own working folder: keep paths absolute. */
  if (folder == NULL)
    folder = g_get_user_runtime_dir ();
  self->folder = g_canonicalize_filename (folder, NULL);
}

static void
qvm_user_network_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  QvmUserNetwork *self = QVM_USER_NETWORK (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      set_folder (self, g_value_get_string (value));
      break;
    case PROP_MAX_HEADER_SIZE:
      qvm_user_network_set_max_header_size (self, g_value_get_uint (value));
      break;
    case PROP_MAX_BODY_SIZE:
      qvm_user_network_set_max_body_size (self, g_value_get_uint (value));
      break;
    case PROP_MAX_CONNECTIONS:
      qvm_user_network_set_max_connections (self, g_value_get_uint (value));
      break;
    case PROP_IDLE_TIMEOUT:
      qvm_user_network_set_idle_timeout (self, g_value_get_uint (value));
      break;
    case PROP_TOKENS_REQUIRED:
      qvm_user_network_set_tokens_required (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_user_network_class_init (QvmUserNetworkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->constructed = qvm_user_network_constructed;
  object_class->dispose = qvm_user_network_dispose;
  object_class->finalize = qvm_user_network_finalize;
  object_class->get_property = qvm_user_network_get_property;
  object_class->set_property = qvm_user_network_set_property;

  /**
   * QvmUserNetwork:folder: (getter get_folder)
   *
   * The folder in which the network creates its private folder, as an
   * absolute path. %NULL at construction means the user's runtime folder
   * ([func@GLib.get_user_runtime_dir]).
   *
   * The socket path must fit a unix socket address (107 bytes), so the
   * folder's path should be short.
   */
  properties[PROP_FOLDER] =
    g_param_spec_string ("folder", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:socket-path: (getter get_socket_path)
   *
   * The unix socket the metadata service listens on, inside the network's
   * private folder; %NULL once the network is released.
   *
   * Anything connected to it is served like the guest, which makes it the
   * way to test a handler without a virtual machine.
   */
  properties[PROP_SOCKET_PATH] =
    g_param_spec_string ("socket-path", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:max-header-size: (getter get_max_header_size) (setter set_max_header_size)
   *
   * The largest request line plus headers, in bytes, the network accepts;
   * larger requests get 431 Request Header Fields Too Large.
   */
  properties[PROP_MAX_HEADER_SIZE] =
    g_param_spec_uint ("max-header-size", NULL, NULL,
                       MIN_MAX_HEADER_SIZE, MAX_MAX_HEADER_SIZE, DEFAULT_MAX_HEADER_SIZE,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:max-body-size: (getter get_max_body_size) (setter set_max_body_size)
   *
   * The largest request body, in bytes, the network accepts; larger ones get
   * 413 Content Too Large. The body is held in memory until the handler
   * runs.
   */
  properties[PROP_MAX_BODY_SIZE] =
    g_param_spec_uint ("max-body-size", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_MAX_BODY_SIZE,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:max-connections: (getter get_max_connections) (setter set_max_connections)
   *
   * How many guest connections the network serves at once; it closes
   * further ones as soon as they arrive.
   */
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL, NULL,
                       1, MAX_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:idle-timeout: (getter get_idle_timeout) (setter set_idle_timeout)
   *
   * After how many seconds without progress the network closes a
   * connection it is waiting on: a request that does not arrive, a response
   * the guest does not read. Time spent in the handler does not count.
   */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_uint ("idle-timeout", NULL, NULL,
                       1, MAX_IDLE_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmUserNetwork:tokens-required: (getter get_tokens_required) (setter set_tokens_required)
   *
   * Whether the metadata service wants a session token with every request,
   * as AWS's IMDSv2 and Firecracker's MMDS version 2 do: the guest first
   * sends `PUT /latest/api/token` with the header
   * `X-metadata-token-ttl-seconds` (1 to 21600) and gets a token, which it
   * then sends as `X-metadata-token` with every other request. A request
   * without a live token gets 401 and never reaches the handler. See "Token
   * sessions" in [the metadata service](metadata-service.html) for every
   * status. Off by default: every request goes to the handler.
   */
  properties[PROP_TOKENS_REQUIRED] =
    g_param_spec_boolean ("tokens-required", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qvm_user_network_init (QvmUserNetwork *self)
{
  self->private_folder_lock = -1;
  self->connections = g_atomic_rc_box_new0 (ConnectionCount);
  self->cancellable = g_cancellable_new ();
  self->local_address = g_inet_socket_address_new_from_string (METADATA_ADDRESS, METADATA_PORT);
  self->remote_address = g_inet_socket_address_new_from_string (UNKNOWN_GUEST_ADDRESS, 0);
}

static void
qvm_user_network_initable_iface_init (GInitableIface *iface)
{
  iface->init = qvm_user_network_initable_init;
}

static void
qvm_user_network_network_iface_init (QvmNetworkInterface *iface)
{
  iface->get_netdev = qvm_user_network_get_netdev;
  iface->set_handler = qvm_user_network_set_handler;
  iface->release = qvm_user_network_release;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */

/**
 * qvm_user_network_new:
 * @folder: (type filename) (nullable): the folder in which to create the
 *   network's private folder, or %NULL for the user's runtime folder
 * @error: return location for an error
 *
 * Creates a network: a private folder (mode 0700) inside @folder holding the
 * unix socket of the metadata service, which starts serving at once in the
 * thread-default main context. Until a handler is set, every request gets
 * 404 Not Found.
 *
 * Fails with a %G_IO_ERROR when the folder cannot be created, when the
 * socket path would be too long for a unix socket, or when the helper
 * program is missing.
 *
 * Release it with [method@Qvm.Network.release] once the virtual machine is
 * done; dropping the last reference releases it too.
 *
 * Returns: (transfer full): the new network, or %NULL with @error set
 */
QvmUserNetwork *
qvm_user_network_new (const char  *folder,
                      GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (QVM_TYPE_USER_NETWORK, NULL, error,
                         "folder", folder,
                         NULL);
}

/**
 * qvm_user_network_get_folder: (get-property folder)
 * @self: a network
 *
 * Returns the folder in which the network made its private folder.
 *
 * Returns: (type filename): the folder, as an absolute path
 */
const char *
qvm_user_network_get_folder (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), NULL);

  return self->folder;
}

/**
 * qvm_user_network_get_socket_path: (get-property socket-path)
 * @self: a network
 *
 * Returns the unix socket of the metadata service.
 *
 * Returns: (type filename) (nullable): the socket path, or %NULL once the
 *   network is released
 */
const char *
qvm_user_network_get_socket_path (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), NULL);

  return self->socket_path;
}

/**
 * qvm_user_network_get_max_header_size: (get-property max-header-size)
 * @self: a network
 *
 * Returns the largest request line plus headers the network accepts.
 *
 * Returns: the limit in bytes
 */
guint
qvm_user_network_get_max_header_size (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), 0);

  return self->max_header_size;
}

/**
 * qvm_user_network_set_max_header_size: (set-property max-header-size)
 * @self: a network
 * @max_header_size: the limit in bytes, from 256 to 65536
 *
 * Sets the largest request line plus headers the network accepts.
 */
void
qvm_user_network_set_max_header_size (QvmUserNetwork *self,
                                      guint           max_header_size)
{
  g_return_if_fail (QVM_IS_USER_NETWORK (self));
  g_return_if_fail (max_header_size >= MIN_MAX_HEADER_SIZE &&
                    max_header_size <= MAX_MAX_HEADER_SIZE);

  if (self->max_header_size == max_header_size)
    return;

  self->max_header_size = max_header_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_HEADER_SIZE]);
}

/**
 * qvm_user_network_get_max_body_size: (get-property max-body-size)
 * @self: a network
 *
 * Returns the largest request body the network accepts.
 *
 * Returns: the limit in bytes
 */
guint
qvm_user_network_get_max_body_size (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), 0);

  return self->max_body_size;
}

/**
 * qvm_user_network_set_max_body_size: (set-property max-body-size)
 * @self: a network
 * @max_body_size: the limit in bytes
 *
 * Sets the largest request body the network accepts.
 */
void
qvm_user_network_set_max_body_size (QvmUserNetwork *self,
                                    guint           max_body_size)
{
  g_return_if_fail (QVM_IS_USER_NETWORK (self));

  if (self->max_body_size == max_body_size)
    return;

  self->max_body_size = max_body_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_BODY_SIZE]);
}

/**
 * qvm_user_network_get_max_connections: (get-property max-connections)
 * @self: a network
 *
 * Returns how many guest connections the network serves at once.
 *
 * Returns: the number of connections
 */
guint
qvm_user_network_get_max_connections (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), 0);

  return self->max_connections;
}

/**
 * qvm_user_network_set_max_connections: (set-property max-connections)
 * @self: a network
 * @max_connections: the number of connections, from 1 to 1024
 *
 * Sets how many guest connections the network serves at once.
 */
void
qvm_user_network_set_max_connections (QvmUserNetwork *self,
                                      guint           max_connections)
{
  g_return_if_fail (QVM_IS_USER_NETWORK (self));
  g_return_if_fail (max_connections >= 1 && max_connections <= MAX_MAX_CONNECTIONS);

  if (self->max_connections == max_connections)
    return;

  self->max_connections = max_connections;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONNECTIONS]);
}

/**
 * qvm_user_network_get_idle_timeout: (get-property idle-timeout)
 * @self: a network
 *
 * Returns after how many seconds without progress the network closes a
 * connection it is waiting on.
 *
 * Returns: the timeout in seconds
 */
guint
qvm_user_network_get_idle_timeout (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), 0);

  return self->idle_timeout;
}

/**
 * qvm_user_network_set_idle_timeout: (set-property idle-timeout)
 * @self: a network
 * @idle_timeout: the timeout in seconds, from 1 to 86400
 *
 * Sets after how many seconds without progress the network closes a
 * connection it is waiting on. Connections already open keep their timeout.
 */
void
qvm_user_network_set_idle_timeout (QvmUserNetwork *self,
                                   guint           idle_timeout)
{
  g_return_if_fail (QVM_IS_USER_NETWORK (self));
  g_return_if_fail (idle_timeout >= 1 && idle_timeout <= MAX_IDLE_TIMEOUT);

  if (self->idle_timeout == idle_timeout)
    return;

  self->idle_timeout = idle_timeout;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
}

/**
 * qvm_user_network_get_tokens_required: (get-property tokens-required)
 * @self: a network
 *
 * Gets [property@Qvm.UserNetwork:tokens-required].
 *
 * Returns: whether every request needs a session token
 */
gboolean
qvm_user_network_get_tokens_required (QvmUserNetwork *self)
{
  g_return_val_if_fail (QVM_IS_USER_NETWORK (self), FALSE);

  return self->tokens_required;
}

/**
 * qvm_user_network_set_tokens_required: (set-property tokens-required)
 * @self: a network
 * @tokens_required: whether every request needs a session token
 *
 * Sets [property@Qvm.UserNetwork:tokens-required]. Turning it off forgets
 * every token handed out; turning it on again starts with none.
 */
void
qvm_user_network_set_tokens_required (QvmUserNetwork *self,
                                      gboolean        tokens_required)
{
  g_return_if_fail (QVM_IS_USER_NETWORK (self));

  tokens_required = !!tokens_required;
  if (self->tokens_required == tokens_required)
    return;

  self->tokens_required = tokens_required;
  g_clear_pointer (&self->tokens, qvm_metadata_tokens_free);
  if (tokens_required)
    self->tokens = qvm_metadata_tokens_new ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKENS_REQUIRED]);
}
