/* qvm-qemu-argv.c: the QEMU command line of a virtual machine
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-qemu-argv-private.h"

/* Fixed PCI slots on the i440fx board, so a guest sees the same hardware
 * on every boot whatever the machine definition adds or leaves out. Slot 1
 * is the PIIX3 (ISA bridge, IDE for the CD-ROMs, USB). */
#define QVM_PCI_SLOT_USB   "0x1.0x2"
#define QVM_PCI_SLOT_VGA   "0x2"
#define QVM_PCI_SLOT_NIC   "0x3"
#define QVM_PCI_SLOT_SOUND "0x4"
#define QVM_PCI_SLOT_DISK  "0x5"

char *
qvm_qemu_escape_option (const char *value)
{
  GString *escaped = g_string_sized_new (strlen (value) + 8);

  for (const char *p = value; *p != '\0'; p++)
    {
      g_string_append_c (escaped, *p);
      if (*p == ',')
        g_string_append_c (escaped, ',');
    }

  return g_string_free (escaped, FALSE);
}

static void
add (GPtrArray  *argv,
     const char *option,
     const char *value)
{
  g_ptr_array_add (argv, g_strdup (option));
  if (value != NULL)
    g_ptr_array_add (argv, g_strdup (value));
}

G_GNUC_PRINTF (3, 4)
static void
add_printf (GPtrArray  *argv,
            const char *option,
            const char *format,
            ...)
{
  va_list args;

  g_ptr_array_add (argv, g_strdup (option));
  va_start (args, format);
  g_ptr_array_add (argv, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
add_topology (GPtrArray                  *argv,
              const QvmQemuMachineConfig *machine)
{
  g_autoptr(GString) smp = g_string_new (NULL);

  /* Only what the machine specifies: QEMU derives the rest (and the CPU
   * count) from it, exactly as it would for a hand-written -smp. */
  if (machine->sockets > 0)
    g_string_append_printf (smp, "sockets=%u,", machine->sockets);
  if (machine->cores > 0)
    g_string_append_printf (smp, "cores=%u,", machine->cores);
  if (machine->threads > 0)
    g_string_append_printf (smp, "threads=%u,", machine->threads);

  if (smp->len == 0)
    return;

  g_string_truncate (smp, smp->len - 1);
  add (argv, "-smp", smp->str);
}

static void
add_sound (GPtrArray                  *argv,
           const QvmQemuMachineConfig *machine)
{
  const char *controller = machine->sound_controller;

  if (machine->sound_device == NULL)
    return;

  /* Sound needs a backend; "none" keeps the device working with nothing
   * played on the host. */
  add (argv, "-audiodev", "none,id=audio0");

  if (!g_str_has_prefix (machine->sound_device, "hda-"))
    {
      /* AC97 and ES1370 are PCI cards of their own. */
      add_printf (argv, "-device",
                  "%s,id=sound0,audiodev=audio0,bus=pci.0,addr=" QVM_PCI_SLOT_SOUND,
                  machine->sound_device);
      return;
    }

  /* An HD Audio codec sits on an HD Audio controller. */
  if (controller == NULL || g_str_equal (controller, "pci"))
    controller = "intel-hda";
  add_printf (argv, "-device", "%s,id=sound0,bus=pci.0,addr=" QVM_PCI_SLOT_SOUND, controller);
  add_printf (argv, "-device", "%s,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0",
              machine->sound_device);
}

static void
add_cdrom (GPtrArray  *argv,
           const char *path,
           guint       number)
{
  g_autofree char *escaped = NULL;

  if (path == NULL)
    return;

  escaped = qvm_qemu_escape_option (path);
  add_printf (argv, "-drive",
              "if=none,id=cdrom%u,media=cdrom,readonly=on,format=raw,file=%s",
              number, escaped);
  /* One per IDE channel, as master: bootindex 2 and 3, after the disk. */
  add_printf (argv, "-device", "ide-cd,id=ide-cd%u,drive=cdrom%u,bus=ide.%u,unit=0,bootindex=%u",
              number, number, number - 1, number + 1);
}

GStrv
qvm_qemu_argv_build (const QvmQemuArgvConfig *config)
{
  const QvmQemuMachineConfig *machine = &config->machine;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *vnc_socket = g_build_filename (config->socket_folder,
                                                  QVM_QEMU_VNC_SOCKET_NAME, NULL);
  g_autofree char *vnc_escaped = qvm_qemu_escape_option (vnc_socket);
  g_autofree char *disk_escaped = qvm_qemu_escape_option (config->disk_file);
  gboolean kvm = g_strcmp0 (config->accel, "kvm") == 0;

  g_return_val_if_fail (config->netdev != NULL, NULL);

  add (argv, config->qemu_binary, NULL);

  /* Stopped until the library has connected QMP and says "cont". */
  add (argv, "-S", NULL);
  add (argv, "-no-user-config", NULL);
  add (argv, "-nodefaults", NULL);
  add_printf (argv, "-machine", "pc,accel=%s,usb=off,dump-guest-core=off", config->accel);
  if (kvm)
    add (argv, "-cpu", "host");
  add (argv, "-uuid", machine->uuid);
  add_printf (argv, "-m", "%uM", machine->memory_mib);
  add_topology (argv, machine);
  add (argv, "-k", machine->keyboard_layout);
  add (argv, "-rtc", "base=utc");
  /* Boot only from the devices that have a bootindex, never from the NIC. */
  add (argv, "-boot", "menu=off,strict=on");
  add (argv, "-display", "none");
  add_printf (argv, "-vnc", "unix:%s", vnc_escaped);

  /* QMP on an inherited, already connected socket: nothing to wait for. */
  add_printf (argv, "-chardev", "socket,id=qmp,fd=%d", config->qmp_fd);
  add (argv, "-mon", "chardev=qmp,id=monitor,mode=control");
  /* The guest's first serial port on an inherited socket of its own,
   * which QvmConsole drains all the time (QEMU stalls the guest's UART
   * when nobody reads it). QEMU's stdout stays for its own messages. */
  add_printf (argv, "-chardev", "socket,id=console0,fd=%d", config->console_fd);
  add (argv, "-serial", "chardev:console0");

  add (argv, "-device", "VGA,id=video0,bus=pci.0,addr=" QVM_PCI_SLOT_VGA);
  /* A tablet gives VNC clients an absolute pointer. */
  if (!machine->no_tablet)
    {
      add (argv, "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=" QVM_PCI_SLOT_USB);
      add (argv, "-device", "usb-tablet,id=tablet0,bus=usb.0,port=1");
    }

  add_printf (argv, "-drive", "if=none,id=disk0,format=%s,cache=unsafe,file=%s",
              config->disk_format, disk_escaped);
  add (argv, "-device", "virtio-blk-pci,id=virtio-disk0,drive=disk0,bootindex=1,bus=pci.0,addr="
       QVM_PCI_SLOT_DISK);
  add_cdrom (argv, config->cdrom1, 1);
  add_cdrom (argv, config->cdrom2, 2);

  /* The netdev string comes from the network whole: it is not escaped, it
   * is an option list of its own. No option ROM: nothing boots from it. */
  add (argv, "-netdev", config->netdev);
  add_printf (argv, "-device", "%s,id=nic0,netdev=" QVM_QEMU_NETDEV_ID ",mac=%s,romfile=,bus=pci.0,addr="
              QVM_PCI_SLOT_NIC, machine->nic_device, machine->mac_address);

  add_sound (argv, machine);

  /* A new generation ID for every start: a guest restored from a saved
   * state (several clones of one, say) learns it is not the machine that
   * was saved, and Linux reseeds its random number generator. */
  if (config->generation_id != NULL)
    add_printf (argv, "-device", "vmgenid,id=vmgenid0,guid=%s", config->generation_id);

  /* A restore: QEMU waits for the state the library feeds it over QMP
   * (migrate-incoming) instead of booting. */
  if (config->incoming)
    add (argv, "-incoming", "defer");

  g_ptr_array_add (argv, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
}

gboolean
qvm_qemu_kvm_device_usable (const char *kvm_device)
{
  int fd = open (kvm_device, O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

gboolean
qvm_qemu_cpuinfo_has_virtualization (const char *cpuinfo)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (cpuinfo, &contents, NULL, NULL))
    return FALSE;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *colon;
      g_auto(GStrv) flags = NULL;

      /* "flags" on x86; the value is a space separated list of names. */
      if (!g_str_has_prefix (lines[i], "flags"))
        continue;
      colon = strchr (lines[i], ':');
      if (colon == NULL)
        continue;

      flags = g_strsplit_set (colon + 1, " \t", -1);
      if (g_strv_contains ((const char * const *) flags, "vmx") ||
          g_strv_contains ((const char * const *) flags, "svm"))
        return TRUE;
    }

  return FALSE;
}

const char *
qvm_qemu_resolve_accel (QvmAccel     requested,
                        const char  *kvm_device,
                        const char  *cpuinfo)
{
  if (requested == QVM_ACCEL_AUTO)
    {
      /* A /dev/kvm alone is not enough: a paravirtual nested KVM opens
       * fine and then fails on real-mode boot code. Hardware support shows
       * as vmx or svm. */
      if (qvm_qemu_kvm_device_usable (kvm_device) &&
          qvm_qemu_cpuinfo_has_virtualization (cpuinfo))
        return "kvm";
      return "tcg";
    }

  return requested == QVM_ACCEL_KVM ? "kvm" : "tcg";
}
