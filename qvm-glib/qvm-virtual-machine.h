/* qvm-virtual-machine.h: one QEMU process and the resources it holds
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <libsoup/soup.h>

#include "qvm-console.h"
#include "qvm-version-macros.h"
#include "qvm-image.h"
#include "qvm-machine.h"
#include "qvm-network.h"
#include "qvm-qmp-client.h"

G_BEGIN_DECLS

/**
 * QvmVmState:
 * @QVM_VM_STATE_CREATED: constructed, not started yet.
 * @QVM_VM_STATE_STARTING: QEMU is being started and connected to.
 * @QVM_VM_STATE_RUNNING: the guest runs.
 * @QVM_VM_STATE_PAUSED: the guest is paused (its CPUs are stopped).
 * @QVM_VM_STATE_STOPPING: QEMU is exiting or has exited; resources are
 *   being released.
 * @QVM_VM_STATE_DONE: everything is released and [signal@Qvm.VirtualMachine::done]
 *   has been emitted: the change to this state is notified after that
 *   signal (whose handlers already read this state).
 *
 * The life cycle of a [class@Qvm.VirtualMachine]. States only move
 * forward, except between running and paused; every state may go to
 * stopping and then done.
 */
typedef enum {
  QVM_VM_STATE_CREATED,
  QVM_VM_STATE_STARTING,
  QVM_VM_STATE_RUNNING,
  QVM_VM_STATE_PAUSED,
  QVM_VM_STATE_STOPPING,
  QVM_VM_STATE_DONE,
} QvmVmState;

/**
 * QvmVmDoneReason:
 * @QVM_VM_DONE_REASON_NONE: not done yet.
 * @QVM_VM_DONE_REASON_POWEROFF: the guest powered itself off; no error.
 * @QVM_VM_DONE_REASON_SHUTDOWN: the guest shut down when asked with
 *   [method@Qvm.VirtualMachine.shutdown_async]; no error.
 * @QVM_VM_DONE_REASON_KILLED: the caller killed the virtual machine, or
 *   it did not shut down in time when asked to; the error is
 *   %QVM_ERROR_KILLED.
 * @QVM_VM_DONE_REASON_CRASHED: QEMU exited unexpectedly after the guest
 *   started (%QVM_ERROR_QEMU_FAILED), or the guest stopped in a state it
 *   cannot leave, such as a KVM internal error or a guest panic
 *   (%QVM_ERROR_GUEST_FAILED).
 * @QVM_VM_DONE_REASON_FAILED: the virtual machine could not start: QEMU
 *   missing (%QVM_ERROR_QEMU_NOT_FOUND), QEMU refusing its command line or
 *   exiting early (%QVM_ERROR_QEMU_FAILED), …
 *
 * Why a [class@Qvm.VirtualMachine] is done. The nick of each value
 * ("poweroff", "shutdown", "killed", "crashed", "failed") is also the
 * detail of the [signal@Qvm.VirtualMachine::done] signal.
 */
typedef enum {
  QVM_VM_DONE_REASON_NONE,
  QVM_VM_DONE_REASON_POWEROFF,
  QVM_VM_DONE_REASON_SHUTDOWN,
  QVM_VM_DONE_REASON_KILLED,
  QVM_VM_DONE_REASON_CRASHED,
  QVM_VM_DONE_REASON_FAILED,
} QvmVmDoneReason;

/**
 * QvmAccel:
 * @QVM_ACCEL_AUTO: KVM when it is usable (`/dev/kvm` opens read-write and
 *   `/proc/cpuinfo` shows the `vmx` or `svm` flag), TCG otherwise.
 * @QVM_ACCEL_KVM: the kernel's KVM.
 * @QVM_ACCEL_TCG: QEMU's own emulator, slower but available everywhere.
 *
 * The accelerator a [class@Qvm.VirtualMachine] runs its guest with (see
 * [property@Qvm.VirtualMachine:accel]). The nicks (`auto`, `kvm`, `tcg`)
 * are the names the `QVM_ACCEL` environment variable and `qvm --accel`
 * take; [func@Qvm.Accel.parse] reads them.
 */
typedef enum {
  QVM_ACCEL_AUTO,
  QVM_ACCEL_KVM,
  QVM_ACCEL_TCG,
} QvmAccel;

/**
 * QvmPointerButton:
 * @QVM_POINTER_BUTTON_LEFT: the left button
 * @QVM_POINTER_BUTTON_MIDDLE: the middle button
 * @QVM_POINTER_BUTTON_RIGHT: the right button
 * @QVM_POINTER_BUTTON_WHEEL_UP: one step of the wheel, up
 * @QVM_POINTER_BUTTON_WHEEL_DOWN: one step of the wheel, down
 *
 * A button of the guest's pointing device, for
 * [method@Qvm.VirtualMachine.pointer_click_async].
 */
typedef enum {
  QVM_POINTER_BUTTON_LEFT,
  QVM_POINTER_BUTTON_MIDDLE,
  QVM_POINTER_BUTTON_RIGHT,
  QVM_POINTER_BUTTON_WHEEL_UP,
  QVM_POINTER_BUTTON_WHEEL_DOWN,
} QvmPointerButton;

/**
 * QvmSaveFlags:
 * @QVM_SAVE_FLAGS_NONE: the guest goes on once its state is saved.
 * @QVM_SAVE_FLAGS_END: the machine ends once its state is saved.
 *
 * What [method@Qvm.VirtualMachine.save_async] does with the machine once
 * the state is saved.
 */
typedef enum /*< flags >*/ {
  QVM_SAVE_FLAGS_NONE = 0,
  QVM_SAVE_FLAGS_END = 1 << 0,
} QvmSaveFlags;

QVM_AVAILABLE_IN_ALL
QvmAccel          qvm_accel_parse                      (const char        *name,
                                                        GError           **error);

/**
 * QVM_VM_ID_FIELD:
 *
 * The name of the structured logging field (see g_log_structured()) that
 * carries the [property@Qvm.VirtualMachine:id] of the virtual machine a
 * log record is about, QEMU's own output included.
 *
 * QEMU's output is logged one record per line, with the fields
 * `QVM_QEMU_STREAM` (`stdout` or `stderr`) and `QVM_QEMU_LINE` (the line
 * itself, valid UTF-8): stderr at info level, stdout at debug level.
 * QEMU's stdout carries the guest's first serial port, so a log writer
 * (see g_log_set_writer_func()) that picks the `stdout` records sees the
 * guest's serial console, e.g. the kernel's and init's messages of a
 * Linux guest booted with `console=ttyS0`.
 */
#define QVM_VM_ID_FIELD "QVM_VM_ID"

#define QVM_TYPE_VIRTUAL_MACHINE (qvm_virtual_machine_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmVirtualMachine, qvm_virtual_machine, QVM, VIRTUAL_MACHINE, GObject)

QVM_AVAILABLE_IN_ALL
QvmVirtualMachine *qvm_virtual_machine_new (QvmMachineOptions  *options,
                                            QvmImage           *image,
                                            QvmNetwork         *network,
                                            const char         *socket_folder,
                                            const char         *cdrom1,
                                            const char         *cdrom2,
                                            GError            **error);

QVM_AVAILABLE_IN_ALL
QvmVirtualMachine *qvm_virtual_machine_new_simple (QvmImage           *image,
                                                   QvmNetwork         *network,
                                                   const char         *socket_folder,
                                                   GError            **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_set_cdroms       (QvmVirtualMachine   *vm,
                                                        const char * const  *cdroms,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_set_uuid         (QvmVirtualMachine   *vm,
                                                        const char          *uuid,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_set_mac_address  (QvmVirtualMachine   *vm,
                                                        const char          *mac_address,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
const char       *qvm_virtual_machine_get_id           (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
QvmMachine       *qvm_virtual_machine_get_machine      (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
QvmVmState        qvm_virtual_machine_get_state        (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
QvmVmDoneReason   qvm_virtual_machine_get_done_reason  (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
const GError     *qvm_virtual_machine_get_error        (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
const char       *qvm_virtual_machine_get_vnc_socket   (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
QvmQmpClient     *qvm_virtual_machine_get_qmp_client   (QvmVirtualMachine *vm);

QVM_AVAILABLE_IN_ALL
const char       *qvm_virtual_machine_get_qemu_binary  (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_set_qemu_binary  (QvmVirtualMachine *vm,
                                                        const char        *qemu_binary);
QVM_AVAILABLE_IN_ALL
QvmAccel          qvm_virtual_machine_get_accel        (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_set_accel        (QvmVirtualMachine *vm,
                                                        QvmAccel           accel);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_start_in_background (QvmVirtualMachine *vm);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_start            (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_start_async      (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_start_finish     (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_pause_async      (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pause_finish     (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pause            (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_resume_async     (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_resume_finish    (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_resume           (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_kill             (QvmVirtualMachine   *vm);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_shutdown_async   (QvmVirtualMachine   *vm,
                                                        guint                timeout_ms,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_shutdown_finish  (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_shutdown         (QvmVirtualMachine   *vm,
                                                        guint                timeout_ms,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_wait_async       (QvmVirtualMachine   *vm,
                                                        guint                timeout_ms,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait_finish      (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait             (QvmVirtualMachine   *vm,
                                                        guint                timeout_ms,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_screenshot_async (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
GdkPixbuf        *qvm_virtual_machine_screenshot_finish (QvmVirtualMachine  *vm,
                                                         GAsyncResult       *result,
                                                         GError            **error);
QVM_AVAILABLE_IN_ALL
GdkPixbuf        *qvm_virtual_machine_screenshot       (QvmVirtualMachine   *vm,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_set_http_handler (QvmVirtualMachine   *vm,
                                                        SoupServerCallback   handler,
                                                        gpointer             user_data,
                                                        GDestroyNotify       destroy);

/* Keyboard (qvm-vm-input.c) */
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_send_keys_async  (QvmVirtualMachine   *vm,
                                                        const char          *keys,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_send_keys_finish (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_send_keys        (QvmVirtualMachine   *vm,
                                                        const char          *keys,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_type_text_async  (QvmVirtualMachine   *vm,
                                                        const char          *text,
                                                        guint                keys_per_second,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_type_text_finish (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_type_text        (QvmVirtualMachine   *vm,
                                                        const char          *text,
                                                        guint                keys_per_second,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

/* Pointer (qvm-vm-input.c) */
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_pointer_move_async  (QvmVirtualMachine   *vm,
                                                           guint                x,
                                                           guint                y,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pointer_move_finish (QvmVirtualMachine   *vm,
                                                           GAsyncResult        *result,
                                                           GError             **error);
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_pointer_click_async (QvmVirtualMachine   *vm,
                                                           QvmPointerButton     button,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pointer_click_finish (QvmVirtualMachine  *vm,
                                                            GAsyncResult       *result,
                                                            GError            **error);

QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pointer_move        (QvmVirtualMachine   *vm,
                                                           guint                x,
                                                           guint                y,
                                                           GCancellable        *cancellable,
                                                           GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_pointer_click       (QvmVirtualMachine   *vm,
                                                           QvmPointerButton     button,
                                                           GCancellable        *cancellable,
                                                           GError             **error);
/* ---- Waiting for the screen (qvm-vm-screen.c) ---------------------------- */

/**
 * QvmScreenAreaKind:
 * @QVM_SCREEN_AREA_MATCH: the area must be found on the screen, near its
 *   place in the reference.
 * @QVM_SCREEN_AREA_EXCLUDE: the area is left out of the comparison, on
 *   the reference and on the screen alike (a clock, a cursor).
 *
 * What an area of a [struct@Qvm.Needle] is for.
 */
typedef enum {
  QVM_SCREEN_AREA_MATCH,
  QVM_SCREEN_AREA_EXCLUDE,
} QvmScreenAreaKind;

/**
 * QVM_NEEDLE_DEFAULT_MATCH_LEVEL:
 *
 * The similarity a screen must reach by default for a needle to match,
 * as openQA's default of 96%.
 */
#define QVM_NEEDLE_DEFAULT_MATCH_LEVEL 0.96

/**
 * QVM_NEEDLE_DEFAULT_MARGIN:
 *
 * How far, in pixels, a match area is looked for around its place by
 * default, as in openQA.
 */
#define QVM_NEEDLE_DEFAULT_MARGIN 50

/**
 * QVM_STILL_SCREEN_DEFAULT_PSNR:
 *
 * The peak signal-to-noise ratio, in dB, under which two screenshots are
 * taken to differ by default, as openQA's `wait_still_screen`.
 */
#define QVM_STILL_SCREEN_DEFAULT_PSNR 47.0

#define QVM_TYPE_NEEDLE (qvm_needle_get_type ())

typedef struct _QvmNeedle QvmNeedle;

QVM_AVAILABLE_IN_ALL
GType             qvm_needle_get_type                  (void) G_GNUC_CONST;
QVM_AVAILABLE_IN_ALL
QvmNeedle        *qvm_needle_new                       (GdkPixbuf          *reference,
                                                        double              match_level,
                                                        guint               margin);
QVM_AVAILABLE_IN_ALL
QvmNeedle        *qvm_needle_ref                       (QvmNeedle          *needle);
QVM_AVAILABLE_IN_ALL
void              qvm_needle_unref                     (QvmNeedle          *needle);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_needle_add_area                  (QvmNeedle          *needle,
                                                        int                 x,
                                                        int                 y,
                                                        int                 width,
                                                        int                 height,
                                                        QvmScreenAreaKind   kind,
                                                        GError            **error);
QVM_AVAILABLE_IN_ALL
GdkPixbuf        *qvm_needle_get_reference             (QvmNeedle          *needle);
QVM_AVAILABLE_IN_ALL
double            qvm_needle_get_match_level           (QvmNeedle          *needle);
QVM_AVAILABLE_IN_ALL
guint             qvm_needle_get_margin                (QvmNeedle          *needle);
QVM_AVAILABLE_IN_ALL
double            qvm_needle_compare                   (QvmNeedle          *needle,
                                                        GdkPixbuf          *screen,
                                                        int                *x,
                                                        int                *y);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QvmNeedle, qvm_needle_unref)

QVM_AVAILABLE_IN_ALL
double            qvm_screen_psnr                      (GdkPixbuf          *a,
                                                        GdkPixbuf          *b);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_wait_for_screen_async  (QvmVirtualMachine   *vm,
                                                              QvmNeedle           *needle,
                                                              guint                timeout_ms,
                                                              GCancellable        *cancellable,
                                                              GAsyncReadyCallback  callback,
                                                              gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait_for_screen_finish (QvmVirtualMachine   *vm,
                                                              GAsyncResult        *result,
                                                              double              *similarity,
                                                              int                 *x,
                                                              int                 *y,
                                                              GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait_for_screen        (QvmVirtualMachine   *vm,
                                                              QvmNeedle           *needle,
                                                              guint                timeout_ms,
                                                              double              *similarity,
                                                              int                 *x,
                                                              int                 *y,
                                                              GCancellable        *cancellable,
                                                              GError             **error);

QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_wait_for_still_screen_async  (QvmVirtualMachine   *vm,
                                                                    guint                still_ms,
                                                                    double               psnr_threshold,
                                                                    guint                timeout_ms,
                                                                    GCancellable        *cancellable,
                                                                    GAsyncReadyCallback  callback,
                                                                    gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait_for_still_screen_finish (QvmVirtualMachine   *vm,
                                                                    GAsyncResult        *result,
                                                                    GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_wait_for_still_screen        (QvmVirtualMachine   *vm,
                                                                    guint                still_ms,
                                                                    double               psnr_threshold,
                                                                    guint                timeout_ms,
                                                                    GCancellable        *cancellable,
                                                                    GError             **error);

/* Saved state (qvm-vm-save.c) */
QVM_AVAILABLE_IN_ALL
void              qvm_virtual_machine_save_async       (QvmVirtualMachine   *vm,
                                                        GFile               *target,
                                                        QvmSaveFlags         flags,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_save_finish      (QvmVirtualMachine   *vm,
                                                        GAsyncResult        *result,
                                                        GError             **error);
QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_save             (QvmVirtualMachine   *vm,
                                                        GFile               *target,
                                                        QvmSaveFlags         flags,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

QVM_AVAILABLE_IN_ALL
gboolean          qvm_virtual_machine_set_restore_file (QvmVirtualMachine   *vm,
                                                        GFile               *state,
                                                        GError             **error);
/* The serial console (qvm-vm-start.c). */
QVM_AVAILABLE_IN_ALL
QvmConsole       *qvm_virtual_machine_get_console      (QvmVirtualMachine   *vm);

G_END_DECLS
