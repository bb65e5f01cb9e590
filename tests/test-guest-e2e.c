/* test-guest-e2e.c: the library end to end with the test guest: one VM,
 * two at once, their disks, their isolation and their metadata services
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-guest-e2e [GTest options] ARCHIVE
 *
 * ARCHIVE is the test-guest.tar.zst built by tests/guest/build-guest.sh.
 * Every VM is an instance of it from one QvmImageStore per test, with its
 * own QvmUserNetwork whose handler serves the VM's payload and records what
 * it saw, run by a QvmVirtualMachine (see guest-util.h). The VMs of a test
 * run at the same time; where a test needs an order between them, the
 * payloads wait for each other through their metadata services, so the
 * checks rest on what happened in which order, never on how long it took.
 */

#include <string.h>

#include "guest-util.h"

/* The last sector of the disk lies in the scratch area that build-guest.sh
 * keeps outside the partition. */
#define SCRATCH_SECTOR "$(( $(cat /sys/block/vda/size) - 1 ))"
#define READ_SCRATCH \
  "dd if=/dev/vda bs=512 skip=" SCRATCH_SECTOR " count=1 iflag=direct status=none | tr -d '\\000'"

/* Polls /go until the handler answers "go". */
#define WAIT_FOR_GO \
  "until [ \"$(timeout 10 wget -q -O - http://169.254.169.254/go)\" = go ]; do sleep 0.5; done\n"

/* ------------------------------------------------------------------ */
/* One VM, the whole way                                                */

/* Asks /processes while it runs, so that the test sees what the checks
 * after "done" look for; exits with 7. */
static const char one_vm_payload[] =
  "echo hello from $(uname -r)\n"
  "wget -q -O - http://169.254.169.254/processes > /dev/null\n"
  "echo to stderr >&2\n"
  "exit 7\n";

static char *
one_vm_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  char **processes = user_data;

  if (!g_str_equal (path, "/processes") || *processes != NULL)
    return NULL;
  *processes = guest_vm_list_processes (vm);
  return g_strdup ("listed\n");
}

/* store -> instance -> QvmUserNetwork with a handler -> QvmVirtualMachine
 * -> the guest GETs its payload and POSTs its output and status -> it
 * powers off -> "done" without an error, and everything is released (the
 * harness checks at "done": no instance file, no network or machine
 * folder, no process). */
static void
test_one_vm (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  GuestVm *vm = guest_test_add_vm (test, "one", one_vm_payload);
  g_autofree char *processes = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *kernel = NULL;
  const char *output;
  gsize size;

  vm->answer = one_vm_answer;
  vm->answer_data = &processes;
  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  g_assert_nonnull (vm->result_body);
  output = g_bytes_get_data (vm->result_body, &size);
  g_assert_true (size > strlen ("hello from \n"));
  g_assert_true (g_str_has_prefix (output, "hello from "));
  g_assert_nonnull (memchr (output, '\n', size));
  kernel = g_strndup (output + strlen ("hello from "),
                      (const char *) memchr (output, '\n', size) - output - strlen ("hello from "));
  expected = g_strdup_printf ("hello from %s\nto stderr\n", kernel);
  g_assert_cmpstr (kernel, !=, "");
  guest_vm_assert_result (vm, 7, expected);
  g_assert_cmpuint (vm->requests->len, ==, 3);
  g_assert_cmpuint (guest_vm_count_requests (vm, "GET /payload"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (vm, "GET /processes"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (vm, "POST /result?status=7"), ==, 1);

  /* While it ran, the check that found nothing after "done" saw QEMU and
   * the helper serving that very request. */
  g_test_message ("processes while running:\n%s", processes);
  g_assert_nonnull (strstr (processes, "qemu-system-x86_64"));
  g_assert_nonnull (strstr (processes, "qvm-guestfwd"));
}

/* ------------------------------------------------------------------ */
/* Two VMs from one image                                               */

#define MARKER "qvm-e2e-marker-written-by-a"

/* A waits until B runs, so that both are up at once, then writes a marker
 * to its disk and reads it back past the page cache. */
static const char two_vms_payload_a[] =
  "echo payload-a\n"
  "echo \"whoami $(wget -q -O - http://169.254.169.254/whoami)\"\n"
  WAIT_FOR_GO
  "echo \"before [$(" READ_SCRATCH ")]\"\n"
  "printf " MARKER " | dd of=/dev/vda bs=512 seek=" SCRATCH_SECTOR
  " conv=sync,notrunc,fsync status=none\n"
  "echo \"after [$(" READ_SCRATCH ")]\"\n";

/* B waits until A's QEMU has exited, then reads the same sector of its own
 * instance. */
static const char two_vms_payload_b[] =
  "echo payload-b\n"
  "echo \"whoami $(wget -q -O - http://169.254.169.254/whoami)\"\n"
  WAIT_FOR_GO
  "echo \"read [$(" READ_SCRATCH ")]\"\n";

typedef struct {
  GuestVm *a;
  GuestVm *b;
  guint b_waits;                /* "wait" answers B got */
} TwoVms;

static char *
two_vms_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  TwoVms *two = user_data;

  if (g_str_equal (path, "/whoami"))
    return g_strdup (vm->name);
  if (!g_str_equal (path, "/go"))
    return NULL;
  /* A goes once B has its payload; B goes once A is gone. */
  if (vm == two->a)
    return g_strdup (guest_vm_count_requests (two->b, "GET /payload") > 0 ? "go" : "wait");
  if (guest_vm_has_exited (two->a))
    return g_strdup ("go");
  two->b_waits++;
  return g_strdup ("wait");
}

static void
test_two_vms (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  TwoVms two = { 0 };

  two.a = guest_test_add_vm (test, "a", two_vms_payload_a);
  two.b = guest_test_add_vm (test, "b", two_vms_payload_b);
  two.a->answer = two_vms_answer;
  two.a->answer_data = &two;
  two.b->answer = two_vms_answer;
  two.b->answer_data = &two;

  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  /* Each ran its own payload, and saw its disk pristine. */
  guest_vm_assert_result (two.a, 0,
                          "payload-a\n"
                          "whoami a\n"
                          "before []\n"
                          "after [" MARKER "]\n");
  guest_vm_assert_result (two.b, 0,
                          "payload-b\n"
                          "whoami b\n"
                          "read []\n");

  /* Both ran at once: B asked while A still ran. */
  g_assert_cmpuint (two.b_waits, >, 0);

  /* Each handler saw only its own VM's requests. */
  g_assert_cmpuint (guest_vm_count_requests (two.a, "GET /payload"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (two.a, "GET /whoami"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (two.a, "POST /result?status=0"), ==, 1);
  g_assert_cmpuint (two.a->requests->len, ==,
                    3 + guest_vm_count_requests (two.a, "GET /go"));
  g_assert_cmpuint (guest_vm_count_requests (two.b, "GET /payload"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (two.b, "GET /whoami"), ==, 1);
  g_assert_cmpuint (guest_vm_count_requests (two.b, "POST /result?status=0"), ==, 1);
  g_assert_cmpuint (two.b->requests->len, ==,
                    3 + guest_vm_count_requests (two.b, "GET /go"));
}

/* ------------------------------------------------------------------ */
/* Isolation                                                            */

/* Each probe runs under `timeout 5` in the background and prints
 * "NAME ok" or "NAME fail"; the output lists them in a fixed order. A
 * default route through slirp's host address lets every address leave the
 * guest, so what stops a probe is QEMU, not the guest's routing table. */
#define PROBE_PRELUDE \
  "if ip route replace default via 169.254.2.2; then echo route ok; else echo route fail; fi\n" \
  "probe () {\n" \
  "  name=$1; shift\n" \
  "  if timeout 5 \"$@\" > /dev/null 2>&1; then echo \"$name ok\"; else echo \"$name fail\"; fi > /tmp/probe.$name\n" \
  "}\n"
#define PROBE_TCP(name, address, port) \
  "probe " name " sh -c 'echo probe | nc " address " " port "' &\n"
#define PROBE_REPORT \
  "wait\n" \
  "for name in $probes; do cat /tmp/probe.$name; done\n"

/* @PORT@ is the port of the loopback listener the probes look for. */
static const char isolation_payload[] =
  PROBE_PRELUDE
  "probes='metadata-80 slirp-host-loopback user-net-host-loopback metadata-81 outside dns'\n"
  "probe metadata-80 wget -q -O /dev/null http://169.254.169.254/probe &\n"
  PROBE_TCP ("slirp-host-loopback", "169.254.2.2", "@PORT@")
  PROBE_TCP ("user-net-host-loopback", "10.0.2.2", "@PORT@")
  PROBE_TCP ("metadata-81", "169.254.169.254", "81")
  /* With restrict=on slirp drops this inside QEMU: no packet leaves. */
  PROBE_TCP ("outside", "1.1.1.1", "80")
  "probe dns nslookup example.com 169.254.2.3 &\n"
  PROBE_REPORT;

/* The same network without restrict=on, probing only the host's loopback
 * through slirp's host address: what the isolation VM must not be able
 * to do. */
static const char control_payload[] =
  PROBE_PRELUDE
  "probes='metadata-80 slirp-host-loopback'\n"
  "probe metadata-80 wget -q -O /dev/null http://169.254.169.254/probe &\n"
  PROBE_TCP ("slirp-host-loopback", "169.254.2.2", "@PORT@")
  PROBE_REPORT;

typedef struct {
  GSocketService *service;
  guint16 port;
  guint connections;
} LoopbackListener;

static gboolean
loopback_incoming_cb (GSocketService    *service,
                      GSocketConnection *connection,
                      GObject           *source_object,
                      gpointer           user_data)
{
  LoopbackListener *listener = user_data;

  /* Dropping the connection closes it, which ends the guest's nc. */
  listener->connections++;
  return TRUE;
}

static void
loopback_listener_start (LoopbackListener *listener)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  listener->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (listener->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  listener->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (listener->service, "incoming", G_CALLBACK (loopback_incoming_cb), listener);
  g_socket_service_start (listener->service);
}

static void
loopback_listener_stop (LoopbackListener *listener)
{
  g_socket_service_stop (listener->service);
  g_socket_listener_close (G_SOCKET_LISTENER (listener->service));
  g_clear_object (&listener->service);
}

/* @payload with the listener's port for @PORT@. */
static char *
payload_for_listener (const char *payload, LoopbackListener *listener)
{
  g_auto(GStrv) pieces = g_strsplit (payload, "@PORT@", -1);
  g_autofree char *port = g_strdup_printf ("%u", listener->port);

  return g_strjoinv (port, pieces);
}

static char *
probe_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  return g_str_equal (path, "/probe") ? g_strdup ("probed\n") : NULL;
}

static void
test_isolation (void)
{
  g_autoptr(GuestTest) test = NULL;
  LoopbackListener isolated_listener = { 0 };
  LoopbackListener control_listener = { 0 };
  g_autofree char *isolated_payload = NULL;
  g_autofree char *unrestricted_payload = NULL;
  GuestVm *isolated;
  GuestVm *control;

  /* Before the test makes any folder: this may fail an assertion. */
  loopback_listener_start (&isolated_listener);
  loopback_listener_start (&control_listener);
  test = guest_test_new ();
  isolated_payload = payload_for_listener (isolation_payload, &isolated_listener);
  unrestricted_payload = payload_for_listener (control_payload, &control_listener);

  isolated = guest_test_add_vm (test, "isolated", isolated_payload);
  isolated->answer = probe_answer;
  control = guest_test_add_vm (test, "control", unrestricted_payload);
  control->answer = probe_answer;
  control->unrestricted = TRUE;

  guest_test_run (test);
  guest_test_clean_up (test);
  loopback_listener_stop (&isolated_listener);
  loopback_listener_stop (&control_listener);
  guest_test_assert_no_errors (test);

  /* Only the metadata service answers. */
  guest_vm_assert_result (isolated, 0,
                          "route ok\n"
                          "metadata-80 ok\n"
                          "slirp-host-loopback fail\n"
                          "user-net-host-loopback fail\n"
                          "metadata-81 fail\n"
                          "outside fail\n"
                          "dns fail\n");
  g_assert_cmpuint (isolated_listener.connections, ==, 0);

  /* The same probe reaches the host without restrict=on: the probes can
   * tell. */
  guest_vm_assert_result (control, 0,
                          "route ok\n"
                          "metadata-80 ok\n"
                          "slirp-host-loopback ok\n");
  g_assert_cmpuint (control_listener.connections, >, 0);
}

/* ------------------------------------------------------------------ */
/* A flood does not hold up another VM's service                        */

/* 20 loops of requests, and three connections that send half a request
 * and stall, until the handler says stop. */
static const char flood_payload[] =
  "flood () {\n"
  "  while [ ! -e /tmp/stop ]; do timeout 5 wget -q -O /dev/null http://169.254.169.254/flood 2> /dev/null; done\n"
  "}\n"
  "i=0\n"
  "while [ $i -lt 20 ]; do flood & i=$((i + 1)); done\n"
  "for i in 1 2 3; do\n"
  "  (printf 'GET /stall HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n'; sleep 600) "
  "| nc 169.254.169.254 80 > /dev/null &\n"
  "done\n"
  "until [ \"$(timeout 5 wget -q -O - http://169.254.169.254/continue 2> /dev/null)\" = stop ]; do\n"
  "  sleep 0.2\n"
  "done\n"
  "touch /tmp/stop\n"
  "killall sleep nc > /dev/null 2>&1\n"
  "wait\n"
  "echo flood stopped\n";

static const char quiet_payload[] =
  WAIT_FOR_GO
  "echo served while flooded\n";

/* How many flood requests the quiet VM waits for before it goes. */
#define FLOOD_BEFORE_GO 20

typedef struct {
  GuestVm *flooder;
  GuestVm *quiet;
  guint floods_at_go;           /* flood requests when quiet got "go" */
  gint64 go_at;
} Flood;

static char *
flood_answer (GuestVm *vm, const char *method, const char *path, gpointer user_data)
{
  Flood *flood = user_data;

  if (vm == flood->flooder)
    {
      if (g_str_equal (path, "/flood"))
        return g_strdup ("flooding\n");
      if (g_str_equal (path, "/continue"))
        return g_strdup (flood->quiet->result_body != NULL ? "stop" : "continue");
      return NULL;
    }

  if (!g_str_equal (path, "/go"))
    return NULL;
  if (flood->go_at == 0)
    {
      guint floods = guest_vm_count_requests (flood->flooder, "GET /flood");

      if (floods < FLOOD_BEFORE_GO)
        return g_strdup ("wait");
      flood->floods_at_go = floods;
      flood->go_at = g_get_monotonic_time ();
    }
  return g_strdup ("go");
}

/* Flood requests that arrived after @after. */
static guint
count_floods_after (GuestVm *vm, gint64 after)
{
  guint count = 0;

  for (guint i = 0; i < vm->requests->len; i++)
    {
      GuestRequest *request = g_ptr_array_index (vm->requests, i);

      if (request->at > after && g_str_equal (request->request, "GET /flood"))
        count++;
    }
  return count;
}

static void
test_flood (void)
{
  g_autoptr(GuestTest) test = guest_test_new ();
  Flood flood = { 0 };

  flood.flooder = guest_test_add_vm (test, "flooder", flood_payload);
  flood.quiet = guest_test_add_vm (test, "quiet", quiet_payload);
  flood.flooder->answer = flood_answer;
  flood.flooder->answer_data = &flood;
  flood.quiet->answer = flood_answer;
  flood.quiet->answer_data = &flood;

  guest_test_run (test);
  guest_test_clean_up (test);
  guest_test_assert_no_errors (test);

  /* The quiet VM was served while the flood went on: it started after
   * FLOOD_BEFORE_GO flood requests, and the flood only stopped after its
   * result had arrived. */
  guest_vm_assert_result (flood.quiet, 0, "served while flooded\n");
  g_assert_cmpuint (flood.floods_at_go, >=, FLOOD_BEFORE_GO);
  g_assert_cmpuint (count_floods_after (flood.flooder, flood.quiet->result_at), >, 0);
  g_test_message ("flood requests: %u before the quiet VM went on, %u while it was served, "
                  "%u after its result",
                  flood.floods_at_go,
                  count_floods_after (flood.flooder, flood.go_at)
                  - count_floods_after (flood.flooder, flood.quiet->result_at),
                  count_floods_after (flood.flooder, flood.quiet->result_at));

  /* The flooder got through its own flood in the end, too. */
  guest_vm_assert_result (flood.flooder, 0, "flood stopped\n");

  /* Neither saw the other's requests. */
  g_assert_cmpuint (guest_vm_count_requests (flood.quiet, "GET /flood"), ==, 0);
  g_assert_cmpuint (guest_vm_count_requests (flood.quiet, "GET /continue"), ==, 0);
  g_assert_cmpuint (guest_vm_count_requests (flood.flooder, "GET /go"), ==, 0);
}

int
main (int argc, char *argv[])
{
  if (!guest_util_init_main (&argc, &argv))
    return 2;

  g_test_add_func ("/guest/e2e/one-vm", test_one_vm);
  g_test_add_func ("/guest/e2e/two-vms", test_two_vms);
  g_test_add_func ("/guest/e2e/isolation", test_isolation);
  g_test_add_func ("/guest/e2e/flood", test_flood);

  return g_test_run ();
}
