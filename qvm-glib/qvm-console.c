/* qvm-console.c: a virtual machine's serial console
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU's first serial port is a chardev socket whose other end the console
 * drains from a GSource as soon as it is attached, whoever listens: QEMU
 * stops taking the guest's output while its socket is full. What it reads
 * goes into a ring of the most recent bytes, is cut into lines (the "line"
 * signal and one log record per line), and wakes the readers: streams
 * (qvm-console-stream.c) and waits for a regex, each at a cursor of its
 * own (see qvm-console-private.h). Writes for the guest wait in a bounded
 * queue until the socket takes them.
 */

#include "config.h"

#include <string.h>

#include "qvm-console-private.h"
#include "qvm-coroutine-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-util-private.h"
#include "qvm-virtual-machine.h"

/* How much one read from the socket takes. */
#define CHUNK_SIZE 65536

/* Reads per dispatch, so a flooding guest leaves the loop some time. One
 * dispatch also reads at most half the ring: a reader that reads all it is
 * offered each time its source dispatches never loses a byte. */
#define READS_PER_DISPATCH 16

/* How far back a wait's lookbehind sees before the bytes it tries. */
#define LOOKBEHIND_MAX 4096

/* The smallest ring the property accepts. */
#define RING_SIZE_MIN 4096

struct _QvmConsole
{
  GObject           parent_instance;

  GMainContext     *context;
  char             *log_id;

  /* The ring: the byte at offset o is ring[o % ring_size]. */
  guint8           *ring;
  guint             ring_size;
  guint64           start;
  guint64           end;

  guint8           *chunk;          /* CHUNK_SIZE, for reads */
  GString          *line;           /* the line so far, < QVM_CONSOLE_LINE_MAX */
  GByteArray       *outgoing;       /* for the guest, not taken yet */

  GSocket          *socket;
  GSource          *in_source;
  GSource          *out_source;
  gboolean          input_ended;    /* the socket reached its end */
  gboolean          closed;         /* qvm_console_end() was called */
  GError           *end_error;

  QvmConsoleCursor  cursor;         /* qvm_console_wait_for_async()'s */
  QvmWaitQueue      input_queue;    /* woken by new bytes and by the end */
};

/**
 * QvmConsole:
 *
 * The serial console of a [class@Qvm.VirtualMachine]
 * ([method@Qvm.VirtualMachine.get_console]): the guest's first serial
 * port, which the library reads all the time into a ring of its newest
 * output. Lines come as [signal@Qvm.Console::line]; readers open
 * [class@Qvm.ConsoleStream]s, each at its own position;
 * [method@Qvm.Console.write] sends bytes to the guest; and
 * [method@Qvm.Console.wait_for_async] waits for a regular expression.
 * Its signals and asynchronous operations run in the main context that
 * was thread-default when the machine was made; use it from that thread.
 */
G_DEFINE_FINAL_TYPE (QvmConsole, qvm_console, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RING_SIZE,
  PROP_BYTES_RECEIVED,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_LINE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- Lines ------------------------------------------------------------------ */

/* Logs the line read so far and emits "line". */
static void
take_line (QvmConsole *self)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *text = NULL;
  gsize length = self->line->len;

  if (length > 0 && self->line->str[length - 1] == '\r')
    length--;
  bytes = g_bytes_new (self->line->str, length);

  /* A NUL would end the text early in every consumer. */
  for (gsize i = 0; i < length; i++)
    if (self->line->str[i] == '\0')
      self->line->str[i] = ' ';
  text = g_utf8_make_valid (self->line->str, length);
  g_string_truncate (self->line, 0);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    QVM_VM_ID_FIELD, self->log_id,
                    "QVM_QEMU_STREAM", "console",
                    "QVM_QEMU_LINE", text,
                    "MESSAGE", "%s: console: %s", self->log_id, text);
  g_signal_emit (self, signals[SIGNAL_LINE], 0, text, bytes);
}

/* Splits output into lines, cutting those that grow too long. */
static void
feed_lines (QvmConsole  *self,
            const char  *data,
            gsize        length)
{
  while (length > 0)
    {
      const char *newline = memchr (data, '\n', length);
      gsize room = QVM_CONSOLE_LINE_MAX - self->line->len;
      gsize take = newline != NULL ? (gsize) (newline - data) : length;

      if (take >= room)
        {
          g_string_append_len (self->line, data, room);
          take_line (self);
          data += room;
          length -= room;
          continue;
        }

      g_string_append_len (self->line, data, take);
      data += take;
      length -= take;
      if (newline != NULL)
        {
          take_line (self);
          data++;
          length--;
        }
    }
}

/* ---- The ring --------------------------------------------------------------- */

static void
ring_append (QvmConsole   *self,
             const guint8 *data,
             gsize         length)
{
  /* Only the last ring_size bytes can stay. */
  if (length > self->ring_size)
    {
      self->end += length - self->ring_size;
      data += length - self->ring_size;
      length = self->ring_size;
    }

  while (length > 0)
    {
      gsize index = self->end % self->ring_size;
      gsize take = MIN (length, self->ring_size - index);

      memcpy (self->ring + index, data, take);
      self->end += take;
      data += take;
      length -= take;
    }
  if (self->end - self->start > self->ring_size)
    self->start = self->end - self->ring_size;
}

/* Copies [from, from + length) of the ring, which must hold it. */
static void
ring_copy (QvmConsole *self,
           guint64     from,
           guint8     *buffer,
           gsize       length)
{
  while (length > 0)
    {
      gsize index = from % self->ring_size;
      gsize take = MIN (length, self->ring_size - index);

      memcpy (buffer, self->ring + index, take);
      buffer += take;
      from += take;
      length -= take;
    }
}

/* Moves a cursor that fell behind the ring to its oldest byte. */
static void
cursor_catch_up (QvmConsole       *self,
                 QvmConsoleCursor *cursor)
{
  if (cursor->position < self->start)
    {
      cursor->lost += self->start - cursor->position;
      cursor->position = self->start;
    }
}

gsize
qvm_console_read_cursor (QvmConsole       *self,
                         QvmConsoleCursor *cursor,
                         void             *buffer,
                         gsize             count)
{
  gsize length;

  cursor_catch_up (self, cursor);
  length = MIN (count, self->end - cursor->position);
  ring_copy (self, cursor->position, buffer, length);
  cursor->position += length;
  return length;
}

gboolean
qvm_console_cursor_ready (QvmConsole       *self,
                          QvmConsoleCursor *cursor)
{
  return cursor->position < self->end || qvm_console_input_ended (self);
}

gboolean
qvm_console_input_ended (QvmConsole *self)
{
  return self->input_ended || self->closed;
}

gsize
qvm_console_get_memory_used (QvmConsole *self)
{
  return self->ring_size + CHUNK_SIZE + self->line->allocated_len + self->outgoing->len;
}

GMainContext *
qvm_console_get_context (QvmConsole *self)
{
  return self->context;
}

/* ---- The socket ------------------------------------------------------------- */

static void
input_ended (QvmConsole *self)
{
  self->input_ended = TRUE;
  if (self->in_source != NULL)
    {
      g_source_destroy (self->in_source);
      g_clear_pointer (&self->in_source, g_source_unref);
    }
  if (self->line->len > 0)
    take_line (self);
  qvm_wait_queue_wake_all (&self->input_queue);
}

/* Reads what the socket has, at most @max_reads times: FALSE at its end. */
static gboolean
drain (QvmConsole *self,
       guint       max_reads)
{
  guint64 end_before = self->end;
  gsize budget = self->ring_size / 2;
  gboolean open = TRUE;

  for (guint i = 0; i < max_reads && budget > 0; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n_read = g_socket_receive_with_blocking (self->socket, (char *) self->chunk,
                                                      MIN (CHUNK_SIZE, budget), FALSE, NULL,
                                                      &error);

      if (n_read < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (n_read <= 0)
        {
          if (error != NULL)
            g_debug ("%s: reading the console: %s", self->log_id, error->message);
          open = FALSE;
          break;
        }
      budget -= n_read;
      ring_append (self, self->chunk, n_read);
      feed_lines (self, (const char *) self->chunk, n_read);
    }

  if (self->end != end_before)
    qvm_wait_queue_wake_all (&self->input_queue);
  return open;
}

static gboolean
socket_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      data)
{
  QvmConsole *self = data;
  g_autoptr(QvmConsole) keep_alive = g_object_ref (self);

  if (!drain (self, READS_PER_DISPATCH))
    {
      input_ended (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void schedule_flush (QvmConsole *self);

static gboolean
socket_writable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      data)
{
  QvmConsole *self = data;
  g_autoptr(GError) error = NULL;
  gssize n_sent = g_socket_send_with_blocking (socket, (const char *) self->outgoing->data,
                                               self->outgoing->len, FALSE, NULL, &error);

  if (n_sent < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n_sent < 0)
    {
      /* QEMU is going away: what the guest did not get is lost. */
      g_debug ("%s: writing to the console: %s", self->log_id, error->message);
      g_byte_array_set_size (self->outgoing, 0);
    }
  else
    {
      g_byte_array_remove_range (self->outgoing, 0, n_sent);
    }

  if (self->outgoing->len > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->out_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Sends the queue once the socket takes it. */
static void
schedule_flush (QvmConsole *self)
{
  if (self->socket == NULL || self->closed || self->out_source != NULL ||
      self->outgoing->len == 0)
    return;

  self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
  g_source_set_callback (self->out_source, G_SOURCE_FUNC (socket_writable_cb), self, NULL);
  g_source_set_name (self->out_source, "[qvm] console output");
  g_source_attach (self->out_source, self->context);
}

void
qvm_console_attach (QvmConsole *self,
                    GSocket    *socket)
{
  g_return_if_fail (QVM_IS_CONSOLE (self));
  g_return_if_fail (self->socket == NULL && !self->closed);

  self->socket = g_object_ref (socket);
  g_socket_set_blocking (socket, FALSE);
  self->in_source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (socket_readable_cb), self, NULL);
  g_source_set_name (self->in_source, "[qvm] console input");
  g_source_attach (self->in_source, self->context);
  schedule_flush (self);
}

void
qvm_console_end (QvmConsole   *self,
                 const GError *error)
{
  g_autoptr(QvmConsole) keep_alive = g_object_ref (self);

  if (self->closed)
    return;

  /* The guest's last words are already in the socket (QEMU is gone: a
   * few reads get them; a peer still writing is not waited for). */
  if (self->socket != NULL && !self->input_ended)
    for (guint i = 0; i < READS_PER_DISPATCH; i++)
      if (!drain (self, READS_PER_DISPATCH) ||
          !g_socket_condition_check (self->socket, G_IO_IN))
        break;

  self->closed = TRUE;
  self->end_error = error != NULL ? g_error_copy (error) :
                    g_error_new (QVM_ERROR, QVM_ERROR_CLOSED, _("The console was closed"));
  input_ended (self);
  if (self->out_source != NULL)
    {
      g_source_destroy (self->out_source);
      g_clear_pointer (&self->out_source, g_source_unref);
    }
  g_byte_array_set_size (self->outgoing, 0);
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
}

gssize
qvm_console_queue_write (QvmConsole  *self,
                         const void  *buffer,
                         gsize        count,
                         GError     **error)
{
  gsize room;

  if (self->closed)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("The console was closed"));
      return -1;
    }

  room = QVM_CONSOLE_OUTGOING_MAX - self->outgoing->len;
  if (room == 0 && count > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                   _("The guest has not taken what was written to its console yet"));
      return -1;
    }

  count = MIN (count, room);
  g_byte_array_append (self->outgoing, buffer, count);
  schedule_flush (self);
  return count;
}

gboolean
qvm_console_can_write (QvmConsole *self)
{
  return self->closed || self->outgoing->len < QVM_CONSOLE_OUTGOING_MAX;
}

/* ---- Ready sources and blocking ------------------------------------------ */

typedef struct {
  GSource             source;
  QvmConsoleReadyFunc ready;
  gpointer            data;
  GObject            *pollable;
} ReadySource;

static gboolean
ready_source_prepare (GSource *source,
                      int     *timeout)
{
  ReadySource *ready = (ReadySource *) source;

  *timeout = -1;
  return ready->ready (ready->data);
}

static gboolean
ready_source_check (GSource *source)
{
  ReadySource *ready = (ReadySource *) source;

  return ready->ready (ready->data);
}

static gboolean
ready_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  ReadySource *ready = (ReadySource *) source;

  if (callback == NULL)
    return G_SOURCE_CONTINUE;
  return ((GPollableSourceFunc) (void (*) (void)) callback) (ready->pollable, user_data);
}

static void
ready_source_finalize (GSource *source)
{
  ReadySource *ready = (ReadySource *) source;

  g_clear_object (&ready->pollable);
}

static GSourceFuncs ready_source_funcs = {
  ready_source_prepare,
  ready_source_check,
  ready_source_dispatch,
  ready_source_finalize,
  NULL, NULL,
};

GSource *
qvm_console_ready_source_new (QvmConsoleReadyFunc  ready_func,
                              gpointer             data,
                              GObject             *pollable,
                              GCancellable        *cancellable)
{
  GSource *source = g_source_new (&ready_source_funcs, sizeof (ReadySource));
  ReadySource *ready = (ReadySource *) source;

  ready->ready = ready_func;
  ready->data = data;
  ready->pollable = pollable != NULL ? g_object_ref (pollable) : NULL;
  g_source_set_name (source, "[qvm] console stream");
  if (cancellable != NULL)
    {
      g_autoptr(GSource) cancel = g_cancellable_source_new (cancellable);

      g_source_set_dummy_callback (cancel);
      g_source_add_child_source (source, cancel);
    }
  return source;
}

static gboolean
set_flag_cb (GObject  *pollable,
             gpointer  flag)
{
  *(gboolean *) flag = TRUE;
  return G_SOURCE_CONTINUE;
}

gboolean
qvm_console_block_until (QvmConsole          *self,
                         QvmConsoleReadyFunc  ready,
                         gpointer             data,
                         GCancellable        *cancellable,
                         GError             **error)
{
  g_autoptr(GSource) source = NULL;

  if (!g_main_context_acquire (self->context))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("A console can be read and written without waiting only from the thread "
                     "that runs its main context"));
      return FALSE;
    }

  /* The source only wakes the context up; the loop checks @ready. */
  source = qvm_console_ready_source_new (ready, data, NULL, cancellable);
  {
    gboolean fired = FALSE;

    g_source_set_callback (source, (GSourceFunc) (void (*) (void)) set_flag_cb, &fired, NULL);
    g_source_attach (source, self->context);
    while (!ready (data) && !g_cancellable_is_cancelled (cancellable))
      g_main_context_iteration (self->context, TRUE);
    g_source_destroy (source);
  }
  g_main_context_release (self->context);

  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* ---- Waiting for a regex --------------------------------------------------- */

typedef struct {
  QvmConsole       *console;
  QvmConsoleStream *reader;     /* nullable: holds the cursor */
  GRegex           *regex;
  guint             timeout_ms;
  QvmConsoleCursor *cursor;     /* the console's or the reader's */
  guint64           scanned;    /* no match of the regex starts before it */
  guint64           tried_end;  /* the end of the output at the last try */
  gboolean          tried;
  char             *text;       /* the result */
  guint64           offset;
} WaitFor;

static void
wait_for_free (gpointer data)
{
  WaitFor *wait = data;

  g_object_unref (wait->console);
  g_clear_object (&wait->reader);
  g_regex_unref (wait->regex);
  g_free (wait->text);
  g_free (wait);
}

/* Looks for the regex from the cursor on, and moves it past a match. A try
 * that found not even a partial match (one that the next bytes could
 * complete) moves the start of the next try to the end, so that a guest
 * writing line by line does not make each try scan the whole ring again. */
static gboolean
wait_for_match (WaitFor *wait)
{
  QvmConsole *self = wait->console;
  g_autoptr(GMatchInfo) info = NULL;
  g_autofree guint8 *window = NULL;
  GRegexMatchFlags flags = G_REGEX_MATCH_PARTIAL_SOFT;
  guint64 from;
  gsize length;
  int match_start, match_end;

  cursor_catch_up (self, wait->cursor);
  if (wait->tried && wait->tried_end == self->end)
    return FALSE;
  wait->tried = TRUE;
  wait->tried_end = self->end;

  wait->scanned = CLAMP (wait->scanned, wait->cursor->position, self->end);
  /* The window starts LOOKBEHIND_MAX bytes before the first byte to try
   * (or at the cursor), so that lookbehinds, \b and (?m)^ see the bytes
   * before it; ^ matches at the cursor only. */
  from = MAX (wait->cursor->position,
              wait->scanned > LOOKBEHIND_MAX ? wait->scanned - LOOKBEHIND_MAX : 0);
  if (from > wait->cursor->position)
    flags |= G_REGEX_MATCH_NOTBOL;
  length = self->end - from;
  window = g_malloc (length + 1);
  ring_copy (self, from, window, length);
  window[length] = '\0';

  if (!g_regex_match_full (wait->regex, (const char *) window, length, wait->scanned - from,
                           flags, &info, NULL))
    {
      /* A partial match may still complete, from where GLib does not say
       * (it cannot fetch a partial match's position since it uses PCRE2):
       * only a try that matched nothing at all moves on. */
      if (!g_match_info_is_partial_match (info))
        wait->scanned = self->end;
      return FALSE;
    }

  g_match_info_fetch_pos (info, 0, &match_start, &match_end);
  wait->text = g_utf8_make_valid ((const char *) window + match_start, match_end - match_start);
  wait->offset = from + match_start;
  wait->cursor->position = from + match_end;
  return TRUE;
}

static void
wait_for_co (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  WaitFor *wait = task_data;
  QvmConsole *self = wait->console;
  gint64 deadline = wait->timeout_ms > 0 ?
                    g_get_monotonic_time () + wait->timeout_ms * G_TIME_SPAN_MILLISECOND : -1;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      int timeout_ms = -1;

      if (wait_for_match (wait))
        {
          wait->cursor->waiting = FALSE;
          qvm_task_return_boolean (task, TRUE);
          return;
        }
      if (self->closed)
        {
          wait->cursor->waiting = FALSE;
          qvm_task_return_error (task, g_error_copy (self->end_error));
          return;
        }

      if (deadline >= 0)
        timeout_ms = MAX (0, (deadline - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND);
      if (!qvm_wait_queue_wait (&self->input_queue, timeout_ms, cancellable, &error))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_clear_error (&error);
              g_set_error (&error, QVM_ERROR, QVM_ERROR_TIMED_OUT,
                           _("The console did not show “%s” within %u ms"),
                           g_regex_get_pattern (wait->regex), wait->timeout_ms);
            }
          wait->cursor->waiting = FALSE;
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
}

/* ---- GObject ---------------------------------------------------------------- */

QvmConsole *
qvm_console_new (const char   *log_id,
                 GMainContext *context)
{
  QvmConsole *self = g_object_new (QVM_TYPE_CONSOLE, NULL);

  self->log_id = g_strdup (log_id != NULL ? log_id : "console");
  self->context = context != NULL ? g_main_context_ref (context)
                                   : g_main_context_ref_thread_default ();
  return self;
}

static void
qvm_console_init (QvmConsole *self)
{
  self->ring_size = QVM_CONSOLE_DEFAULT_RING_SIZE;
  self->ring = g_malloc (self->ring_size);
  self->chunk = g_malloc (CHUNK_SIZE);
  self->line = g_string_sized_new (QVM_CONSOLE_LINE_MAX);
  self->outgoing = g_byte_array_new ();
  qvm_wait_queue_init (&self->input_queue);
}

static void
qvm_console_dispose (GObject *object)
{
  QvmConsole *self = QVM_CONSOLE (object);

  if (self->in_source != NULL)
    {
      g_source_destroy (self->in_source);
      g_clear_pointer (&self->in_source, g_source_unref);
    }
  if (self->out_source != NULL)
    {
      g_source_destroy (self->out_source);
      g_clear_pointer (&self->out_source, g_source_unref);
    }
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);

  G_OBJECT_CLASS (qvm_console_parent_class)->dispose (object);
}

static void
qvm_console_finalize (GObject *object)
{
  QvmConsole *self = QVM_CONSOLE (object);

  qvm_wait_queue_clear (&self->input_queue);
  g_clear_error (&self->end_error);
  g_byte_array_unref (self->outgoing);
  g_string_free (self->line, TRUE);
  g_free (self->chunk);
  g_free (self->ring);
  g_free (self->log_id);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (qvm_console_parent_class)->finalize (object);
}

static void
qvm_console_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  QvmConsole *self = QVM_CONSOLE (object);

  switch (prop_id)
    {
    case PROP_RING_SIZE:
      g_value_set_uint (value, self->ring_size);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, self->end);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, self->closed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_console_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  QvmConsole *self = QVM_CONSOLE (object);

  switch (prop_id)
    {
    case PROP_RING_SIZE:
      qvm_console_set_ring_size (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_console_class_init (QvmConsoleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->dispose = qvm_console_dispose;
  object_class->finalize = qvm_console_finalize;
  object_class->get_property = qvm_console_get_property;
  object_class->set_property = qvm_console_set_property;

  /**
   * QvmConsole:ring-size:
   *
   * How many of the guest's most recent bytes the console keeps for
   * readers that come late or fall behind, %QVM_CONSOLE_DEFAULT_RING_SIZE
   * (1 MiB) unless set, at least 4096. Changing it keeps the newest bytes
   * that fit.
   */
  properties[PROP_RING_SIZE] =
    g_param_spec_uint ("ring-size", NULL, NULL, RING_SIZE_MIN, G_MAXINT,
                       QVM_CONSOLE_DEFAULT_RING_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QvmConsole:bytes-received:
   *
   * How many bytes the guest wrote to the console so far: the offset the
   * next byte will have. Not notified (it changes with every read).
   */
  properties[PROP_BYTES_RECEIVED] =
    g_param_spec_uint64 ("bytes-received", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QvmConsole:closed:
   *
   * Whether the console ended: its machine is done. Its streams then end
   * once their reader has read what the ring still holds, and writes fail.
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QvmConsole::line:
   * @console: the console
   * @text: the line as UTF-8 text: without its end of line (`\n`, `\r\n`),
   *   invalid UTF-8 replaced by U+FFFD and NUL bytes by spaces
   * @bytes: the line's bytes as the guest wrote them, without its `\n`
   *   (nor a `\r` before it)
   *
   * Emitted for each line of the guest's output, in the console's main
   * context. A line longer than 4096 bytes is cut into several. The last
   * line comes when the console ends, even without a newline.
   */
  signals[SIGNAL_LINE] =
    g_signal_new ("line", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BYTES);
}

/* ---- Public API ------------------------------------------------------------- */

/**
 * qvm_console_get_ring_size:
 * @console: a console
 *
 * How many of the guest's newest bytes the console keeps.
 *
 * Returns: the [property@Qvm.Console:ring-size] in bytes
 */
guint
qvm_console_get_ring_size (QvmConsole *console)
{
  g_return_val_if_fail (QVM_IS_CONSOLE (console), 0);

  return console->ring_size;
}

/**
 * qvm_console_set_ring_size:
 * @console: a console
 * @ring_size: the new size in bytes, at least 4096
 *
 * Sets [property@Qvm.Console:ring-size]. The newest bytes that fit in the
 * new ring stay; readers behind them lose the others.
 */
void
qvm_console_set_ring_size (QvmConsole *console,
                           guint       ring_size)
{
  guint8 *ring;
  guint64 start;

  g_return_if_fail (QVM_IS_CONSOLE (console));
  g_return_if_fail (ring_size >= RING_SIZE_MIN && ring_size <= G_MAXINT);

  if (ring_size == console->ring_size)
    return;

  start = MAX (console->start, console->end > ring_size ? console->end - ring_size : 0);
  ring = g_malloc (ring_size);
  for (guint64 offset = start; offset < console->end; offset++)
    ring[offset % ring_size] = console->ring[offset % console->ring_size];
  g_free (console->ring);
  console->ring = ring;
  console->ring_size = ring_size;
  console->start = start;
  g_object_notify_by_pspec (G_OBJECT (console), properties[PROP_RING_SIZE]);
}

/**
 * qvm_console_get_bytes_received:
 * @console: a console
 *
 * How many bytes the guest wrote to the console so far.
 *
 * Returns: [property@Qvm.Console:bytes-received]
 */
guint64
qvm_console_get_bytes_received (QvmConsole *console)
{
  g_return_val_if_fail (QVM_IS_CONSOLE (console), 0);

  return console->end;
}

/**
 * qvm_console_is_closed:
 * @console: a console
 *
 * Whether the console ended with its machine.
 *
 * Returns: [property@Qvm.Console:closed]
 */
gboolean
qvm_console_is_closed (QvmConsole *console)
{
  g_return_val_if_fail (QVM_IS_CONSOLE (console), FALSE);

  return console->closed;
}

/**
 * qvm_console_get_recent:
 * @console: a console
 * @offset: (out) (optional): the offset of the first byte returned, in
 *   the console's whole output
 *
 * The guest's most recent output: what the ring holds now.
 *
 * Returns: (transfer full): a copy of the ring's bytes, oldest first
 */
GBytes *
qvm_console_get_recent (QvmConsole *console,
                        guint64    *offset)
{
  gsize length;
  guint8 *copy;

  g_return_val_if_fail (QVM_IS_CONSOLE (console), NULL);

  length = console->end - console->start;
  copy = g_malloc (length);
  ring_copy (console, console->start, copy, length);
  if (offset != NULL)
    *offset = console->start;
  return g_bytes_new_take (copy, length);
}

/**
 * qvm_console_open_stream:
 * @console: a console
 * @from: where the reader starts
 *
 * Opens a reader of its own on the console. Its input stream reads the
 * guest's output from @from on, at its own position: other readers take
 * nothing from it. A reader that falls more than
 * [property@Qvm.Console:ring-size] bytes behind loses the oldest bytes: its
 * next read goes on from the oldest byte the ring holds, and
 * [property@Qvm.ConsoleStream:bytes-lost] counts what was skipped. Its
 * output stream writes to the guest (through a queue of up to 1 MiB: a
 * write waits while the queue is full). Both are pollable; their
 * asynchronous operations run in the console's main context, and their
 * blocking forms run that context meanwhile (so only from its thread).
 * The input ends (reads return 0) once the console is closed and the
 * reader has read what the ring held; closing the stream does not close
 * the console.
 *
 * Returns: (transfer full): a new stream
 */
QvmConsoleStream *
qvm_console_open_stream (QvmConsole     *console,
                         QvmConsoleFrom  from)
{
  g_return_val_if_fail (QVM_IS_CONSOLE (console), NULL);

  return qvm_console_stream_new (console, from == QVM_CONSOLE_FROM_NOW ? console->end
                                                                       : console->start);
}

/**
 * qvm_console_write:
 * @console: a console
 * @data: (array length=length) (element-type guint8): the bytes to send
 * @length: the length of @data, or -1 if it is a NUL-terminated string
 *
 * Sends @data to the guest without waiting: it is queued and written as
 * QEMU takes it. The guest reads its serial port at the port's pace; the
 * queue holds up to 1 MiB. Writes made before the machine starts wait for
 * it.
 *
 * Returns: %TRUE if all of @data was queued; %FALSE with
 *   %G_IO_ERROR_CLOSED once the console is closed, or with
 *   %G_IO_ERROR_NO_SPACE (and nothing queued) when it does not fit
 */
gboolean
qvm_console_write (QvmConsole  *console,
                   const char  *data,
                   gssize       length,
                   GError     **error)
{
  gsize count;

  g_return_val_if_fail (QVM_IS_CONSOLE (console), FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  count = length < 0 ? strlen (data) : (gsize) length;
  if (!console->closed && count > QVM_CONSOLE_OUTGOING_MAX - console->outgoing->len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("Cannot queue %zu bytes for the console: "
                     "the guest has not taken the %u bytes written before"),
                   count, console->outgoing->len);
      return FALSE;
    }
  return qvm_console_queue_write (console, data, count, error) >= 0;
}

/**
 * qvm_console_wait_for_async:
 * @console: a console
 * @reader: (nullable): a reader of @console whose position to use, or
 *   %NULL for the console's own
 * @regex: a Perl-compatible regular expression (as #GRegex takes it),
 *   matched against the bytes of the output (so `.` is one byte); inline
 *   options such as `(?m)` apply
 * @timeout_ms: how long to wait, in milliseconds; 0 waits as long as it
 *   takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the match
 * @user_data: data for @callback
 *
 * Waits until the guest's output shows @regex, the way os-autoinst's
 * `wait_serial` does: the match is looked for from the console's read
 * position on, in what the ring holds, and a match moves the position past
 * it, so the next wait only sees later output. Each caller that wants a
 * position of its own passes its @reader (from
 * [method@Qvm.Console.open_stream]), whose next read then returns what
 * follows the match; with %NULL, the console's own position is used,
 * which starts at the beginning of the output. The
 * regex is tried on what has arrived so far, as soon as it arrives: a
 * pattern such as `hello-[0-9]+` may match `hello-4` before the `2`
 * comes; end it with `\n` to match whole lines. Output that a try
 * already looked at without a match is not looked at again, except that
 * lookbehind assertions (and `\b`, `(?m)^`) see up to 4096 bytes of it.
 *
 * One wait at a time per position: a second one while the first runs fails with
 * %G_IO_ERROR_PENDING. An invalid @regex fails at once with
 * %G_REGEX_ERROR. The wait fails with %QVM_ERROR_TIMED_OUT after
 * @timeout_ms; when the console closes first, with the error its machine
 * ended with ([method@Qvm.VirtualMachine.get_error]), or
 * %QVM_ERROR_CLOSED if it ended cleanly.
 */
void
qvm_console_wait_for_async (QvmConsole          *console,
                            QvmConsoleStream    *reader,
                            const char          *regex,
                            guint                timeout_ms,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  QvmConsoleCursor *cursor;
  GError *error = NULL;
  GRegex *compiled;
  WaitFor *wait;

  g_return_if_fail (QVM_IS_CONSOLE (console));
  g_return_if_fail (reader == NULL ||
                    (QVM_IS_CONSOLE_STREAM (reader) &&
                     qvm_console_stream_get_console (reader) == console));
  g_return_if_fail (regex != NULL);

  task = g_task_new (console, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_console_wait_for_async);

  /* Bytes, not UTF-8: the guest writes what it likes. No G_REGEX_OPTIMIZE:
   * PCRE2's JIT code makes valgrind report reads of uninitialised memory,
   * and a wait tries its pattern on new output only. */
  compiled = g_regex_new (regex, G_REGEX_RAW, 0, &error);
  if (compiled == NULL)
    {
      g_prefix_error (&error, _("Invalid regular expression “%s” for the console: "), regex);
      g_task_return_error (task, error);
      return;
    }
  cursor = reader != NULL ? qvm_console_stream_get_cursor (reader) : &console->cursor;
  if (cursor->waiting)
    {
      g_regex_unref (compiled);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("Another wait for the console's output is running"));
      return;
    }

  wait = g_new0 (WaitFor, 1);
  wait->console = g_object_ref (console);
  wait->reader = reader != NULL ? g_object_ref (reader) : NULL;
  wait->regex = compiled;
  wait->timeout_ms = timeout_ms;
  wait->cursor = cursor;
  wait->cursor->waiting = TRUE;
  g_task_set_task_data (task, wait, wait_for_free);
  qvm_coroutine_run_task (task, wait_for_co);
}

/**
 * qvm_console_wait_for_finish:
 * @console: a console
 * @result: the result given to the callback
 * @offset: (out) (optional): where the match begins in the console's
 *   whole output (see [property@Qvm.Console:bytes-received])
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.Console.wait_for_async].
 *
 * Returns: (transfer full): the matched text (invalid UTF-8 replaced), or
 *   %NULL on error
 */
char *
qvm_console_wait_for_finish (QvmConsole    *console,
                             GAsyncResult  *result,
                             guint64       *offset,
                             GError       **error)
{
  WaitFor *wait;

  g_return_val_if_fail (g_task_is_valid (result, console), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_console_wait_for_async), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  wait = g_task_get_task_data (G_TASK (result));
  if (offset != NULL)
    *offset = wait->offset;
  return g_steal_pointer (&wait->text);
}

/**
 * qvm_console_wait_for:
 * @console: a console
 * @reader: (nullable): a reader of @console whose position to use, or
 *   %NULL for the console's own
 * @regex: a regular expression, as for [method@Qvm.Console.wait_for_async]
 * @timeout_ms: how long to wait, in milliseconds; 0 waits as long as it
 *   takes
 * @offset: (out) (optional): where the match begins
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.Console.wait_for_async]: it runs the
 * console's main context meanwhile (call it from the thread that runs
 * that context), so the console goes on reading. That is a nested
 * iteration: other sources of the context may run before it returns.
 *
 * Returns: (transfer full): the matched text, or %NULL on error
 */
char *
qvm_console_wait_for (QvmConsole        *console,
                      QvmConsoleStream  *reader,
                      const char        *regex,
                      guint          timeout_ms,
                      guint64       *offset,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_CONSOLE (console), NULL);

  qvm_sync_begin (&sync, console->context);
  qvm_console_wait_for_async (console, reader, regex, timeout_ms, cancellable,
                              qvm_sync_store_result, &sync);
  return qvm_console_wait_for_finish (console, qvm_sync_end (&sync), offset, error);
}
