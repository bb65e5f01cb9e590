/* qvm-vm-private.h: what the files of QvmVirtualMachine share
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The instance struct, the life cycle's phases (qvm-vm-phase.c), and the
 * functions one file of the machine calls in another:
 *
 *  - qvm-virtual-machine.c: construction, properties, the public getters;
 *  - qvm-vm-phase.c: the phases, their legal transitions, the public state
 *    they imply and its ordered queue of notifications;
 *  - qvm-vm-start.c: spawning QEMU, its output, the QMP handshake, "cont",
 *    QMP events;
 *  - qvm-vm-stop.c: ending (vm_end()), pause, resume, kill, shutdown, the
 *    teardown and "done";
 *  - qvm-vm-output.c: screenshots and the HTTP handler.
 */

#pragma once

#include <gio/gio.h>

#include "qvm-console.h"
#include "qvm-coroutine-private.h"
#include "qvm-qmp-client.h"
#include "qvm-virtual-machine.h"

G_BEGIN_DECLS

/* The start of the name of each machine's socket folder in its parent. */
#define QVM_VM_SOCKET_FOLDER_PREFIX "qvm-"

/* How long QEMU has to greet on QMP and accept its capabilities: it does
 * so in well under a second, even under TCG on a busy machine. */
#define QVM_VM_HANDSHAKE_TIMEOUT_MS 30000
/* How long QEMU may take to answer any QMP command of the machine: every
 * one it sends (stop, cont, screendump, migrate…) answers at once. */
#define QVM_VM_QMP_TIMEOUT_MS 60000

/* One life cycle, one field: where the machine is. The public
 * QvmVmState is derived from it (qvm_vm_phase_to_state()). Changed only by
 * qvm_vm_set_phase(), which refuses what the transition table does not
 * allow. Room is left after SHUTTING_DOWN for saving, restoring and
 * migrating. */
typedef enum {
  QVM_VM_PHASE_NEW,             /* not initialized (or its init failed) */
  QVM_VM_PHASE_CREATED,         /* owns its image and network; nothing runs */
  QVM_VM_PHASE_SPAWNING,        /* start asked: image acquired, QEMU spawning */
  QVM_VM_PHASE_CONNECTING,      /* QEMU runs; the QMP handshake */
  QVM_VM_PHASE_STARTING_GUEST,  /* QMP up; "cont" sent */
  QVM_VM_PHASE_RUNNING,         /* the guest runs */
  QVM_VM_PHASE_PAUSED,          /* its CPUs are stopped */
  QVM_VM_PHASE_SHUTTING_DOWN,   /* asked to power off (ACPI), waiting */
  QVM_VM_PHASE_STOPPING,        /* ending decided, or QEMU exited by itself */
  QVM_VM_PHASE_KILLING,         /* SIGKILL sent to a QEMU that was alive */
  QVM_VM_PHASE_RELEASING,       /* QEMU gone, outcome decided; releasing */
  QVM_VM_PHASE_DONE,            /* released; "done" emitted (if it ever ran) */
  QVM_VM_N_PHASES
} QvmVmPhase;

/* The machine's use of its image (a fact about the image, not the life
 * cycle): released at the end unless another user had it. */
typedef enum {
  QVM_VM_IMAGE_UNCLAIMED,       /* never asked for: released all the same */
  QVM_VM_IMAGE_ACQUIRED,
  QVM_VM_IMAGE_REFUSED,         /* in use elsewhere: not ours to release */
} QvmVmImageUse;

/* The properties, for notifications from every file. */
typedef enum {
  QVM_VM_PROP_0,
  QVM_VM_PROP_ID,
  QVM_VM_PROP_OPTIONS,
  QVM_VM_PROP_IMAGE,
  QVM_VM_PROP_NETWORK,
  QVM_VM_PROP_SOCKET_FOLDER,
  QVM_VM_PROP_CDROM1,
  QVM_VM_PROP_CDROM2,
  QVM_VM_PROP_MACHINE,
  QVM_VM_PROP_QEMU_BINARY,
  QVM_VM_PROP_ACCEL,
  QVM_VM_PROP_STATE,
  QVM_VM_PROP_DONE_REASON,
  QVM_VM_PROP_VNC_SOCKET,
  QVM_VM_PROP_QMP_CLIENT,
  QVM_VM_N_PROPS
} QvmVmProperty;

enum {
  QVM_VM_SIGNAL_DONE,
  QVM_VM_SIGNAL_QMP_EVENT,
  QVM_VM_N_SIGNALS
};

extern GParamSpec *qvm_vm_properties[QVM_VM_N_PROPS];
extern guint qvm_vm_signals[QVM_VM_N_SIGNALS];

struct _QvmVirtualMachine
{
  GObject            parent_instance;

  char              *id;
  GMainContext      *context;

  /* Given at construction. The machine is the image's, with the options'
   * defaults applied. */
  QvmMachineOptions *options;
  QvmImage          *image;
  QvmNetwork        *network;
  char              *socket_parent;
  char              *cdrom1;
  char              *cdrom2;
  QvmMachine        *machine;
  QvmVmImageUse      image_use;
  GError            *init_error;        /* why constructed() left it NEW */

  char              *qemu_binary;
  struct _QvmKeymap *keymap;            /* the machine's layout, once typed with */
  char              *restore_file;      /* a saved state to start from, or NULL */
  char              *generation_id;     /* the VM generation ID of this start */
  int                screen_width;      /* of the last screenshot; 0 before one */
  int                screen_height;
  QvmAccel           accel;
  GError            *accel_error;       /* an unknown $QVM_ACCEL, until set_accel() */
  guint              handshake_timeout_ms;  /* QVM_VM_HANDSHAKE_TIMEOUT_MS */

  /* The life cycle (qvm-vm-phase.c). */
  QvmVmPhase         phase;
  QvmVmPhase         end_phase;         /* the phase the end began in */

  /* What the caller sees, changed on the main stack only. */
  QvmVmState         state;
  QvmVmDoneReason    done_reason;
  GError            *error;
  char              *vnc_socket;

  GTask             *start_task;        /* until running, or until done */
  GSource           *start_cancel_source;

  QvmVmDoneReason    end_reason;        /* set once, by vm_end() */
  GError            *end_error;

  char              *socket_folder;     /* the machine's own, under socket_parent */
  int                socket_folder_lock; /* holds its owner mark: see qvm-owned-folder.c */
  GSubprocess       *qemu;
  GSocketConnection *qmp_connection;
  QvmQmpClient      *qmp;
  gulong             qmp_event_handler;
  gulong             qmp_closed_handler;  /* 0 once "closed" was handled */
  QvmWaitQueue       qmp_closed_queue;    /* woken then */
  GCancellable      *qmp_watch_cancellable;

  JsonObject        *shutdown_event;    /* the data of QMP's SHUTDOWN, once seen */

  GQueue             stderr_tail;       /* of char * */
  guint              readers_open;
  GCancellable      *readers_cancellable;
  QvmWaitQueue       readers_queue;     /* woken when a reader ends */

  QvmWaitQueue       done_queue;        /* woken when the machine is done */

  /* The guest's serial console (qvm-vm-start.c): made by
   * get_console() or at the spawn, attached at the spawn, ended at done. */
  QvmConsole        *console;
};

/* ---- qvm-virtual-machine.c ---- */

/* Runs @body as a GTask of @vm on a coroutine, tagged @source_tag, with
 * @task_data (not freed). */
void        qvm_vm_run_task                (QvmVirtualMachine   *vm,
                                            gpointer             source_tag,
                                            gpointer             task_data,
                                            QvmCoroutineTaskFunc body,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);

/* The accelerator to pass to QEMU ("kvm" or "tcg"), or NULL when
 * $QVM_ACCEL named none and set_accel() was not called. */
const char *qvm_vm_resolve_accel           (QvmVirtualMachine  *vm,
                                            GError            **error);

/* FALSE, with the reason, for a machine whose construction failed (it
 * stays in QVM_VM_PHASE_NEW and owns nothing). */
gboolean    qvm_vm_check_constructed       (QvmVirtualMachine  *vm,
                                            GError            **error);

/* ---- qvm-vm-phase.c ---- */

const char *qvm_vm_phase_get_name          (QvmVmPhase phase);
gboolean    qvm_vm_phase_can_become        (QvmVmPhase from,
                                            QvmVmPhase to);
QvmVmState  qvm_vm_phase_to_state          (QvmVmPhase phase);

/* The guest runs, is paused or is being shut down: QMP talks to it. */
gboolean    qvm_vm_phase_has_guest         (QvmVmPhase phase);

/* The end is decided or done: STOPPING, KILLING, RELEASING, DONE. */
gboolean    qvm_vm_phase_is_ending         (QvmVmPhase phase);

/* Moves @self to @phase: a no-op for its current phase, a critical (and
 * no change, FALSE) for a transition the table does not allow. Logs the
 * change as one structured record (QVM_VM_ID, QVM_VM_PHASE_OLD,
 * QVM_VM_PHASE_NEW) and queues the public state it implies. */
gboolean    qvm_vm_set_phase               (QvmVirtualMachine *self,
                                            QvmVmPhase         phase);

/* Queues a change of the public state, applied in order on the main
 * stack. */
void        qvm_vm_schedule_state          (QvmVirtualMachine *self,
                                            QvmVmState         state);

/* ---- qvm-vm-start.c ---- */

void        qvm_vm_run_start               (QvmVirtualMachine *self,
                                            GTask             *task);
gboolean    qvm_vm_qemu_running            (QvmVirtualMachine *self);
JsonNode   *qvm_vm_execute                 (QvmVirtualMachine  *self,
                                            const char         *command,
                                            JsonObject         *arguments,
                                            GCancellable       *cancellable,
                                            GError            **error);
gboolean    qvm_vm_check_running           (QvmVirtualMachine  *self,
                                            GError            **error);
void        qvm_vm_on_qmp_event            (QvmQmpClient      *client,
                                            const char        *name,
                                            JsonObject        *data,
                                            gint64             timestamp,
                                            gpointer           user_data);
void        qvm_vm_on_qmp_closed           (QvmQmpClient      *client,
                                            const GError      *reason,
                                            gpointer           user_data);

/* ---- qvm-vm-output.c ---- */

/* A screenshot, inside a coroutine of @self; remembers the screen's size. */
GdkPixbuf  *qvm_vm_take_screenshot         (QvmVirtualMachine  *self,
                                            GCancellable       *cancellable,
                                            GError            **error);

/* ---- qvm-vm-input.c ---- */

/* QEMU's absolute axis value (0 … 0x7fff) of pixel @position on a screen
 * @size pixels long. */
guint       qvm_vm_pointer_axis_value      (guint position,
                                            guint size);

/* ---- qvm-vm-save.c ---- */

/* Feeds the saved state of restore_file to a QEMU started with
 * -incoming defer, inside the start's coroutine, until QEMU has loaded it. */
gboolean    qvm_vm_restore_state           (QvmVirtualMachine  *self,
                                            GCancellable       *cancellable,
                                            GError            **error);
/* The machine's console, made on first use. */
QvmConsole *qvm_vm_ensure_console          (QvmVirtualMachine *self);

/* ---- qvm-vm-stop.c ---- */

void        qvm_vm_end                     (QvmVirtualMachine *self,
                                            QvmVmDoneReason    reason,
                                            GError            *error);
void        qvm_vm_begin_teardown          (QvmVirtualMachine *self);
void        qvm_vm_release_resources       (QvmVirtualMachine *self);
void        qvm_vm_readers_finished        (QvmVirtualMachine *self);

G_END_DECLS
