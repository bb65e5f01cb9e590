/* qvm-machine-options.c: limits and defaults for machine definitions
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-machine-options.h"
#include "qvm-payload-private.h"

#define OPTIONS_SCHEMA "options.schema.json"

/**
 * QvmMachineOptions:
 *
 * The host's limits and defaults for machine definitions. A machine whose definition does not fit is refused
 * with %QVM_ERROR_MALFORMED_PAYLOAD by [method@Qvm.Machine.set_defaults].
 *
 * Options are set by whoever runs the host, not by image authors, so
 * [property@Qvm.MachineOptions:max-memory] and
 * [property@Qvm.MachineOptions:max-vcpus] are writable; their ranges are
 * those of the options JSON Schema ([func@Qvm.MachineOptions.get_schema]).
 * In JSON they look like this (`maxVcpus` may be left out: it is then
 * %QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS):
 *
 * ```json
 * { "maxMemory": 4096, "maxVcpus": 16 }
 * ```
 */

struct _QvmMachineOptions
{
  GObject parent_instance;

  guint max_memory;
  guint max_vcpus;
};

G_DEFINE_FINAL_TYPE (QvmMachineOptions, qvm_machine_options, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MAX_MEMORY,
  PROP_MAX_VCPUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
qvm_machine_options_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  QvmMachineOptions *self = QVM_MACHINE_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_MAX_MEMORY:
      g_value_set_uint (value, self->max_memory);
      break;
    case PROP_MAX_VCPUS:
      g_value_set_uint (value, self->max_vcpus);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_machine_options_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  QvmMachineOptions *self = QVM_MACHINE_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_MAX_MEMORY:
      qvm_machine_options_set_max_memory (self, g_value_get_uint (value));
      break;
    case PROP_MAX_VCPUS:
      qvm_machine_options_set_max_vcpus (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_machine_options_class_init (QvmMachineOptionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  qvm_i18n_init ();

  object_class->get_property = qvm_machine_options_get_property;
  object_class->set_property = qvm_machine_options_set_property;

  /**
   * QvmMachineOptions:max-memory:
   *
   * The most memory a machine may have, in MiB (0 to
   * %QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT); also the memory of a machine
   * that does not specify one.
   */
  properties[PROP_MAX_MEMORY] =
    g_param_spec_uint ("max-memory", NULL, NULL,
                       0, QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT,
                       QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * QvmMachineOptions:max-vcpus:
   *
   * The most vCPUs a machine may have (1 to
   * %QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT): the product of the sockets, cores
   * and threads of its CPU topology, each 1 when unspecified (see
   * [method@Qvm.Machine.get_vcpus]).
   */
  properties[PROP_MAX_VCPUS] =
    g_param_spec_uint ("max-vcpus", NULL, NULL,
                       1, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT,
                       QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qvm_machine_options_init (QvmMachineOptions *self)
{
}

static QvmSchema *
options_schema (void)
{
  return qvm_payload_load_builtin_schema (OPTIONS_SCHEMA);
}

/**
 * qvm_machine_options_new:
 * @max_memory: the most memory a machine may have, in MiB (at most
 *   %QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT)
 *
 * Creates machine options.
 *
 * Returns: (transfer full): new machine options
 */
QvmMachineOptions *
qvm_machine_options_new (guint max_memory)
{
  g_return_val_if_fail (max_memory <= QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT, NULL);

  return g_object_new (QVM_TYPE_MACHINE_OPTIONS, "max-memory", max_memory, NULL);
}

/* The member @name of a validated document, @fallback when it is absent.
 * The schema checked type and range; stay safe should it not have. */
static guint
uint_member (JsonNode   *root,
             const char *name,
             guint       minimum,
             guint       maximum,
             guint       fallback)
{
  JsonNode *member = json_object_get_member (json_node_get_object (root), name);
  gint64 value;

  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member))
    return fallback;
  value = json_node_get_value_type (member) == G_TYPE_DOUBLE
            ? (gint64) json_node_get_double (member)
            : json_node_get_int (member);
  return (guint) CLAMP (value, (gint64) minimum, (gint64) maximum);
}

static QvmMachineOptions *
options_from_valid_json (JsonNode *root)
{
  guint max_memory = uint_member (root, "maxMemory", 0, QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT, 0);
  guint max_vcpus = uint_member (root, "maxVcpus", 1, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT,
                                 QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS);

  return g_object_new (QVM_TYPE_MACHINE_OPTIONS,
                       "max-memory", max_memory,
                       "max-vcpus", max_vcpus,
                       NULL);
}

/**
 * qvm_machine_options_new_from_json:
 * @node: the options as a JSON node
 * @error: return location for a #GError
 *
 * Creates machine options from JSON, after validating it against the
 * options schema.
 *
 * Returns: (transfer full): the options, or %NULL with @error set to
 *   %QVM_ERROR_MALFORMED_PAYLOAD listing every problem, one per line
 */
QvmMachineOptions *
qvm_machine_options_new_from_json (JsonNode  *node,
                                   GError   **error)
{
  g_autoptr(QvmSchema) schema = NULL;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  schema = options_schema ();
  if (!qvm_payload_validate (schema, node, NULL, NULL, error))
    return NULL;

  return options_from_valid_json (node);
}

/**
 * qvm_machine_options_new_from_data:
 * @data: the options as JSON text (UTF-8, at most 1 MiB)
 * @length: the length of @data in bytes, or -1 when it is NUL-terminated
 * @error: return location for a #GError
 *
 * Parses and validates machine options.
 *
 * Returns: (transfer full): the options, or %NULL with @error set to
 *   %QVM_ERROR_MALFORMED_PAYLOAD listing every problem, one per line
 */
QvmMachineOptions *
qvm_machine_options_new_from_data (const char  *data,
                                   gssize       length,
                                   GError     **error)
{
  g_autoptr(QvmSchema) schema = NULL;
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length < 0)
    length = strlen (data);

  schema = options_schema ();
  root = qvm_payload_load (schema, data, length, NULL, NULL, error);
  if (root == NULL)
    return NULL;

  return options_from_valid_json (root);
}

/**
 * qvm_machine_options_get_max_memory:
 * @options: machine options
 *
 * Gets [property@Qvm.MachineOptions:max-memory].
 *
 * Returns: the maximum memory in MiB
 */
guint
qvm_machine_options_get_max_memory (QvmMachineOptions *options)
{
  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), 0);
  return options->max_memory;
}

/**
 * qvm_machine_options_set_max_memory:
 * @options: machine options
 * @max_memory: the most memory a machine may have, in MiB (at most
 *   %QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT)
 *
 * Sets [property@Qvm.MachineOptions:max-memory].
 */
void
qvm_machine_options_set_max_memory (QvmMachineOptions *options,
                                    guint              max_memory)
{
  g_return_if_fail (QVM_IS_MACHINE_OPTIONS (options));
  g_return_if_fail (max_memory <= QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT);

  if (options->max_memory == max_memory)
    return;
  options->max_memory = max_memory;
  g_object_notify_by_pspec (G_OBJECT (options), properties[PROP_MAX_MEMORY]);
}

/**
 * qvm_machine_options_get_max_vcpus:
 * @options: machine options
 *
 * Gets [property@Qvm.MachineOptions:max-vcpus].
 *
 * Returns: the maximum number of vCPUs
 */
guint
qvm_machine_options_get_max_vcpus (QvmMachineOptions *options)
{
  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), 0);
  return options->max_vcpus;
}

/**
 * qvm_machine_options_set_max_vcpus:
 * @options: machine options
 * @max_vcpus: the most vCPUs a machine may have (1 to
 *   %QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT)
 *
 * Sets [property@Qvm.MachineOptions:max-vcpus].
 */
void
qvm_machine_options_set_max_vcpus (QvmMachineOptions *options,
                                   guint              max_vcpus)
{
  g_return_if_fail (QVM_IS_MACHINE_OPTIONS (options));
  g_return_if_fail (max_vcpus >= 1 && max_vcpus <= QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT);

  if (options->max_vcpus == max_vcpus)
    return;
  options->max_vcpus = max_vcpus;
  g_object_notify_by_pspec (G_OBJECT (options), properties[PROP_MAX_VCPUS]);
}

/**
 * qvm_machine_options_to_json:
 * @options: machine options
 *
 * Serializes @options as their schema describes them.
 *
 * Returns: (transfer full): a JSON object node
 */
JsonNode *
qvm_machine_options_to_json (QvmMachineOptions *options)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "maxMemory");
  json_builder_add_int_value (builder, options->max_memory);
  json_builder_set_member_name (builder, "maxVcpus");
  json_builder_add_int_value (builder, options->max_vcpus);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/**
 * qvm_machine_options_to_data:
 * @options: machine options
 *
 * Serializes @options as pretty-printed JSON ending with a newline.
 *
 * Returns: (transfer full): the JSON text
 */
char *
qvm_machine_options_to_data (QvmMachineOptions *options)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), NULL);

  root = qvm_machine_options_to_json (options);

  return qvm_payload_to_text (root);
}

/**
 * qvm_machine_options_get_schema:
 *
 * Gets the JSON Schema (draft-04) of machine options, with the title
 * "Machine Options" and a description of every member.
 *
 * Returns: the schema as JSON text
 */
const char *
qvm_machine_options_get_schema (void)
{
  return qvm_payload_get_builtin_schema_text (OPTIONS_SCHEMA);
}
