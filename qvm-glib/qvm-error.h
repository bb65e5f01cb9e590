/* qvm-error.h: the QVM_ERROR error domain
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <glib.h>

#include "qvm-version-macros.h"

G_BEGIN_DECLS

/**
 * QVM_ERROR:
 *
 * The error domain of qvm-glib. Errors in this domain are from the
 * [error@Qvm.Error] enumeration.
 */
#define QVM_ERROR (qvm_error_quark ())

/**
 * QvmError:
 * @QVM_ERROR_FAILED: an error with no more specific code.
 * @QVM_ERROR_MALFORMED_PAYLOAD: the input of an image or task author is
 *   invalid or exceeds the limits of the host (a bad machine definition,
 *   a bad image archive, a memory size above the maximum…). The task
 *   author, not the host, must fix it.
 * @QVM_ERROR_INVALID_STATE: the operation is not possible in the current
 *   state of the object (starting a virtual machine twice, using a
 *   released network…).
 * @QVM_ERROR_QEMU_NOT_FOUND: the QEMU binary could not be found or run.
 * @QVM_ERROR_QEMU_FAILED: QEMU exited or reported an error; the message
 *   carries the last lines QEMU printed.
 * @QVM_ERROR_GUEST_FAILED: the guest stopped in a way it cannot recover
 *   from (for example a KVM internal error or a guest panic).
 * @QVM_ERROR_PROTOCOL: a peer (QEMU's QMP monitor, a guest) broke the
 *   protocol: malformed or oversized messages.
 * @QVM_ERROR_CLOSED: the connection or object was closed before the
 *   operation could complete.
 * @QVM_ERROR_TIMED_OUT: the operation did not complete in time.
 * @QVM_ERROR_KILLED: the virtual machine was killed at the caller's
 *   request.
 *
 * Error codes of the %QVM_ERROR domain.
 */
typedef enum {
  QVM_ERROR_FAILED,
  QVM_ERROR_MALFORMED_PAYLOAD,
  QVM_ERROR_INVALID_STATE,
  QVM_ERROR_QEMU_NOT_FOUND,
  QVM_ERROR_QEMU_FAILED,
  QVM_ERROR_GUEST_FAILED,
  QVM_ERROR_PROTOCOL,
  QVM_ERROR_CLOSED,
  QVM_ERROR_TIMED_OUT,
  QVM_ERROR_KILLED,
} QvmError;

QVM_AVAILABLE_IN_ALL
GQuark qvm_error_quark (void);

G_END_DECLS
