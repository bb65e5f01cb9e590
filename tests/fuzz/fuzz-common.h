/* fuzz-common.h: what every fuzz target shares
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each target defines LLVMFuzzerTestOneInput(). Built with -Dfuzzing=true it
 * links libFuzzer; otherwise fuzz-main.c gives it a main() that runs a
 * corpus once (the regression tests).
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

/* Called at the start of every input: the first call makes warnings and
 * criticals fatal (hostile input must never cause one) and keeps debug
 * output quiet. */
void fuzz_setup (void);

/* A fuzz-found invariant violation: prints @what and aborts, so that
 * libFuzzer keeps the input (g_assert can be compiled out). */
#define fuzz_check(condition) \
  G_STMT_START { \
    if (G_UNLIKELY (!(condition))) \
      fuzz_fail (__FILE__, __LINE__, #condition); \
  } G_STMT_END

/* TRUE when QVM_FUZZ_VERBOSE is set: targets then print the errors they
 * get, to see what a seed exercises. */
gboolean fuzz_verbose (void);

/* Prints @error (or "accepted" when NULL) prefixed with @what, when
 * fuzz_verbose(). */
void fuzz_report (const char   *what,
                  const GError *error);

G_NORETURN void fuzz_fail (const char *file,
                           int         line,
                           const char *what);

/* An author's bad input was refused as it must be: QVM_ERROR_MALFORMED_PAYLOAD
 * with a message, in UTF-8, to show the author. */
void fuzz_check_malformed (const GError *error);

/* TRUE when every string and member name in @node is UTF-8: what a
 * parser hands on must be, since it reaches messages and signals. */
gboolean fuzz_json_is_utf8 (JsonNode *node);

/* A 64-bit FNV-1a hash of @data: a deterministic seed for the choices a
 * target makes about an input (where to split it, which ending to take). */
guint64 fuzz_hash (const uint8_t *data,
                   size_t         size);

/* A small deterministic generator (splitmix64) seeded from fuzz_hash(). */
typedef struct {
  guint64 state;
} FuzzRandom;

void    fuzz_random_init (FuzzRandom *random, const uint8_t *data, size_t size);
guint64 fuzz_random_next (FuzzRandom *random);
/* A number in [0, @bound) (@bound > 0). */
guint64 fuzz_random_below (FuzzRandom *random, guint64 bound);

G_END_DECLS
