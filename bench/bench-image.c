/* bench-image.c: image archives, side by side with upstream's tools
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A 4 GiB sparse disk with 512 MiB of mixed data (random, text-like and
 * zero-filled blocks) is
 *   - packaged by QvmFolderImage and by upstream's way: `tar -Scf` then
 *     `zstd -3`;
 *   - extracted by QvmImageStore (validated) and by `zstd -dc | tar -x`;
 * and instances are created by the store and by `qemu-img create -b`.
 * Prints the times and the ratios (upstream time / ours: above 1 means
 * faster). Not a test: nothing is asserted.
 *
 *   meson compile -C _build bench/bench-image
 *   _build/bench/bench-image [WORK-FOLDER]    (default: a folder in /tmp)
 */

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define DISK_SIZE (4 * GIB)
#define DATA_SIZE (512 * MIB)
#define REGION_SIZE (16 * MIB)
#define INSTANCES 50
#define ROUNDS 3

/* CPU seconds (user + system) of this process's threads, or of its
 * waited-for children. */
static double
cpu (int who)
{
  struct rusage usage;

  getrusage (who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
run (const char *folder, const char *command)
{
  const char *argv[] = { "sh", "-c", command, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_spawn_sync (folder, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", command, error->message);
}

/* Fills a region with a mix: a quarter random, half text-like, a quarter
 * zeros (allocated, as in a real file system image). */
static void
fill_region (guint8 *buffer, gsize size, guint32 seed)
{
  static const char *const words[] = { "qemu ", "image ", "kernel ", "module ", "libc.so ",
                                       "/usr/lib/", "config ", "0x7fff ", "\n" };
  guint32 state = seed * 2654435761u + 1;
  gsize quarter = size / 4, i = 0;

  for (; i < quarter; i += 4)
    {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      memcpy (buffer + i, &state, 4);
    }
  while (i < 3 * quarter)
    {
      const char *word = words[(i * 7 + seed) % G_N_ELEMENTS (words)];
      gsize len = MIN (strlen (word), 3 * quarter - i);

      memcpy (buffer + i, word, len);
      i += len;
    }
  memset (buffer + i, 0, size - i);
}

static void
on_instance (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static QvmImage *
instance (QvmImageStore *store, const char *id, GFile *archive)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  QvmImage *image;

  qvm_image_store_instance_async (store, id, archive, NULL, on_instance, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  image = qvm_image_store_instance_finish (store, result, &error);
  if (image == NULL)
    g_error ("instance: %s", error->message);
  return image;
}

/* Mean time of creating (and releasing) an instance of a loaded image. */
static double
instance_time (QvmImageStore *store, const char *id, GFile *archive)
{
  QvmImage *images[INSTANCES];
  double start, elapsed;

  g_object_unref (instance (store, id, archive)); /* loads */
  start = now ();
  for (int i = 0; i < INSTANCES; i++)
    images[i] = instance (store, id, archive);
  elapsed = (now () - start) / INSTANCES;
  for (int i = 0; i < INSTANCES; i++)
    {
      qvm_image_release (images[i]);
      g_object_unref (images[i]);
    }
  return elapsed;
}

int
main (int argc, char *argv[])
{
  g_autofree char *work = argc > 1 ? g_strdup (argv[1]) : g_dir_make_tmp ("qvm-bench-image-XXXXXX", NULL);
  g_autofree char *ours_dir = g_build_filename (work, "ours", NULL);
  g_autofree char *theirs_dir = g_build_filename (work, "upstream", NULL);
  g_autofree char *build = g_build_filename (work, "build", NULL);
  g_autofree char *small_build = g_build_filename (work, "small", NULL);
  g_autofree char *archive = g_build_filename (ours_dir, "image.tar.zst", NULL);
  g_autofree char *small_archive = g_build_filename (ours_dir, "small.tar.zst", NULL);
  g_autofree char *store_folder = g_build_filename (ours_dir, "store", NULL);
  g_autofree char *extract_dir = g_build_filename (theirs_dir, "extract", NULL);
  g_autofree guint8 *buffer = g_malloc (REGION_SIZE);
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autoptr(QvmFolderImage) image = NULL;
  g_autoptr(QvmFolderImage) small = NULL;
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(GFile) archive_file = NULL;
  g_autoptr(GFile) small_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command = NULL;
  g_autofree char *json = NULL;
  double t, ours_package, theirs_package, ours_extract, theirs_extract;
  double ours_instance, small_instance, theirs_instance;
  double ours_package_cpu = 0, theirs_package_cpu = 0, ours_extract_cpu = 0, theirs_extract_cpu = 0;
  struct stat ours_st, theirs_st;
  int fd;

  g_mkdir_with_parents (ours_dir, 0700);
  g_mkdir_with_parents (theirs_dir, 0700);
  g_mkdir_with_parents (extract_dir, 0700);
  g_print ("work folder: %s\n", work);

  image = qvm_folder_image_new_blank (build, DISK_SIZE, machine, &error);
  if (image == NULL)
    g_error ("%s", error->message);
  fd = open (qvm_image_get_disk_file (QVM_IMAGE (image)), O_WRONLY);
  for (guint i = 0; i < DATA_SIZE / REGION_SIZE; i++)
    {
      /* spread over the disk, 128 MiB apart */
      guint64 offset = (guint64) i * (DISK_SIZE / (DATA_SIZE / REGION_SIZE));

      fill_region (buffer, REGION_SIZE, i);
      if (pwrite (fd, buffer, REGION_SIZE, offset) != REGION_SIZE)
        g_error ("cannot write the disk");
    }
  fsync (fd);
  close (fd);
  qvm_image_release (QVM_IMAGE (image));
  g_print ("disk: %" G_GUINT64_FORMAT " MiB sparse, %" G_GUINT64_FORMAT " MiB of data\n",
           DISK_SIZE / MIB, DATA_SIZE / MIB);

  /* packaging: ours, then upstream's (a fresh layer and machine.json next
   * to the disk, GNU tar with -S, then zstd -3); best of ROUNDS, since the
   * host is shared */
  json = qvm_machine_to_data (machine);
  {
    g_autofree char *machine_path = g_build_filename (build, "machine.json", NULL);

    g_file_set_contents (machine_path, json, -1, NULL);
  }
  command = g_strdup_printf ("qemu-img create -q -f qcow2 -b disk.img -F raw -o lazy_refcounts=on layer.qcow2 && "
                             "tar -Scf '%s/image.tar' disk.img layer.qcow2 machine.json && "
                             "zstd -q -3 '%s/image.tar' -fo '%s/image.tar.zst' && "
                             "rm -f '%s/image.tar' layer.qcow2",
                             theirs_dir, theirs_dir, theirs_dir, theirs_dir);
  ours_package = theirs_package = G_MAXDOUBLE;
  for (int round = 0; round < ROUNDS; round++)
    {
      double c;

      t = now ();
      c = cpu (RUSAGE_SELF);
      if (!qvm_mutable_image_package (QVM_MUTABLE_IMAGE (image), archive, NULL, &error))
        g_error ("package: %s", error->message);
      ours_package = MIN (ours_package, now () - t);
      ours_package_cpu = cpu (RUSAGE_SELF) - c;

      t = now ();
      c = cpu (RUSAGE_CHILDREN);
      run (build, command);
      theirs_package = MIN (theirs_package, now () - t);
      theirs_package_cpu = cpu (RUSAGE_CHILDREN) - c;
    }
  g_clear_pointer (&command, g_free);

  stat (archive, &ours_st);
  {
    g_autofree char *theirs_archive = g_build_filename (theirs_dir, "image.tar.zst", NULL);

    stat (theirs_archive, &theirs_st);
  }

  /* extraction: the store's validated load, and zstd -dc | tar -x */
  store = qvm_image_store_new (store_folder, &error);
  if (store == NULL)
    g_error ("%s", error->message);
  archive_file = g_file_new_for_path (archive);
  command = g_strdup_printf ("rm -rf '%s' && mkdir '%s' && zstd -q -dc '%s/image.tar.zst' | tar -xf - -C '%s'",
                             extract_dir, extract_dir, theirs_dir, extract_dir);
  ours_extract = theirs_extract = G_MAXDOUBLE;
  for (int round = 0; round < ROUNDS; round++)
    {
      g_autofree char *id = g_strdup_printf ("bench-%d", round);
      double c;

      t = now ();
      c = cpu (RUSAGE_SELF);
      {
        g_autoptr(QvmImage) first = instance (store, id, archive_file);

        ours_extract = MIN (ours_extract, now () - t);
        ours_extract_cpu = cpu (RUSAGE_SELF) - c;
        qvm_image_release (first);
      }
      qvm_image_store_collect (store);

      t = now ();
      c = cpu (RUSAGE_CHILDREN);
      run (theirs_dir, command);
      theirs_extract = MIN (theirs_extract, now () - t);
      theirs_extract_cpu = cpu (RUSAGE_CHILDREN) - c;
    }
  g_clear_pointer (&command, g_free);

  /* instances: of the 4 GiB image and of a 64 MiB one (O(1)), and
   * qemu-img create -b */
  ours_instance = instance_time (store, "bench", archive_file);
  (void) 0;

  small = qvm_folder_image_new_blank (small_build, 64 * MIB, machine, &error);
  if (small == NULL || !qvm_mutable_image_package (QVM_MUTABLE_IMAGE (small), small_archive, NULL, &error))
    g_error ("%s", error->message);
  small_file = g_file_new_for_path (small_archive);
  small_instance = instance_time (store, "small", small_file);

  t = now ();
  for (int i = 0; i < INSTANCES; i++)
    {
      command = g_strdup_printf ("qemu-img create -q -f qcow2 -b disk.img -F raw instance-%d.qcow2", i);
      run (extract_dir, command);
      g_clear_pointer (&command, g_free);
    }
  theirs_instance = (now () - t) / INSTANCES;

  g_print ("\nbest of %d rounds; ratio = upstream time / qvm-glib time\n", ROUNDS);
  g_print ("%-28s %12s %12s %8s\n", "", "qvm-glib", "upstream", "ratio");
  g_print ("%-28s %11.2fs %11.2fs %7.2fx\n", "package (4 GiB, 512 MiB)", ours_package, theirs_package,
           theirs_package / ours_package);
  g_print ("%-28s %11.2fs %11.2fs %7.2fx\n", "extract", ours_extract, theirs_extract,
           theirs_extract / ours_extract);
  g_print ("%-28s %10.3fms %10.3fms %7.2fx\n", "instance (4 GiB image)", ours_instance * 1e3,
           theirs_instance * 1e3, theirs_instance / ours_instance);
  g_print ("%-28s %10.3fms\n", "instance (64 MiB image)", small_instance * 1e3);
  g_print ("%-28s %10.1fMiB %10.1fMiB\n", "archive size", ours_st.st_size / (double) MIB,
           theirs_st.st_size / (double) MIB);
  g_print ("%-28s %11.2fs %11.2fs\n", "package CPU (last round)", ours_package_cpu, theirs_package_cpu);
  g_print ("%-28s %11.2fs %11.2fs\n", "extract CPU (last round)", ours_extract_cpu, theirs_extract_cpu);
  g_print ("\npackage throughput: %.0f MiB/s of data (ours), %.0f MiB/s (upstream)\n",
           DATA_SIZE / MIB / ours_package, DATA_SIZE / MIB / theirs_package);

  g_clear_object (&store);
  if (argc <= 1)
    run ("/", command = g_strdup_printf ("rm -rf '%s'", work));
  return 0;
}
