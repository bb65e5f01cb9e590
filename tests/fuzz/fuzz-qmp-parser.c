/* fuzz-qmp-parser.c: QMP framing and message classification
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is what QEMU would send on the monitor socket. It is fed to one
 * parser whole and to another in pieces of random sizes (the choice depends
 * only on the input, so a crash replays): both must produce the same
 * messages, then fail or not at the same point. Every message must hold
 * what its kind promises.
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm.h"
#include "qvm-qmp-client-private.h"
#include "qvm-qmp-parser-private.h"

/* Small enough that the fuzzer reaches the size limit. */
#define MAX_MESSAGE_SIZE 4096

static void
check_message (const QvmQmpMessage *message)
{
  fuzz_check (message->root != NULL && JSON_NODE_HOLDS_OBJECT (message->root));
  fuzz_check (fuzz_json_is_utf8 (message->root));

  switch (message->kind)
    {
    case QVM_QMP_MESSAGE_GREETING:
      fuzz_check (message->capabilities != NULL);
      for (guint i = 0; i < json_array_get_length (message->capabilities); i++)
        fuzz_check (json_array_get_string_element (message->capabilities, i) != NULL);
      break;
    case QVM_QMP_MESSAGE_RETURN:
      fuzz_check (message->value != NULL);
      break;
    case QVM_QMP_MESSAGE_ERROR:
      {
        g_autoptr(GError) error = NULL;

        fuzz_check (message->error_class != NULL && message->error_desc != NULL);
        error = qvm_qmp_error_new_from_reply (message->error_class, message->error_desc);
        fuzz_check (error != NULL && error->domain == QVM_QMP_ERROR);
        fuzz_check (error->message != NULL);
      }
      break;
    case QVM_QMP_MESSAGE_EVENT:
      fuzz_check (message->event != NULL);
      break;
    default:
      fuzz_fail (__FILE__, __LINE__, "unknown message kind");
    }
}

/* Feeds @data in pieces; returns the messages and whether the parser
 * failed. */
static gboolean
feed (const uint8_t *data,
      size_t         size,
      FuzzRandom    *random,
      GQueue        *messages,
      guint         *n_before_error)
{
  g_autoptr(QvmQmpParser) parser = qvm_qmp_parser_new (MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  size_t done = 0;

  while (done < size)
    {
      /* Mostly tiny pieces, where the framing state carries over. */
      size_t piece = random == NULL ? size
                     : 1 + fuzz_random_below (random, fuzz_random_below (random, 4) == 0 ? size : 8);

      piece = MIN (piece, size - done);
      if (!qvm_qmp_parser_feed (parser, (const char *) data + done, piece, messages, &error))
        {
          g_autoptr(GError) again = NULL;

          if (random == NULL)
            fuzz_report ("parse", error);

          fuzz_check (g_error_matches (error, QVM_ERROR, QVM_ERROR_PROTOCOL));
          fuzz_check (g_utf8_validate (error->message, -1, NULL));
          /* The error sticks. */
          fuzz_check (!qvm_qmp_parser_feed (parser, "{}", 2, messages, &again));
          fuzz_check (g_error_matches (again, QVM_ERROR, QVM_ERROR_PROTOCOL));
          fuzz_check (strcmp (again->message, error->message) == 0);
          *n_before_error = g_queue_get_length (messages);
          return FALSE;
        }
      done += piece;
      fuzz_check (qvm_qmp_parser_get_offset (parser) == done);
    }

  *n_before_error = g_queue_get_length (messages);
  return TRUE;
}

static void
clear_messages (GQueue *messages)
{
  g_queue_clear_full (messages, (GDestroyNotify) qvm_qmp_message_free);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  GQueue whole = G_QUEUE_INIT;
  GQueue pieces = G_QUEUE_INIT;
  FuzzRandom random;
  guint n_whole = 0, n_pieces = 0;
  gboolean ok_whole, ok_pieces;
  GList *a, *b;

  fuzz_setup ();
  fuzz_random_init (&random, data, size);

  ok_whole = feed (data, size, NULL, &whole, &n_whole);
  ok_pieces = feed (data, size, &random, &pieces, &n_pieces);

  fuzz_check (ok_whole == ok_pieces);
  fuzz_check (n_whole == n_pieces);
  for (a = whole.head, b = pieces.head; a != NULL && b != NULL; a = a->next, b = b->next)
    {
      QvmQmpMessage *x = a->data;
      QvmQmpMessage *y = b->data;

      check_message (x);
      fuzz_check (x->kind == y->kind);
      fuzz_check (json_node_equal (x->root, y->root));
    }

  /* The excerpt for messages stays short and printable. */
  {
    g_autofree char *excerpt = qvm_qmp_excerpt ((const char *) data, size);

    fuzz_check (g_utf8_validate (excerpt, -1, NULL));
    fuzz_check (strlen (excerpt) <= 4 * 40 + 3);
  }

  clear_messages (&whole);
  clear_messages (&pieces);
  return 0;
}
