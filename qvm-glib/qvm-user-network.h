/* qvm-user-network.h: an unprivileged network with a metadata service
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <gio/gio.h>

#include "qvm-network.h"
#include "qvm-version-macros.h"

G_BEGIN_DECLS

#define QVM_TYPE_USER_NETWORK (qvm_user_network_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmUserNetwork, qvm_user_network, QVM, USER_NETWORK, GObject)

QVM_AVAILABLE_IN_ALL
QvmUserNetwork *qvm_user_network_new                 (const char      *folder,
                                                      GError         **error);

QVM_AVAILABLE_IN_ALL
const char     *qvm_user_network_get_folder          (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
const char     *qvm_user_network_get_socket_path     (QvmUserNetwork  *self);

QVM_AVAILABLE_IN_ALL
guint           qvm_user_network_get_max_header_size (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
void            qvm_user_network_set_max_header_size (QvmUserNetwork  *self,
                                                      guint            max_header_size);
QVM_AVAILABLE_IN_ALL
guint           qvm_user_network_get_max_body_size   (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
void            qvm_user_network_set_max_body_size   (QvmUserNetwork  *self,
                                                      guint            max_body_size);
QVM_AVAILABLE_IN_ALL
guint           qvm_user_network_get_max_connections (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
void            qvm_user_network_set_max_connections (QvmUserNetwork  *self,
                                                      guint            max_connections);
QVM_AVAILABLE_IN_ALL
guint           qvm_user_network_get_idle_timeout    (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
void            qvm_user_network_set_idle_timeout    (QvmUserNetwork  *self,
                                                      guint            idle_timeout);
QVM_AVAILABLE_IN_ALL
gboolean        qvm_user_network_get_tokens_required (QvmUserNetwork  *self);
QVM_AVAILABLE_IN_ALL
void            qvm_user_network_set_tokens_required (QvmUserNetwork  *self,
                                                      gboolean         tokens_required);

G_END_DECLS
