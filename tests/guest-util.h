/* guest-util.h: boots the test guest of tests/guest/ for the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A GuestTest owns a private temporary folder, an image store in it and the
 * virtual machines of one test. Each GuestVm is an instance of the test
 * guest from that store, a QvmUserNetwork whose handler records every
 * request and serves the VM's payload, and a QvmVirtualMachine (or, for
 * tests that need another QEMU command line, a QEMU process started by
 * hand). Tests run their VMs, clean everything up, and only then check
 * what the VMs did, so a failed check leaves no process or file behind.
 */

#pragma once

#include <libsoup/soup.h>

#include "qvm.h"

G_BEGIN_DECLS

/* Ends a run whose guests hang; a healthy boot takes about 10 s under TCG
 * (more on a busy machine). Not a timing assertion. */
#define GUEST_TIMEOUT_SECONDS 240

typedef struct _GuestTest GuestTest;
typedef struct _GuestVm GuestVm;

/* Answers a request for a path other than /payload and /result: returns
 * the body of a 200 answer, or NULL for 404. */
typedef char *(*GuestVmAnswerFunc) (GuestVm    *vm,
                                    const char *method,
                                    const char *path,
                                    gpointer    user_data);

/* Called once when the VM's QEMU has exited. */
typedef void (*GuestVmExitFunc) (GuestVm  *vm,
                                 gpointer  user_data);

typedef struct {
  char *request;                /* "METHOD /path?query" */
  gint64 at;                    /* monotonic time it arrived */
} GuestRequest;

struct _GuestVm
{
  GuestTest *test;
  char *name;

  /* Set by the test before the run. */
  char *payload;                /* NULL: /payload answers 404 */
  char *device;                 /* NIC model; NULL: the one of machine.json */
  gboolean unrestricted;        /* restrict=off: control runs only */
  GuestVmAnswerFunc answer;
  gpointer answer_data;
  /* Called first for a path other than /payload and /result; returns
   * TRUE when it took the message itself (to pause it, say). */
  gboolean (*take) (GuestVm *vm, SoupServerMessage *message, const char *path, gpointer user_data);
  gpointer take_data;
  GuestVmExitFunc on_exit;
  gpointer on_exit_data;

  /* The resources of a run. */
  char *folder;                 /* the VM's and the network's private folders */
  QvmImage *instance;
  QvmUserNetwork *network;
  QvmVirtualMachine *machine;   /* NULL when started by hand */
  GSubprocess *qemu;            /* QEMU started by hand */
  char *instance_path;          /* kept to check it is gone after the run */
  char *socket_path;

  /* What the run produced, kept after clean-up. */
  GPtrArray *requests;          /* of GuestRequest *, in arrival order */
  GBytes *result_body;
  char *result_status;
  char *serial_log;             /* QEMU started by hand only */
  char *qemu_log;
  GString *log;                 /* QvmVirtualMachine's records of QEMU's output */
  gboolean exited;              /* QEMU exited, or the machine is done */
  int exit_status;              /* of QEMU started by hand */
  QvmVmDoneReason done_reason;
  GError *done_error;
  gint64 started_at;
  gint64 result_at;
  gint64 exited_at;
};

struct _GuestTest
{
  char *root;
  QvmImageStore *store;
  GPtrArray *vms;               /* of GuestVm * */
  gboolean by_hand;             /* start QEMU by hand, not QvmVirtualMachine */
  guint timeout_seconds;
  guint instances_pending;
  gboolean timed_out;
  GString *errors;              /* set-up failures and leftovers */
};

/* The archive built by tests/guest/build-guest.sh; main() sets it. */
extern const char *guest_archive_path;

/* Call from main() after g_test_init(): collects QEMU's output per VM. */
void       guest_util_init         (void);

/* For main() of a suite run as "TEST [GTest options] ARCHIVE":
 * g_test_init(), guest_archive_path, guest_util_init(); FALSE after a usage
 * line (main() then returns 2). */
gboolean   guest_util_init_main    (int        *argc,
                                    char     ***argv);

GuestTest *guest_test_new          (void);
void       guest_test_free         (GuestTest  *test);
GuestVm   *guest_test_add_vm       (GuestTest  *test,
                                    const char *name,
                                    const char *payload);
void       guest_test_run          (GuestTest  *test);
void       guest_test_clean_up     (GuestTest  *test);
void       guest_test_assert_no_errors (GuestTest *test);

gboolean   guest_vm_has_exited     (GuestVm    *vm);
guint      guest_vm_count_requests (GuestVm    *vm,
                                    const char *request);
char      *guest_vm_find_serial_line (GuestVm  *vm,
                                      const char *prefix);
char      *guest_vm_list_processes (GuestVm    *vm);
void       guest_vm_print_logs     (GuestVm    *vm);
void       guest_vm_assert_result  (GuestVm    *vm,
                                    int         status,
                                    const char *output);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GuestTest, guest_test_free)

G_END_DECLS
