/* test-vm-api.c: QvmVirtualMachine's construction and public API shape,
 * without QEMU
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every case runs with criticals fatal: a user's mistake must be a GError.
 */

#include "config.h"

#include <string.h>

#include "qvm.h"
#include "testutil.h"

typedef struct {
  char           *folder;
  char           *socket_folder;
  QvmFolderImage *image;
  QvmUserNetwork *network;
  GPtrArray      *events;   /* in order: "done", or the state notified (its name) */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  testutil_make_vm_parts ("qvm-test-vm-api-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);
  fixture->events = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  testutil_free_vm_parts (&fixture->folder, &fixture->socket_folder, &fixture->image,
                          &fixture->network);
  g_ptr_array_unref (fixture->events);
}

static void
on_done (QvmVirtualMachine *vm,
         gpointer           data)
{
  Fixture *fixture = data;

  g_ptr_array_add (fixture->events, g_strdup ("done"));
}

static void
on_state (GObject    *object,
          GParamSpec *pspec,
          gpointer    data)
{
  Fixture *fixture = data;

  g_ptr_array_add (fixture->events,
                   g_enum_to_string (QVM_TYPE_VM_STATE,
                                     qvm_virtual_machine_get_state (QVM_VIRTUAL_MACHINE (object))));
}

static void
set_flag (QvmVirtualMachine *vm,
          gpointer           flag)
{
  *(gboolean *) flag = TRUE;
}

/* Kills @vm and iterates until it is done. */
static void
kill_and_wait (Fixture           *fixture,
               QvmVirtualMachine *vm)
{
  gboolean done = FALSE;

  g_signal_connect (vm, "done", G_CALLBACK (set_flag), &done);
  qvm_virtual_machine_kill (vm);
  testutil_iterate_until (NULL, &done, 30);
}

/* g_object_new() with the construct properties makes the machine
 * qvm_virtual_machine_new() makes. */
static void
test_properties (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GError) error = NULL;

  vm = g_object_new (QVM_TYPE_VIRTUAL_MACHINE,
                     "options", options,
                     "image", fixture->image,
                     "network", fixture->network,
                     "socket-folder", fixture->socket_folder,
                     NULL);
  g_assert_true (g_initable_init (G_INITABLE (vm), NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (qvm_virtual_machine_get_machine (vm));
  g_assert_cmpuint (qvm_machine_get_memory (qvm_virtual_machine_get_machine (vm)), ==, 64);
  g_assert_cmpint (qvm_virtual_machine_get_state (vm), ==, QVM_VM_STATE_CREATED);

  kill_and_wait (fixture, vm);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (vm), ==, QVM_VM_DONE_REASON_KILLED);
}

/* A required property left out: a GError from init and from every
 * operation, never a critical. */
static void
test_missing_property (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GError) error = NULL;
  TestutilWait start = { FALSE, NULL };
  TestutilWait shutdown = { FALSE, NULL };

  vm = g_object_new (QVM_TYPE_VIRTUAL_MACHINE,
                     "options", options,
                     "network", fixture->network,
                     "socket-folder", fixture->socket_folder,
                     NULL);
  g_assert_false (g_initable_init (G_INITABLE (vm), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "“image”"));
  g_clear_error (&error);
  g_assert_null (qvm_virtual_machine_get_machine (vm));

  qvm_virtual_machine_start_async (vm, NULL, testutil_on_wait_done, &start);
  testutil_iterate_until (NULL, &start.done, 30);
  g_assert_false (qvm_virtual_machine_start_finish (vm, start.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_object (&start.result);

  qvm_virtual_machine_shutdown_async (vm, 1000, NULL, testutil_on_wait_done, &shutdown);
  testutil_iterate_until (NULL, &shutdown.done, 30);
  g_assert_false (qvm_virtual_machine_shutdown_finish (vm, shutdown.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_object (&shutdown.result);

  qvm_virtual_machine_kill (vm);
  g_assert_cmpint (qvm_virtual_machine_get_state (vm), ==, QVM_VM_STATE_CREATED);
}

/* The other public classes made by g_object_new() work, or say why not
 * with a GError. */
static void
test_other_classes (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *store_folder = g_build_filename (fixture->folder, "store", NULL);
  g_autofree char *bare_folder = g_build_filename (fixture->folder, "bare", NULL);
  g_autoptr(QvmImageStore) store = NULL;
  g_autoptr(QvmImageStore) no_folder = NULL;
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmFolderImage) bare = NULL;
  g_autoptr(GFile) archive = g_file_new_for_path (fixture->folder);
  g_autoptr(GError) error = NULL;
  TestutilWait instance = { FALSE, NULL };

  store = g_object_new (QVM_TYPE_IMAGE_STORE, "folder", store_folder, NULL);
  g_assert_true (g_initable_init (G_INITABLE (store), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (store_folder, G_FILE_TEST_IS_DIR));

  no_folder = g_object_new (QVM_TYPE_IMAGE_STORE, NULL);
  g_assert_false (g_initable_init (G_INITABLE (no_folder), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  qvm_image_store_instance_async (no_folder, "id", archive, NULL, testutil_on_wait_done, &instance);
  testutil_iterate_until (NULL, &instance.done, 30);
  g_assert_null (qvm_image_store_instance_finish (no_folder, instance.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_object (&instance.result);

  network = g_object_new (QVM_TYPE_USER_NETWORK, "folder", fixture->folder, NULL);
  g_assert_true (g_initable_init (G_INITABLE (network), NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (qvm_user_network_get_socket_path (network));
  g_free (qvm_network_get_netdev (QVM_NETWORK (network), "net0", &error));
  g_assert_no_error (error);

  bare = g_object_new (QVM_TYPE_FOLDER_IMAGE, "folder", bare_folder, NULL);
  g_assert_false (qvm_image_acquire (QVM_IMAGE (bare), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (qvm_folder_image_delete (bare, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* QvmVmState's docs: DONE means "done" has been emitted, so its
 * notification comes after the signal. */
static void
test_done_before_state (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(GError) error = NULL;
  const char *expected[] = { "QVM_VM_STATE_STOPPING", "done", "QVM_VM_STATE_DONE", NULL };

  vm = qvm_virtual_machine_new (options, QVM_IMAGE (fixture->image),
                                QVM_NETWORK (fixture->network), fixture->socket_folder,
                                NULL, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (vm, "done", G_CALLBACK (on_done), fixture);
  g_signal_connect (vm, "notify::state", G_CALLBACK (on_state), fixture);

  kill_and_wait (fixture, vm);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_add (fixture->events, NULL);
  g_assert_cmpstrv ((char **) fixture->events->pdata, expected);
}

/* The accelerator is an enum property; a $QVM_ACCEL that names none fails
 * the start with a GError that says where the name came from, unless the
 * caller sets one. */
static void
test_accel (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(QvmVirtualMachine) overridden = NULL;
  g_autoptr(GError) error = NULL;
  TestutilWait start = { FALSE, NULL };
  guint notified = 0;
  QvmAccel accel = QVM_ACCEL_AUTO;

  g_setenv ("QVM_ACCEL", "warp-drive", TRUE);
  vm = qvm_virtual_machine_new (options, QVM_IMAGE (fixture->image),
                                QVM_NETWORK (fixture->network), fixture->socket_folder,
                                NULL, NULL, &error);
  g_unsetenv ("QVM_ACCEL");
  g_assert_no_error (error);
  g_assert_cmpint (qvm_virtual_machine_get_accel (vm), ==, QVM_ACCEL_AUTO);
  g_signal_connect (vm, "done", G_CALLBACK (on_done), fixture);
  qvm_virtual_machine_start_async (vm, NULL, testutil_on_wait_done, &start);
  testutil_iterate_until (NULL, &start.done, 30);
  g_assert_false (qvm_virtual_machine_start_finish (vm, start.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "QVM_ACCEL: Unknown accelerator “warp-drive”: expected auto, kvm or tcg");
  g_clear_error (&error);
  g_clear_object (&start.result);
  g_assert_cmpint (qvm_virtual_machine_get_done_reason (vm), ==, QVM_VM_DONE_REASON_FAILED);
  g_assert_cmpuint (fixture->events->len, ==, 1);

  /* Set by the caller, the property wins over the environment. */
  g_setenv ("QVM_ACCEL", "kvm", TRUE);
  overridden = g_object_new (QVM_TYPE_VIRTUAL_MACHINE, NULL);
  g_unsetenv ("QVM_ACCEL");
  g_assert_cmpint (qvm_virtual_machine_get_accel (overridden), ==, QVM_ACCEL_KVM);
  g_signal_connect (overridden, "notify::accel", G_CALLBACK (testutil_count_notify), &notified);
  qvm_virtual_machine_set_accel (overridden, QVM_ACCEL_TCG);
  qvm_virtual_machine_set_accel (overridden, QVM_ACCEL_TCG);
  g_assert_cmpuint (notified, ==, 1);
  g_object_get (overridden, "accel", &accel, NULL);
  g_assert_cmpint (accel, ==, QVM_ACCEL_TCG);
}

/* Options may be left out: the defaults. The short constructor has no
 * CD-ROMs; set_cdroms() adds them before the start, checked, and all or
 * nothing. */
static void
test_short_forms (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(QvmVirtualMachine) simple = NULL;
  g_autoptr(QvmMachineOptions) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *iso1 = g_build_filename (fixture->folder, "one.iso", NULL);
  g_autofree char *iso2 = g_build_filename (fixture->folder, "two.iso", NULL);
  g_autofree char *missing = g_build_filename (fixture->folder, "missing.iso", NULL);
  g_autofree char *cdrom1 = NULL;
  g_autofree char *cdrom2 = NULL;
  const char *two[] = { iso1, iso2, NULL };
  const char *three[] = { iso1, iso2, iso1, NULL };
  const char *bad[] = { iso2, missing, NULL };
  guint notified = 0;

  g_assert_true (g_file_set_contents (iso1, "1", 1, NULL));
  g_assert_true (g_file_set_contents (iso2, "2", 1, NULL));

  vm = qvm_virtual_machine_new (NULL, QVM_IMAGE (fixture->image), QVM_NETWORK (fixture->network),
                                fixture->socket_folder, NULL, NULL, &error);
  g_assert_no_error (error);
  g_object_get (vm, "options", &options, NULL);
  g_assert_cmpuint (qvm_machine_options_get_max_memory (options), ==,
                    QVM_MACHINE_OPTIONS_DEFAULT_MAX_MEMORY);
  g_clear_object (&vm);

  simple = qvm_virtual_machine_new_simple (QVM_IMAGE (fixture->image),
                                           QVM_NETWORK (fixture->network),
                                           fixture->socket_folder, &error);
  g_assert_no_error (error);
  g_signal_connect (simple, "notify::cdrom1", G_CALLBACK (testutil_count_notify), &notified);
  g_signal_connect (simple, "notify::cdrom2", G_CALLBACK (testutil_count_notify), &notified);

  g_assert_true (qvm_virtual_machine_set_cdroms (simple, two, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 2);

  g_assert_false (qvm_virtual_machine_set_cdroms (simple, three, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (qvm_virtual_machine_set_cdroms (simple, bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "missing.iso"));
  g_clear_error (&error);
  g_assert_cmpuint (notified, ==, 2);
  g_object_get (simple, "cdrom1", &cdrom1, "cdrom2", &cdrom2, NULL);
  g_assert_cmpstr (cdrom1, ==, iso1);
  g_assert_cmpstr (cdrom2, ==, iso2);

  g_assert_true (qvm_virtual_machine_set_cdroms (simple, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 4);

  kill_and_wait (fixture, simple);
  g_assert_false (qvm_virtual_machine_set_cdroms (simple, two, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

/* Instances of one image share its UUID and MAC; a machine can have its
 * own, given or generated, validated as machine.json is, before the
 * start only. */
static void
test_identity (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(QvmVirtualMachine) vm = NULL;
  g_autoptr(QvmVirtualMachine) other = NULL;
  g_autoptr(GError) error = NULL;
  QvmMachine *image_machine = qvm_image_get_machine (QVM_IMAGE (fixture->image));
  QvmMachine *machine;
  guint notified = 0;

  vm = qvm_virtual_machine_new_simple (QVM_IMAGE (fixture->image), QVM_NETWORK (fixture->network),
                                       fixture->socket_folder, &error);
  g_assert_no_error (error);
  other = qvm_virtual_machine_new_simple (QVM_IMAGE (fixture->image),
                                          QVM_NETWORK (fixture->network),
                                          fixture->socket_folder, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_machine_get_uuid (qvm_virtual_machine_get_machine (vm)), ==,
                   qvm_machine_get_uuid (qvm_virtual_machine_get_machine (other)));
  g_signal_connect (vm, "notify::machine", G_CALLBACK (testutil_count_notify), &notified);

  g_assert_true (qvm_virtual_machine_set_uuid (vm, "6b0f3f7e-2a57-4c1e-9d0b-1f3c5e7a9b2d", &error));
  g_assert_no_error (error);
  g_assert_true (qvm_virtual_machine_set_mac_address (vm, "02:5e:1a:00:00:07", &error));
  g_assert_no_error (error);
  machine = qvm_virtual_machine_get_machine (vm);
  g_assert_cmpstr (qvm_machine_get_uuid (machine), ==, "6b0f3f7e-2a57-4c1e-9d0b-1f3c5e7a9b2d");
  g_assert_cmpstr (qvm_machine_get_mac_address (machine), ==, "02:5e:1a:00:00:07");
  /* The rest of the hardware, and the image's own machine, stay. */
  g_assert_cmpuint (qvm_machine_get_memory (machine), ==,
                    qvm_machine_get_memory (qvm_virtual_machine_get_machine (other)));
  g_assert_cmpstr (qvm_machine_get_network_device (machine), ==,
                   qvm_machine_get_network_device (image_machine));
  g_assert_cmpstr (qvm_machine_get_uuid (image_machine), !=, qvm_machine_get_uuid (machine));
  g_assert_cmpuint (notified, ==, 2);

  /* Generated: new, valid ones. */
  g_assert_true (qvm_virtual_machine_set_uuid (other, NULL, &error));
  g_assert_true (qvm_virtual_machine_set_mac_address (other, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (qvm_machine_get_uuid (qvm_virtual_machine_get_machine (other)), !=,
                   qvm_machine_get_uuid (image_machine));
  g_assert_cmpstr (qvm_machine_get_mac_address (qvm_virtual_machine_get_machine (other)), !=,
                   qvm_machine_get_mac_address (image_machine));

  /* Refused as machine.json would be; nothing changes. */
  g_assert_false (qvm_virtual_machine_set_mac_address (vm, "01:00:5e:00:00:01", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "multicast"));
  g_clear_error (&error);
  g_assert_false (qvm_virtual_machine_set_uuid (vm, "not-a-uuid", &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD);
  g_clear_error (&error);
  g_assert_true (qvm_virtual_machine_get_machine (vm) == machine);
  g_assert_cmpuint (notified, ==, 2);

  kill_and_wait (fixture, vm);
  g_assert_false (qvm_virtual_machine_set_uuid (vm, NULL, &error));
  g_assert_error (error, QVM_ERROR, QVM_ERROR_INVALID_STATE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);

  g_test_add ("/vm-api/construct/properties", Fixture, NULL,
              fixture_set_up, test_properties, fixture_tear_down);
  g_test_add ("/vm-api/construct/missing-property", Fixture, NULL,
              fixture_set_up, test_missing_property, fixture_tear_down);
  g_test_add ("/vm-api/construct/other-classes", Fixture, NULL,
              fixture_set_up, test_other_classes, fixture_tear_down);
  g_test_add ("/vm-api/state/done-before-state", Fixture, NULL,
              fixture_set_up, test_done_before_state, fixture_tear_down);
  g_test_add ("/vm-api/accel", Fixture, NULL, fixture_set_up, test_accel, fixture_tear_down);
  g_test_add ("/vm-api/short-forms", Fixture, NULL,
              fixture_set_up, test_short_forms, fixture_tear_down);
  g_test_add ("/vm-api/identity", Fixture, NULL, fixture_set_up, test_identity, fixture_tear_down);

  return g_test_run ();
}
