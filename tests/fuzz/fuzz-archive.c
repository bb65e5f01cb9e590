/* fuzz-archive.c: image archive extraction (qvm-archive.c)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is an image.tar.zst. It is written to a file in a scratch
 * folder of this process and extracted, as an image store does, into a
 * folder that does not exist yet, two levels down:
 *
 *     SCRATCH/input.tar.zst
 *     SCRATCH/cage/image/    (the extraction folder)
 *
 * so that an entry escaping by one or two levels would show up in cage/ or
 * in SCRATCH/. After each run nothing but these may exist; image/ only
 * after a success, and then holding exactly disk.img and layer.qcow2 as
 * regular files within the limits. No file descriptor may stay open.
 *
 * With libFuzzer, a custom mutator mutates the tar inside the zstd frame
 * (and sometimes the compressed bytes), since random changes to compressed
 * data rarely get past the decompressor.
 */

#include "fuzz-common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "qvm.h"
#include "qvm-archive-private.h"
#include "qvm-fs-private.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

static char *scratch;
static char *input_path;
static char *cage;
static char *folder;

static void
remove_scratch (void)
{
  if (scratch != NULL)
    qvm_fs_remove_tree (scratch, NULL);
}

static void
make_scratch (void)
{
  g_autoptr(GError) error = NULL;

  if (scratch != NULL)
    return;
  scratch = g_dir_make_tmp ("qvm-fuzz-archive-XXXXXX", &error);
  fuzz_check (scratch != NULL);
  input_path = g_build_filename (scratch, "input.tar.zst", NULL);
  cage = g_build_filename (scratch, "cage", NULL);
  folder = g_build_filename (cage, "image", NULL);
  fuzz_check (mkdir (cage, 0700) == 0);
  atexit (remove_scratch);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names in @path, sorted, joined with spaces. */
static char *
list_folder (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  fuzz_check (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static GObject *
validate_machine (GBytes  *json,
                  GError **error)
{
  return G_OBJECT (qvm_machine_new_from_bytes (json, error));
}

static void
check_extracted_file (const char *name,
                      const QvmArchiveLimits *limits)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  struct stat st;

  fuzz_check (lstat (path, &st) == 0);
  fuzz_check (S_ISREG (st.st_mode));
  fuzz_check (st.st_nlink == 1);
  fuzz_check ((guint64) st.st_size <= limits->max_entry_size);
  /* Data written counts against the total (holes do not). */
  fuzz_check ((guint64) st.st_blocks * 512 <= limits->max_total_size + 2 * MIB);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GObject) machine = NULL;
  g_autofree char *scratch_listing = NULL;
  g_autofree char *cage_listing = NULL;
  QvmArchiveLimits limits;
  guint fds_before;
  gboolean ok;

  fuzz_setup ();
  make_scratch ();

  /* Small limits: a tiny input may still declare a huge sparse entry or
   * decompress to a lot; they must hold whatever the archive says. */
  qvm_archive_limits_init (&limits);
  limits.max_entry_size = 64 * MIB;
  limits.max_total_size = 4 * MIB;
  limits.max_machine_size = 64 * 1024;

  fuzz_check (g_file_set_contents (input_path, (const char *) data, size, NULL));
  fds_before = count_open_fds ();

  file = g_file_new_for_path (input_path);
  stream = g_file_read (file, NULL, &error);
  fuzz_check (stream != NULL);
  ok = qvm_archive_extract (G_INPUT_STREAM (stream), folder, &limits, validate_machine,
                            &machine, NULL, &error);
  g_clear_object (&stream);
  fuzz_report ("extract", error);
  fuzz_check (count_open_fds () == fds_before);

  scratch_listing = list_folder (scratch);
  cage_listing = list_folder (cage);
  fuzz_check (strcmp (scratch_listing, "cage input.tar.zst") == 0);

  if (ok)
    {
      g_autofree char *image_listing = list_folder (folder);

      fuzz_check (error == NULL);
      fuzz_check (QVM_IS_MACHINE (machine));
      fuzz_check (strcmp (cage_listing, "image") == 0);
      fuzz_check (strcmp (image_listing, "disk.img layer.qcow2") == 0);
      check_extracted_file ("disk.img", &limits);
      check_extracted_file ("layer.qcow2", &limits);
      fuzz_check (qvm_fs_remove_tree (folder, NULL));
    }
  else
    {
      fuzz_check (error != NULL);
      fuzz_check (machine == NULL);
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      /* The author's fault, except when the limits of this host's disk
       * are hit (not expected here). */
      fuzz_check (g_error_matches (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD));
      /* Nothing is left of a failed extraction. */
      fuzz_check (strcmp (cage_listing, "") == 0);
    }

  fuzz_check (unlink (input_path) == 0);
  return 0;
}

#ifdef QVM_FUZZ_LIBFUZZER

size_t LLVMFuzzerMutate (uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* The largest tar the mutator works on. */
#define MAX_TAR_SIZE (512 * 1024)

size_t
LLVMFuzzerCustomMutator (uint8_t     *data,
                         size_t       size,
                         size_t       max_size,
                         unsigned int seed)
{
  static uint8_t *tar;
  static uint8_t *packed;
  size_t tar_len, packed_len;
  ZSTD_DCtx *dctx;
  ZSTD_inBuffer in = { data, size, 0 };
  ZSTD_outBuffer out;
  size_t r;

  /* One time in four, or when the input is not zstd, mutate the bytes
   * themselves: the decompressor and the checks before it get fuzzed too. */
  if (seed % 4 == 0 || size < 4 || memcmp (data, "\x28\xb5\x2f\xfd", 4) != 0)
    return LLVMFuzzerMutate (data, size, max_size);

  if (tar == NULL)
    {
      tar = malloc (MAX_TAR_SIZE);
      packed = malloc (ZSTD_compressBound (MAX_TAR_SIZE));
    }

  dctx = ZSTD_createDCtx ();
  out = (ZSTD_outBuffer) { tar, MAX_TAR_SIZE, 0 };
  do
    r = ZSTD_decompressStream (dctx, &out, &in);
  while (!ZSTD_isError (r) && r != 0 && in.pos < in.size && out.pos < out.size);
  ZSTD_freeDCtx (dctx);
  if (ZSTD_isError (r) || out.pos == 0)
    return LLVMFuzzerMutate (data, size, max_size);

  /* Mutate the tar in place, letting it grow a little. */
  tar_len = LLVMFuzzerMutate (tar, out.pos, MIN (MAX_TAR_SIZE, out.pos + 4096));

  {
    ZSTD_CCtx *cctx = ZSTD_createCCtx ();

    ZSTD_CCtx_setParameter (cctx, ZSTD_c_compressionLevel, 1);
    /* Archives made by the library carry a checksum; others may not. */
    ZSTD_CCtx_setParameter (cctx, ZSTD_c_checksumFlag, (seed >> 2) & 1);
    packed_len = ZSTD_compress2 (cctx, packed, ZSTD_compressBound (MAX_TAR_SIZE), tar, tar_len);
    ZSTD_freeCCtx (cctx);
  }
  if (ZSTD_isError (packed_len) || packed_len > max_size)
    return LLVMFuzzerMutate (data, size, max_size);

  memcpy (data, packed, packed_len);
  return packed_len;
}

#endif
