/* qvm-archive-private.h: image archives (image.tar.zst), read and written
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define QVM_ARCHIVE_DISK "disk.img"
#define QVM_ARCHIVE_LAYER "layer.qcow2"
#define QVM_ARCHIVE_MACHINE "machine.json"

#define QVM_ARCHIVE_DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (50) << 30)
#define QVM_ARCHIVE_DEFAULT_MAX_MACHINE_SIZE (G_GUINT64_CONSTANT (1) << 20)

/* What an archive may hold. */
typedef struct {
  /* The size of disk.img and of layer.qcow2 (as declared in the tar, so
   * holes count) and the virtual size of layer.qcow2. */
  guint64 max_entry_size;
  /* The bytes of data written to the folder, all entries together (holes
   * do not count, a 4 KiB block written to counts whole): what the archive
   * costs on the host's disk. */
  guint64 max_total_size;
  /* The size of machine.json. */
  guint64 max_machine_size;
} QvmArchiveLimits;

void qvm_archive_limits_init (QvmArchiveLimits *limits);

/* Validates machine.json, as QvmMachine does; the returned object is what
 * qvm_archive_extract() hands back in @machine. */
typedef GObject *(*QvmArchiveMachineFunc) (GBytes  *json,
                                           GError **error);

/* Opens the archive @source for qvm_archive_extract(): refuses anything
 * but a regular file (a FIFO, a device, a folder) with
 * G_IO_ERROR_NOT_REGULAR_FILE, before reading a byte and without waiting
 * for a FIFO's writer. */
GInputStream *qvm_archive_open (GFile         *source,
                                GCancellable  *cancellable,
                                GError       **error);

/* Reads a zstd-compressed tar from @stream and extracts it into @folder,
 * which it creates (its parent must exist, it must not). Refuses, as
 * QVM_ERROR_MALFORMED_PAYLOAD errors naming the entry and the rule, and
 * before writing anything the rule forbids, everything but a regular
 * disk.img, layer.qcow2 and machine.json, each once, within @limits.
 * On success @folder holds disk.img and layer.qcow2 (sparse) and @machine
 * what @validate_machine returned for machine.json. On any error @folder
 * is removed. Blocking: call it from a worker thread. @cancellable is
 * checked before every read of @stream and every block written: once it
 * is cancelled, the extraction ends with G_IO_ERROR_CANCELLED. */
gboolean qvm_archive_extract (GInputStream           *stream,
                              const char             *folder,
                              const QvmArchiveLimits *limits,
                              QvmArchiveMachineFunc   validate_machine,
                              GObject               **machine,
                              GCancellable           *cancellable,
                              GError                **error);

/* The same, creating the folder as the entry @name of the folder open as
 * @parent_fd (shown in messages as @shown), so that nothing is looked up
 * by path. On success, @folder_fd (if not NULL) takes a descriptor of the
 * folder that was made. */
gboolean qvm_archive_extract_at (GInputStream           *stream,
                                 int                     parent_fd,
                                 const char             *name,
                                 const char             *shown,
                                 const QvmArchiveLimits *limits,
                                 QvmArchiveMachineFunc   validate_machine,
                                 GObject               **machine,
                                 int                    *folder_fd,
                                 GCancellable           *cancellable,
                                 GError                **error);

/* Progress of qvm_archive_package(): bytes of data read so far, of
 * @total. Called in the packaging thread. */
typedef void (*QvmArchiveProgressFunc) (guint64  done,
                                        guint64  total,
                                        gpointer user_data);

/* Writes @target as an image archive of @folder's disk.img (sparse, read
 * with SEEK_DATA/SEEK_HOLE), a fresh layer.qcow2 backed by it, and
 * @machine_json; zstd level 3 with frame checksums and one worker thread
 * per processor. The
 * archive is written next to @target and renamed over it at the end, so
 * @target is either complete or untouched. Blocking. */
gboolean qvm_archive_package (const char             *folder,
                              GBytes                 *machine_json,
                              const char             *target,
                              QvmArchiveProgressFunc  progress,
                              gpointer                progress_data,
                              GCancellable           *cancellable,
                              GError                **error);

G_END_DECLS
