/* qvm-machine.c: the virtual hardware of a machine image
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-machine.h"
#include "qvm-payload-private.h"
#include "qvm-util-private.h"

#define MACHINE_SCHEMA "machine.schema.json"

/**
 * QvmMachine:
 *
 * The virtual hardware of a machine image, as its author wrote it in
 * `machine.json`: the SMBIOS UUID, the memory, the network card and its MAC
 * address, the keyboard layout, an optional sound card and an optional CPU
 * topology.
 *
 * A `QvmMachine` is created from a definition by
 * [ctor@Qvm.Machine.new_from_file], [ctor@Qvm.Machine.new_from_bytes] or
 * [ctor@Qvm.Machine.new_from_json], which validate it against the machine
 * JSON Schema ([func@Qvm.Machine.get_schema]); a definition that breaks any
 * rule is refused with one %QVM_ERROR_MALFORMED_PAYLOAD error that lists
 * every problem, one line each, with the JSON path and the offending value:
 *
 * ```
 * network.mac: "01:00:5e:00:00:01" has the multicast bit set (bit 0 of the first octet)
 * cpu.cores: 256 is greater than the maximum 255
 * ```
 *
 * The format (version 1, the version of a definition without `version`):
 *
 * ```json
 * {
 *   "version": 1,
 *   "uuid": "6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d",
 *   "memory": 2048,
 *   "network": { "device": "virtio-net-pci", "mac": "02:5e:1a:00:00:01" },
 *   "keyboard": { "layout": "en-us" },
 *   "sound": { "device": "hda-duplex", "controller": "intel-hda" },
 *   "cpu": { "threads": 1, "cores": 2, "sockets": 1 }
 * }
 * ```
 *
 * ## Always valid, hence read-only
 *
 * The properties of a `QvmMachine` are read-only: the only ways to make
 * one are the validated constructors above, [ctor@Qvm.Machine.new_random]
 * and [method@Qvm.Machine.copy], so a `QvmMachine` that exists is always a
 * valid one and code that receives one never validates it again. To change
 * a machine, change its JSON ([method@Qvm.Machine.to_json]) and load that.
 * The one exception is [method@Qvm.Machine.set_defaults], which fills in the
 * memory from the host's limits (and notifies
 * [property@Qvm.Machine:memory]). Creating a `QvmMachine` with
 * g_object_new() (or `Qvm.Machine()` in Python and JavaScript) gives a
 * random valid machine, like [ctor@Qvm.Machine.new_random].
 *
 * The device, layout and controller names are the strings of the JSON
 * format (which are QEMU's own names), not enumerations: the schema lists
 * the values allowed.
 */

struct _QvmMachine
{
  GObject parent_instance;

  char *uuid;
  guint memory;
  char *network_device;
  char *mac_address;
  char *keyboard_layout;
  char *sound_device;     /* NULL when the machine has no sound card */
  char *sound_controller;
  gboolean tablet;        /* a USB tablet, the absolute pointer (the default) */
  guint threads;          /* 0 when unspecified, as cores and sockets */
  guint cores;
  guint sockets;
};

G_DEFINE_FINAL_TYPE (QvmMachine, qvm_machine, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_UUID,
  PROP_MEMORY,
  PROP_NETWORK_DEVICE,
  PROP_MAC_ADDRESS,
  PROP_KEYBOARD_LAYOUT,
  PROP_SOUND_DEVICE,
  PROP_SOUND_CONTROLLER,
  PROP_THREADS,
  PROP_CORES,
  PROP_SOCKETS,
  PROP_TABLET,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char *
random_mac_address (void)
{
  guint8 octets[6];

  for (guint i = 0; i < G_N_ELEMENTS (octets); i++)
    octets[i] = (guint8) g_random_int_range (0, 256);

  /* Locally administered (bit 1 set), unicast (bit 0 clear). */
  octets[0] = (octets[0] & 0xfc) | 0x02;

  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                          octets[0], octets[1], octets[2], octets[3], octets[4], octets[5]);
}

static void
qvm_machine_finalize (GObject *object)
{
  QvmMachine *self = QVM_MACHINE (object);

  g_free (self->uuid);
  g_free (self->network_device);
  g_free (self->mac_address);
  g_free (self->keyboard_layout);
  g_free (self->sound_device);
  g_free (self->sound_controller);

  G_OBJECT_CLASS (qvm_machine_parent_class)->finalize (object);
}

static void
qvm_machine_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  QvmMachine *self = QVM_MACHINE (object);

  switch (prop_id)
    {
    case PROP_UUID:
      g_value_set_string (value, self->uuid);
      break;
    case PROP_MEMORY:
      g_value_set_uint (value, self->memory);
      break;
    case PROP_NETWORK_DEVICE:
      g_value_set_string (value, self->network_device);
      break;
    case PROP_MAC_ADDRESS:
      g_value_set_string (value, self->mac_address);
      break;
    case PROP_KEYBOARD_LAYOUT:
      g_value_set_string (value, self->keyboard_layout);
      break;
    case PROP_SOUND_DEVICE:
      g_value_set_string (value, self->sound_device);
      break;
    case PROP_SOUND_CONTROLLER:
      g_value_set_string (value, self->sound_controller);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    case PROP_CORES:
      g_value_set_uint (value, self->cores);
      break;
    case PROP_SOCKETS:
      g_value_set_uint (value, self->sockets);
      break;
    case PROP_TABLET:
      g_value_set_boolean (value, self->tablet);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qvm_machine_class_init (QvmMachineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  qvm_i18n_init ();

  object_class->finalize = qvm_machine_finalize;
  object_class->get_property = qvm_machine_get_property;

  /**
   * QvmMachine:uuid:
   *
   * The machine's SMBIOS UUID, in the lower-case text form of RFC 4122
   * (version 1 to 5).
   */
  properties[PROP_UUID] =
    g_param_spec_string ("uuid", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:memory:
   *
   * The machine's memory in MiB, or 0 when the definition leaves it to the
   * host (see [method@Qvm.Machine.set_defaults]).
   */
  properties[PROP_MEMORY] =
    g_param_spec_uint ("memory", NULL, NULL,
                       0, QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT, 0, flags);

  /**
   * QvmMachine:network-device:
   *
   * The QEMU device model of the network card: `rtl8139`, `e1000` or
   * `virtio-net-pci`.
   */
  properties[PROP_NETWORK_DEVICE] =
    g_param_spec_string ("network-device", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:mac-address:
   *
   * The network card's MAC address: six lower-case hex octets separated by
   * colons, locally administered and unicast.
   */
  properties[PROP_MAC_ADDRESS] =
    g_param_spec_string ("mac-address", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:keyboard-layout:
   *
   * The keyboard layout, one of the 34 keymaps of QEMU 7.2 (`en-us`,
   * `de`, `fr-ch`…).
   */
  properties[PROP_KEYBOARD_LAYOUT] =
    g_param_spec_string ("keyboard-layout", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:sound-device:
   *
   * The QEMU device model of the sound card (`AC97`, `ES1370`,
   * `hda-duplex`, `hda-micro`, `hda-output`), or %NULL for none.
   */
  properties[PROP_SOUND_DEVICE] =
    g_param_spec_string ("sound-device", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:sound-controller:
   *
   * The controller the sound device sits on (`pci`, `intel-hda`,
   * `ich9-intel-hda`), or %NULL when there is no sound card.
   */
  properties[PROP_SOUND_CONTROLLER] =
    g_param_spec_string ("sound-controller", NULL, NULL, NULL, flags);

  /**
   * QvmMachine:threads:
   *
   * Threads per CPU core (1 to 255), or 0 when unspecified.
   */
  properties[PROP_THREADS] =
    g_param_spec_uint ("threads", NULL, NULL, 0, 255, 0, flags);

  /**
   * QvmMachine:cores:
   *
   * CPU cores per socket (1 to 255), or 0 when unspecified.
   */
  properties[PROP_CORES] =
    g_param_spec_uint ("cores", NULL, NULL, 0, 255, 0, flags);

  /**
   * QvmMachine:sockets:
   *
   * CPU sockets (1 to 255), or 0 when unspecified.
   */
  properties[PROP_SOCKETS] =
    g_param_spec_uint ("sockets", NULL, NULL, 0, 255, 0, flags);

  /**
   * QvmMachine:tablet:
   *
   * Whether the machine has a USB tablet, the absolute pointing device
   * that VNC clients and [method@Qvm.VirtualMachine.pointer_move_async]
   * move (machine.json `"tablet"`, true unless it says false).
   */
  properties[PROP_TABLET] =
    g_param_spec_boolean ("tablet", NULL, NULL, TRUE, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qvm_machine_init (QvmMachine *self)
{
  /* Every QvmMachine is valid from birth: a random one until a constructor
   * fills in a loaded definition. */
  self->uuid = g_uuid_string_random ();
  self->network_device = g_strdup ("e1000");
  self->mac_address = random_mac_address ();
  self->keyboard_layout = g_strdup ("en-us");
  self->tablet = TRUE;
}

/* Explanations for problems the schema found. */

static gboolean
is_hex_run (const char *text,
            guint       count)
{
  for (guint i = 0; i < count; i++)
    if (!g_ascii_isxdigit (text[i]))
      return FALSE;
  return TRUE;
}

static gboolean
has_upper_case (const char *text)
{
  for (; *text != '\0'; text++)
    if (g_ascii_isupper (*text))
      return TRUE;
  return FALSE;
}

/* "A, B and C" of the reasons; each reason already starts with a verb. */
static char *
join_reasons (GPtrArray *reasons)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < reasons->len; i++)
    {
      if (i > 0)
        g_string_append (text, i + 1 == reasons->len ? _(" and ") : ", ");
      g_string_append (text, g_ptr_array_index (reasons, i));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
explain_mac_address (JsonNode *value)
{
  g_autoptr(GPtrArray) reasons = g_ptr_array_new ();
  g_autofree char *shown = NULL;
  g_autofree char *joined = NULL;
  const char *mac;
  guint first_octet;

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    return NULL;

  mac = json_node_get_string (value);
  shown = qvm_payload_format_value (value);

  if (strlen (mac) != 17)
    return g_strdup_printf (_("%s is not a MAC address: expected six two-digit hex octets separated by colons, like \"02:00:00:12:34:56\""), shown);
  for (guint i = 0; i < 6; i++)
    if (!is_hex_run (mac + 3 * i, 2) || (i < 5 && mac[3 * i + 2] != ':'))
      return g_strdup_printf (_("%s is not a MAC address: expected six two-digit hex octets separated by colons, like \"02:00:00:12:34:56\""), shown);

  if (has_upper_case (mac))
    g_ptr_array_add (reasons, _("has upper-case hex digits (write them in lower case)"));

  first_octet = (g_ascii_xdigit_value (mac[0]) << 4) | g_ascii_xdigit_value (mac[1]);
  if (first_octet & 0x01)
    g_ptr_array_add (reasons, _("has the multicast bit set (bit 0 of the first octet)"));
  if (!(first_octet & 0x02))
    g_ptr_array_add (reasons, _("is not locally administered (bit 1 of the first octet is clear)"));

  if (reasons->len == 0)
    return NULL;

  joined = join_reasons (reasons);
  return g_strdup_printf ("%s %s", shown, joined);
}

static char *
explain_uuid (JsonNode *value)
{
  static const guint group_lengths[] = { 8, 4, 4, 4, 12 };
  g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *shown = NULL;
  g_autofree char *joined = NULL;
  const char *uuid;
  const char *at;
  char version, variant;

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    return NULL;

  uuid = json_node_get_string (value);
  shown = qvm_payload_format_value (value);

  at = uuid;
  for (guint i = 0; i < G_N_ELEMENTS (group_lengths); i++)
    {
      if (strnlen (at, group_lengths[i]) < group_lengths[i] || !is_hex_run (at, group_lengths[i]))
        break;
      at += group_lengths[i];
      if (i + 1 < G_N_ELEMENTS (group_lengths) && *at++ != '-')
        break;
      if (i + 1 == G_N_ELEMENTS (group_lengths) && *at == '\0')
        at = NULL;
    }
  if (at != NULL)
    return g_strdup_printf (_("%s is not a UUID: expected 32 hex digits in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), shown);

  if (has_upper_case (uuid))
    g_ptr_array_add (reasons, g_strdup (_("has upper-case hex digits (write them in lower case)")));

  version = uuid[14];
  if (version < '1' || version > '5')
    g_ptr_array_add (reasons, g_strdup_printf (_("has version %c (only versions 1 to 5 exist)"), version));

  variant = g_ascii_tolower (uuid[19]);
  if (strchr ("89ab", variant) == NULL)
    g_ptr_array_add (reasons, g_strdup_printf (_("has variant digit %c, not the RFC 4122 variant (8, 9, a or b)"), uuid[19]));

  if (reasons->len == 0)
    return NULL;

  joined = join_reasons (reasons);
  return g_strdup_printf ("%s %s", shown, joined);
}

static char *
explain_version (JsonNode *value)
{
  g_autofree char *shown = NULL;

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64)
    return NULL;

  shown = qvm_payload_format_value (value);
  return g_strdup_printf (_("%s is not a version of the machine format this library knows (it reads version %d)"),
                          shown, QVM_MACHINE_FORMAT_VERSION);
}

static const char *
sound_member (JsonNode   *sound,
              const char *name)
{
  JsonNode *member;

  if (sound == NULL || !JSON_NODE_HOLDS_OBJECT (sound))
    return NULL;
  member = json_object_get_member (json_node_get_object (sound), name);
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (member);
}

static gboolean
str_in (const char         *value,
        const char * const *set)
{
  return value != NULL && g_strv_contains (set, value);
}

/* The pairs of the schema's oneOf in sound, for explanations only: the
 * schema decides (a test checks that both agree). */
static const char * const pci_sound_devices[] = { "AC97", "ES1370", NULL };
static const char * const sound_devices[] = { "AC97", "ES1370", "hda-duplex", "hda-micro", "hda-output", NULL };
static const char * const sound_controllers[] = { "pci", "intel-hda", "ich9-intel-hda", NULL };

/* The line of the oneOf that pairs devices with controllers is the one
 * line at "sound" that starts with the value itself ("{…} matches none of
 * the 2 alternatives"); the others start with a word ("missing required
 * property…"). When device and controller are both known, it means they do
 * not go together: say so. Otherwise the lines of sound.device or
 * sound.controller already say what is wrong, and it adds nothing. */
static char *
explain_sound (const char *problem,
               JsonNode   *sound)
{
  const char *device = sound_member (sound, "device");
  const char *controller = sound_member (sound, "controller");
  const char *needs;

  if (problem[0] != '{')
    return NULL;

  if (!str_in (device, sound_devices) || !str_in (controller, sound_controllers))
    return g_strdup ("");

  /* A pair that does go together: the line is about something else. */
  if (str_in (device, pci_sound_devices) == g_str_equal (controller, "pci"))
    return NULL;

  needs = str_in (device, pci_sound_devices) ? "\"pci\"" : "\"intel-hda\" or \"ich9-intel-hda\"";
  return g_strdup_printf (_("device \"%s\" does not go with controller \"%s\" (it needs controller %s)"),
                          device, controller, needs);
}

/* An unknown device or controller gets one line from the member's enum and
 * maybe another from the closest oneOf alternative, with a shorter list;
 * give both the same text, so they merge into one. */
static char *
explain_sound_member (const char         *problem,
                      JsonNode           *value,
                      const char * const *known,
                      gboolean            is_device)
{
  g_autofree char *shown = NULL;
  g_autofree char *list = NULL;

  if (value == NULL)
    return NULL;

  /* Not a string: the type line says so; a line from the closest
   * alternative's enum ("5 is not one of…", starting with the value) only
   * confuses. */
  shown = qvm_payload_format_value (value);
  if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    return g_str_has_prefix (problem, shown) ? g_strdup ("") : NULL;

  if (str_in (json_node_get_string (value), known))
    return NULL;

  list = g_strjoinv (", ", (char **) known);
  if (is_device)
    return g_strdup_printf (_("%s is not a sound device (the devices are %s)"), shown, list);
  return g_strdup_printf (_("%s is not a sound controller (the controllers are %s)"), shown, list);
}

static char *
explain_machine_problem (const char *path,
                         const char *problem,
                         JsonNode   *value,
                         JsonNode   *root)
{
  if (g_str_equal (path, "version"))
    return explain_version (value);
  if (g_str_equal (path, "uuid"))
    return explain_uuid (value);
  if (g_str_equal (path, "network.mac"))
    return explain_mac_address (value);
  if (g_str_equal (path, "sound"))
    return explain_sound (problem, value);
  if (g_str_equal (path, "sound.device"))
    return explain_sound_member (problem, value, sound_devices, TRUE);
  if (g_str_equal (path, "sound.controller"))
    return explain_sound_member (problem, value, sound_controllers, FALSE);
  return NULL;
}

/* Reading a validated definition. The schema has checked every type and
 * range; these helpers still refuse to crash should it ever let something
 * through. */

static JsonObject *
object_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static char *
dup_string_member (JsonObject *object,
                   const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

static guint
uint_member (JsonObject *object,
             const char *name,
             guint       max)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    value = (gint64) json_node_get_double (node);
  else
    return 0;
  return value < 0 ? 0 : (guint) MIN (value, (gint64) max);
}

/* A member the JSON leaves out keeps the default the object was made with. */
static void
set_string_from_member (char       **field,
                        JsonObject  *object,
                        const char  *name)
{
  g_autofree char *value = dup_string_member (object, name);

  if (value != NULL)
    qvm_set_str (field, value);
}

static QvmMachine *
machine_from_valid_json (JsonNode *root)
{
  g_autoptr(QvmMachine) self = g_object_new (QVM_TYPE_MACHINE, NULL);
  JsonObject *object = json_node_get_object (root);
  JsonObject *network = object_member (object, "network");
  JsonObject *keyboard = object_member (object, "keyboard");
  JsonObject *sound = object_member (object, "sound");
  JsonObject *cpu = object_member (object, "cpu");

  set_string_from_member (&self->uuid, object, "uuid");
  self->memory = uint_member (object, "memory", QVM_MACHINE_OPTIONS_MAX_MEMORY_LIMIT);
  set_string_from_member (&self->network_device, network, "device");
  set_string_from_member (&self->mac_address, network, "mac");
  set_string_from_member (&self->keyboard_layout, keyboard, "layout");
  if (sound != NULL)
    {
      self->sound_device = dup_string_member (sound, "device");
      self->sound_controller = dup_string_member (sound, "controller");
    }
  self->tablet = json_object_get_boolean_member_with_default (object, "tablet", TRUE);
  self->threads = uint_member (cpu, "threads", 255);
  self->cores = uint_member (cpu, "cores", 255);
  self->sockets = uint_member (cpu, "sockets", 255);

  return g_steal_pointer (&self);
}

static QvmSchema *
machine_schema (void)
{
  return qvm_payload_load_builtin_schema (MACHINE_SCHEMA);
}

/* Checks beyond the schema: what QEMU 7.2's pc machine refuses. */

static guint
or_one (guint count)
{
  return count != 0 ? count : 1;
}

/* Bits of an APIC ID field holding numbers below @count, as QEMU counts
 * them (x86_topo.h: the field width rounds up to a power of two). */
static guint
apic_id_bits (guint count)
{
  guint bits = 0;

  while ((1u << bits) < count)
    bits++;
  return bits;
}

/* The APIC ID of the last vCPU: socket, core and thread numbers packed
 * into fields of apic_id_bits(). */
static guint
last_apic_id (QvmMachine *self)
{
  guint thread_bits = apic_id_bits (or_one (self->threads));
  guint core_bits = apic_id_bits (or_one (self->cores));

  return ((or_one (self->sockets) - 1) << (core_bits + thread_bits)) |
         ((or_one (self->cores) - 1) << thread_bits) |
         (or_one (self->threads) - 1);
}

/* Without an IOMMU and x2APIC, QEMU refuses a topology whose APIC IDs
 * reach 255 ("requires kernel irqchip and X2APIC API support"), and the
 * pc machine runs at most 255 vCPUs. Each member is at most 255 (the
 * schema), so the products fit in a guint. */
static gboolean
check_cpu_topology (QvmMachine  *self,
                    const char  *source,
                    GError     **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  guint vcpus = qvm_machine_get_vcpus (self);
  guint last_id = last_apic_id (self);

  if (vcpus > QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT)
    g_ptr_array_add (problems,
                     g_strdup_printf (_("cpu: %u × %u × %u (sockets × cores × threads) make %u vCPUs, more than the %u QEMU’s pc machine runs"),
                                      or_one (self->sockets), or_one (self->cores), or_one (self->threads),
                                      vcpus, QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT));
  else if (last_id >= 255)
    g_ptr_array_add (problems,
                     g_strdup_printf (_("cpu: %u × %u × %u (sockets × cores × threads) need APIC IDs up to %u, but QEMU gives at most 254 without an IOMMU (cores and threads count as the next power of two)"),
                                      or_one (self->sockets), or_one (self->cores), or_one (self->threads),
                                      last_id));
  if (problems->len == 0)
    return TRUE;

  qvm_payload_set_error (error, source, problems);
  return FALSE;
}

/* A machine from a definition the schema accepted, or NULL with @error
 * set when QEMU would still refuse it. */
static QvmMachine *
machine_from_checked_json (JsonNode    *root,
                           const char  *source,
                           GError     **error)
{
  g_autoptr(QvmMachine) self = machine_from_valid_json (root);

  if (!check_cpu_topology (self, source, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * qvm_machine_new_from_json:
 * @node: the definition as a JSON node
 * @error: return location for a #GError
 *
 * Creates a machine from a parsed definition, after validating it against
 * the machine schema.
 *
 * Returns: (transfer full): the machine, or %NULL with @error set to
 *   %QVM_ERROR_MALFORMED_PAYLOAD listing every problem, one per line
 */
QvmMachine *
qvm_machine_new_from_json (JsonNode  *node,
                           GError   **error)
{
  g_autoptr(QvmSchema) schema = NULL;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  schema = machine_schema ();
  if (!qvm_payload_validate (schema, node, NULL, explain_machine_problem, error))
    return NULL;

  return machine_from_checked_json (node, NULL, error);
}

static QvmMachine *
machine_new_from_data (const char  *data,
                       gsize        length,
                       const char  *source,
                       GError     **error)
{
  g_autoptr(QvmSchema) schema = machine_schema ();
  g_autoptr(JsonNode) root = NULL;

  root = qvm_payload_load (schema, data, length, source, explain_machine_problem, error);
  if (root == NULL)
    return NULL;

  return machine_from_checked_json (root, source, error);
}

/**
 * qvm_machine_new_from_bytes:
 * @bytes: a definition in JSON (UTF-8, at most %QVM_MACHINE_MAX_FILE_SIZE bytes)
 * @error: return location for a #GError
 *
 * Creates a machine from a definition in JSON, after validating it. Before
 * the JSON is parsed, the size, the UTF-8 encoding and the nesting depth
 * (at most 32 levels) are checked.
 *
 * Returns: (transfer full): the machine, or %NULL with @error set to
 *   %QVM_ERROR_MALFORMED_PAYLOAD listing every problem, one per line
 */
QvmMachine *
qvm_machine_new_from_bytes (GBytes  *bytes,
                            GError **error)
{
  const char *data;
  gsize length;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (bytes, &length);
  return machine_new_from_data (data, length, NULL, error);
}

/**
 * qvm_machine_new_from_file:
 * @file: a `machine.json` file
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Loads a machine definition from a file and validates it. A file larger than %QVM_MACHINE_MAX_FILE_SIZE is refused
 * from its size, before it is read. Every error message starts with the
 * name of the file.
 *
 * Returns: (transfer full): the machine, or %NULL with @error set: a
 *   %G_IO_ERROR when the file cannot be read (%G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_IS_DIRECTORY…), %QVM_ERROR_MALFORMED_PAYLOAD when it is too
 *   large or not a valid definition
 */
QvmMachine *
qvm_machine_new_from_file (GFile         *file,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *name = NULL;
  const char *data;
  gsize length;

  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bytes = qvm_payload_read_file (file, cancellable, error);
  if (bytes == NULL)
    return NULL;

  name = g_file_get_parse_name (file);
  data = g_bytes_get_data (bytes, &length);
  return machine_new_from_data (data, length, name, error);
}

/**
 * qvm_machine_new_random:
 *
 * Creates a valid machine with a random version 4 UUID and a random locally
 * administered unicast MAC address, an `e1000` network card, the `en-us`
 * keyboard layout, unspecified memory, no sound card and no CPU topology.
 * Useful for tools and tests.
 *
 * Returns: (transfer full): a new machine
 */
QvmMachine *
qvm_machine_new_random (void)
{
  return g_object_new (QVM_TYPE_MACHINE, NULL);
}

/**
 * qvm_machine_copy:
 * @machine: a machine
 *
 * Makes an independent copy of @machine, for example to apply
 * [method@Qvm.Machine.set_defaults] without changing the original.
 *
 * Returns: (transfer full): a new machine equal to @machine
 */
QvmMachine *
qvm_machine_copy (QvmMachine *machine)
{
  QvmMachine *copy;

  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);

  copy = g_object_new (QVM_TYPE_MACHINE, NULL);
  g_free (copy->uuid);
  g_free (copy->network_device);
  g_free (copy->mac_address);
  g_free (copy->keyboard_layout);
  copy->uuid = g_strdup (machine->uuid);
  copy->memory = machine->memory;
  copy->network_device = g_strdup (machine->network_device);
  copy->mac_address = g_strdup (machine->mac_address);
  copy->keyboard_layout = g_strdup (machine->keyboard_layout);
  copy->sound_device = g_strdup (machine->sound_device);
  copy->sound_controller = g_strdup (machine->sound_controller);
  copy->threads = machine->threads;
  copy->cores = machine->cores;
  copy->sockets = machine->sockets;
  copy->tablet = machine->tablet;

  return copy;
}

/**
 * qvm_machine_equal:
 * @machine: a machine
 * @other: another machine
 *
 * Compares two machines member by member.
 *
 * Returns: %TRUE when @machine and @other define the same hardware
 */
gboolean
qvm_machine_equal (QvmMachine *machine,
                   QvmMachine *other)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), FALSE);
  g_return_val_if_fail (QVM_IS_MACHINE (other), FALSE);

  return g_str_equal (machine->uuid, other->uuid) &&
         machine->memory == other->memory &&
         g_str_equal (machine->network_device, other->network_device) &&
         g_str_equal (machine->mac_address, other->mac_address) &&
         g_str_equal (machine->keyboard_layout, other->keyboard_layout) &&
         g_strcmp0 (machine->sound_device, other->sound_device) == 0 &&
         g_strcmp0 (machine->sound_controller, other->sound_controller) == 0 &&
         machine->threads == other->threads &&
         machine->cores == other->cores &&
         machine->sockets == other->sockets &&
         machine->tablet == other->tablet;
}

/**
 * qvm_machine_get_uuid:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:uuid].
 *
 * Returns: the SMBIOS UUID
 */
const char *
qvm_machine_get_uuid (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->uuid;
}

/**
 * qvm_machine_get_memory:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:memory].
 *
 * Returns: the memory in MiB, 0 when unspecified
 */
guint
qvm_machine_get_memory (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), 0);
  return machine->memory;
}

/**
 * qvm_machine_get_network_device:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:network-device].
 *
 * Returns: the QEMU device model of the network card
 */
const char *
qvm_machine_get_network_device (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->network_device;
}

/**
 * qvm_machine_get_mac_address:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:mac-address].
 *
 * Returns: the MAC address of the network card
 */
const char *
qvm_machine_get_mac_address (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->mac_address;
}

/**
 * qvm_machine_get_keyboard_layout:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:keyboard-layout].
 *
 * Returns: the keyboard layout
 */
const char *
qvm_machine_get_keyboard_layout (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->keyboard_layout;
}

/**
 * qvm_machine_get_sound_device:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:sound-device].
 *
 * Returns: (nullable): the QEMU device model of the sound card, or %NULL
 */
const char *
qvm_machine_get_sound_device (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->sound_device;
}

/**
 * qvm_machine_get_sound_controller:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:sound-controller].
 *
 * Returns: (nullable): the sound controller, or %NULL
 */
const char *
qvm_machine_get_sound_controller (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);
  return machine->sound_controller;
}

/**
 * qvm_machine_get_threads:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:threads].
 *
 * Returns: threads per core, 0 when unspecified
 */
guint
qvm_machine_get_threads (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), 0);
  return machine->threads;
}

/**
 * qvm_machine_get_cores:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:cores].
 *
 * Returns: cores per socket, 0 when unspecified
 */
guint
qvm_machine_get_cores (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), 0);
  return machine->cores;
}

/**
 * qvm_machine_get_sockets:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:sockets].
 *
 * Returns: CPU sockets, 0 when unspecified
 */
guint
qvm_machine_get_sockets (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), 0);
  return machine->sockets;
}

/**
 * qvm_machine_get_vcpus:
 * @machine: a machine
 *
 * Counts the machine's virtual CPUs: sockets × cores × threads, each 1
 * when unspecified (so 1 for a machine without a CPU topology), as QEMU
 * counts them for `-smp`. A valid machine has at most
 * %QVM_MACHINE_OPTIONS_MAX_VCPUS_LIMIT.
 *
 * Returns: the number of vCPUs
 */
guint
qvm_machine_get_vcpus (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), 0);

  /* At most 255³, which fits in a guint. */
  return or_one (machine->sockets) * or_one (machine->cores) * or_one (machine->threads);
}

/**
 * qvm_machine_get_options:
 * @machine: a machine
 *
 * Makes machine options that admit this machine:
 * the maximum memory is the machine's memory, or
 * %QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY when it does not specify one; the
 * maximum vCPUs are the machine's ([method@Qvm.Machine.get_vcpus]), or
 * %QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS when that is more.
 * Useful for tools that run a machine without a host configuration.
 *
 * Returns: (transfer full): new machine options
 */
QvmMachineOptions *
qvm_machine_get_options (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);

  return g_object_new (QVM_TYPE_MACHINE_OPTIONS,
                       "max-memory", machine->memory != 0 ? machine->memory
                                                          : QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY,
                       "max-vcpus", MAX (qvm_machine_get_vcpus (machine),
                                         QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS),
                       NULL);
}

/**
 * qvm_machine_set_defaults:
 * @machine: a machine
 * @options: the host's limits and defaults
 * @error: return location for a #GError
 *
 * Checks @machine against the limits in @options and fills in what it left
 * unspecified: a machine without memory gets
 * [property@Qvm.MachineOptions:max-memory]; a machine that asks for more
 * memory than that, or for more vCPUs ([method@Qvm.Machine.get_vcpus])
 * than [property@Qvm.MachineOptions:max-vcpus], is refused.
 *
 * Returns: %TRUE on success; %FALSE with @error set to
 *   %QVM_ERROR_MALFORMED_PAYLOAD (one line per exceeded limit, naming the
 *   machine's figure and the limit) when the machine exceeds the limits, in
 *   which case @machine is unchanged
 */
gboolean
qvm_machine_set_defaults (QvmMachine         *machine,
                          QvmMachineOptions  *options,
                          GError            **error)
{
  g_autoptr(GPtrArray) problems = NULL;
  guint max_memory, max_vcpus, vcpus;

  g_return_val_if_fail (QVM_IS_MACHINE (machine), FALSE);
  g_return_val_if_fail (QVM_IS_MACHINE_OPTIONS (options), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  max_memory = qvm_machine_options_get_max_memory (options);
  max_vcpus = qvm_machine_options_get_max_vcpus (options);
  vcpus = qvm_machine_get_vcpus (machine);
  problems = g_ptr_array_new_with_free_func (g_free);

  if (machine->memory > max_memory)
    g_ptr_array_add (problems,
                     g_strdup_printf (_("memory: %u MiB is more than the maximum of %u MiB the host allows (maxMemory)"),
                                      machine->memory, max_memory));
  if (vcpus > max_vcpus)
    g_ptr_array_add (problems,
                     g_strdup_printf (_("cpu: %u vCPUs are more than the maximum of %u the host allows (maxVcpus)"),
                                      vcpus, max_vcpus));
  if (problems->len > 0)
    {
      qvm_payload_set_error (error, NULL, problems);
      return FALSE;
    }

  if (machine->memory == 0 && max_memory != 0)
    {
      machine->memory = max_memory;
      g_object_notify_by_pspec (G_OBJECT (machine), properties[PROP_MEMORY]);
    }

  return TRUE;
}

/**
 * qvm_machine_to_json:
 * @machine: a machine
 *
 * Serializes @machine in the definition format (with `version`; members
 * that are unspecified are left out).
 *
 * Returns: (transfer full): a JSON object node
 */
JsonNode *
qvm_machine_to_json (QvmMachine *machine)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, QVM_MACHINE_FORMAT_VERSION);
  json_builder_set_member_name (builder, "uuid");
  json_builder_add_string_value (builder, machine->uuid);
  if (machine->memory != 0)
    {
      json_builder_set_member_name (builder, "memory");
      json_builder_add_int_value (builder, machine->memory);
    }

  json_builder_set_member_name (builder, "network");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "device");
  json_builder_add_string_value (builder, machine->network_device);
  json_builder_set_member_name (builder, "mac");
  json_builder_add_string_value (builder, machine->mac_address);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "keyboard");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "layout");
  json_builder_add_string_value (builder, machine->keyboard_layout);
  json_builder_end_object (builder);

  if (machine->sound_device != NULL)
    {
      json_builder_set_member_name (builder, "sound");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, machine->sound_device);
      json_builder_set_member_name (builder, "controller");
      json_builder_add_string_value (builder, machine->sound_controller);
      json_builder_end_object (builder);
    }

  if (machine->threads != 0 || machine->cores != 0 || machine->sockets != 0)
    {
      const struct { const char *name; guint value; } cpu[] = {
        { "threads", machine->threads },
        { "cores", machine->cores },
        { "sockets", machine->sockets },
      };

      json_builder_set_member_name (builder, "cpu");
      json_builder_begin_object (builder);
      for (guint i = 0; i < G_N_ELEMENTS (cpu); i++)
        {
          if (cpu[i].value == 0)
            continue;
          json_builder_set_member_name (builder, cpu[i].name);
          json_builder_add_int_value (builder, cpu[i].value);
        }
      json_builder_end_object (builder);
    }

  /* Written only when it differs from the default, as the other options. */
  if (!machine->tablet)
    {
      json_builder_set_member_name (builder, "tablet");
      json_builder_add_boolean_value (builder, FALSE);
    }

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/**
 * qvm_machine_to_data:
 * @machine: a machine
 *
 * Serializes @machine as pretty-printed JSON, ending with a newline: the
 * text of a `machine.json` file.
 *
 * Returns: (transfer full): the JSON text
 */
char *
qvm_machine_to_data (QvmMachine *machine)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (QVM_IS_MACHINE (machine), NULL);

  root = qvm_machine_to_json (machine);

  return qvm_payload_to_text (root);
}

/**
 * qvm_machine_save_to_file:
 * @machine: a machine
 * @file: where to save
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Saves @machine to @file as [method@Qvm.Machine.to_data] prints it. The
 * file is replaced atomically: readers see the old or the new definition,
 * never a part.
 *
 * Returns: %TRUE on success; %FALSE with @error set (a %G_IO_ERROR whose
 *   message names the file)
 */
gboolean
qvm_machine_save_to_file (QvmMachine    *machine,
                          GFile         *file,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (QVM_IS_MACHINE (machine), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = qvm_machine_to_data (machine);
  if (!g_file_replace_contents (file, data, strlen (data), NULL, FALSE,
                                G_FILE_CREATE_NONE, NULL, cancellable, &local_error))
    {
      g_autofree char *name = g_file_get_parse_name (file);

      qvm_payload_propagate_file_error (error, g_steal_pointer (&local_error), name);
      return FALSE;
    }

  return TRUE;
}

/**
 * qvm_machine_get_schema:
 *
 * Gets the JSON Schema (draft-04) of machine definitions: the rules
 * [ctor@Qvm.Machine.new_from_json] and the other constructors apply, with a
 * title and description for every member.
 *
 * Returns: the schema as JSON text
 */
const char *
qvm_machine_get_schema (void)
{
  return qvm_payload_get_builtin_schema_text (MACHINE_SCHEMA);
}

/**
 * qvm_machine_get_tablet:
 * @machine: a machine
 *
 * Gets [property@Qvm.Machine:tablet].
 *
 * Returns: whether the machine has a USB tablet
 */
gboolean
qvm_machine_get_tablet (QvmMachine *machine)
{
  g_return_val_if_fail (QVM_IS_MACHINE (machine), FALSE);

  return machine->tablet;
}
