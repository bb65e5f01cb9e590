/* qvm-machine-options.h: limits and defaults for machine definitions
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QVM_INSIDE) && !defined(QVM_COMPILATION)
# error "Only <qvm.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "qvm-version-macros.h"

G_BEGIN_DECLS

/**
 * QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT:
 *
 * The largest value of [property@Qvm.MachineOptions:max-memory] (and of a
 * machine's memory), in MiB: 1 TiB.
 */
#define QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT 1048576

/**
 * QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY:
 *
 * The maximum memory, in MiB, of options created without one, and of the
 * options of a machine that does not specify its memory.
 */
#define QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY 4096

/**
 * QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT:
 *
 * The largest value of [property@Qvm.MachineOptions:max-vcpus]: 255, the
 * most vCPUs QEMU's `pc` machine accepts.
 */
#define QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT 255

/**
 * QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS:
 *
 * The maximum number of vCPUs of options created without one: 16.
 */
#define QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS 16

#define QVM_TYPE_MACHINE_OPTIONS (qvm_machine_options_get_type ())

QVM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (QvmMachineOptions, qvm_machine_options, QVM, MACHINE_OPTIONS, GObject)

QVM_AVAILABLE_IN_ALL
QvmMachineOptions *qvm_machine_options_new            (guint         max_memory);
QVM_AVAILABLE_IN_ALL
QvmMachineOptions *qvm_machine_options_new_from_json  (JsonNode     *node,
                                                       GError      **error);
QVM_AVAILABLE_IN_ALL
QvmMachineOptions *qvm_machine_options_new_from_data  (const char   *data,
                                                       gssize        length,
                                                       GError      **error);

QVM_AVAILABLE_IN_ALL
guint              qvm_machine_options_get_max_memory (QvmMachineOptions *options);
QVM_AVAILABLE_IN_ALL
void               qvm_machine_options_set_max_memory (QvmMachineOptions *options,
                                                       guint              max_memory);

QVM_AVAILABLE_IN_ALL
guint              qvm_machine_options_get_max_vcpus  (QvmMachineOptions *options);
QVM_AVAILABLE_IN_ALL
void               qvm_machine_options_set_max_vcpus  (QvmMachineOptions *options,
                                                       guint              max_vcpus);

QVM_AVAILABLE_IN_ALL
JsonNode          *qvm_machine_options_to_json        (QvmMachineOptions *options);
QVM_AVAILABLE_IN_ALL
char              *qvm_machine_options_to_data        (QvmMachineOptions *options);

QVM_AVAILABLE_IN_ALL
const char        *qvm_machine_options_get_schema     (void);

G_END_DECLS
