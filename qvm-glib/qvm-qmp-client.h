/* qvm-qmp-client.h: a QEMU Machine Protocol client
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "qvm-version-macros.h"

G_BEGIN_DECLS

/**
 * QVM_QMP_ERROR:
 *
 * The error domain of the errors QEMU answers a QMP command with. Errors in
 * this domain are from the [error@Qvm.QmpError] enumeration; their message
 * is QEMU's description of the error.
 */
#define QVM_QMP_ERROR (qvm_qmp_error_quark ())

/**
 * QvmQmpError:
 * @QVM_QMP_ERROR_GENERIC_ERROR: QMP class `GenericError`: most errors.
 * @QVM_QMP_ERROR_COMMAND_NOT_FOUND: QMP class `CommandNotFound`: the
 *   command does not exist in this QEMU.
 * @QVM_QMP_ERROR_DEVICE_NOT_FOUND: QMP class `DeviceNotFound`: the
 *   command names a device that does not exist.
 * @QVM_QMP_ERROR_DEVICE_NOT_ACTIVE: QMP class `DeviceNotActive`: the
 *   device exists but is not active (for example a disabled balloon).
 * @QVM_QMP_ERROR_KVM_MISSING_CAP: QMP class `KVMMissingCap`: the host's
 *   KVM lacks a capability the command needs.
 * @QVM_QMP_ERROR_UNKNOWN: an error class this library does not know; the
 *   message ends with the class name.
 *
 * Error codes of the %QVM_QMP_ERROR domain, one for each QMP error class.
 */
typedef enum {
  QVM_QMP_ERROR_GENERIC_ERROR,
  QVM_QMP_ERROR_COMMAND_NOT_FOUND,
  QVM_QMP_ERROR_DEVICE_NOT_FOUND,
  QVM_QMP_ERROR_DEVICE_NOT_ACTIVE,
  QVM_QMP_ERROR_KVM_MISSING_CAP,
  QVM_QMP_ERROR_UNKNOWN,
} QvmQmpError;

QVM_AVAILABLE_IN_ALL
GQuark qvm_qmp_error_quark (void);

#define QVM_TYPE_QMP_CLIENT (qvm_qmp_client_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmQmpClient, qvm_qmp_client, QVM, QMP_CLIENT, GObject)

QVM_AVAILABLE_IN_ALL
void          qvm_qmp_client_new_async       (GIOStream            *stream,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
QVM_AVAILABLE_IN_ALL
QvmQmpClient *qvm_qmp_client_new_finish      (GAsyncResult         *result,
                                              GError              **error);
QVM_AVAILABLE_IN_ALL
QvmQmpClient *qvm_qmp_client_new_sync        (GIOStream            *stream,
                                              GCancellable         *cancellable,
                                              GError              **error);

QVM_AVAILABLE_IN_ALL
void          qvm_qmp_client_connect_async   (const char           *socket_path,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
QVM_AVAILABLE_IN_ALL
QvmQmpClient *qvm_qmp_client_connect_finish  (GAsyncResult         *result,
                                              GError              **error);
QVM_AVAILABLE_IN_ALL
QvmQmpClient *qvm_qmp_client_connect_sync    (const char           *socket_path,
                                              GCancellable         *cancellable,
                                              GError              **error);

QVM_AVAILABLE_IN_ALL
void          qvm_qmp_client_execute_async   (QvmQmpClient         *client,
                                              const char           *command,
                                              JsonObject           *arguments,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
QVM_AVAILABLE_IN_ALL
JsonNode     *qvm_qmp_client_execute_finish  (QvmQmpClient         *client,
                                              GAsyncResult         *result,
                                              GError              **error);
QVM_AVAILABLE_IN_ALL
JsonNode     *qvm_qmp_client_execute         (QvmQmpClient         *client,
                                              const char           *command,
                                              JsonObject           *arguments,
                                              GCancellable         *cancellable,
                                              GError              **error);

QVM_AVAILABLE_IN_ALL
void          qvm_qmp_client_close_async     (QvmQmpClient         *client,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
QVM_AVAILABLE_IN_ALL
gboolean      qvm_qmp_client_close_finish    (QvmQmpClient         *client,
                                              GAsyncResult         *result,
                                              GError              **error);
QVM_AVAILABLE_IN_ALL
gboolean      qvm_qmp_client_close           (QvmQmpClient         *client,
                                              GCancellable         *cancellable,
                                              GError              **error);

QVM_AVAILABLE_IN_ALL
GIOStream    *qvm_qmp_client_get_stream        (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
const char   *qvm_qmp_client_get_qemu_version  (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
const char   *qvm_qmp_client_get_qemu_package  (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
const char * const *qvm_qmp_client_get_capabilities (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
gboolean      qvm_qmp_client_is_closed         (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
guint         qvm_qmp_client_get_timeout       (QvmQmpClient *client);
QVM_AVAILABLE_IN_ALL
void          qvm_qmp_client_set_timeout       (QvmQmpClient *client,
                                                guint         timeout_ms);

G_END_DECLS
