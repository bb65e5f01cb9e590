/* qvm-boot.h: boot one machine and watch it, for qvm run and qvm build
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the two commands share: their common options, a private temporary
 * folder, the metadata service of tools/qvm-serve.c, the machine on a user
 * network, the lines printed as it goes (with a status line on a
 * terminal), --timeout, Ctrl-C, and the exit status its end gives. A
 * command fills a QvmBootOptions from its command line, calls
 * qvm_boot_begin(), gets an image its own way, hands it to
 * qvm_boot_start_machine() and runs boot->loop until the machine is done;
 * then qvm_boot_stop() and qvm_boot_end().
 */

#pragma once

#include "qvm.h"
#include "qvm-serve.h"

G_BEGIN_DECLS

/* The options qvm run and qvm build share. */
typedef struct {
  char     *metadata_dir;
  char     *payload;
  char     *outbox;
  char     *screenshot;
  char     *accel;
  QvmAccel  accel_value;          /* --accel, parsed by qvm_boot_options_check() */
  gboolean  vnc;
  gboolean  metadata_tokens;
  gboolean  console;
  int       timeout_seconds;
  int       grace_seconds;
  int       memory;
  int       vcpus;
} QvmBootOptions;

typedef struct {
  GMainLoop         *loop;
  gint64             began;               /* monotonic µs */
  const char        *image_argument;      /* as the user typed it */
  char              *temporary;           /* network and sockets; deleted */
  int                temporary_lock;      /* its owner mark, see qvm-owned-folder-private.h */
  QvmVirtualMachine *vm;
  QvmServe          *serve;
  GCancellable      *cancellable;         /* cancelled by Ctrl-C before the machine */
  char              *outbox;
  gboolean           outbox_temporary;
  const char        *screenshot;          /* nullable */
  gboolean           screenshot_taken;
  gboolean           vnc;
  gboolean           metadata_tokens;
  guint              memory;
  guint              vcpus;
  gboolean           accel_set;           /* --accel given: accel overrides $QVM_ACCEL */
  QvmAccel           accel;
  guint              timeout_seconds;     /* 0 = none */
  guint              grace_seconds;
  guint              timeout_id;
  guint              status_id;           /* the terminal's status line */
  guint              signal_ids[2];
  int                signal_received;     /* 0 = none */
  gboolean           timed_out;
  gboolean           stopping;
  char              *result_status;       /* of POST /result, nullable */
  int                status;              /* the exit status */
  const char        *cdrom1;              /* nullable */
  const char        *cdrom2;
} QvmBoot;

/* Sets the defaults (--grace 10, --memory 1024, --vcpus 16) and adds the options to
 * @context. */
void     qvm_boot_options_add_to      (QvmBootOptions *options,
                                       GOptionContext *context);

/* Whether the parsed options make sense; prints why not. */
gboolean qvm_boot_options_check       (QvmBootOptions *options,
                                       const char     *command);

void     qvm_boot_options_clear       (QvmBootOptions *options);

/* Makes the outbox and the temporary folder (named after @command),
 * starts the metadata service and watches SIGINT and SIGTERM. FALSE with
 * boot->status set when it cannot. @options must outlive @boot. */
gboolean qvm_boot_begin               (QvmBoot        *boot,
                                       QvmBootOptions *options,
                                       const char     *command,
                                       const char     *image_argument);

/* Boots @image (released on failure) on a new user network served by the
 * metadata service; the loop ends when the machine is done. */
void     qvm_boot_start_machine       (QvmBoot        *boot,
                                       QvmImage       *image);

/* Erases the status line, if one is shown. */
void     qvm_boot_clear_status_line   (void);

/* Ends the loop with the exit status @status. */
void     qvm_boot_finish              (QvmBoot        *boot,
                                       int             status);

/* A line "[  12.3s] TEXT" on stdout, under the status line. */
void     qvm_boot_say                 (QvmBoot        *boot,
                                       const char     *format,
                                       ...) G_GNUC_PRINTF (2, 3);

/* After the loop: no more timeout or status line, and the machine, done,
 * is dropped (its image, network and sockets are released). Ctrl-C still
 * cancels boot->cancellable. */
void     qvm_boot_stop                (QvmBoot        *boot);

/* qvm_boot_stop() if not done yet; then stops watching signals, removes the temporary folder, prints the outbox
 * (or removes it when temporary and empty) and frees @boot's parts; the
 * exit status. */
int      qvm_boot_end                 (QvmBoot        *boot);

G_END_DECLS
