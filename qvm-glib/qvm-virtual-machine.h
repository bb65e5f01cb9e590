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

/* The serial console (qvm-vm-start.c). */
QVM_AVAILABLE_IN_ALL
QvmConsole       *qvm_virtual_machine_get_console      (QvmVirtualMachine   *vm);

G_END_DECLS
