/* test-qcow2.c: the bounded qcow2 header reader and the layer writer
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "qvm.h"
#include "qvm-qcow2-private.h"

#define GIB (G_GUINT64_CONSTANT (1) << 30)

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
put_be64 (guint8 *p, guint64 v)
{
  put_be32 (p, v >> 32);
  put_be32 (p + 4, (guint32) v);
}

static guint32
get_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* A writable copy of the first 64 KiB of a fresh layer. */
static guint8 *
layer_header_copy (guint64 size, const char *backing, const char *format)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (size, backing, format);

  return g_memdup2 (g_bytes_get_data (layer, NULL), QVM_QCOW2_HEADER_WINDOW);
}

static void
assert_layer_rejected (const guint8 *data, gsize len, const char *expected)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (qvm_qcow2_check_layer (data, len, "layer.qcow2", "disk.img", "raw", 50 * GIB, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_test_message ("rejected: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "layer.qcow2: "));
  g_assert_nonnull (strstr (error->message, expected));
}

static void
test_build_and_parse (void)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (4 * GIB, "disk.img", "raw");
  g_auto(QvmQcow2Header) header = { 0 };
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (layer, &len);

  /* header, refcount table, refcount block, one L1 cluster */
  g_assert_cmpuint (len, ==, 4 * 65536);
  g_assert_true (qvm_qcow2_parse_header (data, len, "layer.qcow2", &header, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (header.version, ==, 3);
  g_assert_cmpuint (header.virtual_size, ==, 4 * GIB);
  g_assert_cmpuint (header.cluster_bits, ==, 16);
  g_assert_cmpstr (header.backing_file, ==, "disk.img");
  g_assert_cmpstr (header.backing_format, ==, "raw");
  g_assert_cmpuint (header.incompatible_features, ==, 0);
  g_assert_true (qvm_qcow2_check_layer (data, len, "layer.qcow2", "disk.img", "raw", 4 * GIB, &error));
  g_assert_no_error (error);
}

static void
test_build_large (void)
{
  /* 8 TiB needs 16384 L1 entries: two L1 clusters. */
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (8192 * GIB, "disk.img", "raw");
  g_auto(QvmQcow2Header) header = { 0 };

  g_assert_cmpuint (g_bytes_get_size (layer), ==, 5 * 65536);
  g_assert_true (qvm_qcow2_parse_header (g_bytes_get_data (layer, NULL), g_bytes_get_size (layer),
                                         "layer.qcow2", &header, NULL));
  g_assert_cmpuint (header.virtual_size, ==, 8192 * GIB);
  g_assert_cmpuint (get_be32 ((const guint8 *) g_bytes_get_data (layer, NULL) + 36), ==, 16384);
}

static char *
run_qemu_img (const char *const *argv, int *status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, status, &error));
  g_assert_no_error (error);
  g_test_message ("%s: %s%s", argv[1], out, err);
  return g_steal_pointer (&out);
}

static void
test_qemu_img_accepts_layer (void)
{
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *layer_path = NULL;
  g_autofree char *info = NULL;
  g_autofree char *check = NULL;
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (3 * GIB + 12345 * 512, "disk.img", "raw");
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  int status;

  if (qemu_img == NULL)
    {
      g_test_skip ("qemu-img is not installed");
      return;
    }

  folder = g_dir_make_tmp ("qvm-qcow2-XXXXXX", &error);
  g_assert_no_error (error);
  disk = g_build_filename (folder, "disk.img", NULL);
  layer_path = g_build_filename (folder, "layer.qcow2", NULL);
  g_assert_true (g_file_set_contents (disk, "", 0, NULL));
  g_assert_cmpint (truncate (disk, 3 * GIB + 12345 * 512), ==, 0);
  g_assert_true (g_file_set_contents (layer_path, g_bytes_get_data (layer, NULL),
                                      g_bytes_get_size (layer), &error));
  g_assert_no_error (error);

  {
    const char *argv[] = { "qemu-img", "info", "--output=json", layer_path, NULL };
    info = run_qemu_img (argv, &status);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_true (json_parser_load_from_data (parser, info, -1, &error));
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "format"), ==, "qcow2");
  g_assert_cmpint (json_object_get_int_member (object, "virtual-size"), ==, 3 * GIB + 12345 * 512);
  g_assert_cmpstr (json_object_get_string_member (object, "backing-filename"), ==, "disk.img");
  g_assert_cmpstr (json_object_get_string_member (object, "backing-filename-format"), ==, "raw");
  g_assert_false (json_object_get_boolean_member_with_default (object, "dirty-flag", TRUE));

  {
    const char *argv[] = { "qemu-img", "check", "--output=json", layer_path, NULL };
    check = run_qemu_img (argv, &status);
    /* exit status 0: no errors, no leaks */
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_nonnull (strstr (check, "\"check-errors\": 0"));

  g_assert_cmpint (g_unlink (layer_path), ==, 0);
  g_assert_cmpint (g_unlink (disk), ==, 0);
  g_assert_cmpint (g_rmdir (folder), ==, 0);
}

/* A layer made by qemu-img itself (v3, 112-byte header, feature name
 * table) passes the checks too. */
static void
test_qemu_img_layer_accepted (void)
{
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *layer_path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  int status;

  if (qemu_img == NULL)
    {
      g_test_skip ("qemu-img is not installed");
      return;
    }

  folder = g_dir_make_tmp ("qvm-qcow2-XXXXXX", &error);
  g_assert_no_error (error);
  layer_path = g_build_filename (folder, "layer.qcow2", NULL);
  {
    const char *argv[] = { "qemu-img", "create", "-f", "qcow2", "-u", "-b", "disk.img", "-F", "raw",
                           "-o", "lazy_refcounts=on", layer_path, "1G", NULL };
    out = run_qemu_img (argv, &status);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_true (g_file_get_contents (layer_path, &contents, &len, &error));
  g_assert_no_error (error);
  g_assert_true (qvm_qcow2_check_layer ((const guint8 *) contents, len, "layer.qcow2",
                                        "disk.img", "raw", GIB, &error));
  g_assert_no_error (error);
  /* …but not with a lower size limit */
  g_assert_false (qvm_qcow2_check_layer ((const guint8 *) contents, len, "layer.qcow2",
                                         "disk.img", "raw", GIB - 1, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "over the limit"));

  g_assert_cmpint (g_unlink (layer_path), ==, 0);
  g_assert_cmpint (g_rmdir (folder), ==, 0);
}

/* A fully allocated image, as qemu-img lays it out, is within the bound
 * the header implies; one byte more is not. */
static void
assert_full_image_within_bound (const char *folder,
                                const char *options,
                                const char *size)
{
  g_autofree char *path = g_build_filename (folder, "full.qcow2", NULL);
  g_autofree char *out = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(QvmQcow2Header) header = { 0 };
  struct stat st;
  gsize len;
  int status;
  const char *argv[] = { "qemu-img", "create", "-f", "qcow2", "-o", options, path, size, NULL };

  out = run_qemu_img (argv, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  len = MIN (len, QVM_QCOW2_HEADER_WINDOW);
  g_assert_true (qvm_qcow2_parse_header ((const guint8 *) contents, len, "full.qcow2", &header, &error));
  g_assert_no_error (error);
  g_test_message ("%s: %" G_GINT64_FORMAT " bytes, bound %" G_GUINT64_FORMAT, options,
                  (gint64) st.st_size, qvm_qcow2_max_file_size (&header));
  g_assert_cmpuint (st.st_size, >=, header.virtual_size);
  g_assert_true (qvm_qcow2_check_layer_file_size ((const guint8 *) contents, len, "full.qcow2",
                                                  st.st_size, &error));
  g_assert_no_error (error);
  g_assert_false (qvm_qcow2_check_layer_file_size ((const guint8 *) contents, len, "full.qcow2",
                                                   qvm_qcow2_max_file_size (&header) + 1, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "is larger than a qcow2 file of virtual size"));
  g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
test_file_size_bound (void)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (8 * GIB, "disk.img", "raw");
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  g_autofree char *folder = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (layer, &len);

  /* the empty layer, as written, and with its whole virtual size behind it */
  g_assert_true (qvm_qcow2_check_layer_file_size (data, len, "layer.qcow2", len, &error));
  g_assert_true (qvm_qcow2_check_layer_file_size (data, len, "layer.qcow2", 8 * GIB + len, &error));
  g_assert_no_error (error);
  /* a huge hole behind a small header is not */
  g_assert_false (qvm_qcow2_check_layer_file_size (data, len, "layer.qcow2", 9 * GIB, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_test_message ("rejected: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "layer.qcow2: the file of 9663676416 bytes"));
  g_clear_error (&error);

  if (qemu_img == NULL)
    {
      g_test_skip ("qemu-img is not installed");
      return;
    }
  folder = g_dir_make_tmp ("qvm-qcow2-XXXXXX", &error);
  g_assert_no_error (error);
  assert_full_image_within_bound (folder, "preallocation=full", "24M");
  assert_full_image_within_bound (folder, "preallocation=full,cluster_size=512", "8M");
  assert_full_image_within_bound (folder, "preallocation=full,cluster_size=512,refcount_bits=64", "8M");
  assert_full_image_within_bound (folder, "preallocation=full,extended_l2=on,cluster_size=16k", "8M");
  assert_full_image_within_bound (folder, "preallocation=full,cluster_size=2M", "9M");
  g_assert_cmpint (g_rmdir (folder), ==, 0);
}

static void
test_reject_not_qcow2 (void)
{
  guint8 zeros[512] = { 0 };

  assert_layer_rejected (zeros, sizeof zeros, "not a qcow2 file");
  assert_layer_rejected (zeros, 0, "not a qcow2 file");
  assert_layer_rejected ((const guint8 *) "QFI\xfb", 4, "not a qcow2 file");
}

static void
test_reject_version (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");

  put_be32 (h + 4, 4);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "qcow2 version 4");
  put_be32 (h + 4, 1);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "qcow2 version 1");
}

static void
test_reject_feature_bits (void)
{
  static const struct { guint64 bits; const char *expected; } cases[] = {
    { 1 << 0, "dirty bit" },
    { 1 << 1, "corrupt bit" },
    { 1 << 2, "external qcow2 data file" },
    { 1 << 5, "unknown qcow2 incompatible features 0x20" },
    { G_GUINT64_CONSTANT (1) << 63, "unknown qcow2 incompatible features 0x8000000000000000" },
    { 1 << 3, "compression type 0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");

      put_be64 (h + 72, cases[i].bits);
      assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, cases[i].expected);
    }
}

static void
test_accept_known_features (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");
  g_autoptr(GError) error = NULL;

  /* zstd compressed clusters and extended L2 entries are fine */
  put_be64 (h + 72, QVM_QCOW2_INCOMPAT_COMPRESSION | QVM_QCOW2_INCOMPAT_EXTENDED_L2);
  h[104] = 1;
  g_assert_true (qvm_qcow2_check_layer (h, QVM_QCOW2_HEADER_WINDOW, "layer.qcow2", "disk.img", "raw",
                                        GIB, &error));
  g_assert_no_error (error);

  /* a compression type without its feature bit is not */
  put_be64 (h + 72, 0);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "compression type 1");
}

static void
test_reject_encryption (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");

  put_be32 (h + 32, 2);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "encrypted");
}

static void
test_reject_raw_data_autoclear (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");

  put_be64 (h + 88, QVM_QCOW2_AUTOCLEAR_RAW_DATA);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "external qcow2 data file");
}

static void
test_reject_backing_file (void)
{
  g_autofree guint8 *passwd = layer_header_copy (GIB, "/etc/passwd", "raw");
  g_autofree guint8 *none = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *nul = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *json = layer_header_copy (GIB, "json:{\"file.filename\":\"/etc/shadow\"}", "raw");
  guint64 name_offset = ((guint64) get_be32 (nul + 8) << 32) | get_be32 (nul + 12);

  assert_layer_rejected (passwd, QVM_QCOW2_HEADER_WINDOW, "backing file is “/etc/passwd”; it must be “disk.img”");
  assert_layer_rejected (json, QVM_QCOW2_HEADER_WINDOW, "it must be “disk.img”");

  put_be64 (none + 8, 0);
  put_be32 (none + 16, 0);
  assert_layer_rejected (none, QVM_QCOW2_HEADER_WINDOW, "has no backing file");

  /* "disk.img\0x": a C string compare would see "disk.img" */
  put_be32 (nul + 16, 10);
  nul[name_offset + 8] = '\0';
  nul[name_offset + 9] = 'x';
  assert_layer_rejected (nul, QVM_QCOW2_HEADER_WINDOW, "backing file is “disk.img\\000x”");
}

static void
test_reject_backing_format (void)
{
  g_autofree guint8 *qcow2 = layer_header_copy (GIB, "disk.img", "qcow2");
  g_autofree guint8 *missing = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *twice = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *after_end = layer_header_copy (GIB, "disk.img", "raw");

  assert_layer_rejected (qcow2, QVM_QCOW2_HEADER_WINDOW, "backing format is “qcow2”; it must be “raw”");

  /* turn the backing format extension into an unknown one: QEMU would probe */
  put_be32 (missing + 112, 0x12345678);
  assert_layer_rejected (missing, QVM_QCOW2_HEADER_WINDOW, "backing format is not given");

  /* a second backing format extension in place of the end marker; move the
   * name out of the way */
  put_be32 (twice + 112 + 16, 0xe2792aca);
  put_be32 (twice + 112 + 20, 5);
  memcpy (twice + 112 + 24, "qcow2", 5);
  memcpy (twice + 200, "disk.img", 8);
  put_be64 (twice + 8, 200);
  assert_layer_rejected (twice, QVM_QCOW2_HEADER_WINDOW, "backing format is given twice");

  /* an extension after the end marker is ignored, as QEMU does */
  put_be32 (after_end + 112 + 24, 0xe2792aca);
  put_be32 (after_end + 112 + 28, 5);
  {
    g_autoptr(GError) error = NULL;

    memcpy (after_end + 200, "disk.img", 8);
    put_be64 (after_end + 8, 200);
    g_assert_true (qvm_qcow2_check_layer (after_end, QVM_QCOW2_HEADER_WINDOW, "layer.qcow2",
                                          "disk.img", "raw", GIB, &error));
    g_assert_no_error (error);
  }
}

static void
test_reject_data_file_extension (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");

  /* replace the end marker by an external data file name extension */
  put_be32 (h + 128, 0x44415441);
  put_be32 (h + 132, 4);
  memcpy (h + 136, "/dev", 4);
  memcpy (h + 200, "disk.img", 8);
  put_be64 (h + 8, 200);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "external qcow2 data file");
}

static void
test_reject_outside_window (void)
{
  g_autofree guint8 *far_name = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *big_cluster = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *bad_length = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *long_ext = layer_header_copy (GIB, "disk.img", "raw");
  g_autofree guint8 *bad_bits = layer_header_copy (GIB, "disk.img", "raw");

  /* 2 MiB clusters, name at 1 MiB: beyond what the reader looks at */
  put_be32 (far_name + 20, 21);
  put_be64 (far_name + 8, 1024 * 1024);
  assert_layer_rejected (far_name, QVM_QCOW2_HEADER_WINDOW, "does not fit in the first 64 KiB");

  /* 2 MiB clusters, no backing file name: extensions must end in 64 KiB */
  put_be32 (big_cluster + 20, 21);
  put_be64 (big_cluster + 8, 0);
  put_be32 (big_cluster + 112 + 16, 0x11111111);
  put_be32 (big_cluster + 112 + 20, QVM_QCOW2_HEADER_WINDOW);
  assert_layer_rejected (big_cluster, QVM_QCOW2_HEADER_WINDOW, "do not fit in the first 64 KiB");

  put_be32 (bad_length + 100, 99);
  assert_layer_rejected (bad_length, QVM_QCOW2_HEADER_WINDOW, "header length is invalid");

  /* an extension running over the backing file name */
  put_be32 (long_ext + 112 + 4, 1000);
  assert_layer_rejected (long_ext, QVM_QCOW2_HEADER_WINDOW, "larger than the header");

  put_be32 (bad_bits + 20, 30);
  assert_layer_rejected (bad_bits, QVM_QCOW2_HEADER_WINDOW, "cluster bits 30 are out of range");
}

static void
test_reject_size (void)
{
  g_autofree guint8 *h = layer_header_copy (GIB, "disk.img", "raw");
  g_autoptr(GError) error = NULL;

  put_be64 (h + 24, G_MAXUINT64);
  assert_layer_rejected (h, QVM_QCOW2_HEADER_WINDOW, "the virtual size 18446744073709551615 bytes is over the limit");
}

/* Every prefix of a valid header, and headers with flipped bytes, are
 * handled without reading outside the buffer (valgrind/ASan watch). */
static void
test_truncated_and_mutated (void)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (GIB, "disk.img", "raw");
  const guint8 *data = g_bytes_get_data (layer, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);

  for (gsize len = 0; len < 512; len++)
    {
      g_autofree guint8 *prefix = g_memdup2 (data, len);
      g_autoptr(GError) error = NULL;
      gboolean ok = qvm_qcow2_check_layer (prefix, len, "layer.qcow2", "disk.img", "raw", GIB, &error);

      /* the name ends at 144; the first 64 KiB cluster is cut short below it */
      g_assert_true (ok == (error == NULL));
      if (len < 144)
        g_assert_false (ok);
    }

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, 512);
      g_auto(QvmQcow2Header) header = { 0 };
      g_autoptr(GError) error = NULL;

      for (guint j = 0; j < 4; j++)
        copy[g_rand_int_range (rand, 0, 160)] = g_rand_int_range (rand, 0, 256);
      if (!qvm_qcow2_parse_header (copy, 512, "layer.qcow2", &header, &error))
        g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    }
}

static void
test_image_magic (void)
{
  g_autoptr(GBytes) layer = qvm_qcow2_build_layer (GIB, "disk.img", "raw");
  guint8 vdi[128] = { 0 };
  guint8 boot[512] = { 0 };
  const char *format = NULL;

  g_assert_true (qvm_qcow2_has_image_magic (g_bytes_get_data (layer, NULL), 128, &format));
  g_assert_cmpstr (format, ==, "qcow/qcow2");
  g_assert_true (qvm_qcow2_has_image_magic ((const guint8 *) "QED\0xxxx", 8, &format));
  g_assert_cmpstr (format, ==, "QED");
  g_assert_true (qvm_qcow2_has_image_magic ((const guint8 *) "KDMV\1\0\0\0", 8, &format));
  g_assert_cmpstr (format, ==, "VMDK");
  memcpy (vdi + 64, "\x7f\x10\xda\xbe", 4);
  g_assert_true (qvm_qcow2_has_image_magic (vdi, sizeof vdi, &format));
  g_assert_cmpstr (format, ==, "VDI");

  /* an MBR boot sector is just raw data */
  boot[510] = 0x55;
  boot[511] = 0xaa;
  memcpy (boot, "\xeb\x63\x90", 3);
  g_assert_false (qvm_qcow2_has_image_magic (boot, sizeof boot, NULL));
  g_assert_false (qvm_qcow2_has_image_magic ((const guint8 *) "QFI", 3, NULL));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qcow2/build-and-parse", test_build_and_parse);
  g_test_add_func ("/qcow2/build-large", test_build_large);
  g_test_add_func ("/qcow2/qemu-img-accepts-layer", test_qemu_img_accepts_layer);
  g_test_add_func ("/qcow2/qemu-img-layer-accepted", test_qemu_img_layer_accepted);
  g_test_add_func ("/qcow2/file-size-bound", test_file_size_bound);
  g_test_add_func ("/qcow2/reject/not-qcow2", test_reject_not_qcow2);
  g_test_add_func ("/qcow2/reject/version", test_reject_version);
  g_test_add_func ("/qcow2/reject/feature-bits", test_reject_feature_bits);
  g_test_add_func ("/qcow2/accept-known-features", test_accept_known_features);
  g_test_add_func ("/qcow2/reject/encryption", test_reject_encryption);
  g_test_add_func ("/qcow2/reject/raw-data-autoclear", test_reject_raw_data_autoclear);
  g_test_add_func ("/qcow2/reject/backing-file", test_reject_backing_file);
  g_test_add_func ("/qcow2/reject/backing-format", test_reject_backing_format);
  g_test_add_func ("/qcow2/reject/data-file-extension", test_reject_data_file_extension);
  g_test_add_func ("/qcow2/reject/outside-window", test_reject_outside_window);
  g_test_add_func ("/qcow2/reject/size", test_reject_size);
  g_test_add_func ("/qcow2/truncated-and-mutated", test_truncated_and_mutated);
  g_test_add_func ("/qcow2/image-magic", test_image_magic);

  return g_test_run ();
}
