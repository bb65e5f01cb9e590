/* test-qemu-argv.c: the QEMU command line builder and the accelerator choice
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The golden argvs below are written out by hand. The /qemu-argv/qemu/
 * cases (suite 'qemu') hand a few of them to the real QEMU to prove QEMU
 * accepts them and the guest runs.
 */

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gio.h>

#include "qvm.h"
#include "qvm-qemu-argv-private.h"
#include "testutil.h"

/* The argv shared by every case, cut in two around the varying parts. */
#define HEAD(accel)                                                          \
  "qemu-system-x86_64",                                                      \
  "-S", "-no-user-config", "-nodefaults",                                    \
  "-machine", "pc,accel=" accel ",usb=off,dump-guest-core=off"

#define MIDDLE                                                               \
  "-uuid", "5b9a2b6e-3f2a-4f4e-9d7c-0a6a1c2f3e4d",                           \
  "-m", "512M"

#define AFTER_TOPOLOGY                                                       \
  "-k", "en-us",                                                             \
  "-rtc", "base=utc",                                                        \
  "-boot", "menu=off,strict=on",                                             \
  "-display", "none",                                                        \
  "-vnc", "unix:/run/qvm/vm1/vnc.sock",                                      \
  "-chardev", "socket,id=qmp,fd=3",                                          \
  "-mon", "chardev=qmp,id=monitor,mode=control",                             \
  "-chardev", "socket,id=console0,fd=4",                                     \
  "-serial", "chardev:console0",                                             \
  "-device", "VGA,id=video0,bus=pci.0,addr=0x2",                             \
  "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2",                 \
  "-device", "usb-tablet,id=tablet0,bus=usb.0,port=1",                       \
  "-drive", "if=none,id=disk0,format=qcow2,cache=unsafe,file=/images/i1/layer.qcow2", \
  "-device", "virtio-blk-pci,id=virtio-disk0,drive=disk0,bootindex=1,bus=pci.0,addr=0x5"

#define NETWORK(nic)                                                         \
  "-netdev", "user,id=netdev0,restrict=on",                                  \
  "-device", nic ",id=nic0,netdev=netdev0,mac=02:00:00:aa:bb:cc,romfile=,bus=pci.0,addr=0x3"

static QvmQemuArgvConfig
base_config (void)
{
  QvmQemuArgvConfig config = {
    .machine = {
      .uuid = "5b9a2b6e-3f2a-4f4e-9d7c-0a6a1c2f3e4d",
      .memory_mib = 512,
      .nic_device = "e1000",
      .mac_address = "02:00:00:aa:bb:cc",
      .keyboard_layout = "en-us",
    },
    .qemu_binary = "qemu-system-x86_64",
    .accel = "tcg",
    .disk_file = "/images/i1/layer.qcow2",
    .disk_format = "qcow2",
    .netdev = "user,id=netdev0,restrict=on",
    .socket_folder = "/run/qvm/vm1",
    .qmp_fd = 3,
    .console_fd = 4,
  };

  return config;
}

static void
assert_argv (const QvmQemuArgvConfig *config,
             const char * const      *expected)
{
  g_auto(GStrv) argv = qvm_qemu_argv_build (config);
  guint i;

  for (i = 0; argv[i] != NULL && expected[i] != NULL; i++)
    if (g_strcmp0 (argv[i], expected[i]) != 0)
      g_error ("argv[%u] is “%s”, expected “%s”", i, argv[i], expected[i]);

  g_assert_cmpstr (argv[i], ==, expected[i]);
}

/* "tablet": false leaves out the USB controller and the tablet. */
static void
test_no_tablet (void)
{
  QvmQemuArgvConfig config = base_config ();
  g_auto(GStrv) argv = NULL;

  config.machine.no_tablet = TRUE;
  argv = qvm_qemu_argv_build (&config);
  for (guint i = 0; argv[i] != NULL; i++)
    {
      g_assert_null (strstr (argv[i], "usb-tablet"));
      g_assert_null (strstr (argv[i], "piix3-usb-uhci"));
    }
  config.machine.no_tablet = FALSE;
  g_strfreev (argv);
  argv = qvm_qemu_argv_build (&config);
  g_assert_true (g_strv_contains ((const char * const *) argv, "usb-tablet,id=tablet0,bus=usb.0,port=1"));
}

/* A generation ID gives the machine a vmgenid device, last. */
static void
test_generation_id (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"),
    "-device", "vmgenid,id=vmgenid0,guid=8f0b1c8e-6d3a-4e59-9c1e-2b7d5a4f3e21",
    NULL
  };

  config.generation_id = "8f0b1c8e-6d3a-4e59-9c1e-2b7d5a4f3e21";
  assert_argv (&config, expected);
}

static void
test_nic (gconstpointer data)
{
  const char *nic = data;
  QvmQemuArgvConfig config = base_config ();
  const char *expected_e1000[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"), NULL
  };
  const char *expected_rtl8139[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("rtl8139"), NULL
  };
  const char *expected_virtio[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("virtio-net-pci"), NULL
  };

  config.machine.nic_device = nic;
  if (g_str_equal (nic, "e1000"))
    assert_argv (&config, expected_e1000);
  else if (g_str_equal (nic, "rtl8139"))
    assert_argv (&config, expected_rtl8139);
  else
    assert_argv (&config, expected_virtio);
}

static void
test_sound_pci (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected_ac97[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"),
    "-audiodev", "none,id=audio0",
    "-device", "AC97,id=sound0,audiodev=audio0,bus=pci.0,addr=0x4",
    NULL
  };
  const char *expected_es1370[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"),
    "-audiodev", "none,id=audio0",
    "-device", "ES1370,id=sound0,audiodev=audio0,bus=pci.0,addr=0x4",
    NULL
  };

  config.machine.sound_device = "AC97";
  config.machine.sound_controller = "pci";
  assert_argv (&config, expected_ac97);

  config.machine.sound_device = "ES1370";
  assert_argv (&config, expected_es1370);

  /* No controller given means the card is its own PCI device. */
  config.machine.sound_controller = NULL;
  assert_argv (&config, expected_es1370);
}

typedef struct {
  const char *device;
  const char *controller;
  const char *controller_arg;
  const char *codec_arg;
} HdaCase;

static const HdaCase hda_cases[] = {
  { "hda-duplex", "intel-hda",
    "intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-duplex,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
  { "hda-micro", "intel-hda",
    "intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-micro,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
  { "hda-output", "intel-hda",
    "intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-output,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
  { "hda-duplex", "ich9-intel-hda",
    "ich9-intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-duplex,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
  { "hda-micro", "ich9-intel-hda",
    "ich9-intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-micro,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
  { "hda-output", "ich9-intel-hda",
    "ich9-intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "hda-output,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0" },
};

static void
test_sound_hda (gconstpointer data)
{
  const HdaCase *hda = data;
  QvmQemuArgvConfig config = base_config ();
  const char *expected[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"),
    "-audiodev", "none,id=audio0",
    "-device", hda->controller_arg,
    "-device", hda->codec_arg,
    NULL
  };

  config.machine.sound_device = hda->device;
  config.machine.sound_controller = hda->controller;
  assert_argv (&config, expected);
}

static void
test_cdroms (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected_one[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY,
    "-drive", "if=none,id=cdrom1,media=cdrom,readonly=on,format=raw,file=/isos/tools.iso",
    "-device", "ide-cd,id=ide-cd1,drive=cdrom1,bus=ide.0,unit=0,bootindex=2",
    NETWORK ("e1000"), NULL
  };
  const char *expected_two[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY,
    "-drive", "if=none,id=cdrom1,media=cdrom,readonly=on,format=raw,file=/isos/tools.iso",
    "-device", "ide-cd,id=ide-cd1,drive=cdrom1,bus=ide.0,unit=0,bootindex=2",
    "-drive", "if=none,id=cdrom2,media=cdrom,readonly=on,format=raw,file=/isos/data.iso",
    "-device", "ide-cd,id=ide-cd2,drive=cdrom2,bus=ide.1,unit=0,bootindex=3",
    NETWORK ("e1000"), NULL
  };
  const char *expected_second_only[] = {
    HEAD ("tcg"), MIDDLE, AFTER_TOPOLOGY,
    "-drive", "if=none,id=cdrom2,media=cdrom,readonly=on,format=raw,file=/isos/data.iso",
    "-device", "ide-cd,id=ide-cd2,drive=cdrom2,bus=ide.1,unit=0,bootindex=3",
    NETWORK ("e1000"), NULL
  };

  config.cdrom1 = "/isos/tools.iso";
  assert_argv (&config, expected_one);

  config.cdrom2 = "/isos/data.iso";
  assert_argv (&config, expected_two);

  config.cdrom1 = NULL;
  assert_argv (&config, expected_second_only);
}

static void
test_topology (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected_full[] = {
    HEAD ("tcg"), MIDDLE, "-smp", "sockets=2,cores=4,threads=2", AFTER_TOPOLOGY,
    NETWORK ("e1000"), NULL
  };
  const char *expected_cores[] = {
    HEAD ("tcg"), MIDDLE, "-smp", "cores=2", AFTER_TOPOLOGY,
    NETWORK ("e1000"), NULL
  };
  const char *expected_sockets_threads[] = {
    HEAD ("tcg"), MIDDLE, "-smp", "sockets=1,threads=2", AFTER_TOPOLOGY,
    NETWORK ("e1000"), NULL
  };

  config.machine.sockets = 2;
  config.machine.cores = 4;
  config.machine.threads = 2;
  assert_argv (&config, expected_full);

  config.machine.sockets = 0;
  config.machine.cores = 2;
  config.machine.threads = 0;
  assert_argv (&config, expected_cores);

  config.machine.sockets = 1;
  config.machine.cores = 0;
  config.machine.threads = 2;
  assert_argv (&config, expected_sockets_threads);
}

static void
test_kvm (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected[] = {
    HEAD ("kvm"), "-cpu", "host", MIDDLE, AFTER_TOPOLOGY, NETWORK ("e1000"), NULL
  };

  config.accel = "kvm";
  assert_argv (&config, expected);
}

static void
test_everything (void)
{
  QvmQemuArgvConfig config = base_config ();
  const char *expected[] = {
    "/opt/qemu/bin/qemu-system-x86_64",
    "-S", "-no-user-config", "-nodefaults",
    "-machine", "pc,accel=tcg,usb=off,dump-guest-core=off",
    "-uuid", "00000000-0000-4000-8000-000000000001",
    "-m", "2048M",
    "-smp", "sockets=1,cores=2,threads=1",
    "-k", "de",
    "-rtc", "base=utc",
    "-boot", "menu=off,strict=on",
    "-display", "none",
    "-vnc", "unix:/tmp/s/vnc.sock",
    "-chardev", "socket,id=qmp,fd=7",
    "-mon", "chardev=qmp,id=monitor,mode=control",
    "-chardev", "socket,id=console0,fd=8",
    "-serial", "chardev:console0",
    "-device", "VGA,id=video0,bus=pci.0,addr=0x2",
    "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2",
    "-device", "usb-tablet,id=tablet0,bus=usb.0,port=1",
    "-drive", "if=none,id=disk0,format=raw,cache=unsafe,file=/d/disk.img",
    "-device", "virtio-blk-pci,id=virtio-disk0,drive=disk0,bootindex=1,bus=pci.0,addr=0x5",
    "-drive", "if=none,id=cdrom1,media=cdrom,readonly=on,format=raw,file=/c/1.iso",
    "-device", "ide-cd,id=ide-cd1,drive=cdrom1,bus=ide.0,unit=0,bootindex=2",
    "-drive", "if=none,id=cdrom2,media=cdrom,readonly=on,format=raw,file=/c/2.iso",
    "-device", "ide-cd,id=ide-cd2,drive=cdrom2,bus=ide.1,unit=0,bootindex=3",
    "-netdev", "user,id=netdev0,restrict=on,net=169.254.0.0/16",
    "-device", "virtio-net-pci,id=nic0,netdev=netdev0,mac=52:54:00:00:00:01,romfile=,bus=pci.0,addr=0x3",
    "-audiodev", "none,id=audio0",
    "-device", "ich9-intel-hda,id=sound0,bus=pci.0,addr=0x4",
    "-device", "hda-output,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio0",
    NULL
  };

  config.qemu_binary = "/opt/qemu/bin/qemu-system-x86_64";
  config.machine.uuid = "00000000-0000-4000-8000-000000000001";
  config.machine.memory_mib = 2048;
  config.machine.keyboard_layout = "de";
  config.machine.sockets = 1;
  config.machine.cores = 2;
  config.machine.threads = 1;
  config.machine.nic_device = "virtio-net-pci";
  config.machine.mac_address = "52:54:00:00:00:01";
  config.machine.sound_device = "hda-output";
  config.machine.sound_controller = "ich9-intel-hda";
  config.disk_file = "/d/disk.img";
  config.disk_format = "raw";
  config.cdrom1 = "/c/1.iso";
  config.cdrom2 = "/c/2.iso";
  config.netdev = "user,id=netdev0,restrict=on,net=169.254.0.0/16";
  config.socket_folder = "/tmp/s";
  config.qmp_fd = 7;
  config.console_fd = 8;
  assert_argv (&config, expected);
}

static void
test_commas_escaped (void)
{
  QvmQemuArgvConfig config = base_config ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *escaped = qvm_qemu_escape_option (",a,,b,");

  g_assert_cmpstr (escaped, ==, ",,a,,,,b,,");

  config.disk_file = "/images/a,format=raw/layer.qcow2";
  config.cdrom1 = "/isos/x,y.iso";
  config.socket_folder = "/run/q,v";
  argv = qvm_qemu_argv_build (&config);

  g_assert_true (g_strv_contains ((const char * const *) argv,
                                  "if=none,id=disk0,format=qcow2,cache=unsafe,"
                                  "file=/images/a,,format=raw/layer.qcow2"));
  g_assert_true (g_strv_contains ((const char * const *) argv,
                                  "if=none,id=cdrom1,media=cdrom,readonly=on,format=raw,"
                                  "file=/isos/x,,y.iso"));
  g_assert_true (g_strv_contains ((const char * const *) argv, "unix:/run/q,,v/vnc.sock"));
}

/* What QEMU's option parser does with an escaped value: ",," is one
 * comma, a single comma ends the value. NULL if the value would be cut. */
static char *
qemu_unescape (const char *escaped)
{
  g_autoptr(GString) value = g_string_new (NULL);

  for (const char *p = escaped; *p != '\0'; p++)
    {
      if (*p == ',' && *++p != ',')
        return NULL;
      g_string_append_c (value, *p);
    }
  return g_string_free (g_steal_pointer (&value), FALSE);
}

/* The one escaping function (the argv builder and the user network both
 * use it): commas doubled, nothing else touched, and QEMU reads back the
 * value as it was. */
static void
test_escape_option (void)
{
  const struct {
    const char *value;
    const char *escaped;
  } cases[] = {
    { "", "" },
    { ",", ",," },
    { ",,,", ",,,,,," },
    { "a,b", "a,,b" },
    { "end,", "end,," },
    { "/no/commas: = ' \" \\ $ é", "/no/commas: = ' \" \\ $ é" },
    { "id=x,file=/y", "id=x,,file=/y" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *escaped = qvm_qemu_escape_option (cases[i].value);
      g_autofree char *back = qemu_unescape (escaped);

      g_assert_cmpstr (escaped, ==, cases[i].escaped);
      g_assert_cmpstr (back, ==, cases[i].value);
    }
  /* the checker itself sees a value that an unescaped comma would cut */
  g_assert_null (qemu_unescape ("a,b"));
}

/* The accelerator choice, with every combination of the two probes. */

typedef struct {
  char *folder;
  char *openable_device;     /* a file that opens read-write */
  char *missing_device;
  char *cpuinfo_vmx;
  char *cpuinfo_svm;
  char *cpuinfo_none;
  char *cpuinfo_lookalike;   /* "vmxnet" and "svm_lock", not the flags */
  char *cpuinfo_missing;
} AccelFixture;

static void
accel_set_up (AccelFixture  *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->folder = g_dir_make_tmp ("qvm-test-accel-XXXXXX", &error);
  g_assert_no_error (error);

#define HEAD_LINES "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\n"
#define WRITE(field, name, contents)                                          \
  fixture->field = g_build_filename (fixture->folder, name, NULL);            \
  g_file_set_contents (fixture->field, contents, -1, &error);                 \
  g_assert_no_error (error)

  WRITE (openable_device, "kvm", "");
  WRITE (cpuinfo_vmx, "cpuinfo-vmx",
         HEAD_LINES "flags\t\t: fpu vme de pse vmx sse2 hypervisor\n\n");
  WRITE (cpuinfo_svm, "cpuinfo-svm",
         HEAD_LINES "flags\t\t: fpu svm lahf_lm\nbugs\t\t: spectre_v1\n");
  WRITE (cpuinfo_none, "cpuinfo-none",
         HEAD_LINES "flags\t\t: fpu vme de pse sse2 hypervisor\n");
  WRITE (cpuinfo_lookalike, "cpuinfo-lookalike",
         HEAD_LINES "flags\t\t: fpu vmxnet svm_lock\nvmx flags\t: ept\n");
#undef WRITE
#undef HEAD_LINES

  fixture->missing_device = g_build_filename (fixture->folder, "no-kvm", NULL);
  fixture->cpuinfo_missing = g_build_filename (fixture->folder, "no-cpuinfo", NULL);
}

static void
accel_tear_down (AccelFixture  *fixture,
                 gconstpointer  data)
{
  const char *files[] = {
    fixture->openable_device, fixture->cpuinfo_vmx, fixture->cpuinfo_svm,
    fixture->cpuinfo_none, fixture->cpuinfo_lookalike,
  };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    g_assert_cmpint (g_unlink (files[i]), ==, 0);
  g_assert_cmpint (g_rmdir (fixture->folder), ==, 0);

  g_free (fixture->folder);
  g_free (fixture->openable_device);
  g_free (fixture->missing_device);
  g_free (fixture->cpuinfo_vmx);
  g_free (fixture->cpuinfo_svm);
  g_free (fixture->cpuinfo_none);
  g_free (fixture->cpuinfo_lookalike);
  g_free (fixture->cpuinfo_missing);
}

static void
test_accel_probes (AccelFixture  *fixture,
                   gconstpointer  data)
{
  g_assert_true (qvm_qemu_kvm_device_usable (fixture->openable_device));
  g_assert_false (qvm_qemu_kvm_device_usable (fixture->missing_device));
  /* A folder cannot be opened read-write. */
  g_assert_false (qvm_qemu_kvm_device_usable (fixture->folder));

  g_assert_true (qvm_qemu_cpuinfo_has_virtualization (fixture->cpuinfo_vmx));
  g_assert_true (qvm_qemu_cpuinfo_has_virtualization (fixture->cpuinfo_svm));
  g_assert_false (qvm_qemu_cpuinfo_has_virtualization (fixture->cpuinfo_none));
  g_assert_false (qvm_qemu_cpuinfo_has_virtualization (fixture->cpuinfo_lookalike));
  g_assert_false (qvm_qemu_cpuinfo_has_virtualization (fixture->cpuinfo_missing));
}

static void
test_accel_auto (AccelFixture  *fixture,
                 gconstpointer  data)
{
  struct {
    const char *device;
    const char *cpuinfo;
    const char *expected;
  } cases[] = {
    { fixture->openable_device, fixture->cpuinfo_vmx, "kvm" },
    { fixture->openable_device, fixture->cpuinfo_svm, "kvm" },
    { fixture->openable_device, fixture->cpuinfo_none, "tcg" },
    { fixture->openable_device, fixture->cpuinfo_lookalike, "tcg" },
    { fixture->openable_device, fixture->cpuinfo_missing, "tcg" },
    { fixture->missing_device, fixture->cpuinfo_vmx, "tcg" },
    { fixture->missing_device, fixture->cpuinfo_svm, "tcg" },
    { fixture->missing_device, fixture->cpuinfo_none, "tcg" },
    { fixture->folder, fixture->cpuinfo_vmx, "tcg" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (qvm_qemu_resolve_accel (QVM_ACCEL_AUTO, cases[i].device, cases[i].cpuinfo),
                     ==, cases[i].expected);
}

static void
test_accel_explicit (AccelFixture  *fixture,
                     gconstpointer  data)
{
  /* An explicit choice is taken as is, whatever the probes say. */
  g_assert_cmpstr (qvm_qemu_resolve_accel (QVM_ACCEL_KVM, fixture->missing_device,
                                           fixture->cpuinfo_none), ==, "kvm");
  g_assert_cmpstr (qvm_qemu_resolve_accel (QVM_ACCEL_TCG, fixture->openable_device,
                                           fixture->cpuinfo_vmx), ==, "tcg");
}

/* The names: the enum's nicks, and an error that lists them. */
static void
test_accel_parse (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (qvm_accel_parse ("auto", &error), ==, QVM_ACCEL_AUTO);
  g_assert_cmpint (qvm_accel_parse ("kvm", &error), ==, QVM_ACCEL_KVM);
  g_assert_cmpint (qvm_accel_parse ("tcg", &error), ==, QVM_ACCEL_TCG);
  g_assert_no_error (error);

  g_assert_cmpint (qvm_accel_parse ("hvf", &error), ==, QVM_ACCEL_AUTO);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "Unknown accelerator “hvf”: expected auto, kvm or tcg");
  g_clear_error (&error);
  g_assert_cmpint (qvm_accel_parse ("", &error), ==, QVM_ACCEL_AUTO);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* QEMU itself accepts the argvs: start it on a blank disk, complete the QMP
 * handshake, let the guest run and check QEMU says so. */

static char *
read_qmp_line (GDataInputStream *in)
{
  g_autoptr(GError) error = NULL;
  char *line = NULL;

  /* Events may come before the answer; the answer is what we wait for. */
  do
    {
      g_free (line);
      line = g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_strchomp (line);   /* QMP ends its lines with \r\n */
    }
  while (g_str_has_prefix (line, "{\"timestamp\""));

  return line;
}

static void
send_qmp (GOutputStream *out,
          const char    *command)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (out, command, strlen (command), NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
run_in_qemu (QvmQemuArgvConfig *config)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("qvm-test-argv-XXXXXX", &error);
  g_autofree char *disk = NULL;
  g_autofree char *cdrom = NULL;
  g_autofree char *vnc = NULL;
  g_autofree char *answer = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) qemu = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_auto(GStrv) argv = NULL;
  int fds[2];
  int console_fds[2];

  g_assert_no_error (error);
  disk = g_build_filename (folder, "disk.qcow2", NULL);
  cdrom = g_build_filename (folder, "cd.iso", NULL);
  vnc = g_build_filename (folder, "vnc.sock", NULL);
  {
    const char *create[] = { "qemu-img", "create", "-q", "-f", "qcow2", disk, "16M", NULL };
    g_autoptr(GSubprocess) img = g_subprocess_newv (create, G_SUBPROCESS_FLAGS_NONE, &error);
    g_assert_no_error (error);
    g_subprocess_wait_check (img, NULL, &error);
    g_assert_no_error (error);
  }
  g_file_set_contents (cdrom, "", 0, &error);
  g_assert_no_error (error);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console_fds), ==, 0);

  config->qemu_binary = "qemu-system-x86_64";
  config->accel = g_getenv ("QVM_TEST_ACCEL") ? g_getenv ("QVM_TEST_ACCEL") : "tcg";
  config->disk_file = disk;
  config->socket_folder = folder;
  config->qmp_fd = 3;
  config->console_fd = 4;
  if (config->cdrom1 != NULL)
    config->cdrom1 = cdrom;
  if (config->cdrom2 != NULL)
    config->cdrom2 = cdrom;
  argv = qvm_qemu_argv_build (config);

  /* QEMU must not hold the TAP output open, and must die with the test. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, testutil_die_with_parent, NULL, NULL);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  g_subprocess_launcher_take_fd (launcher, console_fds[1], 4);
  qemu = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher);   /* closes QEMU's end here: EOF if it dies */

  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  answer = read_qmp_line (in);
  g_assert_nonnull (strstr (answer, "\"QMP\""));
  g_clear_pointer (&answer, g_free);

  send_qmp (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
            "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"cont\"}\n"
            "{\"execute\":\"query-status\"}\n");
  answer = read_qmp_line (in);
  g_assert_cmpstr (answer, ==, "{\"return\": {}}");
  g_clear_pointer (&answer, g_free);
  answer = read_qmp_line (in);
  g_assert_cmpstr (answer, ==, "{\"return\": {}}");
  g_clear_pointer (&answer, g_free);
  answer = read_qmp_line (in);
  g_assert_nonnull (strstr (answer, "\"status\": \"running\""));

  g_subprocess_force_exit (qemu);
  g_subprocess_wait (qemu, NULL, &error);
  g_assert_no_error (error);
  close (console_fds[0]);

  g_assert_cmpint (g_unlink (disk), ==, 0);
  g_assert_cmpint (g_unlink (cdrom), ==, 0);
  /* Killed, QEMU leaves its VNC socket behind: that is the library's job. */
  g_unlink (vnc);
  g_assert_cmpint (g_rmdir (folder), ==, 0);
}

static void
test_qemu_nic (gconstpointer data)
{
  QvmQemuArgvConfig config = base_config ();

  config.machine.nic_device = data;
  run_in_qemu (&config);
}

static void
test_qemu_sound (gconstpointer data)
{
  const HdaCase *hda = data;
  QvmQemuArgvConfig config = base_config ();

  config.machine.sound_device = hda->device;
  config.machine.sound_controller = hda->controller;
  run_in_qemu (&config);
}

static void
test_qemu_everything (void)
{
  QvmQemuArgvConfig config = base_config ();

  config.machine.sockets = 1;
  config.machine.cores = 2;
  config.machine.threads = 1;
  config.cdrom1 = "set by run_in_qemu";
  config.cdrom2 = "set by run_in_qemu";
  config.generation_id = "8f0b1c8e-6d3a-4e59-9c1e-2b7d5a4f3e21";
  run_in_qemu (&config);
}

static void add_qemu_tests (void);

int
main (int argc, char *argv[])
{
  static const char *nics[] = { "rtl8139", "e1000", "virtio-net-pci" };

  gboolean with_qemu = FALSE;

  /* "--qemu": the 'qemu' suite, which runs the argvs in QEMU. */
  if (argc > 1 && g_str_equal (argv[argc - 1], "--qemu"))
    {
      with_qemu = TRUE;
      argv[--argc] = NULL;
    }

  g_test_init (&argc, &argv, NULL);

  if (with_qemu)
    {
      add_qemu_tests ();
      return g_test_run ();
    }

  for (guint i = 0; i < G_N_ELEMENTS (nics); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qemu-argv/nic/%s", nics[i]);
      g_test_add_data_func (path, nics[i], test_nic);
    }
  g_test_add_func ("/qemu-argv/sound/pci", test_sound_pci);
  for (guint i = 0; i < G_N_ELEMENTS (hda_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qemu-argv/sound/%s/%s",
                                               hda_cases[i].controller, hda_cases[i].device);
      g_test_add_data_func (path, &hda_cases[i], test_sound_hda);
    }
  g_test_add_func ("/qemu-argv/cdroms", test_cdroms);
  g_test_add_func ("/qemu-argv/generation-id", test_generation_id);
  g_test_add_func ("/qemu-argv/no-tablet", test_no_tablet);
  g_test_add_func ("/qemu-argv/topology", test_topology);
  g_test_add_func ("/qemu-argv/kvm", test_kvm);
  g_test_add_func ("/qemu-argv/everything", test_everything);
  g_test_add_func ("/qemu-argv/commas-escaped", test_commas_escaped);
  g_test_add_func ("/qemu-argv/escape-option", test_escape_option);

  g_test_add ("/qemu-argv/accel/probes", AccelFixture, NULL,
              accel_set_up, test_accel_probes, accel_tear_down);
  g_test_add ("/qemu-argv/accel/auto", AccelFixture, NULL,
              accel_set_up, test_accel_auto, accel_tear_down);
  g_test_add ("/qemu-argv/accel/explicit", AccelFixture, NULL,
              accel_set_up, test_accel_explicit, accel_tear_down);
  g_test_add_func ("/qemu-argv/accel/parse", test_accel_parse);

  return g_test_run ();
}

static void
add_qemu_tests (void)
{
  static const char *nics[] = { "rtl8139", "e1000", "virtio-net-pci" };
  static const HdaCase pci_sound[] = {
    { "AC97", "pci", NULL, NULL },
    { "ES1370", "pci", NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (nics); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qemu-argv/qemu/nic/%s", nics[i]);
      g_test_add_data_func (path, nics[i], test_qemu_nic);
    }
  for (guint i = 0; i < G_N_ELEMENTS (pci_sound); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qemu-argv/qemu/sound/%s", pci_sound[i].device);
      g_test_add_data_func (path, &pci_sound[i], test_qemu_sound);
    }
  for (guint i = 0; i < G_N_ELEMENTS (hda_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/qemu-argv/qemu/sound/%s/%s",
                                               hda_cases[i].controller, hda_cases[i].device);
      g_test_add_data_func (path, &hda_cases[i], test_qemu_sound);
    }
  g_test_add_func ("/qemu-argv/qemu/everything", test_qemu_everything);
}
