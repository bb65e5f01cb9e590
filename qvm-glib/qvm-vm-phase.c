/* qvm-vm-phase.c: the life cycle of QvmVirtualMachine, one phase at a time
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every change of phase goes through qvm_vm_set_phase(), which checks it
 * against one table (after QEMU's own run-state transition table), logs
 * it and derives the public state. What used to be a dozen booleans
 * (start requested, guest started, shutdown requested, QEMU killed, done…)
 * is the phase, or the phase the machine was in when something happened.
 */

#include "config.h"

#include "qvm-coroutine-private.h"
#include "qvm-enum-types.h"
#include "qvm-qemu-argv-private.h"
#include "qvm-vm-private.h"

static const char * const phase_names[QVM_VM_N_PHASES] = {
  [QVM_VM_PHASE_NEW] = "new",
  [QVM_VM_PHASE_CREATED] = "created",
  [QVM_VM_PHASE_SPAWNING] = "spawning",
  [QVM_VM_PHASE_CONNECTING] = "connecting",
  [QVM_VM_PHASE_STARTING_GUEST] = "starting-guest",
  [QVM_VM_PHASE_RUNNING] = "running",
  [QVM_VM_PHASE_PAUSED] = "paused",
  [QVM_VM_PHASE_SHUTTING_DOWN] = "shutting-down",
  [QVM_VM_PHASE_STOPPING] = "stopping",
  [QVM_VM_PHASE_KILLING] = "killing",
  [QVM_VM_PHASE_RELEASING] = "releasing",
  [QVM_VM_PHASE_DONE] = "done",
};

#define TO(phase) (1u << QVM_VM_PHASE_##phase)

/* Where each phase may go. Every live phase may end: STOPPING when the
 * end is decided (or QEMU exited by itself), KILLING once QEMU is sent
 * SIGKILL while alive. */
static const guint legal_next[QVM_VM_N_PHASES] = {
  [QVM_VM_PHASE_NEW] = TO (CREATED),
  /* DONE straight from CREATED: dropped without ever being started. */
  [QVM_VM_PHASE_CREATED] = TO (SPAWNING) | TO (STOPPING) | TO (DONE),
  [QVM_VM_PHASE_SPAWNING] = TO (CONNECTING) | TO (STOPPING),
  [QVM_VM_PHASE_CONNECTING] = TO (STARTING_GUEST) | TO (STOPPING) | TO (KILLING),
  [QVM_VM_PHASE_STARTING_GUEST] = TO (RUNNING) | TO (STOPPING) | TO (KILLING),
  [QVM_VM_PHASE_RUNNING] = TO (PAUSED) | TO (SHUTTING_DOWN) | TO (STOPPING) | TO (KILLING),
  [QVM_VM_PHASE_PAUSED] = TO (RUNNING) | TO (SHUTTING_DOWN) | TO (STOPPING) | TO (KILLING),
  /* Back to RUNNING or PAUSED: a shutdown cancelled while it waited. */
  [QVM_VM_PHASE_SHUTTING_DOWN] = TO (RUNNING) | TO (PAUSED) | TO (STOPPING) | TO (KILLING),
  /* A QEMU spawned after the end was decided is killed then. */
  [QVM_VM_PHASE_STOPPING] = TO (KILLING) | TO (RELEASING),
  [QVM_VM_PHASE_KILLING] = TO (RELEASING),
  [QVM_VM_PHASE_RELEASING] = TO (DONE),
  [QVM_VM_PHASE_DONE] = 0,
};

#undef TO

const char *
qvm_vm_phase_get_name (QvmVmPhase phase)
{
  g_return_val_if_fail (phase < QVM_VM_N_PHASES, "?");

  return phase_names[phase];
}

gboolean
qvm_vm_phase_can_become (QvmVmPhase from,
                         QvmVmPhase to)
{
  g_return_val_if_fail (from < QVM_VM_N_PHASES && to < QVM_VM_N_PHASES, FALSE);

  return (legal_next[from] & (1u << to)) != 0;
}

QvmVmState
qvm_vm_phase_to_state (QvmVmPhase phase)
{
  switch (phase)
    {
    case QVM_VM_PHASE_NEW:
    case QVM_VM_PHASE_CREATED:
      return QVM_VM_STATE_CREATED;
    case QVM_VM_PHASE_SPAWNING:
    case QVM_VM_PHASE_CONNECTING:
    case QVM_VM_PHASE_STARTING_GUEST:
      return QVM_VM_STATE_STARTING;
    case QVM_VM_PHASE_RUNNING:
    case QVM_VM_PHASE_SHUTTING_DOWN:
      /* The guest runs while it is asked to power off. */
      return QVM_VM_STATE_RUNNING;
    case QVM_VM_PHASE_PAUSED:
      return QVM_VM_STATE_PAUSED;
    case QVM_VM_PHASE_STOPPING:
    case QVM_VM_PHASE_KILLING:
    case QVM_VM_PHASE_RELEASING:
      return QVM_VM_STATE_STOPPING;
    case QVM_VM_PHASE_DONE:
    case QVM_VM_N_PHASES:
    default:
      return QVM_VM_STATE_DONE;
    }
}

gboolean
qvm_vm_phase_has_guest (QvmVmPhase phase)
{
  return phase == QVM_VM_PHASE_RUNNING || phase == QVM_VM_PHASE_PAUSED ||
         phase == QVM_VM_PHASE_SHUTTING_DOWN;
}

gboolean
qvm_vm_phase_is_ending (QvmVmPhase phase)
{
  return phase >= QVM_VM_PHASE_STOPPING;
}

gboolean
qvm_vm_set_phase (QvmVirtualMachine *self,
                  QvmVmPhase         phase)
{
  QvmVmPhase old = self->phase;

  if (phase == old)
    return TRUE;
  if (!qvm_vm_phase_can_become (old, phase))
    {
      g_critical ("%s: no transition from phase %s to %s", self->id,
                  qvm_vm_phase_get_name (old), qvm_vm_phase_get_name (phase));
      return FALSE;
    }

  self->phase = phase;
  if (qvm_vm_phase_is_ending (phase) && !qvm_vm_phase_is_ending (old))
    self->end_phase = old;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    QVM_VM_ID_FIELD, self->id,
                    "QVM_VM_PHASE_OLD", qvm_vm_phase_get_name (old),
                    "QVM_VM_PHASE_NEW", qvm_vm_phase_get_name (phase),
                    "MESSAGE", "%s: phase %s -> %s", self->id,
                    qvm_vm_phase_get_name (old), qvm_vm_phase_get_name (phase));

  /* NEW → CREATED is no change to the caller; DONE is applied with the
   * rest of the end, on the main stack (qvm-vm-stop.c). */
  if (phase != QVM_VM_PHASE_DONE &&
      qvm_vm_phase_to_state (phase) != qvm_vm_phase_to_state (old))
    qvm_vm_schedule_state (self, qvm_vm_phase_to_state (phase));
  return TRUE;
}

/* ---- The public state: one ordered queue of changes ---------------------- */

typedef struct {
  QvmVirtualMachine *vm;
  QvmVmState         state;
} StateChange;

static void
state_change_free (gpointer data)
{
  StateChange *change = data;

  g_object_unref (change->vm);
  g_free (change);
}

static gboolean
apply_state (gpointer data)
{
  StateChange *change = data;
  QvmVirtualMachine *self = change->vm;

  /* Nothing goes back from stopping or done. */
  if (self->state == change->state || self->state == QVM_VM_STATE_DONE ||
      (self->state >= QVM_VM_STATE_STOPPING && change->state < QVM_VM_STATE_STOPPING))
    return G_SOURCE_REMOVE;

  g_debug ("%s: state %s -> %s", self->id,
           g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_STATE), self->state)->value_nick,
           g_enum_get_value (g_type_class_peek (QVM_TYPE_VM_STATE), change->state)->value_nick);

  self->state = change->state;
  if (self->state == QVM_VM_STATE_RUNNING && self->vnc_socket == NULL &&
      self->phase != QVM_VM_PHASE_DONE && self->socket_folder != NULL)
    {
      /* QEMU made its VNC socket before it answered on QMP. */
      self->vnc_socket = g_build_filename (self->socket_folder, QVM_QEMU_VNC_SOCKET_NAME, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_VNC_SOCKET]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), qvm_vm_properties[QVM_VM_PROP_STATE]);
  return G_SOURCE_REMOVE;
}

void
qvm_vm_schedule_state (QvmVirtualMachine *self,
                       QvmVmState         state)
{
  StateChange *change = g_new (StateChange, 1);

  change->vm = g_object_ref (self);
  change->state = state;
  qvm_coroutine_invoke_later (self->context, apply_state, change, state_change_free);
}
