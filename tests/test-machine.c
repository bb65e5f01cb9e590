/* test-machine.c: QvmMachine, its JSON format and its validation
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>

#include "qvm.h"
#include "qvm-payload-private.h"
#include "testutil.h"

/* A definition that uses every member; the tests change one thing at a time. */
static const char full_machine[] =
  "{\n"
  "  \"version\": 1,\n"
  "  \"uuid\": \"6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d\",\n"
  "  \"memory\": 2048,\n"
  "  \"network\": { \"device\": \"virtio-net-pci\", \"mac\": \"02:5e:1a:00:00:01\" },\n"
  "  \"keyboard\": { \"layout\": \"de-ch\" },\n"
  "  \"sound\": { \"device\": \"hda-duplex\", \"controller\": \"intel-hda\" },\n"
  "  \"cpu\": { \"threads\": 2, \"cores\": 4, \"sockets\": 1 }\n"
  "}\n";

static const char minimal_machine[] =
  "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
  " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
  " \"keyboard\": {\"layout\": \"en-us\"}}";

/* The full machine with the member at @path ("network.mac") replaced by
 * @value (JSON text), or removed when @value is NULL. Objects on the way
 * are created when missing. */
static char *
machine_with (const char *path,
              const char *value)
{
  g_autoptr(JsonNode) root = json_from_string (full_machine, NULL);
  g_auto(GStrv) members = g_strsplit (path, ".", -1);
  JsonObject *object = json_node_get_object (root);
  guint last = g_strv_length (members) - 1;

  for (guint i = 0; i < last; i++)
    {
      JsonNode *child = json_object_get_member (object, members[i]);

      if (child == NULL || !JSON_NODE_HOLDS_OBJECT (child))
        {
          json_object_set_object_member (object, members[i], json_object_new ());
          child = json_object_get_member (object, members[i]);
        }
      object = json_node_get_object (child);
    }

  if (value == NULL)
    {
      json_object_remove_member (object, members[last]);
    }
  else
    {
      g_autoptr(GError) error = NULL;
      JsonNode *node = json_from_string (value, &error);

      g_assert_no_error (error);
      json_object_set_member (object, members[last], node);
    }

  return json_to_string (root, FALSE);
}

static QvmMachine *
load_text (const char  *text,
           gssize       length,
           GError     **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, length < 0 ? strlen (text) : (gsize) length);

  return qvm_machine_new_from_bytes (bytes, error);
}

static QvmMachine *
assert_valid (const char *text)
{
  g_autoptr(GError) error = NULL;
  QvmMachine *machine = load_text (text, -1, &error);

  if (error != NULL)
    g_test_message ("refused: %s\n%s", text, error->message);
  g_assert_no_error (error);
  g_assert_true (QVM_IS_MACHINE (machine));
  return machine;
}

/* Asserts that one line of @message starts with "@path: " and contains
 * every fragment (NULL-terminated list). */
static void
assert_line (const char *message,
             const char *path,
             ...)
{
  g_auto(GStrv) lines = g_strsplit (message, "\n", -1);
  g_autofree char *prefix = g_strconcat (path, ": ", NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gboolean all = g_str_has_prefix (lines[i], prefix);
      const char *fragment;
      va_list args;

      va_start (args, path);
      while (all && (fragment = va_arg (args, const char *)) != NULL)
        all = strstr (lines[i] + strlen (prefix), fragment) != NULL;
      va_end (args);

      if (all)
        return;
    }

  g_test_message ("no line for %s with the expected text in:\n%s", path, message);
  g_test_fail ();
}

static void
assert_no_duplicate_lines (const char *message)
{
  g_auto(GStrv) lines = g_strsplit (message, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    for (guint j = i + 1; lines[j] != NULL; j++)
      if (g_str_equal (lines[i], lines[j]))
        {
          g_test_message ("line repeated: %s", lines[i]);
          g_test_fail ();
        }
}

static guint
count_lines (const char *message)
{
  g_auto(GStrv) lines = g_strsplit (message, "\n", -1);

  return g_strv_length (lines);
}

/* Asserts that @text is refused with MALFORMED_PAYLOAD, with a line for
 * @path containing @fragment (NULL: any line for the path). Returns the
 * message. */
static char *
assert_invalid (const char *text,
                const char *path,
                const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = load_text (text, -1, &error);

  if (machine != NULL)
    g_test_message ("accepted: %s", text);
  g_assert_null (machine);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  assert_line (error->message, path, fragment, NULL);
  assert_no_duplicate_lines (error->message);
  return g_strdup (error->message);
}

static void
assert_member_valid (const char *path,
                     const char *value)
{
  g_autofree char *text = machine_with (path, value);
  g_autoptr(QvmMachine) machine = assert_valid (text);
}

static void
assert_member_invalid (const char *path,
                       const char *value,
                       const char *fragment)
{
  g_autofree char *text = machine_with (path, value);
  g_autofree char *message = assert_invalid (text, path, fragment);
}

static void
test_machine_full (void)
{
  g_autoptr(QvmMachine) machine = assert_valid (full_machine);
  g_autofree char *uuid = NULL;
  guint memory;

  g_assert_cmpstr (qvm_machine_get_uuid (machine), ==, "6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d");
  g_assert_cmpuint (qvm_machine_get_memory (machine), ==, 2048);
  g_assert_cmpstr (qvm_machine_get_network_device (machine), ==, "virtio-net-pci");
  g_assert_cmpstr (qvm_machine_get_mac_address (machine), ==, "02:5e:1a:00:00:01");
  g_assert_cmpstr (qvm_machine_get_keyboard_layout (machine), ==, "de-ch");
  g_assert_cmpstr (qvm_machine_get_sound_device (machine), ==, "hda-duplex");
  g_assert_cmpstr (qvm_machine_get_sound_controller (machine), ==, "intel-hda");
  g_assert_cmpuint (qvm_machine_get_threads (machine), ==, 2);
  g_assert_cmpuint (qvm_machine_get_cores (machine), ==, 4);
  g_assert_cmpuint (qvm_machine_get_sockets (machine), ==, 1);

  g_object_get (machine, "uuid", &uuid, "memory", &memory, NULL);
  g_assert_cmpstr (uuid, ==, qvm_machine_get_uuid (machine));
  g_assert_cmpuint (memory, ==, 2048);
}

static void
test_machine_minimal (void)
{
  g_autoptr(QvmMachine) machine = assert_valid (minimal_machine);
  g_autoptr(JsonNode) json = qvm_machine_to_json (machine);
  JsonObject *object = json_node_get_object (json);

  g_assert_cmpuint (qvm_machine_get_memory (machine), ==, 0);
  g_assert_null (qvm_machine_get_sound_device (machine));
  g_assert_null (qvm_machine_get_sound_controller (machine));
  g_assert_cmpuint (qvm_machine_get_threads (machine), ==, 0);
  g_assert_cmpuint (qvm_machine_get_cores (machine), ==, 0);
  g_assert_cmpuint (qvm_machine_get_sockets (machine), ==, 0);

  /* A definition without version is version 1, and is saved as such;
   * unspecified members stay out. */
  g_assert_cmpint (json_object_get_int_member (object, "version"), ==, 1);
  g_assert_false (json_object_has_member (object, "memory"));
  g_assert_false (json_object_has_member (object, "sound"));
  g_assert_false (json_object_has_member (object, "cpu"));
}

static void
test_machine_mac_valid (void)
{
  /* The low nibble of the first octet is 2, 6, a or e: local, unicast. */
  const char *macs[] = {
    "02:00:00:00:00:00", "06:00:00:00:00:01", "0a:ff:ff:ff:ff:ff", "0e:12:34:56:78:9a",
    "12:34:56:78:9a:bc", "52:54:00:12:34:56", "5a:00:00:00:00:00", "9e:de:ad:be:ef:00",
    "a2:b3:c4:d5:e6:f7", "b6:00:00:00:00:00", "ce:00:00:00:00:00", "f2:ff:ff:ff:ff:ff",
    "fa:ce:b0:0c:00:01", "fe:ff:ff:ff:ff:fe", "22:22:22:22:22:22", "66:66:66:66:66:66",
  };

  for (guint i = 0; i < G_N_ELEMENTS (macs); i++)
    {
      g_autofree char *value = g_strdup_printf ("\"%s\"", macs[i]);
      g_autofree char *text = machine_with ("network.mac", value);
      g_autoptr(QvmMachine) machine = assert_valid (text);

      g_assert_cmpstr (qvm_machine_get_mac_address (machine), ==, macs[i]);
    }
}

static void
test_machine_mac_invalid (void)
{
  const struct { const char *value; const char *fragment; } cases[] = {
    /* Globally assigned (bit 1 clear). */
    { "\"00:00:00:00:00:00\"", "not locally administered" },
    { "\"00:1b:21:3a:4f:5e\"", "not locally administered" },
    { "\"04:00:00:00:00:01\"", "not locally administered" },
    { "\"08:00:27:00:00:01\"", "not locally administered" },
    { "\"0c:00:00:00:00:01\"", "not locally administered" },
    { "\"ac:de:48:00:11:22\"", "not locally administered" },
    { "\"f0:00:00:00:00:00\"", "not locally administered" },
    /* Multicast (bit 0 set). */
    { "\"01:00:5e:00:00:01\"", "has the multicast bit set" },
    { "\"03:00:00:00:00:01\"", "has the multicast bit set" },
    { "\"33:33:00:00:00:01\"", "has the multicast bit set" },
    { "\"0f:00:00:00:00:00\"", "has the multicast bit set" },
    { "\"ff:ff:ff:ff:ff:ff\"", "has the multicast bit set" },
    { "\"07:00:00:00:00:00\"", "has the multicast bit set" },
    /* Both. */
    { "\"01:80:c2:00:00:00\"", "first octet) and is not locally administered" },
    /* Malformed: case, separators, lengths, digits. */
    { "\"02:AB:CD:EF:00:01\"", "upper-case" },
    { "\"0A:00:00:00:00:00\"", "upper-case" },
    { "\"02-00-00-00-00-01\"", "is not a MAC address" },
    { "\"02.00.00.00.00.01\"", "is not a MAC address" },
    { "\"0200.0000.0001\"", "is not a MAC address" },
    { "\"020000000001\"", "is not a MAC address" },
    { "\"02:00:00:00:00\"", "is not a MAC address" },
    { "\"02:00:00:00:00:00:00\"", "is not a MAC address" },
    { "\"2:0:0:0:0:1\"", "is not a MAC address" },
    { "\"002:00:00:00:00:01\"", "is not a MAC address" },
    { "\"02:00:00:00:00:0g\"", "is not a MAC address" },
    { "\"zz:zz:zz:zz:zz:zz\"", "is not a MAC address" },
    { "\"\"", "is not a MAC address" },
    { "\" 02:00:00:00:00:01\"", "is not a MAC address" },
    { "\"02:00:00:00:00:01 \"", "is not a MAC address" },
    { "\"02:00:00:00:00:01\\n\"", "is not a MAC address" },
    { "\"02:00:00:00:00:01:\"", "is not a MAC address" },
    /* Not a string. */
    { "2199023255553", "integer" },
    { "null", "null" },
    { "[\"02:00:00:00:00:01\"]", "array" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_member_invalid ("network.mac", cases[i].value, cases[i].fragment);
}

static void
test_machine_mac_message (void)
{
  /* The message of the issue, to the letter where it matters. */
  g_autofree char *text = machine_with ("network.mac", "\"01:00:5e:00:00:01\"");
  g_autofree char *message = assert_invalid (text, "network.mac", NULL);

  g_assert_true (g_str_has_prefix (message, "network.mac: \"01:00:5e:00:00:01\" has the multicast bit set"));
  g_assert_cmpuint (count_lines (message), ==, 1);
}

static void
test_machine_uuid_versions (void)
{
  const char variants[] = "89ab";

  for (char version = '1'; version <= '5'; version++)
    for (guint v = 0; v < strlen (variants); v++)
      {
        g_autofree char *value = g_strdup_printf ("\"123e4567-e89b-%c2d3-%ca45-426614174000\"",
                                                  version, variants[v]);
        g_autofree char *text = machine_with ("uuid", value);
        g_autoptr(QvmMachine) machine = assert_valid (text);

        g_assert_cmpuint (qvm_machine_get_uuid (machine)[14], ==, version);
      }
}

static void
test_machine_uuid_invalid (void)
{
  const struct { const char *value; const char *fragment; } cases[] = {
    { "\"123e4567-e89b-02d3-a456-426614174000\"", "has version 0" },
    { "\"123e4567-e89b-62d3-a456-426614174000\"", "has version 6" },
    { "\"123e4567-e89b-72d3-a456-426614174000\"", "has version 7" },
    { "\"123e4567-e89b-82d3-a456-426614174000\"", "has version 8" },
    { "\"123e4567-e89b-f2d3-a456-426614174000\"", "has version f" },
    { "\"00000000-0000-0000-0000-000000000000\"", "has version 0" },
    { "\"123e4567-e89b-42d3-0456-426614174000\"", "has variant digit 0" },
    { "\"123e4567-e89b-42d3-7456-426614174000\"", "has variant digit 7" },
    { "\"123e4567-e89b-42d3-c456-426614174000\"", "has variant digit c" },
    { "\"123e4567-e89b-42d3-d456-426614174000\"", "has variant digit d" },
    { "\"123e4567-e89b-42d3-e456-426614174000\"", "has variant digit e" },
    { "\"123e4567-e89b-42d3-f456-426614174000\"", "has variant digit f" },
    { "\"123e4567-e89b-72d3-c456-426614174000\"", "exist) and has variant digit c" },
    { "\"123E4567-E89B-42D3-A456-426614174000\"", "upper-case" },
    { "\"123e4567e89b42d3a456426614174000\"", "is not a UUID" },
    { "\"{123e4567-e89b-42d3-a456-426614174000}\"", "is not a UUID" },
    { "\"123e4567-e89b-42d3-a456-42661417400\"", "is not a UUID" },
    { "\"123e4567-e89b-42d3-a456-4266141740000\"", "is not a UUID" },
    { "\"123e4567-e89b-42d3-a456-42661417400g\"", "is not a UUID" },
    { "\"urn:uuid:123e4567-e89b-42d3-a456-426614174000\"", "is not a UUID" },
    { "\"\"", "is not a UUID" },
    { "42", "integer" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_member_invalid ("uuid", cases[i].value, cases[i].fragment);
}

static void
test_machine_network_device (void)
{
  const char *devices[] = { "rtl8139", "e1000", "virtio-net-pci" };
  const char *bad[] = { "\"ne2k_pci\"", "\"E1000\"", "\"virtio\"", "\"\"", "\"e1000 \"", "1000", "{}" };

  for (guint i = 0; i < G_N_ELEMENTS (devices); i++)
    {
      g_autofree char *value = g_strdup_printf ("\"%s\"", devices[i]);
      g_autofree char *text = machine_with ("network.device", value);
      g_autoptr(QvmMachine) machine = assert_valid (text);

      g_assert_cmpstr (qvm_machine_get_network_device (machine), ==, devices[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_member_invalid ("network.device", bad[i], NULL);
}

/* The keymaps of QEMU 7.2: the files of /usr/share/qemu/keymaps in
 * Debian 12's qemu-system-data. */
static const char *layouts[] = {
  "ar", "bepo", "cz", "da", "de", "de-ch", "en-gb", "en-us", "es", "et",
  "fi", "fo", "fr", "fr-be", "fr-ca", "fr-ch", "hr", "hu", "is", "it",
  "ja", "lt", "lv", "mk", "nl", "no", "pl", "pt", "pt-br", "ru",
  "sl", "sv", "th", "tr",
};

static void
test_machine_keyboard_layout (void)
{
  /* "nl-be" has no keymap in QEMU 7.2, which then refuses to start. */
  const char *bad[] = { "\"us\"", "\"EN-US\"", "\"en_us\"", "\"en\"", "\"de-de\"", "\"\"", "true",
                        "\"nl-be\"" };

  g_assert_cmpuint (G_N_ELEMENTS (layouts), ==, 34);
  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    {
      g_autofree char *value = g_strdup_printf ("\"%s\"", layouts[i]);
      g_autofree char *text = machine_with ("keyboard.layout", value);
      g_autoptr(QvmMachine) machine = assert_valid (text);

      g_assert_cmpstr (qvm_machine_get_keyboard_layout (machine), ==, layouts[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_member_invalid ("keyboard.layout", bad[i], NULL);
}

static const char *sound_devices[] = { "AC97", "ES1370", "hda-duplex", "hda-micro", "hda-output" };
static const char *sound_controllers[] = { "pci", "intel-hda", "ich9-intel-hda" };

static gboolean
sound_pair_ok (const char *device,
               const char *controller)
{
  gboolean is_pci_device = g_str_equal (device, "AC97") || g_str_equal (device, "ES1370");

  return is_pci_device == g_str_equal (controller, "pci");
}

static void
test_machine_sound_pairs (void)
{
  for (guint d = 0; d < G_N_ELEMENTS (sound_devices); d++)
    for (guint c = 0; c < G_N_ELEMENTS (sound_controllers); c++)
      {
        g_autofree char *value = g_strdup_printf ("{\"device\": \"%s\", \"controller\": \"%s\"}",
                                                  sound_devices[d], sound_controllers[c]);
        g_autofree char *text = machine_with ("sound", value);

        if (sound_pair_ok (sound_devices[d], sound_controllers[c]))
          {
            g_autoptr(QvmMachine) machine = assert_valid (text);

            g_assert_cmpstr (qvm_machine_get_sound_device (machine), ==, sound_devices[d]);
            g_assert_cmpstr (qvm_machine_get_sound_controller (machine), ==, sound_controllers[c]);
          }
        else
          {
            g_autofree char *fragment = g_strdup_printf ("device \"%s\" does not go with controller \"%s\"",
                                                         sound_devices[d], sound_controllers[c]);
            g_autofree char *message = assert_invalid (text, "sound", fragment);

            g_assert_cmpuint (count_lines (message), ==, 1);
          }
      }
}

static void
test_machine_sound_invalid (void)
{
  g_autofree char *message = NULL;

  assert_member_invalid ("sound.device", "\"SB16\"", "is not a sound device");
  assert_member_invalid ("sound.device", "\"ac97\"", "is not a sound device");
  assert_member_invalid ("sound.device", "7", "integer");
  assert_member_invalid ("sound.controller", "\"isa\"", "is not a sound controller");
  assert_member_invalid ("sound.controller", "[]", "array");
  assert_member_invalid ("sound", "\"AC97\"", "string");
  assert_member_invalid ("sound", "null", "null");

  /* One line for an unknown device, whatever the pairing alternatives say. */
  {
    g_autofree char *text = machine_with ("sound", "{\"device\": \"SB16\", \"controller\": \"pci\"}");

    message = assert_invalid (text, "sound.device", "\"SB16\" is not a sound device");
    g_assert_cmpuint (count_lines (message), ==, 1);
  }

  /* A controller of the wrong type: the type line only, not the enum of
   * the closest pairing alternative as well. */
  {
    g_autofree char *text = machine_with ("sound", "{\"device\": \"hda-micro\", \"controller\": 5}");
    g_autofree char *typed = assert_invalid (text, "sound.controller", "integer");

    g_assert_cmpuint (count_lines (typed), ==, 1);
  }

  /* A missing member is named, and the pairing does not hide it. */
  {
    g_autofree char *text = machine_with ("sound", "{\"device\": \"AC97\"}");
    g_autofree char *missing = assert_invalid (text, "sound", "controller");

    g_assert_nonnull (strstr (missing, "missing"));
  }
  {
    g_autofree char *text = machine_with ("sound", "{\"controller\": \"pci\"}");
    g_autofree char *missing = assert_invalid (text, "sound", "device");

    g_assert_nonnull (strstr (missing, "missing"));
  }

  /* An unknown property next to a bad pair: both are reported. */
  {
    g_autofree char *text = machine_with ("sound", "{\"device\": \"AC97\", \"controller\": \"intel-hda\", \"volume\": 11}");
    g_autofree char *both = assert_invalid (text, "sound", "volume");

    assert_line (both, "sound", "does not go with", NULL);
  }
}

static void
test_machine_memory (void)
{
  const char *good[] = { "0", "1", "512", "4096", "1048575", "1048576" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = machine_with ("memory", good[i]);
      g_autoptr(QvmMachine) machine = assert_valid (text);

      g_assert_cmpuint (qvm_machine_get_memory (machine), ==, g_ascii_strtoull (good[i], NULL, 10));
    }

  assert_member_invalid ("memory", "-1", "-1");
  assert_member_invalid ("memory", "1048577", "1048577");
  assert_member_invalid ("memory", "4294967296", "4294967296");
  assert_member_invalid ("memory", "512.5", "512.5");
  assert_member_invalid ("memory", "\"512\"", "string");
  assert_member_invalid ("memory", "true", NULL);
  assert_member_invalid ("memory", "null", NULL);
  assert_member_invalid ("memory", "1e300", NULL);
}

static void
test_machine_cpu (void)
{
  const char *members[] = { "cpu.threads", "cpu.cores", "cpu.sockets" };
  g_autoptr(QvmMachine) empty = NULL;
  g_autofree char *empty_text = machine_with ("cpu", "{}");

  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      /* 255 alone: the full machine's other members would make more
       * vCPUs than QEMU runs (see /machine/cpu/qemu-limits). */
      g_autofree char *alone = g_strdup_printf ("{\"%s\": 255}", members[i] + strlen ("cpu."));
      g_autofree char *alone_text = machine_with ("cpu", alone);
      g_autoptr(QvmMachine) machine = assert_valid (alone_text);

      g_assert_cmpuint (qvm_machine_get_vcpus (machine), ==, 255);
      assert_member_valid (members[i], "1");
      assert_member_invalid (members[i], "0", "0");
      assert_member_invalid (members[i], "256", "256");
      assert_member_invalid (members[i], "-1", "-1");
      assert_member_invalid (members[i], "2.5", "2.5");
      assert_member_invalid (members[i], "\"2\"", "string");
    }

  empty = assert_valid (empty_text);
  g_assert_cmpuint (qvm_machine_get_threads (empty), ==, 0);
  assert_member_invalid ("cpu", "4", "integer");
}

/* Topologies each member of which the schema allows but QEMU 7.2's pc
 * machine refuses: more than 255 vCPUs ("Invalid SMP CPUs"), or APIC IDs
 * past 254 ("requires kernel irqchip and X2APIC API support"); checked
 * against qemu-system-x86_64 -machine pc,accel=tcg -smp …. */
static void
test_machine_cpu_qemu_limits (void)
{
  const struct { const char *cpu; guint vcpus; } good[] = {
    { "{}", 1 },
    { "{\"sockets\": 255}", 255 },
    { "{\"sockets\": 127, \"threads\": 2}", 254 },
    { "{\"sockets\": 64, \"threads\": 3}", 192 },   /* last APIC ID 254 */
    { "{\"sockets\": 15, \"cores\": 16}", 240 },
    { "{\"threads\": 2, \"cores\": 4, \"sockets\": 1}", 8 },
  };
  const struct { const char *cpu; const char *fragment; } bad[] = {
    { "{\"sockets\": 255, \"cores\": 255, \"threads\": 255}", "16581375 vCPUs" },
    { "{\"sockets\": 16, \"cores\": 16}", "256 vCPUs" },
    { "{\"sockets\": 2, \"threads\": 200}", "400 vCPUs" },
    { "{\"sockets\": 15, \"cores\": 17}", "APIC IDs up to 464" },
    { "{\"sockets\": 65, \"threads\": 3}", "APIC IDs up to 258" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = machine_with ("cpu", good[i].cpu);
      g_autoptr(QvmMachine) machine = assert_valid (text);

      g_assert_cmpuint (qvm_machine_get_vcpus (machine), ==, good[i].vcpus);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = machine_with ("cpu", bad[i].cpu);
      g_autofree char *message = assert_invalid (text, "cpu", bad[i].fragment);

      g_assert_cmpuint (count_lines (message), ==, 1);
    }

  /* The same check for a parsed definition. */
  {
    g_autofree char *text = machine_with ("cpu", bad[0].cpu);
    g_autoptr(JsonNode) node = json_from_string (text, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(QvmMachine) machine = qvm_machine_new_from_json (node, &error);

    g_assert_null (machine);
    g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    assert_line (error->message, "cpu", "255 × 255 × 255 (sockets × cores × threads)", "more than the 255", NULL);
  }
}

static void
test_machine_unknown_keys (void)
{
  const char *paths[] = { "volume", "network.vlan", "keyboard.model", "sound.volume", "cpu.dies" };
  const char *parents[] = { "(root)", "network", "keyboard", "sound", "cpu" };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *text = machine_with (paths[i], "1");
      g_autofree char *message = assert_invalid (text, parents[i], strrchr (paths[i], '.') ? strrchr (paths[i], '.') + 1 : paths[i]);

      assert_line (message, parents[i], "unknown", NULL);
    }
}

static void
test_machine_wrong_types (void)
{
  const struct { const char *path; const char *value; const char *fragment; } cases[] = {
    { "uuid", "123", "integer" },
    { "network", "\"e1000\"", "string" },
    { "network", "[]", "array" },
    { "keyboard", "\"en-us\"", "string" },
    { "keyboard.layout", "[\"en-us\"]", "array" },
    { "cpu", "[1, 2]", "array" },
    { "version", "\"1\"", "string" },
    { "version", "1.5", "1.5" },
  };
  const char *documents[] = { "[]", "\"machine\"", "42", "null", "true" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_member_invalid (cases[i].path, cases[i].value, cases[i].fragment);

  for (guint i = 0; i < G_N_ELEMENTS (documents); i++)
    {
      g_autofree char *message = assert_invalid (documents[i], "(root)", "object");
    }
}

static void
test_machine_required (void)
{
  const struct { const char *path; const char *parent; const char *member; } cases[] = {
    { "uuid", "(root)", "uuid" },
    { "network", "(root)", "network" },
    { "keyboard", "(root)", "keyboard" },
    { "network.device", "network", "device" },
    { "network.mac", "network", "mac" },
    { "keyboard.layout", "keyboard", "layout" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = machine_with (cases[i].path, NULL);
      g_autofree char *message = assert_invalid (text, cases[i].parent, cases[i].member);

      assert_line (message, cases[i].parent, "missing", NULL);
    }

  /* Optional members may be left out. */
  assert_member_valid ("version", NULL);
  assert_member_valid ("memory", NULL);
  assert_member_valid ("sound", NULL);
  assert_member_valid ("cpu", NULL);
}

static void
test_machine_version (void)
{
  g_autofree char *text = machine_with ("version", "2");
  g_autofree char *message = assert_invalid (text, "version", "2 is not a version of the machine format");

  assert_member_valid ("version", "1");
  assert_member_invalid ("version", "0", "0 is not a version");
  assert_member_invalid ("version", "99", "99 is not a version");
  assert_member_invalid ("version", "-1", "-1 is not a version");
}

static void
test_machine_every_problem (void)
{
  static const char text[] =
    "{\"version\": 1, \"uuid\": \"123e4567-e89b-62d3-a456-426614174000\", \"memory\": 2000000,"
    " \"network\": {\"device\": \"ne2k\", \"mac\": \"01:00:5e:00:00:01\"},"
    " \"keyboard\": {\"layout\": \"klingon\"}, \"cpu\": {\"cores\": \"four\"}, \"colour\": \"red\"}";
  g_autofree char *message = assert_invalid (text, "uuid", "has version 6");

  assert_line (message, "memory", "2000000", NULL);
  assert_line (message, "network.device", "\"ne2k\"", NULL);
  assert_line (message, "network.mac", "\"01:00:5e:00:00:01\"", "multicast", NULL);
  assert_line (message, "keyboard.layout", "\"klingon\"", NULL);
  assert_line (message, "cpu.cores", "string", NULL);
  assert_line (message, "(root)", "colour", NULL);
  g_assert_cmpuint (count_lines (message), ==, 7);
}

static void
assert_text_invalid (const char *text,
                     gssize      length,
                     const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = load_text (text, length, &error);

  g_assert_null (machine);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  if (strstr (error->message, fragment) == NULL)
    {
      g_test_message ("expected “%s” in: %s", fragment, error->message);
      g_test_fail ();
    }
}

static void
test_machine_bad_documents (void)
{
  static const char bad_utf8[] = "{\"uuid\": \"\xff\"}";
  static const char nul_byte[] = "{\"uuid\": \"a\0b\"}";
  g_autofree char *deep = NULL;
  g_autofree char *deep_objects = NULL;
  g_autofree char *just_deep_enough = NULL;
  g_autoptr(GString) at_limit = g_string_new (NULL);

  assert_text_invalid ("", 0, "is empty");
  assert_text_invalid ("  \n\t ", -1, "is empty");
  assert_text_invalid (bad_utf8, sizeof bad_utf8 - 1, "not valid UTF-8 at byte offset 10");
  assert_text_invalid (nul_byte, sizeof nul_byte - 1, "NUL byte at byte offset 11");
  assert_text_invalid ("{\"uuid\": \"\xc3\x28\"}", -1, "byte offset 10");

  /* 100000 '[' would exhaust json-glib's recursive parser. */
  deep = g_strnfill (100000, '[');
  assert_text_invalid (deep, -1, "nested deeper than 32 levels");
  assert_text_invalid (deep, -1, "line 1, column 33");
  deep_objects = g_strnfill (5000, '{');
  assert_text_invalid (deep_objects, -1, "nested deeper than 32 levels");

  /* 32 levels are fine for the scanner (the schema then refuses it). */
  just_deep_enough = g_strconcat ("{\"a\":", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", NULL);
  {
    g_autofree char *message = assert_invalid (just_deep_enough, "(root)", NULL);

    g_assert_null (strstr (message, "nested deeper"));
  }

  /* Brackets inside strings do not count. */
  {
    g_autofree char *brackets = g_strnfill (200, '[');
    g_autofree char *value = g_strdup_printf ("\"%s\"", brackets);
    g_autofree char *text = machine_with ("uuid", value);
    g_autofree char *message = assert_invalid (text, "uuid", "is not a UUID");
  }

  /* A document cut short is reported where it ends, not at json-glib's
   * "column 0" of the line after. */
  assert_text_invalid ("{\"uuid\": \n\n", -1, "line 3, column 1: the document ends before its closing “}”");
  assert_text_invalid ("{\"a\": [1, 2,\n", -1, "line 2, column 1: the document ends before its closing “]”");
  assert_text_invalid ("{\"memory\": 1", -1, "line 1, column 13: the document ends before its closing “}”");
  /* A mismatched bracket is still json-glib's to name. */
  assert_text_invalid ("{\"a\": [}", -1, "expected character `]'");

  /* json-glib accepts more than JSON; we do not. */
  assert_text_invalid ("/* comment */ {}", -1, "unexpected character “/”");
  assert_text_invalid ("# comment\n{}", -1, "line 1, column 1: unexpected character “#”");
  assert_text_invalid ("{'uuid': 'x'}", -1, "unexpected character “'”");
  assert_text_invalid ("{\"memory\": 01}", -1, "malformed number");
  assert_text_invalid ("{\"memory\": .5}", -1, "unexpected character “.”");
  assert_text_invalid ("{\"memory\": 1.}", -1, "malformed number");
  assert_text_invalid ("{\"memory\": 18446744073709551617}", -1, "does not fit in 64 bits");
  assert_text_invalid ("{\"memory\": -9223372036854775809}", -1, "does not fit in 64 bits");
  assert_text_invalid ("{\"memory\": NaN}", -1, "unexpected word “NaN”");
  assert_text_invalid ("{\"a\": True}", -1, "unexpected word “True”");
  assert_text_invalid ("\xef\xbb\xbf{}", -1, "U+FEFF");
  assert_text_invalid ("{\"uuid\": \"abc}", -1, "unterminated string");

  /* Strings: strict escapes. json-glib cuts a string at \u0000, which
   * would let a value pass for another. */
  {
    g_autoptr(GString) smuggled = g_string_new (full_machine);

    g_string_replace (smuggled, "02:5e:1a:00:00:01", "02:5e:1a:00:00:01\\u0000junk", 1);
    assert_text_invalid (smuggled->str, -1, "line 5, column 69: a string contains \\u0000");
  }
  assert_text_invalid ("{\"uuid\": \"\\x41\"}", -1, "line 1, column 11: unknown escape");
  /* json-glib turns a lone high surrogate into bytes that are not UTF-8
   * (found by tests/fuzz), which then showed in the messages. */
  assert_text_invalid ("{\"a\\ud83d\": 1}", -1, "line 1, column 4: unpaired UTF-16 surrogate");
  assert_text_invalid ("{\"uuid\": \"\\ud83dx\"}", -1, "line 1, column 11: unpaired UTF-16 surrogate");
  assert_text_invalid ("{\"uuid\": \"\\ud83d\\u0041\"}", -1, "unpaired UTF-16 surrogate");
  assert_text_invalid ("{\"uuid\": \"\\ud83d\"}", -1, "unpaired UTF-16 surrogate");
  assert_text_invalid ("{\"uuid\": \"\\ude00\"}", -1, "unpaired UTF-16 surrogate");
  {
    /* A pair is one character. */
    g_autoptr(GError) error = NULL;
    g_autofree char *paired = machine_with ("sound.device", "\"\\ud83d\\ude00\"");
    g_autoptr(QvmMachine) machine = load_text (paired, -1, &error);

    g_assert_null (machine);
    g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_nonnull (strstr (error->message, "\"\xf0\x9f\x98\x80\" is not a sound device"));
  }
  assert_text_invalid ("{\"uuid\": \"\\u12\"}", -1, "malformed \\u escape");
  assert_text_invalid ("{\"uuid\": \"a\nb\"}", -1, "control character U+000A");
  assert_text_invalid ("{\"uuid\": \"a\\", -1, "unterminated string");
  {
    /* Escapes JSON allows are fine. */
    g_autofree char *escaped = machine_with ("keyboard.layout", "\"en\\u002dus\"");
    g_autoptr(QvmMachine) machine = assert_valid (escaped);

    g_assert_cmpstr (qvm_machine_get_keyboard_layout (machine), ==, "en-us");
  }

  /* Structure errors come from json-glib, with line and column. */
  assert_text_invalid ("{\"uuid\": 1,}", -1, "not valid JSON at line 1");
  assert_text_invalid ("{\"a\" \"b\"}", -1, "not valid JSON at line 1");
  assert_text_invalid ("{\n\"uuid\": 1\n\"memory\": 2}", -1, "not valid JSON at line 2");

  /* json-glib ignores a second object after the first; we refuse it. */
  assert_text_invalid ("{}\n{}", -1, "line 2, column 1: more after the end of the document");
  {
    g_autofree char *two = g_strconcat (full_machine, "{\"uuid\": 1}", NULL);

    assert_text_invalid (two, -1, "more after the end of the document");
  }
  assert_text_invalid ("[] []", -1, "more after the end of the document");
  assert_text_invalid ("\"machine\" {}", -1, "more after the end of the document");
  assert_text_invalid ("{\"a\" 1}", -1, "not valid JSON at line 1");
  assert_text_invalid ("[1,", -1, "not valid JSON");
  {
    /* json-glib's message quotes the last token, cut in the middle of a
     * character (found by tests/fuzz): the message stays UTF-8. (The
     * mismatched "]" leaves the error to json-glib.) */
    g_autoptr(GError) error = NULL;
    g_autoptr(QvmMachine) machine = load_text ("{\"uuid\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                               "\xc3\xa9\xc3\xa9\" ]", -1, &error);

    g_assert_null (machine);
    g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
    g_assert_nonnull (strstr (error->message, "not valid JSON at line 1, column 41"));
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
  }

  /* The size limit holds for bytes too. */
  g_string_append (at_limit, minimal_machine);
  while (at_limit->len < QVM_MACHINE_MAX_FILE_SIZE + 1)
    g_string_append_c (at_limit, ' ');
  assert_text_invalid (at_limit->str, at_limit->len, "larger than the limit of 1048576 bytes");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(QvmMachine) machine = load_text (at_limit->str, at_limit->len - 1, &error);

    g_assert_no_error (error);
    g_assert_nonnull (machine);
  }
}

/* Files */

typedef struct {
  char *folder;
} FileFixture;

static void
file_fixture_set_up (FileFixture   *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-test-machine-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
file_fixture_tear_down (FileFixture   *fixture,
                        gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->folder, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->folder, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_rmdir (path);
      else
        g_unlink (path);
    }
  g_rmdir (fixture->folder);
  g_free (fixture->folder);
}

static GFile *
fixture_file (FileFixture *fixture,
              const char  *name,
              const char  *contents,
              gssize       length)
{
  g_autofree char *path = g_build_filename (fixture->folder, name, NULL);
  g_autoptr(GError) error = NULL;

  if (contents != NULL)
    {
      g_file_set_contents (path, contents, length, &error);
      g_assert_no_error (error);
    }
  return g_file_new_for_path (path);
}

static char *
load_file_error (GFile  *file,
                 GQuark  domain,
                 int     code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_from_file (file, NULL, &error);
  g_autofree char *name = g_file_get_parse_name (file);

  g_assert_null (machine);
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, name));
  return g_strdup (error->message);
}

static void
test_machine_file_valid (FileFixture   *fixture,
                         gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "machine.json", full_machine, -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_from_file (file, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (qvm_machine_get_mac_address (machine), ==, "02:5e:1a:00:00:01");
}

static void
test_machine_file_invalid (FileFixture   *fixture,
                           gconstpointer  data)
{
  g_autoptr(JsonNode) node = json_from_string (full_machine, NULL);
  JsonObject *root = json_node_get_object (node);
  g_autofree char *text = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *name = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *message = NULL;
  g_auto(GStrv) lines = NULL;

  /* Two problems, two lines, each starting with the file's name. */
  json_object_set_int_member (root, "memory", -5);
  json_object_set_string_member (json_object_get_object_member (root, "network"), "mac", "01:00:5e:00:00:01");
  text = json_to_string (node, TRUE);
  file = fixture_file (fixture, "machine.json", text, -1);
  name = g_file_get_parse_name (file);
  prefix = g_strconcat (name, ": ", NULL);

  message = load_file_error (file, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  lines = g_strsplit (message, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_true (g_str_has_prefix (lines[0], prefix));
  g_assert_true (g_str_has_prefix (lines[1], prefix));
  assert_line (lines[0] + strlen (prefix), "memory", "-5", NULL);
  assert_line (lines[1] + strlen (prefix), "network.mac", "\"01:00:5e:00:00:01\" has the multicast bit set", NULL);
}

static void
test_machine_file_oversize (FileFixture   *fixture,
                            gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "huge.json", NULL, 0);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *message = NULL;
  FILE *stream;

  /* Sparse: the size alone must be enough to refuse it. */
  stream = fopen (path, "w");
  g_assert_nonnull (stream);
  g_assert_cmpint (ftruncate (fileno (stream), QVM_MACHINE_MAX_FILE_SIZE + 1), ==, 0);
  fclose (stream);

  message = load_file_error (file, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (message, "is 1048577 bytes, larger than the limit of 1048576 bytes"));
}

static void
test_machine_file_empty (FileFixture   *fixture,
                         gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "empty.json", "", 0);
  g_autofree char *message = load_file_error (file, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);

  g_assert_nonnull (strstr (message, "is empty"));
}

static void
test_machine_file_bad_utf8 (FileFixture   *fixture,
                            gconstpointer  data)
{
  static const char text[] = "{\n  \"uuid\": \"caf\xe9\"\n}\n";
  g_autoptr(GFile) file = fixture_file (fixture, "latin1.json", text, sizeof text - 1);
  g_autofree char *message = load_file_error (file, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);

  g_assert_nonnull (strstr (message, "not valid UTF-8 at byte offset 16"));
}

static void
test_machine_file_deep (FileFixture   *fixture,
                        gconstpointer  data)
{
  g_autofree char *deep = g_strnfill (100000, '[');
  g_autoptr(GFile) file = fixture_file (fixture, "deep.json", deep, -1);
  g_autofree char *message = load_file_error (file, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);

  g_assert_nonnull (strstr (message, "nested deeper than 32 levels"));
}

static void
test_machine_file_missing (FileFixture   *fixture,
                           gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "missing.json", NULL, 0);
  g_autofree char *name = g_file_get_parse_name (file);
  g_autofree char *message = load_file_error (file, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_autofree char *expected = g_strconcat (name, ": no such file or folder", NULL);

  g_assert_cmpstr (message, ==, expected);
}

static void
test_machine_file_directory (FileFixture   *fixture,
                             gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "folder.json", NULL, 0);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *message = NULL;

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  message = load_file_error (file, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_assert_true (g_str_has_suffix (message, ": is a folder, not a file"));
}

static void
test_machine_file_cancelled (FileFixture   *fixture,
                             gconstpointer  data)
{
  g_autoptr(GFile) file = fixture_file (fixture, "machine.json", full_machine, -1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = NULL;

  g_cancellable_cancel (cancellable);
  machine = qvm_machine_new_from_file (file, cancellable, &error);
  g_assert_null (machine);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_machine_round_trip (FileFixture   *fixture,
                         gconstpointer  data)
{
  const char *sources[] = { full_machine, minimal_machine };

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_autoptr(GFile) file = fixture_file (fixture, "saved.json", NULL, 0);
      g_autoptr(QvmMachine) first = assert_valid (sources[i]);
      g_autoptr(QvmMachine) second = NULL;
      g_autoptr(QvmMachine) third = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *saved = NULL;
      g_autofree char *resaved = NULL;
      g_autofree char *data1 = qvm_machine_to_data (first);
      g_autoptr(JsonNode) json = qvm_machine_to_json (first);

      g_assert_true (qvm_machine_save_to_file (first, file, NULL, &error));
      g_assert_no_error (error);
      second = qvm_machine_new_from_file (file, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (qvm_machine_equal (first, second));

      /* Saving again writes the same bytes. */
      g_assert_true (g_file_load_contents (file, NULL, &saved, NULL, NULL, &error));
      g_assert_cmpstr (saved, ==, data1);
      g_assert_true (g_str_has_suffix (saved, "}\n"));
      resaved = qvm_machine_to_data (second);
      g_assert_cmpstr (resaved, ==, saved);

      /* And through a JsonNode. */
      third = qvm_machine_new_from_json (json, &error);
      g_assert_no_error (error);
      g_assert_true (qvm_machine_equal (first, third));
    }
}

static void
test_machine_save_error (FileFixture   *fixture,
                         gconstpointer  data)
{
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autofree char *path = g_build_filename (fixture->folder, "no", "such", "folder.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;

  g_assert_false (qvm_machine_save_to_file (machine, file, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_machine_random (void)
{
  g_autoptr(QvmMachine) one = qvm_machine_new_random ();
  g_autoptr(QvmMachine) two = qvm_machine_new_random ();
  g_autoptr(GRegex) mac = g_regex_new ("^[0-9a-f][26ae](:[0-9a-f]{2}){5}$", 0, 0, NULL);
  g_autoptr(GRegex) uuid = g_regex_new ("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", 0, 0, NULL);

  g_assert_false (qvm_machine_equal (one, two));
  g_assert_cmpstr (qvm_machine_get_uuid (one), !=, qvm_machine_get_uuid (two));
  g_assert_cmpstr (qvm_machine_get_mac_address (one), !=, qvm_machine_get_mac_address (two));

  /* Many random machines: all valid by the schema itself. */
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
      g_autoptr(JsonNode) json = qvm_machine_to_json (machine);
      g_autoptr(GError) error = NULL;
      g_autoptr(QvmMachine) reloaded = qvm_machine_new_from_json (json, &error);

      g_assert_no_error (error);
      g_assert_true (qvm_machine_equal (machine, reloaded));
      g_assert_true (g_regex_match (mac, qvm_machine_get_mac_address (machine), 0, NULL));
      g_assert_true (g_regex_match (uuid, qvm_machine_get_uuid (machine), 0, NULL));
    }
}

static void
test_machine_g_object_new (void)
{
  /* A machine made without a definition is a random valid one. */
  g_autoptr(QvmMachine) machine = g_object_new (QVM_TYPE_MACHINE, NULL);
  g_autoptr(JsonNode) json = qvm_machine_to_json (machine);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) reloaded = qvm_machine_new_from_json (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (qvm_machine_get_uuid (machine));
}

/* "tablet": a USB tablet unless it says false; written back only then;
 * part of what makes two machines equal. */
static void
test_machine_tablet (void)
{
  g_autoptr(QvmMachine) with_tablet = assert_valid (minimal_machine);
  g_autoptr(QvmMachine) without = assert_valid (
    "{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
    " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
    " \"keyboard\": {\"layout\": \"en-us\"}, \"tablet\": false}");
  g_autofree char *with_data = qvm_machine_to_data (with_tablet);
  g_autofree char *without_data = qvm_machine_to_data (without);
  g_autofree char *message = NULL;
  g_autoptr(QvmMachine) copy = qvm_machine_copy (without);

  g_assert_true (qvm_machine_get_tablet (with_tablet));
  g_assert_false (qvm_machine_get_tablet (without));
  g_assert_null (strstr (with_data, "tablet"));
  g_assert_nonnull (strstr (without_data, "\"tablet\" : false"));
  g_assert_false (qvm_machine_equal (with_tablet, without));
  g_assert_true (qvm_machine_equal (copy, without));
  message = assert_invalid ("{\"uuid\": \"0f8fad5b-d9cb-469f-a165-70867728950e\","
                            " \"network\": {\"device\": \"e1000\", \"mac\": \"0a:00:27:00:00:00\"},"
                            " \"keyboard\": {\"layout\": \"en-us\"}, \"tablet\": \"no\"}",
                            "tablet", NULL);
}

static void
test_machine_read_only (void)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (QVM_TYPE_MACHINE);
  guint n_properties;
  g_autofree GParamSpec **specs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n_properties);

  g_assert_cmpuint (n_properties, ==, 11);
  for (guint i = 0; i < n_properties; i++)
    {
      g_assert_true (specs[i]->flags & G_PARAM_READABLE);
      g_assert_false (specs[i]->flags & (G_PARAM_WRITABLE | G_PARAM_CONSTRUCT | G_PARAM_CONSTRUCT_ONLY));
    }
}

static void
test_machine_copy_equal (void)
{
  g_autoptr(QvmMachine) machine = assert_valid (full_machine);
  g_autoptr(QvmMachine) copy = qvm_machine_copy (machine);
  g_autoptr(QvmMachine) minimal = assert_valid (minimal_machine);
  g_autoptr(QvmMachine) minimal_copy = qvm_machine_copy (minimal);
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (1024);
  g_autofree char *other_cores = machine_with ("cpu.cores", "3");
  g_autoptr(QvmMachine) different = assert_valid (other_cores);

  g_assert_true (copy != machine);
  g_assert_true (qvm_machine_equal (machine, copy));
  g_assert_true (qvm_machine_equal (minimal, minimal_copy));
  g_assert_false (qvm_machine_equal (machine, minimal));
  g_assert_false (qvm_machine_equal (machine, different));

  /* The copy is independent. */
  g_assert_true (qvm_machine_set_defaults (minimal_copy, options, NULL));
  g_assert_cmpuint (qvm_machine_get_memory (minimal_copy), ==, 1024);
  g_assert_cmpuint (qvm_machine_get_memory (minimal), ==, 0);
  g_assert_false (qvm_machine_equal (minimal, minimal_copy));
}

static void
test_machine_options (void)
{
  g_autoptr(QvmMachine) machine = assert_valid (full_machine);
  g_autoptr(QvmMachine) minimal = assert_valid (minimal_machine);
  g_autoptr(QvmMachineOptions) options = qvm_machine_get_options (machine);
  g_autoptr(QvmMachineOptions) defaults = qvm_machine_get_options (minimal);

  g_autofree char *wide_text = machine_with ("cpu", "{\"sockets\": 2, \"cores\": 32}");
  g_autoptr(QvmMachine) wide = assert_valid (wide_text);
  g_autoptr(QvmMachineOptions) wide_options = qvm_machine_get_options (wide);

  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==, 2048);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (defaults), ==, 4096);
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (options), ==, QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS);
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (defaults), ==, QVM_MACHINE_OPTIONS_DEFAULT_MAX_VCPUS);
  g_assert_cmpuint (qvm_machine_options_get_max_vcpus (wide_options), ==, 64);

  /* The options admit the machine they came from. */
  g_assert_true (qvm_machine_set_defaults (machine, options, NULL));
  g_assert_cmpuint (qvm_machine_get_memory (machine), ==, 2048);
  g_assert_true (qvm_machine_set_defaults (wide, wide_options, NULL));
}

static void
test_machine_set_defaults (void)
{
  g_autoptr(QvmMachine) minimal = assert_valid (minimal_machine);
  g_autofree char *big_text = machine_with ("memory", "8192");
  g_autoptr(QvmMachine) big = assert_valid (big_text);
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (4096);
  g_autoptr(QvmMachineOptions) exact = qvm_machine_options_new (8192);
  g_autoptr(GError) error = NULL;
  guint notified = 0;

  /* Unspecified memory becomes the maximum, with a notification. */
  g_signal_connect (minimal, "notify::memory", G_CALLBACK (testutil_count_notify), &notified);
  g_assert_true (qvm_machine_set_defaults (minimal, options, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_get_memory (minimal), ==, 4096);
  g_assert_cmpuint (notified, ==, 1);

  /* Again: nothing left to fill in. */
  g_assert_true (qvm_machine_set_defaults (minimal, options, &error));
  g_assert_cmpuint (notified, ==, 1);

  /* More memory than allowed: refused, naming both sizes. */
  g_assert_false (qvm_machine_set_defaults (big, options, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  assert_line (error->message, "memory", "8192", "4096", NULL);
  g_assert_cmpuint (qvm_machine_get_memory (big), ==, 8192);
  g_clear_error (&error);

  /* Exactly the maximum is fine and unchanged. */
  g_assert_true (qvm_machine_set_defaults (big, exact, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_get_memory (big), ==, 8192);
}

static void
test_machine_set_defaults_vcpus (void)
{
  g_autofree char *wide_text = machine_with ("cpu", "{\"sockets\": 2, \"cores\": 16}");
  g_autoptr(QvmMachine) wide = NULL;
  g_autoptr(QvmMachine) both = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (4096);
  g_autoptr(GError) error = NULL;

  wide = assert_valid (wide_text);
  g_assert_cmpuint (qvm_machine_get_vcpus (wide), ==, 32);

  /* 32 vCPUs against the default 16: refused, naming both counts. */
  g_assert_false (qvm_machine_set_defaults (wide, options, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  assert_line (error->message, "cpu", "32 vCPUs", "16", "maxVcpus", NULL);
  g_clear_error (&error);

  /* Exactly the maximum is fine. */
  qvm_machine_options_set_max_vcpus (options, 32);
  g_assert_true (qvm_machine_set_defaults (wide, options, &error));
  g_assert_no_error (error);

  /* Both limits exceeded: one line each, and the machine unchanged. */
  both = qvm_machine_copy (wide);
  qvm_machine_options_set_max_vcpus (options, 8);
  qvm_machine_options_set_max_memory (options, 1024);
  g_assert_false (qvm_machine_set_defaults (both, options, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  assert_line (error->message, "memory", "2048", "1024", NULL);
  assert_line (error->message, "cpu", "32 vCPUs", "8", NULL);
  g_assert_cmpuint (count_lines (error->message), ==, 2);
  g_assert_true (qvm_machine_equal (both, wide));
}

/* Collects the values of every "enum" at @path in the schema. */
static JsonArray *
schema_enum (JsonNode   *schema,
             const char *path)
{
  g_auto(GStrv) members = g_strsplit (path, ".", -1);
  JsonObject *object = json_node_get_object (schema);

  for (guint i = 0; members[i] != NULL; i++)
    object = json_object_get_object_member (json_object_get_object_member (object, "properties"), members[i]);
  return json_object_get_array_member (object, "enum");
}

/* Every property has a title and a description (they make the reference
 * documentation), and every object forbids unknown properties. */
static void
assert_documented (JsonObject *schema,
                   const char *path)
{
  JsonObject *properties;
  g_autoptr(GList) names = NULL;

  if (!json_object_has_member (schema, "title") || !json_object_has_member (schema, "description"))
    {
      g_test_message ("%s has no title or description", path);
      g_test_fail ();
    }

  if (!json_object_has_member (schema, "properties"))
    return;

  g_assert_false (json_object_get_boolean_member (schema, "additionalProperties"));
  properties = json_object_get_object_member (schema, "properties");
  names = json_object_get_members (properties);
  for (GList *l = names; l != NULL; l = l->next)
    {
      g_autofree char *child = g_strconcat (path, ".", l->data, NULL);

      assert_documented (json_object_get_object_member (properties, l->data), child);
    }
}

static void
test_machine_schema (void)
{
  const char *text = qvm_machine_get_schema ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) schema = json_from_string (text, &error);
  JsonArray *layout_enum, *device_enum, *controller_enum;

  g_assert_no_error (error);
  g_assert_true (text == qvm_machine_get_schema ());
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (schema), "$schema"), ==,
                   "http://json-schema.org/draft-04/schema#");
  assert_documented (json_node_get_object (schema), "(root)");

  /* The lists of the tests (and of the explanations) are the schema's. */
  layout_enum = schema_enum (schema, "keyboard.layout");
  g_assert_cmpuint (json_array_get_length (layout_enum), ==, G_N_ELEMENTS (layouts));
  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    g_assert_cmpstr (json_array_get_string_element (layout_enum, i), ==, layouts[i]);
  device_enum = schema_enum (schema, "sound.device");
  g_assert_cmpuint (json_array_get_length (device_enum), ==, G_N_ELEMENTS (sound_devices));
  for (guint i = 0; i < G_N_ELEMENTS (sound_devices); i++)
    g_assert_cmpstr (json_array_get_string_element (device_enum, i), ==, sound_devices[i]);
  controller_enum = schema_enum (schema, "sound.controller");
  g_assert_cmpuint (json_array_get_length (controller_enum), ==, G_N_ELEMENTS (sound_controllers));
  for (guint i = 0; i < G_N_ELEMENTS (sound_controllers); i++)
    g_assert_cmpstr (json_array_get_string_element (controller_enum, i), ==, sound_controllers[i]);

  /* The installed resource is the same text. */
  {
    g_autoptr(GBytes) bytes = g_resources_lookup_data ("/org/qvm-glib/schemas/machine.schema.json", 0, &error);

    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), text, strlen (text));
  }
}

static void
test_machine_from_json (void)
{
  g_autoptr(JsonNode) good = json_from_string (full_machine, NULL);
  g_autoptr(JsonNode) bad = json_from_string ("{\"uuid\": 5}", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_from_json (good, &error);
  g_autoptr(QvmMachine) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (qvm_machine_get_cores (machine), ==, 4);

  none = qvm_machine_new_from_json (bad, &error);
  g_assert_null (none);
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  assert_line (error->message, "uuid", "integer", NULL);
  assert_line (error->message, "(root)", "network", NULL);
  assert_line (error->message, "(root)", "keyboard", NULL);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/machine/load/full", test_machine_full);
  g_test_add_func ("/machine/load/minimal", test_machine_minimal);
  g_test_add_func ("/machine/load/from-json", test_machine_from_json);
  g_test_add_func ("/machine/mac/valid", test_machine_mac_valid);
  g_test_add_func ("/machine/mac/invalid", test_machine_mac_invalid);
  g_test_add_func ("/machine/mac/message", test_machine_mac_message);
  g_test_add_func ("/machine/uuid/versions", test_machine_uuid_versions);
  g_test_add_func ("/machine/uuid/invalid", test_machine_uuid_invalid);
  g_test_add_func ("/machine/network-device", test_machine_network_device);
  g_test_add_func ("/machine/keyboard-layout", test_machine_keyboard_layout);
  g_test_add_func ("/machine/sound/pairs", test_machine_sound_pairs);
  g_test_add_func ("/machine/sound/invalid", test_machine_sound_invalid);
  g_test_add_func ("/machine/memory", test_machine_memory);
  g_test_add_func ("/machine/cpu", test_machine_cpu);
  g_test_add_func ("/machine/cpu/qemu-limits", test_machine_cpu_qemu_limits);
  g_test_add_func ("/machine/unknown-keys", test_machine_unknown_keys);
  g_test_add_func ("/machine/wrong-types", test_machine_wrong_types);
  g_test_add_func ("/machine/required", test_machine_required);
  g_test_add_func ("/machine/version", test_machine_version);
  g_test_add_func ("/machine/every-problem", test_machine_every_problem);
  g_test_add_func ("/machine/bad-documents", test_machine_bad_documents);
  g_test_add ("/machine/file/valid", FileFixture, NULL, file_fixture_set_up, test_machine_file_valid, file_fixture_tear_down);
  g_test_add ("/machine/file/invalid", FileFixture, NULL, file_fixture_set_up, test_machine_file_invalid, file_fixture_tear_down);
  g_test_add ("/machine/file/oversize", FileFixture, NULL, file_fixture_set_up, test_machine_file_oversize, file_fixture_tear_down);
  g_test_add ("/machine/file/empty", FileFixture, NULL, file_fixture_set_up, test_machine_file_empty, file_fixture_tear_down);
  g_test_add ("/machine/file/bad-utf8", FileFixture, NULL, file_fixture_set_up, test_machine_file_bad_utf8, file_fixture_tear_down);
  g_test_add ("/machine/file/deep", FileFixture, NULL, file_fixture_set_up, test_machine_file_deep, file_fixture_tear_down);
  g_test_add ("/machine/file/missing", FileFixture, NULL, file_fixture_set_up, test_machine_file_missing, file_fixture_tear_down);
  g_test_add ("/machine/file/directory", FileFixture, NULL, file_fixture_set_up, test_machine_file_directory, file_fixture_tear_down);
  g_test_add ("/machine/file/cancelled", FileFixture, NULL, file_fixture_set_up, test_machine_file_cancelled, file_fixture_tear_down);
  g_test_add ("/machine/file/round-trip", FileFixture, NULL, file_fixture_set_up, test_machine_round_trip, file_fixture_tear_down);
  g_test_add ("/machine/file/save-error", FileFixture, NULL, file_fixture_set_up, test_machine_save_error, file_fixture_tear_down);
  g_test_add_func ("/machine/random", test_machine_random);
  g_test_add_func ("/machine/g-object-new", test_machine_g_object_new);
  g_test_add_func ("/machine/read-only", test_machine_read_only);
  g_test_add_func ("/machine/tablet", test_machine_tablet);
  g_test_add_func ("/machine/copy-equal", test_machine_copy_equal);
  g_test_add_func ("/machine/options", test_machine_options);
  g_test_add_func ("/machine/set-defaults", test_machine_set_defaults);
  g_test_add_func ("/machine/set-defaults/vcpus", test_machine_set_defaults_vcpus);
  g_test_add_func ("/machine/schema", test_machine_schema);

  return g_test_run ();
}
