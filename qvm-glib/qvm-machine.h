/* qvm-machine.h: the virtual hardware of a machine image
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

#include "qvm-machine-options.h"
#include "qvm-version-macros.h"

G_BEGIN_DECLS

/**
 * QVM_MACHINE_FORMAT_VERSION:
 *
 * The version of the machine definition format (machine.json) this
 * library reads and writes.
 */
#define QVM_MACHINE_FORMAT_VERSION 1

/**
 * QVM_MACHINE_MAX_FILE_SIZE:
 *
 * The largest machine definition accepted, in bytes (1 MiB).
 */
#define QVM_MACHINE_MAX_FILE_SIZE (1024 * 1024)

#define QVM_TYPE_MACHINE (qvm_machine_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmMachine, qvm_machine, QVM, MACHINE, GObject)

QVM_AVAILABLE_IN_ALL
QvmMachine        *qvm_machine_new_from_file     (GFile         *file,
                                                  GCancellable  *cancellable,
                                                  GError       **error);
QVM_AVAILABLE_IN_ALL
QvmMachine        *qvm_machine_new_from_bytes    (GBytes        *bytes,
                                                  GError       **error);
QVM_AVAILABLE_IN_ALL
QvmMachine        *qvm_machine_new_from_json     (JsonNode      *node,
                                                  GError       **error);
QVM_AVAILABLE_IN_ALL
QvmMachine        *qvm_machine_new_random        (void);
QVM_AVAILABLE_IN_ALL
QvmMachine        *qvm_machine_copy              (QvmMachine    *machine);
QVM_AVAILABLE_IN_ALL
gboolean           qvm_machine_equal             (QvmMachine    *machine,
                                                  QvmMachine    *other);

QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_uuid             (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
guint              qvm_machine_get_memory           (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_network_device   (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_mac_address      (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_keyboard_layout  (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_sound_device     (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_sound_controller (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
guint              qvm_machine_get_threads          (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
guint              qvm_machine_get_cores            (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
guint              qvm_machine_get_sockets          (QvmMachine *machine);
QVM_AVAILABLE_IN_ALL
guint              qvm_machine_get_vcpus            (QvmMachine *machine);

QVM_AVAILABLE_IN_ALL
QvmMachineOptions *qvm_machine_get_options       (QvmMachine        *machine);
QVM_AVAILABLE_IN_ALL
gboolean           qvm_machine_set_defaults      (QvmMachine        *machine,
                                                  QvmMachineOptions *options,
                                                  GError           **error);

QVM_AVAILABLE_IN_ALL
JsonNode          *qvm_machine_to_json           (QvmMachine    *machine);
QVM_AVAILABLE_IN_ALL
char              *qvm_machine_to_data           (QvmMachine    *machine);
QVM_AVAILABLE_IN_ALL
gboolean           qvm_machine_save_to_file      (QvmMachine    *machine,
                                                  GFile         *file,
                                                  GCancellable  *cancellable,
                                                  GError       **error);

QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_get_schema        (void);

QVM_AVAILABLE_IN_ALL
gboolean           qvm_machine_get_tablet        (QvmMachine    *machine);

G_END_DECLS
