/* qvm-vm-input.c: QvmVirtualMachine's keyboard, as a person would type
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keys go to the guest over QMP `input-send-event`, which has no timing of
 * its own: each press is a key-down event, a short hold, a key-up event,
 * and text is typed at a steady rate (os-autoinst types 30 keys a second)
 * so that a slow guest under TCG loses and doubles nothing. Everything is
 * checked before the first event: an unknown key name, or a character the
 * machine's keyboard layout cannot type, is an error with nothing sent.
 */

#include "config.h"

#include <string.h>

#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-keymap-private.h"
#include "qvm-util-private.h"
#include "qvm-vm-private.h"

#define KEY_HOLD_MS 10             /* key-down to key-up, as a quick typist */
#define CHORD_HOLD_MS 100          /* a chord is held longer, as send-key does */
#define DEFAULT_KEYS_PER_SECOND 30 /* os-autoinst's rate */
#define MAX_KEYS_PER_SECOND 1000

/* ---- Events ------------------------------------------------------------------ */

/* {"type": "key", "data": {"down": …, "key": {"type": "qcode"|"number", …}}} */
static void
add_key_event (JsonArray  *events,
               const char *key_code,
               guint       number,
               gboolean    down)
{
  JsonObject *key = json_object_new ();
  JsonObject *data = json_object_new ();
  JsonObject *event = json_object_new ();

  if (key_code != NULL)
    {
      json_object_set_string_member (key, "type", "qcode");
      json_object_set_string_member (key, "data", key_code);
    }
  else
    {
      json_object_set_string_member (key, "type", "number");
      json_object_set_int_member (key, "data", number);
    }
  json_object_set_boolean_member (data, "down", down);
  json_object_set_object_member (data, "key", key);
  json_object_set_string_member (event, "type", "key");
  json_object_set_object_member (event, "data", data);
  json_array_add_object_element (events, event);
}

static gboolean
send_events (QvmVirtualMachine  *self,
             JsonArray          *events,
             GCancellable       *cancellable,
             GError            **error)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) answer = NULL;

  json_object_set_array_member (arguments, "events", json_array_ref (events));
  answer = qvm_vm_execute (self, "input-send-event", arguments, cancellable, error);
  return answer != NULL;
}

/* ---- Chords -------------------------------------------------------------------- */

/* Presses the keys of @key_codes together, in order, holds them, and
 * lets them go in the reverse order. */
static gboolean
press_chord (QvmVirtualMachine  *self,
             char              **key_codes,
             GCancellable       *cancellable,
             GError            **error)
{
  g_autoptr(JsonArray) downs = json_array_new ();
  g_autoptr(JsonArray) ups = json_array_new ();
  guint n = g_strv_length (key_codes);

  for (guint i = 0; i < n; i++)
    {
      add_key_event (downs, key_codes[i], 0, TRUE);
      add_key_event (ups, key_codes[n - 1 - i], 0, FALSE);
    }
  return send_events (self, downs, cancellable, error) &&
         qvm_coroutine_sleep (CHORD_HOLD_MS, cancellable, error) &&
         send_events (self, ups, NULL, error);
}

static void
send_keys_co (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  char **key_codes = task_data;
  g_autoptr(GError) error = NULL;

  if (!qvm_vm_check_running (self, &error) ||
      !press_chord (self, key_codes, cancellable, &error))
    qvm_task_return_error (task, g_steal_pointer (&error));
  else
    qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_send_keys_async:
 * @vm: a virtual machine
 * @keys: the keys to press together, named as QEMU names them and joined
 *   by `-`: `"ret"`, `"ctrl-alt-delete"`, `"alt-f2"`, `"shift-tab"`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the keys were pressed and let go
 * @user_data: data for @callback
 *
 * Presses the keys of @keys in order, holds them for 100 ms and lets them
 * go in the reverse order (QMP `input-send-event`). The names are QEMU's
 * key codes (`QKeyCode`: `a`, `1`, `ret`, `spc`, `esc`, `tab`,
 * `backspace`, `ctrl`, `alt`, `alt_r`, `shift`, `meta_l`, `f1`…`f12`,
 * `up`, `delete`, `pgup`…) or a few common aliases (`enter`, `space`,
 * `escape`, `control`, `super`, `del`, `pageup`, `pagedown`), in any
 * case. They name keys, not characters: to type text, use
 * [method@Qvm.VirtualMachine.type_text_async].
 *
 * A name that is no key fails with %QVM_ERROR_FAILED before anything is
 * sent; a machine that does not run fails with %QVM_ERROR_INVALID_STATE.
 */
void
qvm_virtual_machine_send_keys_async (QvmVirtualMachine   *vm,
                                     const char          *keys,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  char **key_codes;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (keys != NULL);

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_send_keys_async);
  key_codes = qvm_key_chord_parse (keys, &error);
  if (key_codes == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, key_codes, (GDestroyNotify) g_strfreev);
  qvm_coroutine_run_task (task, send_keys_co);
}

/**
 * qvm_virtual_machine_send_keys_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.send_keys_async].
 *
 * Returns: %TRUE once the keys were pressed and let go
 */
gboolean
qvm_virtual_machine_send_keys_finish (QvmVirtualMachine  *vm,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_send_keys_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Text ------------------------------------------------------------------------- */

typedef struct {
  GArray *strokes;   /* of QvmKeyStroke */
  guint   interval_ms;
} Typing;

static void
typing_free (Typing *typing)
{
  g_array_unref (typing->strokes);
  g_free (typing);
}

/* One character: its modifiers down, its key down and up, the modifiers
 * up; one key event a command, with the key held KEY_HOLD_MS. */
static gboolean
type_stroke (QvmVirtualMachine  *self,
             const QvmKeyStroke *stroke,
             GCancellable       *cancellable,
             GError            **error)
{
  g_autoptr(JsonArray) downs = json_array_new ();
  g_autoptr(JsonArray) ups = json_array_new ();

  if (stroke->shift)
    add_key_event (downs, "shift", 0, TRUE);
  if (stroke->altgr)
    add_key_event (downs, "alt_r", 0, TRUE);
  add_key_event (downs, NULL, stroke->number, TRUE);
  add_key_event (ups, NULL, stroke->number, FALSE);
  if (stroke->altgr)
    add_key_event (ups, "alt_r", 0, FALSE);
  if (stroke->shift)
    add_key_event (ups, "shift", 0, FALSE);

  /* Once a key is down it is let go, cancelled or not: no key stays
   * pressed in the guest. */
  return send_events (self, downs, cancellable, error) &&
         qvm_coroutine_sleep (KEY_HOLD_MS, NULL, NULL) &&
         send_events (self, ups, NULL, error);
}

static void
type_text_co (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  Typing *typing = task_data;
  g_autoptr(GError) error = NULL;
  gint64 began = g_get_monotonic_time ();

  if (!qvm_vm_check_running (self, &error))
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < typing->strokes->len; i++)
    {
      const QvmKeyStroke *stroke = &g_array_index (typing->strokes, QvmKeyStroke, i);
      /* Each key at its own time from the start, so that the time QMP
       * takes does not add up over the text. */
      gint64 next = began + (gint64) (i + 1) * typing->interval_ms * 1000;
      gint64 wait_ms = (next - g_get_monotonic_time ()) / 1000;

      if (!type_stroke (self, stroke, cancellable, &error) ||
          (i + 1 < typing->strokes->len && wait_ms > 0 &&
           !qvm_coroutine_sleep ((guint) wait_ms, cancellable, &error)))
        {
          g_prefix_error (&error, _("Typing stopped after %u of %u characters: "), i, typing->strokes->len);
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  qvm_task_return_boolean (task, TRUE);
}

/* The machine's layout, loaded from QEMU's keymaps once. */
static QvmKeymap *
get_keymap (QvmVirtualMachine  *self,
            GError            **error)
{
  if (self->keymap == NULL)
    {
      g_autofree char *found = strchr (self->qemu_binary, '/') != NULL ?
                               g_strdup (self->qemu_binary) :
                               g_find_program_in_path (self->qemu_binary);
      g_autofree char *folder = qvm_keymap_folder_for_qemu (found != NULL ? found : "/usr/bin/qemu");

      self->keymap = qvm_keymap_load (folder, qvm_machine_get_keyboard_layout (self->machine), error);
    }
  return self->keymap;
}

/**
 * qvm_virtual_machine_type_text_async:
 * @vm: a virtual machine
 * @text: the text to type, UTF-8; `\n` presses Return, `\t` Tab
 * @keys_per_second: the rate, at most 1000; 0 for 30, os-autoinst's
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the last key was let go
 * @user_data: data for @callback
 *
 * Types @text on the guest's keyboard, each character a key-down and a
 * key-up (with Shift or AltGr around it when the character needs one) at
 * @keys_per_second. Which key types which character is what the
 * machine's keyboard layout ([property@Qvm.Machine:keyboard-layout]) says,
 * read from QEMU's own keymap of that layout, so a guest set up for the
 * same layout sees @text. A character the layout cannot type (or a @text
 * that is not UTF-8) fails with %QVM_ERROR_FAILED, naming it, before
 * anything is typed.
 *
 * Cancelling stops typing after the key being typed is let go; the error
 * says how many characters were typed.
 */
void
qvm_virtual_machine_type_text_async (QvmVirtualMachine   *vm,
                                     const char          *text,
                                     guint                keys_per_second,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  QvmKeymap *keymap;
  GArray *strokes = NULL;
  Typing *typing;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (text != NULL);
  g_return_if_fail (keys_per_second <= MAX_KEYS_PER_SECOND);

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_type_text_async);
  if (!qvm_vm_check_constructed (vm, &error) ||
      (keymap = get_keymap (vm, &error)) == NULL ||
      (strokes = qvm_keymap_strokes_for_text (keymap, text, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  typing = g_new0 (Typing, 1);
  typing->strokes = strokes;
  typing->interval_ms = 1000 / (keys_per_second != 0 ? keys_per_second : DEFAULT_KEYS_PER_SECOND);
  g_task_set_task_data (task, typing, (GDestroyNotify) typing_free);
  qvm_coroutine_run_task (task, type_text_co);
}

/**
 * qvm_virtual_machine_type_text_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.type_text_async].
 *
 * Returns: %TRUE once all of the text was typed
 */
gboolean
qvm_virtual_machine_type_text_finish (QvmVirtualMachine  *vm,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_type_text_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Blocking forms ------------------------------------------------------------- */

/**
 * qvm_virtual_machine_send_keys:
 * @vm: a virtual machine
 * @keys: the keys to press together, as for
 *   [method@Qvm.VirtualMachine.send_keys_async]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.send_keys_async], with
 * the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the keys were pressed and let go
 */
gboolean
qvm_virtual_machine_send_keys (QvmVirtualMachine  *vm,
                               const char         *keys,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_send_keys_async (vm, keys, cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_send_keys_finish (vm, qvm_sync_end (&sync), error);
}

/**
 * qvm_virtual_machine_type_text:
 * @vm: a virtual machine
 * @text: the text to type, UTF-8
 * @keys_per_second: the rate, at most 1000; 0 for 30
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.type_text_async], with
 * the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once all of the text was typed
 */
gboolean
qvm_virtual_machine_type_text (QvmVirtualMachine  *vm,
                               const char         *text,
                               guint               keys_per_second,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_type_text_async (vm, text, keys_per_second, cancellable,
                                       qvm_sync_store_result, &sync);
  return qvm_virtual_machine_type_text_finish (vm, qvm_sync_end (&sync), error);
}

/* ---- Pointer ---------------------------------------------------------------------- */

#define ABS_AXIS_MAX 0x7fff  /* QEMU's absolute axis: 0 … 0x7fff across the screen */
#define BUTTON_HOLD_MS 50

/* The absolute axis value of pixel @position on a screen @size pixels
 * wide: the first pixel is 0, the last ABS_AXIS_MAX. */
guint
qvm_vm_pointer_axis_value (guint position,
                           guint size)
{
  if (size <= 1)
    return 0;
  position = MIN (position, size - 1);
  return (guint) (((guint64) position * ABS_AXIS_MAX + (size - 1) / 2) / (size - 1));
}

static void
add_abs_event (JsonArray  *events,
               const char *axis,
               guint       value)
{
  JsonObject *data = json_object_new ();
  JsonObject *event = json_object_new ();

  json_object_set_string_member (data, "axis", axis);
  json_object_set_int_member (data, "value", value);
  json_object_set_string_member (event, "type", "abs");
  json_object_set_object_member (event, "data", data);
  json_array_add_object_element (events, event);
}

static void
add_button_event (JsonArray  *events,
                  const char *button,
                  gboolean    down)
{
  JsonObject *data = json_object_new ();
  JsonObject *event = json_object_new ();

  json_object_set_string_member (data, "button", button);
  json_object_set_boolean_member (data, "down", down);
  json_object_set_string_member (event, "type", "btn");
  json_object_set_object_member (event, "data", data);
  json_array_add_object_element (events, event);
}

typedef struct {
  guint x;
  guint y;
} PointerMove;

static void
pointer_move_co (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  PointerMove *move = task_data;
  g_autoptr(JsonArray) events = json_array_new ();
  g_autoptr(GError) error = NULL;

  if (!qvm_vm_check_running (self, &error))
    {
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!qvm_machine_get_tablet (self->machine))
    {
      qvm_task_return_error (task, g_error_new (QVM_ERROR, QVM_ERROR_INVALID_STATE,
                                                _("The machine has no tablet to move (its machine.json "
                                                  "says \"tablet\": false)")));
      return;
    }
  /* Coordinates are pixels of the screen: learn its size once. */
  if (self->screen_width == 0)
    {
      g_autoptr(GdkPixbuf) screen = qvm_vm_take_screenshot (self, cancellable, &error);

      if (screen == NULL)
        {
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  if (move->x >= (guint) self->screen_width || move->y >= (guint) self->screen_height)
    {
      qvm_task_return_error (task, g_error_new (QVM_ERROR, QVM_ERROR_FAILED,
                                                _("The point %u,%u lies outside the screen (%d×%d pixels)"),
                                                move->x, move->y, self->screen_width, self->screen_height));
      return;
    }
  add_abs_event (events, "x", qvm_vm_pointer_axis_value (move->x, self->screen_width));
  add_abs_event (events, "y", qvm_vm_pointer_axis_value (move->y, self->screen_height));
  if (!send_events (self, events, cancellable, &error))
    qvm_task_return_error (task, g_steal_pointer (&error));
  else
    qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_pointer_move_async:
 * @vm: a virtual machine
 * @x: the column, in pixels of the guest's screen from its left edge
 * @y: the row, in pixels from its top edge
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the pointer was moved
 * @user_data: data for @callback
 *
 * Moves the guest's pointer to @x, @y on its screen, as an absolute
 * pointing device (the machine's USB tablet) does: the coordinates are
 * those of a screenshot ([method@Qvm.VirtualMachine.screenshot_async]) of
 * the screen as it is, for example where a match of the screen was
 * found. The
 * size of the screen is that of the last screenshot; before any, one is
 * taken first. A point outside the screen fails with %QVM_ERROR_FAILED.
 */
void
qvm_virtual_machine_pointer_move_async (QvmVirtualMachine   *vm,
                                        guint                x,
                                        guint                y,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  PointerMove *move;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_pointer_move_async);
  move = g_new0 (PointerMove, 1);
  move->x = x;
  move->y = y;
  g_task_set_task_data (task, move, g_free);
  qvm_coroutine_run_task (task, pointer_move_co);
}

/**
 * qvm_virtual_machine_pointer_move_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.pointer_move_async].
 *
 * Returns: %TRUE once the pointer was moved
 */
gboolean
qvm_virtual_machine_pointer_move_finish (QvmVirtualMachine  *vm,
                                         GAsyncResult       *result,
                                         GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_pointer_move_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static const char *
button_name (QvmPointerButton button)
{
  switch (button)
    {
    case QVM_POINTER_BUTTON_LEFT:
      return "left";
    case QVM_POINTER_BUTTON_MIDDLE:
      return "middle";
    case QVM_POINTER_BUTTON_RIGHT:
      return "right";
    case QVM_POINTER_BUTTON_WHEEL_UP:
      return "wheel-up";
    case QVM_POINTER_BUTTON_WHEEL_DOWN:
      return "wheel-down";
    default:
      return NULL;
    }
}

static void
pointer_click_co (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  const char *button = task_data;
  g_autoptr(JsonArray) down = json_array_new ();
  g_autoptr(JsonArray) up = json_array_new ();
  g_autoptr(GError) error = NULL;

  add_button_event (down, button, TRUE);
  add_button_event (up, button, FALSE);
  /* Once down, the button is let go, cancelled or not. */
  if (!qvm_vm_check_running (self, &error) ||
      !send_events (self, down, cancellable, &error) ||
      !qvm_coroutine_sleep (BUTTON_HOLD_MS, NULL, NULL) ||
      !send_events (self, up, NULL, &error))
    qvm_task_return_error (task, g_steal_pointer (&error));
  else
    qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_pointer_click_async:
 * @vm: a virtual machine
 * @button: the button
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the button was let go
 * @user_data: data for @callback
 *
 * Presses @button where the pointer is, holds it for 50 ms and lets it
 * go. For a double click, click twice; to click somewhere, move the
 * pointer there first ([method@Qvm.VirtualMachine.pointer_move_async]).
 */
void
qvm_virtual_machine_pointer_click_async (QvmVirtualMachine   *vm,
                                         QvmPointerButton     button,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  const char *name = button_name (button);

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (name != NULL);

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_pointer_click_async);
  g_task_set_task_data (task, (gpointer) name, NULL);
  qvm_coroutine_run_task (task, pointer_click_co);
}

/**
 * qvm_virtual_machine_pointer_click_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.pointer_click_async].
 *
 * Returns: %TRUE once the button was let go
 */
gboolean
qvm_virtual_machine_pointer_click_finish (QvmVirtualMachine  *vm,
                                          GAsyncResult       *result,
                                          GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_pointer_click_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qvm_virtual_machine_pointer_move:
 * @vm: a virtual machine
 * @x: the column, in pixels of the guest's screen
 * @y: the row, in pixels
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.pointer_move_async],
 * with the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the pointer was moved
 */
gboolean
qvm_virtual_machine_pointer_move (QvmVirtualMachine  *vm,
                                  guint               x,
                                  guint               y,
                                  GCancellable       *cancellable,
                                  GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_pointer_move_async (vm, x, y, cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_pointer_move_finish (vm, qvm_sync_end (&sync), error);
}

/**
 * qvm_virtual_machine_pointer_click:
 * @vm: a virtual machine
 * @button: the button
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.pointer_click_async],
 * with the same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the button was let go
 */
gboolean
qvm_virtual_machine_pointer_click (QvmVirtualMachine  *vm,
                                   QvmPointerButton    button,
                                   GCancellable       *cancellable,
                                   GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_pointer_click_async (vm, button, cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_pointer_click_finish (vm, qvm_sync_end (&sync), error);
}
