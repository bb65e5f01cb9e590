/* qvm-metadata-tokens-private.h: token sessions for the metadata service
 * (IMDSv2 / Firecracker MMDS version 2 semantics), internal API
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define QVM_METADATA_TOKEN_PATH "/latest/api/token"
#define QVM_METADATA_TOKEN_TTL_HEADER "X-metadata-token-ttl-seconds"
#define QVM_METADATA_TOKEN_HEADER "X-metadata-token"
#define QVM_METADATA_TOKEN_MAX_TTL 21600       /* seconds: six hours */
#define QVM_METADATA_TOKENS_MAX 64             /* live at once; the oldest goes first */

typedef struct _QvmMetadataTokens QvmMetadataTokens;

QvmMetadataTokens *qvm_metadata_tokens_new  (void);
void               qvm_metadata_tokens_free (QvmMetadataTokens *tokens);

/* What the token rules make of one request, before any handler:
 *
 * - PUT QVM_METADATA_TOKEN_PATH with a TTL header of 1 to 21600 seconds
 *   (decimal digits, one value) and no X-Forwarded-For: 200, a new token
 *   in *@token (transfer full), valid until @now_us + TTL.
 * - That PUT with a missing, repeated or out-of-range TTL, or with
 *   X-Forwarded-For: 400. Another method on that path: 405.
 * - Any other request: it goes on (TRUE, *@status 0) when it carries one
 *   X-metadata-token naming a live token; else 401.
 *
 * Returns TRUE when the request goes on to the handler, FALSE when
 * *@status (and *@token) is the whole answer. @now_us is monotonic time. */
gboolean qvm_metadata_tokens_check (QvmMetadataTokens  *tokens,
                                    const char         *method,
                                    const char         *path,
                                    SoupMessageHeaders *headers,
                                    gint64              now_us,
                                    guint              *status,
                                    char              **token);

/* How many tokens are live at @now_us (for the tests). */
guint    qvm_metadata_tokens_count (QvmMetadataTokens  *tokens,
                                    gint64              now_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmMetadataTokens, qvm_metadata_tokens_free)

G_END_DECLS
