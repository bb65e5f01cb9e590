/* qvm-metadata-tokens.c: token sessions for the metadata service
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As AWS's IMDSv2 and Firecracker's MMDS version 2: a guest first PUTs
 * for a token with a time to live, then sends it with every request. A
 * request without a live token never reaches the handler. Because the
 * token is only ever handed out in answer to a PUT with a custom header,
 * a server-side request forgery in the guest (which can usually make only
 * GETs) cannot get one, and a PUT that went through a forwarding proxy
 * (X-Forwarded-For) is refused.
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "qvm-metadata-tokens-private.h"

#define TOKEN_BYTES 32

struct _QvmMetadataTokens
{
  GHashTable *expiry;   /* token → gint64 monotonic expiry, in µs */
};

QvmMetadataTokens *
qvm_metadata_tokens_new (void)
{
  QvmMetadataTokens *tokens = g_new0 (QvmMetadataTokens, 1);

  tokens->expiry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return tokens;
}

void
qvm_metadata_tokens_free (QvmMetadataTokens *tokens)
{
  if (tokens == NULL)
    return;
  g_hash_table_unref (tokens->expiry);
  g_free (tokens);
}

static void
forget_expired (QvmMetadataTokens *tokens,
                gint64             now_us)
{
  GHashTableIter iter;
  gpointer expiry;

  g_hash_table_iter_init (&iter, tokens->expiry);
  while (g_hash_table_iter_next (&iter, NULL, &expiry))
    if (*(gint64 *) expiry <= now_us)
      g_hash_table_iter_remove (&iter);
}

/* Makes room for one more: the token that would expire first goes. */
static void
forget_soonest (QvmMetadataTokens *tokens)
{
  GHashTableIter iter;
  gpointer key, expiry;
  gpointer soonest = NULL;
  gint64 soonest_expiry = G_MAXINT64;

  g_hash_table_iter_init (&iter, tokens->expiry);
  while (g_hash_table_iter_next (&iter, &key, &expiry))
    if (*(gint64 *) expiry < soonest_expiry)
      {
        soonest = key;
        soonest_expiry = *(gint64 *) expiry;
      }
  if (soonest != NULL)
    g_hash_table_remove (tokens->expiry, soonest);
}

/* 32 bytes from the kernel's random generator, base64url without
 * padding; NULL only if the kernel has none to give. */
static char *
new_token (void)
{
  guint8 bytes[TOKEN_BYTES];
  gsize filled = 0;
  g_autofree char *encoded = NULL;

  while (filled < sizeof bytes)
    {
      ssize_t got = getrandom (bytes + filled, sizeof bytes - filled, 0);

      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return NULL;
      filled += (gsize) got;
    }
  encoded = g_base64_encode (bytes, sizeof bytes);
  g_strdelimit (encoded, "+", '-');
  g_strdelimit (encoded, "/", '_');
  {
    char *padding = strchr (encoded, '=');

    if (padding != NULL)
      *padding = '\0';
  }
  return g_steal_pointer (&encoded);
}

/* A TTL value: decimal digits only, 1 to QVM_METADATA_TOKEN_MAX_TTL. A
 * repeated header arrives joined by commas, and is refused with the rest. */
static gboolean
parse_ttl (const char *value,
           guint      *ttl)
{
  guint64 number = 0;
  gsize length;

  if (value == NULL)
    return FALSE;
  length = strlen (value);
  if (length == 0 || length > 5)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isdigit (value[i]))
        return FALSE;
      number = number * 10 + (guint64) (value[i] - '0');
    }
  if (number < 1 || number > QVM_METADATA_TOKEN_MAX_TTL)
    return FALSE;
  *ttl = (guint) number;
  return TRUE;
}

static gboolean
answer_token_request (QvmMetadataTokens  *tokens,
                      const char         *method,
                      SoupMessageHeaders *headers,
                      gint64              now_us,
                      guint              *status,
                      char              **token)
{
  gint64 *expiry;
  guint ttl;

  if (!g_str_equal (method, "PUT"))
    {
      *status = SOUP_STATUS_METHOD_NOT_ALLOWED;
      return FALSE;
    }
  if (soup_message_headers_get_list (headers, "X-Forwarded-For") != NULL ||
      !parse_ttl (soup_message_headers_get_list (headers, QVM_METADATA_TOKEN_TTL_HEADER), &ttl))
    {
      *status = SOUP_STATUS_BAD_REQUEST;
      return FALSE;
    }
  *token = new_token ();
  if (*token == NULL)
    {
      *status = SOUP_STATUS_SERVICE_UNAVAILABLE;
      return FALSE;
    }
  forget_expired (tokens, now_us);
  while (g_hash_table_size (tokens->expiry) >= QVM_METADATA_TOKENS_MAX)
    forget_soonest (tokens);
  expiry = g_new (gint64, 1);
  *expiry = now_us + (gint64) ttl * G_USEC_PER_SEC;
  g_hash_table_insert (tokens->expiry, g_strdup (*token), expiry);
  *status = SOUP_STATUS_OK;
  return FALSE;
}

gboolean
qvm_metadata_tokens_check (QvmMetadataTokens  *tokens,
                           const char         *method,
                           const char         *path,
                           SoupMessageHeaders *headers,
                           gint64              now_us,
                           guint              *status,
                           char              **token)
{
  const char *presented;
  gint64 *expiry;

  g_return_val_if_fail (tokens != NULL, FALSE);
  g_return_val_if_fail (method != NULL && path != NULL && headers != NULL, FALSE);
  g_return_val_if_fail (status != NULL && token != NULL, FALSE);

  *status = 0;
  *token = NULL;
  if (g_str_equal (path, QVM_METADATA_TOKEN_PATH))
    return answer_token_request (tokens, method, headers, now_us, status, token);

  presented = soup_message_headers_get_list (headers, QVM_METADATA_TOKEN_HEADER);
  expiry = presented != NULL ? g_hash_table_lookup (tokens->expiry, presented) : NULL;
  if (expiry == NULL || *expiry <= now_us)
    {
      *status = SOUP_STATUS_UNAUTHORIZED;
      return FALSE;
    }
  return TRUE;
}

guint
qvm_metadata_tokens_count (QvmMetadataTokens *tokens,
                           gint64             now_us)
{
  g_return_val_if_fail (tokens != NULL, 0);

  forget_expired (tokens, now_us);
  return g_hash_table_size (tokens->expiry);
}
