/* fuzz-qcow2.c: the bounded qcow2 header reader (qvm-qcow2.c)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is the start of a layer.qcow2 from an image archive. The reader
 * must never read outside it, must report what it found consistently, and
 * the layer rules must only pass what they promise.
 */

#include "fuzz-common.h"

#include <string.h>

#include "qvm.h"
#include "qvm-qcow2-private.h"

#define GIB (G_GUINT64_CONSTANT (1) << 30)

static void
check_error (const GError *error)
{
  fuzz_check (g_error_matches (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD));
  fuzz_check (g_str_has_prefix (error->message, "layer.qcow2: "));
  fuzz_check (g_utf8_validate (error->message, -1, NULL));
  /* A hostile name must not be able to forge a second message line. */
  fuzz_check (strchr (error->message, '\n') == NULL);
}

static void
check_header (const QvmQcow2Header *header,
              gsize                 len)
{
  fuzz_check (header->version == 2 || header->version == 3);
  fuzz_check (header->cluster_bits >= 9 && header->cluster_bits <= 21);
  fuzz_check (header->header_length <= len);
  fuzz_check (header->refcount_order <= 6);
  if (header->backing_file != NULL)
    {
      fuzz_check (header->backing_file_len <= 1023);
      fuzz_check (header->backing_file[header->backing_file_len] == '\0');
    }
  else
    fuzz_check (header->backing_file_len == 0);
  if (header->backing_format != NULL)
    fuzz_check (header->backing_format[header->backing_format_len] == '\0');
  else
    fuzz_check (header->backing_format_len == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_auto(QvmQcow2Header) header = { 0 };
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(GError) layer_error = NULL;
  g_autoptr(GError) small_error = NULL;
  gsize window = MIN (size, QVM_QCOW2_HEADER_WINDOW);
  gboolean parsed, layer_ok, small_ok;
  const char *format = NULL;

  fuzz_setup ();

  parsed = qvm_qcow2_parse_header (data, window, "layer.qcow2", &header, &parse_error);
  fuzz_report ("header", parse_error);
  if (parsed)
    {
      fuzz_check (parse_error == NULL);
      check_header (&header, window);
    }
  else
    check_error (parse_error);

  /* Past the window nothing counts: the whole input gives the same answer. */
  if (size > window)
    {
      g_auto(QvmQcow2Header) whole = { 0 };

      fuzz_check (qvm_qcow2_parse_header (data, size, "layer.qcow2", &whole, NULL) == parsed);
    }

  layer_ok = qvm_qcow2_check_layer (data, window, "layer.qcow2", "disk.img", "raw",
                                    50 * GIB, &layer_error);
  fuzz_report ("layer", layer_error);
  if (layer_ok)
    {
      fuzz_check (parsed);
      fuzz_check (header.backing_file_len == 8 && memcmp (header.backing_file, "disk.img", 8) == 0);
      fuzz_check (header.backing_format_len == 3 && memcmp (header.backing_format, "raw", 3) == 0);
      fuzz_check (header.virtual_size <= 50 * GIB);
      fuzz_check (header.crypt_method == 0 && !header.has_encryption_extension);
      fuzz_check (!header.has_data_file_extension);
      fuzz_check ((header.incompatible_features & ~(QVM_QCOW2_INCOMPAT_COMPRESSION |
                                                    QVM_QCOW2_INCOMPAT_EXTENDED_L2)) == 0);
    }
  else
    check_error (layer_error);

  /* A smaller limit can only refuse more. */
  small_ok = qvm_qcow2_check_layer (data, window, "layer.qcow2", "disk.img", "raw",
                                    GIB, &small_error);
  fuzz_check (!small_ok || layer_ok);
  if (!small_ok)
    check_error (small_error);

  if (qvm_qcow2_has_image_magic (data, MIN (size, QVM_QCOW2_MAGIC_PREFIX), &format))
    fuzz_check (format != NULL);
  return 0;
}
