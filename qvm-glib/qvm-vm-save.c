/* qvm-vm-save.c: QvmVirtualMachine's running state saved to a file
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU's own migration engine writes the state: the library passes it one
 * end of a pipe (getfd) and starts `migrate fd:NAME`, the way libvirt and
 * os-autoinst save; a coroutine reads the other end and writes it
 * zstd-compressed to a temporary file beside the target, renamed over it
 * once QEMU says the migration completed. The guest is stopped first, so
 * that the state and the disk describe one moment.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "qvm-coroutine-gio-private.h"
#include "qvm-error.h"
#include "qvm-fs-private.h"
#include "qvm-i18n-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-util-private.h"
#include "qvm-vm-private.h"

#define MIGRATION_FD_NAME "qvm-save"
#define RESTORE_FD_NAME "qvm-restore"
#define CHUNK (256 * 1024)
#define STATUS_POLL_MS 20
/* QEMU's default migration bandwidth is 128 MiB/s: a save to a pipe on the
 * same host wants none at all. */
#define UNLIMITED_BANDWIDTH G_GINT64_CONSTANT (0x7fffffffffffffff)

typedef struct {
  char          *target;
  QvmSaveFlags   flags;
} SaveRequest;

static void
save_request_free (SaveRequest *request)
{
  g_free (request->target);
  g_free (request);
}

/* ---- QMP ------------------------------------------------------------------------ */

static gboolean
prepare_migration (QvmVirtualMachine  *self,
                   GCancellable       *cancellable,
                   GError            **error)
{
  g_autoptr(JsonObject) capabilities = json_object_new ();
  g_autoptr(JsonObject) parameters = json_object_new ();
  g_autoptr(JsonArray) list = json_array_new ();
  g_autoptr(JsonObject) events = json_object_new ();
  g_autoptr(JsonNode) answer = NULL;

  json_object_set_string_member (events, "capability", "events");
  json_object_set_boolean_member (events, "state", TRUE);
  json_array_add_object_element (list, json_object_ref (events));
  json_object_set_array_member (capabilities, "capabilities", json_array_ref (list));
  answer = qvm_vm_execute (self, "migrate-set-capabilities", capabilities, cancellable, error);
  if (answer == NULL)
    return FALSE;
  g_clear_pointer (&answer, json_node_unref);
  json_object_set_int_member (parameters, "max-bandwidth", UNLIMITED_BANDWIDTH);
  answer = qvm_vm_execute (self, "migrate-set-parameters", parameters, cancellable, error);
  return answer != NULL;
}

/* getfd for @fd under @fd_name, then @command with {"uri": "fd:@fd_name"},
 * in one round trip: the start of a migration out (migrate) or in
 * (migrate-incoming) over a pipe. */
static gboolean
migrate_over_fd (QvmVirtualMachine  *self,
                 const char         *command,
                 int                 fd,
                 const char         *fd_name,
                 GCancellable       *cancellable,
                 GError            **error)
{
  g_autoptr(JsonObject) getfd_args = json_object_new ();
  g_autoptr(JsonObject) command_args = json_object_new ();
  g_autoptr(QvmQmpClient) client = g_object_ref (self->qmp);
  g_autofree char *uri = g_strconcat ("fd:", fd_name, NULL);
  gboolean ok;

  json_object_set_string_member (getfd_args, "fdname", fd_name);
  json_object_set_string_member (command_args, "uri", uri);
  {
    QvmQmpBatchCommand commands[] = {
      { "getfd", getfd_args, fd, FALSE, NULL, NULL },
      { command, command_args, -1, FALSE, NULL, NULL },
    };

    ok = qvm_qmp_client_await_batch (client, commands, G_N_ELEMENTS (commands), cancellable);
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      {
        if (!ok && commands[i].error != NULL && error != NULL && *error == NULL)
          g_propagate_error (error, g_steal_pointer (&commands[i].error));
        qvm_qmp_batch_command_clear (&commands[i]);
      }
  }
  return ok;
}

/* Once the stream has ended: QEMU's verdict (query-migrate), which may
 * lag the stream by a moment. */
static gboolean
wait_migration_verdict (QvmVirtualMachine  *self,
                        GCancellable       *cancellable,
                        GError            **error)
{
  for (;;)
    {
      g_autoptr(JsonNode) answer = qvm_vm_execute (self, "query-migrate", NULL, cancellable, error);
      JsonObject *info;
      const char *status;

      if (answer == NULL)
        return FALSE;
      info = JSON_NODE_HOLDS_OBJECT (answer) ? json_node_get_object (answer) : NULL;
      status = info != NULL ? json_object_get_string_member_with_default (info, "status", "") : "";
      if (g_str_equal (status, "completed"))
        return TRUE;
      if (g_str_equal (status, "failed") || g_str_equal (status, "cancelled"))
        {
          g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                       _("QEMU could not save the machine's state: %s"),
                       info != NULL ? json_object_get_string_member_with_default (info, "error-desc", status)
                                    : status);
          return FALSE;
        }
      if (!qvm_coroutine_sleep (STATUS_POLL_MS, cancellable, error))
        return FALSE;
    }
}

/* ---- The stream ------------------------------------------------------------------- */

/* Reads QEMU's stream from @input until it ends and writes it to @out_fd,
 * zstd-compressed; the bytes read are counted in *@size. */
static gboolean
compress_stream (GInputStream  *input,
                 int            out_fd,
                 guint64        offset,
                 guint64       *size,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autofree guint8 *in_buffer = g_malloc (CHUNK);
  gsize out_capacity = ZSTD_CStreamOutSize ();
  g_autofree guint8 *out_buffer = g_malloc (out_capacity);
  ZSTD_CCtx *context = ZSTD_createCCtx ();
  gboolean ok = TRUE;
  gboolean ended = FALSE;

  ZSTD_CCtx_setParameter (context, ZSTD_c_compressionLevel, 1);
  *size = 0;
  while (ok && !ended)
    {
      gssize got = qvm_await_input_stream_read (input, in_buffer, CHUNK, cancellable, error);
      ZSTD_inBuffer in = { in_buffer, got > 0 ? (gsize) got : 0, 0 };
      ZSTD_EndDirective mode = got > 0 ? ZSTD_e_continue : ZSTD_e_end;
      gboolean flushed;

      if (got < 0)
        {
          ok = FALSE;
          break;
        }
      ended = got == 0;
      *size += in.size;
      do
        {
          ZSTD_outBuffer out = { out_buffer, out_capacity, 0 };
          gsize remaining = ZSTD_compressStream2 (context, &out, &in, mode);

          if (ZSTD_isError (remaining))
            {
              g_set_error (error, QVM_ERROR, QVM_ERROR_FAILED, _("Cannot compress the state: %s"),
                           ZSTD_getErrorName (remaining));
              ok = FALSE;
              break;
            }
          if (!qvm_fs_pwrite_all (out_fd, out_buffer, out.pos, offset, error))
            {
              ok = FALSE;
              break;
            }
          offset += out.pos;
          flushed = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
        }
      while (!flushed);
    }
  ZSTD_freeCCtx (context);
  return ok;
}

/* ---- What the state needs ------------------------------------------------------ */

/* The file starts with a zstd skippable frame (which any zstd reader
 * passes over) holding what a restore must match, as JSON:
 * {"format": 1, "qemu": "7.2.11", "machine": {machine.json}}. */
#define SKIPPABLE_MAGIC 0x184D2A50u
#define HEADER_MAX (1024 * 1024)
#define STATE_FORMAT 1

static void
put_le32 (guint8  *bytes,
          guint32  value)
{
  for (guint i = 0; i < 4; i++)
    bytes[i] = (guint8) (value >> (8 * i));
}

static guint32
get_le32 (const guint8 *bytes)
{
  return (guint32) bytes[0] | (guint32) bytes[1] << 8 | (guint32) bytes[2] << 16 |
         (guint32) bytes[3] << 24;
}

static gboolean
write_header (QvmVirtualMachine  *self,
              int                 fd,
              guint64            *header_size,
              GError            **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *machine = qvm_machine_to_data (self->machine);
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  guint8 frame[8];
  gsize length;

  if (!json_parser_load_from_data (parser, machine, -1, error))
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_int_value (builder, STATE_FORMAT);
  json_builder_set_member_name (builder, "qemu");
  json_builder_add_string_value (builder, qvm_qmp_client_get_qemu_version (self->qmp));
  json_builder_set_member_name (builder, "machine");
  json_builder_add_value (builder, json_node_copy (json_parser_get_root (parser)));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  length = strlen (json);

  put_le32 (frame, SKIPPABLE_MAGIC);
  put_le32 (frame + 4, (guint32) length);
  if (!qvm_fs_pwrite_all (fd, frame, sizeof frame, 0, error) ||
      !qvm_fs_pwrite_all (fd, json, length, sizeof frame, error))
    return FALSE;
  *header_size = sizeof frame + length;
  return TRUE;
}

/* Reads the header of the state file open as @fd (leaving the offset
 * after it): its QEMU version and machine. */
static JsonObject *
read_header (int          fd,
             const char  *path,
             GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *json = NULL;
  guint8 frame[8];
  guint32 length;
  JsonNode *root;

  if (read (fd, frame, sizeof frame) != (gssize) sizeof frame || get_le32 (frame) != SKIPPABLE_MAGIC ||
      (length = get_le32 (frame + 4)) == 0 || length > HEADER_MAX)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s is not a saved machine state of qvm-glib"), path);
      return NULL;
    }
  json = g_malloc0 (length + 1);
  if (read (fd, json, length) != (gssize) length || !json_parser_load_from_data (parser, json, length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      json_object_get_int_member_with_default (json_node_get_object (root), "format", 0) != STATE_FORMAT)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the description of the saved state is damaged or of another format"), path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* What the state was saved from must be what will run it: the same
 * machine definition (memory, devices, topology, layout, identity). */
static gboolean
check_header_machine (QvmVirtualMachine  *self,
                      JsonObject         *header,
                      const char         *path,
                      GError            **error)
{
  JsonNode *saved = json_object_get_member (header, "machine");
  g_autoptr(QvmMachine) machine = NULL;
  g_autoptr(GError) local_error = NULL;

  if (saved != NULL)
    machine = qvm_machine_new_from_json (saved, &local_error);
  if (machine == NULL || !qvm_machine_equal (machine, self->machine))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s was saved from another machine definition than this machine's: "
                     "it can only be restored into the same one"), path);
      return FALSE;
    }
  return TRUE;
}

/* ---- The save --------------------------------------------------------------------- */

static gboolean
save_state (QvmVirtualMachine  *self,
            const char         *target,
            GCancellable       *cancellable,
            GError            **error)
{
  g_autofree char *folder = g_path_get_dirname (target);
  g_autofree char *temporary = g_build_filename (folder, ".qvm-save-XXXXXX", NULL);
  g_autoptr(GInputStream) input = NULL;
  gboolean migrating = FALSE;
  gboolean ok = FALSE;
  guint64 size = 0;
  guint64 header_size = 0;
  int pipe_fds[2];
  int out_fd;

  out_fd = g_mkstemp_full (temporary, O_WRONLY | O_CLOEXEC, 0644);
  if (out_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, target, "create");
      return FALSE;
    }
  if (!write_header (self, out_fd, &header_size, error))
    {
      close (out_fd);
      g_unlink (temporary);
      return FALSE;
    }
  if (!g_unix_open_pipe (pipe_fds, FD_CLOEXEC, error) ||
      !g_unix_set_fd_nonblocking (pipe_fds[0], TRUE, error))
    {
      close (out_fd);
      g_unlink (temporary);
      return FALSE;
    }
  input = g_unix_input_stream_new (pipe_fds[0], TRUE);

  if (prepare_migration (self, cancellable, error) &&
      migrate_over_fd (self, "migrate", pipe_fds[1], MIGRATION_FD_NAME, cancellable, error))
    {
      migrating = TRUE;
      /* QEMU holds its own copy: the stream ends when QEMU closes it. */
      close (pipe_fds[1]);
      pipe_fds[1] = -1;
      ok = compress_stream (input, out_fd, header_size, &size, cancellable, error) &&
           wait_migration_verdict (self, cancellable, error);
    }
  if (pipe_fds[1] >= 0)
    close (pipe_fds[1]);
  if (!ok && migrating)
    {
      g_autoptr(JsonNode) answer = qvm_vm_execute (self, "migrate_cancel", NULL, NULL, NULL);
    }
  if (ok && fsync (out_fd) != 0)
    ok = (qvm_fs_set_error_from_errno (error, errno, target, "write"), FALSE);
  close (out_fd);
  if (ok && g_rename (temporary, target) != 0)
    ok = (qvm_fs_set_error_from_errno (error, errno, target, "replace"), FALSE);
  if (!ok)
    g_unlink (temporary);
  else
    g_debug ("%s: state saved to %s (%" G_GUINT64_FORMAT " bytes before compression)",
             self->id, target, size);
  return ok;
}

static void
save_co (GTask        *task,
         gpointer      source_object,
         gpointer      task_data,
         GCancellable *cancellable)
{
  QvmVirtualMachine *self = source_object;
  SaveRequest *request = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) answer = NULL;
  gboolean was_running;
  gboolean saved;

  if (!qvm_vm_check_running (self, &error) || self->phase == QVM_VM_PHASE_SHUTTING_DOWN)
    {
      if (error == NULL)
        error = g_error_new (QVM_ERROR, QVM_ERROR_INVALID_STATE, _("The virtual machine is shutting down"));
      qvm_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  was_running = self->phase == QVM_VM_PHASE_RUNNING;
  /* State and disk describe one moment: the guest stands still. */
  if (was_running)
    {
      answer = qvm_vm_execute (self, "stop", NULL, cancellable, &error);
      if (answer == NULL)
        {
          qvm_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      qvm_vm_set_phase (self, QVM_VM_PHASE_PAUSED);
    }

  saved = save_state (self, request->target, cancellable, &error);
  if (saved && (request->flags & QVM_SAVE_FLAGS_END) != 0)
    {
      qvm_vm_end (self, QVM_VM_DONE_REASON_KILLED,
                  g_error_new (QVM_ERROR, QVM_ERROR_KILLED,
                               _("The virtual machine was ended after its state was saved")));
    }
  else if (was_running && self->phase == QVM_VM_PHASE_PAUSED)
    {
      g_clear_pointer (&answer, json_node_unref);
      answer = qvm_vm_execute (self, "cont", NULL, NULL, saved ? &error : NULL);
      if (answer != NULL)
        qvm_vm_set_phase (self, QVM_VM_PHASE_RUNNING);
      else if (saved)
        saved = FALSE;
    }

  if (!saved)
    qvm_task_return_error (task, g_steal_pointer (&error));
  else
    qvm_task_return_boolean (task, TRUE);
}

/**
 * qvm_virtual_machine_save_async:
 * @vm: a running or paused virtual machine
 * @target: where to write the state: a local file, replaced atomically
 * @flags: what becomes of the machine afterwards
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the state is saved, or the save
 *   failed
 * @user_data: data for @callback
 *
 * Saves the machine's running state (memory and devices) with QEMU's
 * migration engine, zstd-compressed, to @target. The guest is stopped for
 * the save, so that the state and the disk describe the same moment, and
 * goes on afterwards (it stays paused if it was), unless @flags has
 * %QVM_SAVE_FLAGS_END: then the machine ends once the state is saved, and
 * its disk (an instance's file) holds what the state expects.
 *
 * The state is written to a temporary file beside @target and renamed
 * over it once QEMU reports the migration completed: a failed or
 * cancelled save leaves @target as it was. QEMU's reason for a failure is
 * the error's message (%QVM_ERROR_QEMU_FAILED).
 */
void
qvm_virtual_machine_save_async (QvmVirtualMachine   *vm,
                                GFile               *target,
                                QvmSaveFlags         flags,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SaveRequest *request;

  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));
  g_return_if_fail (G_IS_FILE (target));

  task = g_task_new (vm, cancellable, callback, user_data);
  g_task_set_source_tag (task, qvm_virtual_machine_save_async);
  if (g_file_peek_path (target) == NULL)
    {
      g_autofree char *uri = g_file_get_uri (target);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               _("Cannot save a machine's state to %s: only to a local file"), uri);
      return;
    }
  request = g_new0 (SaveRequest, 1);
  request->target = g_strdup (g_file_peek_path (target));
  request->flags = flags;
  g_task_set_task_data (task, request, (GDestroyNotify) save_request_free);
  qvm_coroutine_run_task (task, save_co);
}

/**
 * qvm_virtual_machine_save_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.save_async].
 *
 * Returns: %TRUE once the state is in the target file
 */
gboolean
qvm_virtual_machine_save_finish (QvmVirtualMachine  *vm,
                                 GAsyncResult       *result,
                                 GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_save_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qvm_virtual_machine_save:
 * @vm: a running or paused virtual machine
 * @target: where to write the state
 * @flags: what becomes of the machine afterwards
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Qvm.VirtualMachine.save_async], with the
 * same rules as [method@Qvm.VirtualMachine.start].
 *
 * Returns: %TRUE once the state is in the target file
 */
gboolean
qvm_virtual_machine_save (QvmVirtualMachine  *vm,
                          GFile              *target,
                          QvmSaveFlags        flags,
                          GCancellable       *cancellable,
                          GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_save_async (vm, target, flags, cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_save_finish (vm, qvm_sync_end (&sync), error);
}

/* ---- Restore ---------------------------------------------------------------------- */

/* Decompresses the state from @in_fd (after its header) into @output,
 * QEMU's end of the incoming stream being the other end of the pipe; with
 * @output NULL, only checks that the stream is whole. */
static gboolean
feed_state (int             in_fd,
            GOutputStream  *output,
            const char     *path,
            GCancellable   *cancellable,
            GError        **error)
{
  gsize in_capacity = ZSTD_DStreamInSize ();
  gsize out_capacity = ZSTD_DStreamOutSize ();
  g_autofree guint8 *in_buffer = g_malloc (in_capacity);
  g_autofree guint8 *out_buffer = g_malloc (out_capacity);
  ZSTD_DCtx *context = ZSTD_createDCtx ();
  gboolean ok = TRUE;
  gsize last = 1;

  for (;;)
    {
      gssize got = read (in_fd, in_buffer, in_capacity);
      ZSTD_inBuffer in = { in_buffer, got > 0 ? (gsize) got : 0, 0 };

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          qvm_fs_set_error_from_errno (error, errno, path, "read");
          ok = FALSE;
          break;
        }
      if (got == 0)
        break;
      while (ok && in.pos < in.size)
        {
          ZSTD_outBuffer out = { out_buffer, out_capacity, 0 };

          last = ZSTD_decompressStream (context, &out, &in);
          if (ZSTD_isError (last))
            {
              g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                           _("%s: the saved state is damaged: %s"), path, ZSTD_getErrorName (last));
              ok = FALSE;
            }
          else if (out.pos > 0 && output != NULL &&
                   !qvm_await_output_stream_write_all (output, out_buffer, out.pos, NULL, cancellable, error))
            ok = FALSE;
        }
      if (!ok)
        break;
    }
  if (ok && last != 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s: the saved state ends before its end"), path);
      ok = FALSE;
    }
  ZSTD_freeDCtx (context);
  return ok;
}

gboolean
qvm_vm_restore_state (QvmVirtualMachine  *self,
                      GCancellable       *cancellable,
                      GError            **error)
{
  const char *path = self->restore_file;
  g_autoptr(JsonObject) header = NULL;
  g_autoptr(GOutputStream) output = NULL;
  const char *saved_by;
  off_t header_end;
  int pipe_fds[2];
  gboolean ok;
  int in_fd;

  in_fd = open (path, O_RDONLY | O_CLOEXEC);
  if (in_fd < 0)
    {
      qvm_fs_set_error_from_errno (error, errno, path, "open");
      return FALSE;
    }
  header = read_header (in_fd, path, error);
  if (header == NULL || !check_header_machine (self, header, path, error))
    {
      close (in_fd);
      return FALSE;
    }
  /* QEMU loads only a state its own version can read: say so plainly
   * rather than let the load fail half-way. */
  saved_by = json_object_get_string_member_with_default (header, "qemu", "");
  if (!g_str_equal (saved_by, qvm_qmp_client_get_qemu_version (self->qmp)))
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_MALFORMED_PAYLOAD,
                   _("%s was saved by QEMU %s; this QEMU is %s"), path, saved_by,
                   qvm_qmp_client_get_qemu_version (self->qmp));
      close (in_fd);
      return FALSE;
    }
  /* QEMU exits when a stream breaks off: a damaged file is found here,
   * with a clear error, before QEMU sees a byte of it. */
  header_end = lseek (in_fd, 0, SEEK_CUR);
  if (!feed_state (in_fd, NULL, path, cancellable, error) || lseek (in_fd, header_end, SEEK_SET) < 0)
    {
      close (in_fd);
      return FALSE;
    }
  if (!g_unix_open_pipe (pipe_fds, FD_CLOEXEC, error) ||
      !g_unix_set_fd_nonblocking (pipe_fds[1], TRUE, error))
    {
      close (in_fd);
      return FALSE;
    }
  output = g_unix_output_stream_new (pipe_fds[1], TRUE);

  ok = migrate_over_fd (self, "migrate-incoming", pipe_fds[0], RESTORE_FD_NAME, cancellable, error);
  /* QEMU holds its own copy of the read end. */
  close (pipe_fds[0]);
  ok = ok && feed_state (in_fd, output, path, cancellable, error);
  close (in_fd);
  /* The end of the stream tells QEMU the state is whole. */
  g_output_stream_close (output, NULL, NULL);
  ok = ok && wait_migration_verdict (self, cancellable, error);
  if (ok)
    g_debug ("%s: state restored from %s", self->id, path);
  return ok;
}

/**
 * qvm_virtual_machine_set_restore_file:
 * @vm: a virtual machine that was not started
 * @state: (nullable): a state saved by [method@Qvm.VirtualMachine.save_async],
 *   a local file; %NULL to boot as usual
 * @error: return location for a #GError
 *
 * Makes the start of @vm restore @state instead of booting: QEMU starts
 * waiting for a saved state (`-incoming defer`), loads it, and the guest
 * goes on from where it was saved. The state must have been saved from a
 * machine with the same definition and by the same QEMU version: both
 * are recorded in the file and checked when the machine starts, before
 * QEMU loads anything (%QVM_ERROR_MALFORMED_PAYLOAD otherwise). The disk
 * must be as it was at the save: restore into an instance whose disk was
 * saved with the state (a save with %QVM_SAVE_FLAGS_END leaves it so).
 *
 * Returns: %TRUE, or %FALSE with @error set when @vm was started already
 *   or @state cannot be read
 */
gboolean
qvm_virtual_machine_set_restore_file (QvmVirtualMachine  *vm,
                                      GFile              *state,
                                      GError            **error)
{
  const char *path;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), FALSE);
  g_return_val_if_fail (state == NULL || G_IS_FILE (state), FALSE);

  if (vm->phase != QVM_VM_PHASE_CREATED)
    {
      g_set_error_literal (error, QVM_ERROR, QVM_ERROR_INVALID_STATE,
                           _("A saved state can only be chosen before the machine starts"));
      return FALSE;
    }
  path = state != NULL ? g_file_peek_path (state) : NULL;
  if (state != NULL && (path == NULL || g_access (path, R_OK) != 0))
    {
      g_autofree char *shown = g_file_get_parse_name (state);

      g_set_error (error, G_IO_ERROR, path == NULL ? G_IO_ERROR_NOT_SUPPORTED : g_io_error_from_errno (errno),
                   _("Cannot restore the machine from %s: %s"), shown,
                   path == NULL ? _("only a local file can be") : g_strerror (errno));
      return FALSE;
    }
  g_free (vm->restore_file);
  vm->restore_file = g_strdup (path);
  return TRUE;
}
