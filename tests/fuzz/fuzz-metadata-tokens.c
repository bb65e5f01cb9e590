/* fuzz-metadata-tokens.c: the token rules of the metadata service
 * (qvm-metadata-tokens.c) on requests as libsoup parses them
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a guest's request head. libsoup's own parser (the one the
 * server runs) turns it into a method, a path and headers; the token rules
 * then decide. Whatever the input: no crash, no critical, and the
 * decision keeps its promises: only the token path gives a token, only a
 * request with a live token goes on, and a token handed out opens the
 * next request.
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm-metadata-tokens-private.h"

static void
check_decision (QvmMetadataTokens  *tokens,
                const char         *method,
                const char         *path,
                SoupMessageHeaders *headers)
{
  g_autofree char *token = NULL;
  guint status;
  gboolean passes = qvm_metadata_tokens_check (tokens, method, path, headers, 1000, &status, &token);

  if (passes)
    {
      fuzz_check (status == 0 && token == NULL);
      fuzz_check (!g_str_equal (path, QVM_METADATA_TOKEN_PATH));
      return;
    }
  fuzz_check (status == 200 || status == 400 || status == 401 || status == 405 || status == 503);
  fuzz_check ((status == 200) == (token != NULL));
  if (token != NULL)
    {
      g_autoptr(SoupMessageHeaders) with_token = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
      g_autofree char *again = NULL;

      fuzz_check (g_str_equal (method, "PUT") && g_str_equal (path, QVM_METADATA_TOKEN_PATH));
      fuzz_check (strlen (token) == 43);
      soup_message_headers_append (with_token, QVM_METADATA_TOKEN_HEADER, token);
      fuzz_check (qvm_metadata_tokens_check (tokens, "GET", "/payload", with_token, 1001, &status, &again));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(QvmMetadataTokens) tokens = qvm_metadata_tokens_new ();
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree char *copy = g_malloc (size + 1);
  g_autofree char *method = NULL;
  g_autofree char *path = NULL;
  SoupHTTPVersion version;
  guint parsed;

  fuzz_setup ();
  memcpy (copy, data, size);
  copy[size] = '\0';

  parsed = soup_headers_parse_request (copy, size, headers, &method, &path, &version);
  if (parsed != SOUP_STATUS_OK || method == NULL || path == NULL)
    return 0;
  check_decision (tokens, method, path, headers);
  /* The same request again, with whatever token it got: the store stays
   * consistent. */
  check_decision (tokens, method, path, headers);
  return 0;
}
