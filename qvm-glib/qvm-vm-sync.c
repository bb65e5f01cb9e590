/* qvm-vm-sync.c: the blocking forms of QvmVirtualMachine's operations
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each one starts its _async form and runs the machine's main context
 * until it has finished, as GIO's blocking calls do for a script: no main
 * loop needs to run. The machine's sources live in that context, so it is
 * the one iterated (other sources of it may run meanwhile).
 */

#include "config.h"

#include "qvm-util-private.h"
#include "qvm-vm-private.h"

typedef void     (*VmAsyncFunc)       (QvmVirtualMachine   *vm,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
typedef void     (*VmTimedAsyncFunc)  (QvmVirtualMachine   *vm,
                                       guint                timeout_ms,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
typedef gboolean (*VmFinishFunc)      (QvmVirtualMachine   *vm,
                                       GAsyncResult        *result,
                                       GError             **error);

static gboolean
run_blocking (QvmVirtualMachine  *vm,
              VmAsyncFunc         start,
              VmFinishFunc        finish,
              GCancellable       *cancellable,
              GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  start (vm, cancellable, qvm_sync_store_result, &sync);
  return finish (vm, qvm_sync_end (&sync), error);
}

static gboolean
run_blocking_timed (QvmVirtualMachine  *vm,
                    VmTimedAsyncFunc    start,
                    VmFinishFunc        finish,
                    guint               timeout_ms,
                    GCancellable       *cancellable,
                    GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  start (vm, timeout_ms, cancellable, qvm_sync_store_result, &sync);
  return finish (vm, qvm_sync_end (&sync), error);
}

/**
 * qvm_virtual_machine_start:
 * @vm: a virtual machine
 * @cancellable: (nullable): cancelling it before the guest runs kills the
 *   machine
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.start_async]: returns
 * once the guest runs (state %QVM_VM_STATE_RUNNING), or with the error
 * the start failed with. It runs @vm's main context meanwhile (a nested
 * iteration, as [method@Qvm.VirtualMachine.screenshot] does), so call it
 * from the thread that runs that context. To start without waiting, use
 * [method@Qvm.VirtualMachine.start_in_background].
 *
 * Returns: %TRUE once the guest runs
 */
gboolean
qvm_virtual_machine_start (QvmVirtualMachine  *vm,
                           GCancellable       *cancellable,
                           GError            **error)
{
  return run_blocking (vm, qvm_virtual_machine_start_async, qvm_virtual_machine_start_finish,
                       cancellable, error);
}

/**
 * qvm_virtual_machine_pause:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.pause_async], with the
 * same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the guest is paused
 */
gboolean
qvm_virtual_machine_pause (QvmVirtualMachine  *vm,
                           GCancellable       *cancellable,
                           GError            **error)
{
  return run_blocking (vm, qvm_virtual_machine_pause_async, qvm_virtual_machine_pause_finish,
                       cancellable, error);
}

/**
 * qvm_virtual_machine_resume:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.resume_async], with the
 * same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the guest runs again
 */
gboolean
qvm_virtual_machine_resume (QvmVirtualMachine  *vm,
                            GCancellable       *cancellable,
                            GError            **error)
{
  return run_blocking (vm, qvm_virtual_machine_resume_async, qvm_virtual_machine_resume_finish,
                       cancellable, error);
}

/**
 * qvm_virtual_machine_shutdown:
 * @vm: a virtual machine
 * @timeout_ms: how long the guest may take to power off, in milliseconds
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.shutdown_async], with
 * the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE when the guest powered off; %FALSE with @error set when
 *   it was killed, failed, or the call was cancelled
 */
gboolean
qvm_virtual_machine_shutdown (QvmVirtualMachine  *vm,
                              guint               timeout_ms,
                              GCancellable       *cancellable,
                              GError            **error)
{
  return run_blocking_timed (vm, qvm_virtual_machine_shutdown_async, qvm_virtual_machine_shutdown_finish,
                             timeout_ms, cancellable, error);
}

/**
 * qvm_virtual_machine_wait:
 * @vm: a virtual machine
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.wait_async], with the
 * same rules as [method@Qvm.VirtualMachine.start]: returns once @vm is
 * done, or after @timeout_ms with %QVM_ERROR_TIMED_OUT (the machine is
 * left running).
 *
 * Returns: %TRUE once the machine is done, however it ended
 */
gboolean
qvm_virtual_machine_wait (QvmVirtualMachine  *vm,
                          guint               timeout_ms,
                          GCancellable       *cancellable,
                          GError            **error)
{
  return run_blocking_timed (vm, qvm_virtual_machine_wait_async, qvm_virtual_machine_wait_finish,
                             timeout_ms, cancellable, error);
}

/**
 * qvm_virtual_machine_wait_for_screen:
 * @vm: a virtual machine
 * @needle: what to wait for
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @similarity: (out) (optional): the similarity of the screen that
 *   matched
 * @x: (out) (optional): where the needle's first match area was found
 * @y: (out) (optional): its top edge
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.wait_for_screen_async],
 * with the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE when the screen matched; %FALSE with @error set
 *   otherwise (%QVM_ERROR_TIMED_OUT after @timeout_ms)
 */
gboolean
qvm_virtual_machine_wait_for_screen (QvmVirtualMachine  *vm,
                                     QvmNeedle          *needle,
                                     guint               timeout_ms,
                                     double             *similarity,
                                     int                *x,
                                     int                *y,
                                     GCancellable       *cancellable,
                                     GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (needle != NULL, FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_wait_for_screen_async (vm, needle, timeout_ms, cancellable,
                                             qvm_sync_store_result, &sync);
  return qvm_virtual_machine_wait_for_screen_finish (vm, qvm_sync_end (&sync), similarity, x, y,
                                                     error);
}

/**
 * qvm_virtual_machine_wait_for_still_screen:
 * @vm: a virtual machine
 * @still_ms: how long the screen must not change, in milliseconds
 * @psnr_threshold: the ratio in dB under which two screenshots differ; 0
 *   for %QVM_STILL_SCREEN_DEFAULT_PSNR
 * @timeout_ms: how long to wait at most, in milliseconds; 0 waits as long
 *   as it takes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of
 * [method@Qvm.VirtualMachine.wait_for_still_screen_async], with the same
 * rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE when the screen stayed still; %FALSE with @error set
 *   otherwise
 */
gboolean
qvm_virtual_machine_wait_for_still_screen (QvmVirtualMachine  *vm,
                                           guint               still_ms,
                                           double              psnr_threshold,
                                           guint               timeout_ms,
                                           GCancellable       *cancellable,
                                           GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (psnr_threshold >= 0.0, FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_wait_for_still_screen_async (vm, still_ms, psnr_threshold, timeout_ms,
                                                   cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_wait_for_still_screen_finish (vm, qvm_sync_end (&sync), error);
}
