/* test-metadata-tokens.c: the token rules of the metadata service
 * (suite 'unit')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "qvm-metadata-tokens-private.h"

#define SECOND G_USEC_PER_SEC

static SoupMessageHeaders *
headers_with (const char *name,
              const char *value,
              ...)
{
  SoupMessageHeaders *headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  va_list args;

  va_start (args, value);
  while (name != NULL)
    {
      soup_message_headers_append (headers, name, value);
      name = va_arg (args, const char *);
      if (name != NULL)
        value = va_arg (args, const char *);
    }
  va_end (args);
  return headers;
}

/* A PUT with a TTL: 200 and a new token, which then opens other paths
 * until it expires. */
static char *
issue (QvmMetadataTokens *tokens,
       const char        *ttl,
       gint64             now)
{
  g_autoptr(SoupMessageHeaders) headers = headers_with (QVM_METADATA_TOKEN_TTL_HEADER, ttl, NULL);
  char *token = NULL;
  guint status;

  g_assert_false (qvm_metadata_tokens_check (tokens, "PUT", QVM_METADATA_TOKEN_PATH, headers,
                                             now, &status, &token));
  g_assert_cmpuint (status, ==, SOUP_STATUS_OK);
  g_assert_nonnull (token);
  return token;
}

static guint
status_of (QvmMetadataTokens  *tokens,
           const char         *method,
           const char         *path,
           SoupMessageHeaders *headers,
           gint64              now,
           gboolean           *passes)
{
  g_autofree char *token = NULL;
  guint status;

  *passes = qvm_metadata_tokens_check (tokens, method, path, headers, now, &status, &token);
  if (*passes)
    g_assert_cmpuint (status, ==, 0);
  return status;
}

static void
test_session (void)
{
  g_autoptr(QvmMetadataTokens) tokens = qvm_metadata_tokens_new ();
  g_autofree char *token = issue (tokens, "60", 100 * SECOND);
  g_autofree char *other = issue (tokens, "21600", 100 * SECOND);
  g_autoptr(SoupMessageHeaders) with_token = headers_with (QVM_METADATA_TOKEN_HEADER, token, NULL);
  g_autoptr(SoupMessageHeaders) none = headers_with (NULL, NULL);
  g_autoptr(SoupMessageHeaders) wrong = headers_with (QVM_METADATA_TOKEN_HEADER, "not-a-token", NULL);
  gboolean passes;

  g_assert_cmpuint (strlen (token), ==, 43);
  g_assert_cmpstr (token, !=, other);
  g_assert_null (strpbrk (token, "+/="));

  g_assert_cmpuint (status_of (tokens, "GET", "/meta-data", with_token, 101 * SECOND, &passes), ==, 0);
  g_assert_true (passes);
  g_assert_cmpuint (status_of (tokens, "POST", "/result", with_token, 159 * SECOND, &passes), ==, 0);
  g_assert_true (passes);
  /* Expired at 100 s + 60 s. */
  g_assert_cmpuint (status_of (tokens, "GET", "/meta-data", with_token, 160 * SECOND, &passes), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_false (passes);
  g_assert_cmpuint (status_of (tokens, "GET", "/meta-data", none, 101 * SECOND, &passes), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpuint (status_of (tokens, "GET", "/meta-data", wrong, 101 * SECOND, &passes), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpuint (qvm_metadata_tokens_count (tokens, 161 * SECOND), ==, 1);
}

static void
test_token_request_refused (void)
{
  g_autoptr(QvmMetadataTokens) tokens = qvm_metadata_tokens_new ();
  const char *bad_ttls[] = { "0", "21601", "-5", "+5", " 5", "5 ", "5.0", "0x10", "abc", "", "99999999999" };
  gboolean passes;

  for (guint i = 0; i < G_N_ELEMENTS (bad_ttls); i++)
    {
      g_autoptr(SoupMessageHeaders) headers = headers_with (QVM_METADATA_TOKEN_TTL_HEADER, bad_ttls[i], NULL);

      g_assert_cmpuint (status_of (tokens, "PUT", QVM_METADATA_TOKEN_PATH, headers, 0, &passes), ==,
                        SOUP_STATUS_BAD_REQUEST);
      g_assert_false (passes);
    }
  {
    g_autoptr(SoupMessageHeaders) missing = headers_with (NULL, NULL);
    g_autoptr(SoupMessageHeaders) twice = headers_with (QVM_METADATA_TOKEN_TTL_HEADER, "10",
                                                        QVM_METADATA_TOKEN_TTL_HEADER, "10", NULL);
    g_autoptr(SoupMessageHeaders) forwarded = headers_with (QVM_METADATA_TOKEN_TTL_HEADER, "10",
                                                            "X-Forwarded-For", "192.0.2.1", NULL);
    g_autoptr(SoupMessageHeaders) good = headers_with (QVM_METADATA_TOKEN_TTL_HEADER, "10", NULL);

    g_assert_cmpuint (status_of (tokens, "PUT", QVM_METADATA_TOKEN_PATH, missing, 0, &passes), ==, 400);
    g_assert_cmpuint (status_of (tokens, "PUT", QVM_METADATA_TOKEN_PATH, twice, 0, &passes), ==, 400);
    g_assert_cmpuint (status_of (tokens, "PUT", QVM_METADATA_TOKEN_PATH, forwarded, 0, &passes), ==, 400);
    g_assert_cmpuint (status_of (tokens, "GET", QVM_METADATA_TOKEN_PATH, good, 0, &passes), ==, 405);
    g_assert_cmpuint (status_of (tokens, "POST", QVM_METADATA_TOKEN_PATH, good, 0, &passes), ==, 405);
  }
  g_assert_cmpuint (qvm_metadata_tokens_count (tokens, 0), ==, 0);
}

/* A guest that asks for tokens without end keeps at most 64; the one
 * that would expire first goes. */
static void
test_bounded (void)
{
  g_autoptr(QvmMetadataTokens) tokens = qvm_metadata_tokens_new ();
  g_autofree char *first = issue (tokens, "1000", 0);
  g_autoptr(SoupMessageHeaders) with_first = headers_with (QVM_METADATA_TOKEN_HEADER, first, NULL);
  gboolean passes;

  for (guint i = 0; i < QVM_METADATA_TOKENS_MAX + 10; i++)
    g_free (issue (tokens, "2000", 0));
  g_assert_cmpuint (qvm_metadata_tokens_count (tokens, 0), ==, QVM_METADATA_TOKENS_MAX);
  g_assert_cmpuint (status_of (tokens, "GET", "/x", with_first, 1, &passes), ==, SOUP_STATUS_UNAUTHORIZED);
}

/* Two tokens in one request (a repeated header): neither counts. */
static void
test_repeated_token (void)
{
  g_autoptr(QvmMetadataTokens) tokens = qvm_metadata_tokens_new ();
  g_autofree char *token = issue (tokens, "60", 0);
  g_autoptr(SoupMessageHeaders) twice = headers_with (QVM_METADATA_TOKEN_HEADER, token,
                                                      QVM_METADATA_TOKEN_HEADER, token, NULL);
  gboolean passes;

  g_assert_cmpuint (status_of (tokens, "GET", "/x", twice, 1, &passes), ==, SOUP_STATUS_UNAUTHORIZED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/metadata-tokens/session", test_session);
  g_test_add_func ("/metadata-tokens/token-request-refused", test_token_request_refused);
  g_test_add_func ("/metadata-tokens/bounded", test_bounded);
  g_test_add_func ("/metadata-tokens/repeated-token", test_repeated_token);

  return g_test_run ();
}
