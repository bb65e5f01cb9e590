/* qvm-console-stream.c: one reader's view of a serial console
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A QvmConsoleStream is a GIOStream whose two halves are private to this
 * file: QvmConsoleInput reads the console's ring at a cursor of its own,
 * QvmConsoleOutput queues bytes for the guest. Both are pollable, so GIO's
 * default asynchronous implementations run them in the console's context
 * without threads; their blocking reads and writes run that context until
 * they can go on.
 */

#include "config.h"

#include "qvm-console-private.h"
#include "qvm-i18n-private.h"

/* ---- Input --------------------------------------------------------------- */

#define QVM_TYPE_CONSOLE_INPUT (qvm_console_input_get_type ())
G_DECLARE_FINAL_TYPE (QvmConsoleInput, qvm_console_input, QVM, CONSOLE_INPUT, GInputStream)

struct _QvmConsoleInput
{
  GInputStream      parent_instance;
  QvmConsole       *console;
  QvmConsoleCursor  cursor;
  QvmConsoleStream *owner;      /* not a reference: it holds this one */
};

static void qvm_console_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmConsoleInput, qvm_console_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      qvm_console_input_pollable_init))

struct _QvmConsoleStream
{
  GIOStream         parent_instance;
  QvmConsole       *console;
  QvmConsoleInput  *input;
  GOutputStream    *output;
};

enum {
  STREAM_PROP_0,
  STREAM_PROP_CONSOLE,
  STREAM_PROP_BYTES_LOST,
  STREAM_N_PROPS
};

static GParamSpec *stream_properties[STREAM_N_PROPS];

static gboolean
input_ready (gpointer data)
{
  QvmConsoleInput *self = data;

  return qvm_console_cursor_ready (self->console, &self->cursor);
}

static gssize
input_read_nonblocking (GPollableInputStream  *pollable,
                        void                  *buffer,
                        gsize                  count,
                        GError               **error)
{
  QvmConsoleInput *self = QVM_CONSOLE_INPUT (pollable);
  guint64 lost_before = self->cursor.lost;
  gsize n_read = qvm_console_read_cursor (self->console, &self->cursor, buffer, count);

  if (self->cursor.lost != lost_before && self->owner != NULL)
    g_object_notify_by_pspec (G_OBJECT (self->owner), stream_properties[STREAM_PROP_BYTES_LOST]);
  if (n_read > 0 || count == 0 || qvm_console_input_ended (self->console))
    return n_read;

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                       _("The guest has written nothing new to the console"));
  return -1;
}

static gboolean
input_is_readable (GPollableInputStream *pollable)
{
  return input_ready (pollable);
}

static gboolean
input_can_poll (GPollableInputStream *pollable)
{
  return TRUE;
}

static GSource *
input_create_source (GPollableInputStream *pollable,
                     GCancellable         *cancellable)
{
  return qvm_console_ready_source_new (input_ready, pollable, G_OBJECT (pollable), cancellable);
}

static void
qvm_console_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static gssize
input_read (GInputStream  *stream,
            void          *buffer,
            gsize          count,
            GCancellable  *cancellable,
            GError       **error)
{
  QvmConsoleInput *self = QVM_CONSOLE_INPUT (stream);

  if (!qvm_console_block_until (self->console, input_ready, self, cancellable, error))
    return -1;
  return input_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer, count, error);
}

static gboolean
input_close (GInputStream  *stream,
             GCancellable  *cancellable,
             GError       **error)
{
  return TRUE;
}

static void
qvm_console_input_finalize (GObject *object)
{
  QvmConsoleInput *self = QVM_CONSOLE_INPUT (object);

  g_clear_object (&self->console);
  G_OBJECT_CLASS (qvm_console_input_parent_class)->finalize (object);
}

static void
qvm_console_input_class_init (QvmConsoleInputClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = qvm_console_input_finalize;
  input_class->read_fn = input_read;
  input_class->close_fn = input_close;
}

static void
qvm_console_input_init (QvmConsoleInput *self)
{
}

/* ---- Output -------------------------------------------------------------- */

#define QVM_TYPE_CONSOLE_OUTPUT (qvm_console_output_get_type ())
G_DECLARE_FINAL_TYPE (QvmConsoleOutput, qvm_console_output, QVM, CONSOLE_OUTPUT, GOutputStream)

struct _QvmConsoleOutput
{
  GOutputStream  parent_instance;
  QvmConsole    *console;
};

static void qvm_console_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QvmConsoleOutput, qvm_console_output, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      qvm_console_output_pollable_init))

static gboolean
output_ready (gpointer data)
{
  QvmConsoleOutput *self = data;

  return qvm_console_can_write (self->console);
}

static gssize
output_write_nonblocking (GPollableOutputStream  *pollable,
                          const void             *buffer,
                          gsize                   count,
                          GError                **error)
{
  QvmConsoleOutput *self = QVM_CONSOLE_OUTPUT (pollable);

  return qvm_console_queue_write (self->console, buffer, count, error);
}

static gboolean
output_is_writable (GPollableOutputStream *pollable)
{
  return output_ready (pollable);
}

static gboolean
output_can_poll (GPollableOutputStream *pollable)
{
  return TRUE;
}

static GSource *
output_create_source (GPollableOutputStream *pollable,
                      GCancellable          *cancellable)
{
  return qvm_console_ready_source_new (output_ready, pollable, G_OBJECT (pollable), cancellable);
}

static void
qvm_console_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static gssize
output_write (GOutputStream  *stream,
              const void     *buffer,
              gsize           count,
              GCancellable   *cancellable,
              GError        **error)
{
  QvmConsoleOutput *self = QVM_CONSOLE_OUTPUT (stream);

  if (!qvm_console_block_until (self->console, output_ready, self, cancellable, error))
    return -1;
  return qvm_console_queue_write (self->console, buffer, count, error);
}

static gboolean
output_close (GOutputStream  *stream,
              GCancellable   *cancellable,
              GError        **error)
{
  return TRUE;
}

static void
qvm_console_output_finalize (GObject *object)
{
  QvmConsoleOutput *self = QVM_CONSOLE_OUTPUT (object);

  g_clear_object (&self->console);
  G_OBJECT_CLASS (qvm_console_output_parent_class)->finalize (object);
}

static void
qvm_console_output_class_init (QvmConsoleOutputClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = qvm_console_output_finalize;
  output_class->write_fn = output_write;
  output_class->close_fn = output_close;
}

static void
qvm_console_output_init (QvmConsoleOutput *self)
{
}

/* ---- The stream ------------------------------------------------------------ */

/**
 * QvmConsoleStream:
 *
 * One reader of a [class@Qvm.Console], from
 * [method@Qvm.Console.open_stream]: a [class@Gio.IOStream] whose input
 * ([iface@Gio.PollableInputStream]) reads the guest's output at a position
 * of its own and whose output ([iface@Gio.PollableOutputStream]) writes to
 * the guest.
 */
G_DEFINE_FINAL_TYPE (QvmConsoleStream, qvm_console_stream, G_TYPE_IO_STREAM)

QvmConsoleCursor *
qvm_console_stream_get_cursor (QvmConsoleStream *stream)
{
  return &stream->input->cursor;
}

QvmConsoleStream *
qvm_console_stream_new (QvmConsole *console,
                        guint64     position)
{
  QvmConsoleStream *self = g_object_new (QVM_TYPE_CONSOLE_STREAM, "console", console, NULL);

  self->input->cursor.position = position;
  return self;
}

static GInputStream *
stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (QVM_CONSOLE_STREAM (stream)->input);
}

static GOutputStream *
stream_get_output_stream (GIOStream *stream)
{
  return QVM_CONSOLE_STREAM (stream)->output;
}

static void
qvm_console_stream_constructed (GObject *object)
{
  QvmConsoleStream *self = QVM_CONSOLE_STREAM (object);
  QvmConsoleOutput *output;

  G_OBJECT_CLASS (qvm_console_stream_parent_class)->constructed (object);

  self->input = g_object_new (QVM_TYPE_CONSOLE_INPUT, NULL);
  self->input->console = g_object_ref (self->console);
  self->input->owner = self;
  output = g_object_new (QVM_TYPE_CONSOLE_OUTPUT, NULL);
  output->console = g_object_ref (self->console);
  self->output = G_OUTPUT_STREAM (output);
}

static void
qvm_console_stream_finalize (GObject *object)
{
  QvmConsoleStream *self = QVM_CONSOLE_STREAM (object);

  self->input->owner = NULL;
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->console);
  G_OBJECT_CLASS (qvm_console_stream_parent_class)->finalize (object);
}

static void
qvm_console_stream_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  QvmConsoleStream *self = QVM_CONSOLE_STREAM (object);

  switch (prop_id)
    {
    case STREAM_PROP_CONSOLE:
      g_value_set_object (value, self->console);
      break;
    case STREAM_PROP_BYTES_LOST:
      g_value_set_uint64 (value, self->input->cursor.lost);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_console_stream_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  QvmConsoleStream *self = QVM_CONSOLE_STREAM (object);

  switch (prop_id)
    {
    case STREAM_PROP_CONSOLE:
      self->console = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_console_stream_class_init (QvmConsoleStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->constructed = qvm_console_stream_constructed;
  object_class->finalize = qvm_console_stream_finalize;
  object_class->get_property = qvm_console_stream_get_property;
  object_class->set_property = qvm_console_stream_set_property;
  stream_class->get_input_stream = stream_get_input_stream;
  stream_class->get_output_stream = stream_get_output_stream;

  /**
   * QvmConsoleStream:console:
   *
   * The console this stream reads and writes.
   */
  stream_properties[STREAM_PROP_CONSOLE] =
    g_param_spec_object ("console", NULL, NULL, QVM_TYPE_CONSOLE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmConsoleStream:bytes-lost:
   *
   * How many bytes of the guest's output this reader never got because it
   * fell further behind than the console's
   * [property@Qvm.Console:ring-size]. Notified (from a read) when it grows:
   * the bytes read next are not contiguous with those read before.
   */
  stream_properties[STREAM_PROP_BYTES_LOST] =
    g_param_spec_uint64 ("bytes-lost", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, STREAM_N_PROPS, stream_properties);
}

static void
qvm_console_stream_init (QvmConsoleStream *self)
{
}

/**
 * qvm_console_stream_get_console:
 * @stream: a console stream
 *
 * The console this stream reads and writes.
 *
 * Returns: (transfer none): [property@Qvm.ConsoleStream:console]
 */
QvmConsole *
qvm_console_stream_get_console (QvmConsoleStream *stream)
{
  g_return_val_if_fail (QVM_IS_CONSOLE_STREAM (stream), NULL);

  return stream->console;
}

/**
 * qvm_console_stream_get_position:
 * @stream: a console stream
 *
 * The offset, in the console's whole output, of the next byte this reader
 * reads (see [property@Qvm.Console:bytes-received]).
 *
 * Returns: the reader's position
 */
guint64
qvm_console_stream_get_position (QvmConsoleStream *stream)
{
  g_return_val_if_fail (QVM_IS_CONSOLE_STREAM (stream), 0);

  return stream->input->cursor.position;
}

/**
 * qvm_console_stream_get_bytes_lost:
 * @stream: a console stream
 *
 * How many bytes this reader missed because it fell behind the ring.
 *
 * Returns: [property@Qvm.ConsoleStream:bytes-lost]
 */
guint64
qvm_console_stream_get_bytes_lost (QvmConsoleStream *stream)
{
  g_return_val_if_fail (QVM_IS_CONSOLE_STREAM (stream), 0);

  return stream->input->cursor.lost;
}

