/* test-vm-phase.c: the life cycle table of QvmVirtualMachine (suite 'unit')
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The table in qvm-vm-phase.c against a second, independent list of what
 * may follow what; then phases set on a real (never started) machine: the
 * public state each implies, one structured log record per change, and a
 * transition the table does not allow refused with a critical.
 */

#include <glib.h>

#include "qvm.h"
#include "qvm-vm-private.h"
#include "testutil.h"

#define P(name) QVM_VM_PHASE_##name

static const struct {
  QvmVmPhase from;
  QvmVmPhase to;
} legal[] = {
  { P (NEW), P (CREATED) },
  { P (CREATED), P (SPAWNING) }, { P (CREATED), P (STOPPING) }, { P (CREATED), P (DONE) },
  { P (SPAWNING), P (CONNECTING) }, { P (SPAWNING), P (STOPPING) },
  { P (CONNECTING), P (STARTING_GUEST) }, { P (CONNECTING), P (STOPPING) },
  { P (CONNECTING), P (KILLING) },
  { P (STARTING_GUEST), P (RUNNING) }, { P (STARTING_GUEST), P (STOPPING) },
  { P (STARTING_GUEST), P (KILLING) },
  { P (RUNNING), P (PAUSED) }, { P (RUNNING), P (SHUTTING_DOWN) },
  { P (RUNNING), P (STOPPING) }, { P (RUNNING), P (KILLING) },
  { P (PAUSED), P (RUNNING) }, { P (PAUSED), P (SHUTTING_DOWN) },
  { P (PAUSED), P (STOPPING) }, { P (PAUSED), P (KILLING) },
  { P (SHUTTING_DOWN), P (STOPPING) }, { P (SHUTTING_DOWN), P (KILLING) },
  { P (SHUTTING_DOWN), P (RUNNING) }, { P (SHUTTING_DOWN), P (PAUSED) },
  { P (STOPPING), P (KILLING) }, { P (STOPPING), P (RELEASING) },
  { P (KILLING), P (RELEASING) },
  { P (RELEASING), P (DONE) },
};

static gboolean
is_listed (QvmVmPhase from,
           QvmVmPhase to)
{
  for (guint i = 0; i < G_N_ELEMENTS (legal); i++)
    if (legal[i].from == from && legal[i].to == to)
      return TRUE;
  return FALSE;
}

/* Every pair of phases: allowed exactly when listed above. */
static void
test_table (void)
{
  guint allowed = 0;

  for (QvmVmPhase from = 0; from < QVM_VM_N_PHASES; from++)
    for (QvmVmPhase to = 0; to < QVM_VM_N_PHASES; to++)
      {
        gboolean can = qvm_vm_phase_can_become (from, to);

        if (can != is_listed (from, to))
          g_error ("%s -> %s: the table says %s", qvm_vm_phase_get_name (from),
                   qvm_vm_phase_get_name (to), can ? "yes" : "no");
        allowed += can;
      }
  g_assert_cmpuint (allowed, ==, G_N_ELEMENTS (legal));
  /* Nothing leaves DONE, nothing comes back to NEW. */
  for (QvmVmPhase phase = 0; phase < QVM_VM_N_PHASES; phase++)
    {
      g_assert_false (qvm_vm_phase_can_become (P (DONE), phase));
      g_assert_false (qvm_vm_phase_can_become (phase, P (NEW)));
    }
}

/* Which phases have a guest to talk to, which are the end. */
static void
test_kinds (void)
{
  for (QvmVmPhase phase = 0; phase < QVM_VM_N_PHASES; phase++)
    {
      gboolean has_guest = phase == P (RUNNING) || phase == P (PAUSED) ||
                           phase == P (SHUTTING_DOWN);
      gboolean ending = phase == P (STOPPING) || phase == P (KILLING) ||
                        phase == P (RELEASING) || phase == P (DONE);

      g_assert_cmpint (qvm_vm_phase_has_guest (phase), ==, has_guest);
      g_assert_cmpint (qvm_vm_phase_is_ending (phase), ==, ending);
      g_assert_cmpstr (qvm_vm_phase_get_name (phase), !=, "?");
    }
  g_assert_cmpint (qvm_vm_phase_to_state (P (CONNECTING)), ==, QVM_VM_STATE_STARTING);
  g_assert_cmpint (qvm_vm_phase_to_state (P (SHUTTING_DOWN)), ==, QVM_VM_STATE_RUNNING);
  g_assert_cmpint (qvm_vm_phase_to_state (P (KILLING)), ==, QVM_VM_STATE_STOPPING);
}

typedef struct {
  char       *folder;
  char       *socket_folder;
  QvmFolderImage *image;
  QvmUserNetwork *network;
  QvmVirtualMachine *vm;
  GPtrArray  *records;     /* "OLD NEW" of each phase record of the VM */
  GPtrArray  *states;      /* nicks of the public states, in notify order */
} Fixture;

static Fixture *current;

static GLogWriterOutput
record_phases (GLogLevelFlags   level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  const char *id = NULL, *old = NULL, *new = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, QVM_VM_ID_FIELD))
        id = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_VM_PHASE_OLD"))
        old = fields[i].value;
      else if (g_str_equal (fields[i].key, "QVM_VM_PHASE_NEW"))
        new = fields[i].value;
    }
  if (current != NULL && current->vm != NULL && old != NULL && new != NULL &&
      g_strcmp0 (id, qvm_virtual_machine_get_id (current->vm)) == 0)
    g_ptr_array_add (current->records, g_strdup_printf ("%s %s", old, new));
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
on_state (GObject    *object,
          GParamSpec *pspec,
          gpointer    data)
{
  Fixture *fixture = data;
  GEnumClass *states = g_type_class_peek (QVM_TYPE_VM_STATE);
  QvmVmState state = qvm_virtual_machine_get_state (QVM_VIRTUAL_MACHINE (object));

  g_ptr_array_add (fixture->states, g_strdup (g_enum_get_value (states, state)->value_nick));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (64);

  testutil_make_vm_parts ("qvm-test-vm-phase-XXXXXX", &fixture->folder, &fixture->socket_folder,
                          &fixture->image, &fixture->network);
  fixture->records = g_ptr_array_new_with_free_func (g_free);
  fixture->states = g_ptr_array_new_with_free_func (g_free);
  current = fixture;
  fixture->vm = qvm_virtual_machine_new (options, QVM_IMAGE (fixture->image),
                                         QVM_NETWORK (fixture->network), fixture->socket_folder,
                                         NULL, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (fixture->vm, "notify::state", G_CALLBACK (on_state), fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->vm);
  current = NULL;
  testutil_free_vm_parts (&fixture->folder, &fixture->socket_folder, &fixture->image,
                          &fixture->network);
  g_ptr_array_unref (fixture->records);
  g_ptr_array_unref (fixture->states);
}

static void
flush_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* A life from created to releasing: each change logged once, the public
 * state notified only when it changes, in order. */
static void
test_walk (Fixture       *fixture,
           gconstpointer  data)
{
  const QvmVmPhase path[] = {
    P (SPAWNING), P (CONNECTING), P (STARTING_GUEST), P (RUNNING), P (PAUSED), P (RUNNING),
    P (SHUTTING_DOWN), P (STOPPING), P (KILLING), P (RELEASING),
  };
  const char * const expected_states[] = {
    "starting", "running", "paused", "running", "stopping", NULL,
  };
  QvmVmPhase before = fixture->vm->phase;

  g_assert_cmpint (before, ==, P (CREATED));
  g_assert_cmpint (qvm_virtual_machine_get_state (fixture->vm), ==, QVM_VM_STATE_CREATED);
  g_ptr_array_set_size (fixture->records, 0);
  for (guint i = 0; i < G_N_ELEMENTS (path); i++)
    {
      g_autofree char *record = NULL;

      g_assert_true (qvm_vm_set_phase (fixture->vm, path[i]));
      g_assert_cmpint (fixture->vm->phase, ==, path[i]);
      /* The same phase again changes nothing and logs nothing. */
      g_assert_true (qvm_vm_set_phase (fixture->vm, path[i]));
      g_assert_cmpuint (fixture->records->len, ==, i + 1);
      record = g_strdup_printf ("%s %s", qvm_vm_phase_get_name (before),
                                qvm_vm_phase_get_name (path[i]));
      g_assert_cmpstr (fixture->records->pdata[i], ==, record);
      before = path[i];
    }
  /* The end began in SHUTTING_DOWN. */
  g_assert_cmpint (fixture->vm->end_phase, ==, P (SHUTTING_DOWN));

  flush_main_context ();
  g_ptr_array_add (fixture->states, NULL);
  g_assert_cmpstrv ((char **) fixture->states->pdata, expected_states);
}

/* What the table refuses is a critical, and changes nothing. */
static void
test_illegal (Fixture       *fixture,
              gconstpointer  data)
{
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL,
                         "*no transition from phase created to running*");
  g_assert_false (qvm_vm_set_phase (fixture->vm, P (RUNNING)));
  g_test_assert_expected_messages ();
  g_assert_cmpint (fixture->vm->phase, ==, P (CREATED));

  g_assert_true (qvm_vm_set_phase (fixture->vm, P (STOPPING)));
  g_test_expect_message ("Qvm", G_LOG_LEVEL_CRITICAL,
                         "*no transition from phase stopping to running*");
  g_assert_false (qvm_vm_set_phase (fixture->vm, P (RUNNING)));
  g_test_assert_expected_messages ();
  g_assert_cmpint (fixture->vm->phase, ==, P (STOPPING));
  g_assert_cmpint (fixture->vm->end_phase, ==, P (CREATED));
  flush_main_context ();
  g_assert_cmpuint (fixture->states->len, ==, 1);
  g_assert_cmpstr (fixture->states->pdata[0], ==, "stopping");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (record_phases, NULL, NULL);

  g_test_add_func ("/vm-phase/table", test_table);
  g_test_add_func ("/vm-phase/kinds", test_kinds);
  g_test_add ("/vm-phase/walk", Fixture, NULL, fixture_set_up, test_walk, fixture_tear_down);
  g_test_add ("/vm-phase/illegal", Fixture, NULL, fixture_set_up, test_illegal, fixture_tear_down);

  return g_test_run ();
}
