/* qvm-qemu-argv-private.h: the QEMU command line of a virtual machine (internal API)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The command line is built by one pure function from plain values, so it
 * can be checked against golden argvs without QEMU and without the classes
 * that provide the values (QvmMachine, QvmImage, QvmNetwork).
 */

#pragma once

#include <glib.h>

#include "qvm-virtual-machine.h"

G_BEGIN_DECLS

/* The hardware part of the command line: a flat copy of what QvmMachine
 * holds, already validated (the builder does not check it again). */
typedef struct {
  const char *uuid;
  guint       memory_mib;
  const char *nic_device;        /* rtl8139, e1000, virtio-net-pci */
  const char *mac_address;
  const char *keyboard_layout;   /* en-us, de, … */
  const char *sound_device;      /* NULL, AC97, ES1370, hda-duplex, hda-micro, hda-output */
  const char *sound_controller;  /* pci, intel-hda, ich9-intel-hda (NULL = pci) */
  guint       threads;           /* 0 = unspecified */
  guint       cores;
  guint       sockets;
  gboolean    no_tablet;         /* machine.json "tablet": false */
} QvmQemuMachineConfig;

/* Everything else QEMU needs. Paths should be absolute: a relative disk
 * path with a colon would be read by QEMU as a protocol prefix. */
typedef struct {
  QvmQemuMachineConfig machine;
  const char *qemu_binary;       /* a path or a name to find on PATH */
  const char *accel;             /* "kvm" or "tcg" (already resolved) */
  const char *disk_file;
  const char *disk_format;       /* qcow2, raw */
  const char *netdev;            /* the -netdev value, id "netdev0" */
  const char *cdrom1;            /* nullable */
  const char *cdrom2;            /* nullable */
  const char *socket_folder;     /* the VM's own folder: vnc.sock lives there */
  int         qmp_fd;            /* QEMU's end of the QMP socketpair */
  gboolean    incoming;          /* waits for a saved state (migrate-incoming) */
  const char *generation_id;     /* nullable: this start's VM generation ID (a GUID) */
  int         console_fd;        /* QEMU's end of the serial console's socketpair */
} QvmQemuArgvConfig;

/* The netdev id the NIC refers to: pass it to qvm_network_get_netdev(). */
#define QVM_QEMU_NETDEV_ID "netdev0"

/* The name of the VNC socket in the socket folder. */
#define QVM_QEMU_VNC_SOCKET_NAME "vnc.sock"

/* Builds the argv (transfer full), argv[0] being config->qemu_binary. */
GStrv qvm_qemu_argv_build (const QvmQemuArgvConfig *config);

/* Escapes @value for a QEMU option list: commas are doubled. */
char *qvm_qemu_escape_option (const char *value);

/* Resolves the accelerator asked for into the one to pass to QEMU:
 * AUTO gives "kvm" only when @kvm_device opens read-write and @cpuinfo
 * lists the vmx or svm flag, else "tcg". The paths are parameters so that
 * tests can cover every combination; the library passes /dev/kvm and
 * /proc/cpuinfo. */
const char *qvm_qemu_resolve_accel (QvmAccel     requested,
                                    const char  *kvm_device,
                                    const char  *cpuinfo);

/* The two probes of "auto", exposed for the tests. */
gboolean qvm_qemu_kvm_device_usable (const char *kvm_device);
gboolean qvm_qemu_cpuinfo_has_virtualization (const char *cpuinfo);

G_END_DECLS
