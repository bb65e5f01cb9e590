/* qvm-vm-output.c: what a running QvmVirtualMachine shows: its screen
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Screenshots: QEMU's screendump writes PPM into a memory file handed over
 * as an fdset member (add-fd, screendump, remove-fd in one round trip), and
 * qvm-ppm.c decodes it into a GdkPixbuf without a copy. The metadata
 * service's handler is passed through to the network from here too.
 */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qvm-coroutine-private.h"
#include "qvm-error.h"
#include "qvm-i18n-private.h"
#include "qvm-ppm-private.h"
#include "qvm-qmp-client-private.h"
#include "qvm-util-private.h"
#include "qvm-vm-private.h"

typedef struct {
  gpointer address;
  gsize    size;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  munmap (mapping->address, mapping->size);
  g_free (mapping);
}

static GdkPixbuf *
decode_screenshot (int      memfd,
                   GError **error)
{
  struct stat st;
  gpointer map;
  Mapping *mapping;
  g_autoptr(GBytes) bytes = NULL;

  if (fstat (memfd, &st) != 0 || st.st_size == 0)
    {
      g_set_error (error, QVM_ERROR, QVM_ERROR_QEMU_FAILED,
                   _("QEMU wrote an empty screenshot"));
      return NULL;
    }

  map = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, memfd, 0);
  if (map == MAP_FAILED)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot map the screenshot: %s"), g_strerror (saved_errno));
      return NULL;
    }

  mapping = g_new (Mapping, 1);
  mapping->address = map;
  mapping->size = st.st_size;
  bytes = g_bytes_new_with_free_func (map, st.st_size, mapping_free, mapping);

  return qvm_ppm_decode (bytes, error);
}

/* The fdset ids screenshots use: the library picks them so that add-fd,
 * screendump and remove-fd can be sent at once, without waiting for
 * add-fd to name the set. Far above the small ids QEMU hands out. */
#define SCREENSHOT_FDSET_BASE (G_GINT64_CONSTANT (1) << 30)

GdkPixbuf *
qvm_vm_take_screenshot (QvmVirtualMachine  *self,
                        GCancellable       *cancellable,
                        GError            **error)
{
  static guint counter;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(QvmQmpClient) client = NULL;
  g_autoptr(JsonObject) add_args = json_object_new ();
  g_autoptr(JsonObject) dump_args = json_object_new ();
  g_autoptr(JsonObject) remove_args = json_object_new ();
  g_autofree char *writable_path = NULL;
  g_autofree char *fdset_path = NULL;
  gint64 fdset_id;
  GdkPixbuf *pixbuf;
  int memfd;
  int fd;

  if (!qvm_vm_check_running (self, error))
    return NULL;

  memfd = memfd_create ("qvm-screenshot", MFD_CLOEXEC);
  if (memfd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot make a memory file: %s"), g_strerror (saved_errno));
      return NULL;
    }

  /* QEMU hands out an fdset member only to an open() with the same access
   * mode, and screendump opens for writing: give it a write-only one. */
  writable_path = g_strdup_printf ("/proc/self/fd/%d", memfd);
  fd = open (writable_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;
      close (memfd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot reopen the memory file: %s"), g_strerror (saved_errno));
      return NULL;
    }

  /* The library picks the set's id so that the three commands go at once,
   * in one round trip; QEMU runs them in order, and the remove runs
   * whatever happened to the dump. */
  fdset_id = SCREENSHOT_FDSET_BASE + (guint) g_atomic_int_add (&counter, 1);
  fdset_path = g_strdup_printf ("/dev/fdset/%" G_GINT64_FORMAT, fdset_id);
  json_object_set_int_member (add_args, "fdset-id", fdset_id);
  json_object_set_string_member (add_args, "opaque", "qvm-glib screenshot");
  json_object_set_string_member (dump_args, "filename", fdset_path);
  json_object_set_int_member (remove_args, "fdset-id", fdset_id);
  {
    QvmQmpBatchCommand commands[] = {
      { "add-fd", add_args, fd, FALSE, NULL, NULL },
      { "screendump", dump_args, -1, FALSE, NULL, NULL },
      { "remove-fd", remove_args, -1, TRUE, NULL, NULL },
    };

    client = g_object_ref (self->qmp);
    if (!qvm_qmp_client_await_batch (client, commands, G_N_ELEMENTS (commands), cancellable))
      {
        /* The first failure tells most. */
        for (guint i = 0; i < G_N_ELEMENTS (commands) && local_error == NULL; i++)
          if (commands[i].error != NULL)
            local_error = g_steal_pointer (&commands[i].error);
      }
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      qvm_qmp_batch_command_clear (&commands[i]);
  }
  close (fd);

  if (local_error != NULL)
    {
      close (memfd);
      g_prefix_error (&local_error, _("Cannot take a screenshot: "));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  pixbuf = decode_screenshot (memfd, error);
  close (memfd);
  if (pixbuf != NULL)
    {
      /* Pointer coordinates are in pixels of the screen as last seen. */
      self->screen_width = gdk_pixbuf_get_width (pixbuf);
      self->screen_height = gdk_pixbuf_get_height (pixbuf);
    }
  return pixbuf;
}

static void
screenshot_co (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;
  GdkPixbuf *pixbuf = qvm_vm_take_screenshot (source_object, cancellable, &error);

  if (pixbuf == NULL)
    qvm_task_return_error (task, error);
  else
    qvm_task_return_pointer (task, pixbuf, g_object_unref);
}

/**
 * qvm_virtual_machine_screenshot_async:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the screenshot
 * @user_data: data for @callback
 *
 * Takes a screenshot of the guest's screen as it is now. No file is made:
 * QEMU writes into a memory file it is given over QMP. Several
 * screenshots may be taken at once. Fails with %QVM_ERROR_INVALID_STATE
 * unless the machine runs or is paused.
 */
void
qvm_virtual_machine_screenshot_async (QvmVirtualMachine   *vm,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  qvm_vm_run_task (vm, qvm_virtual_machine_screenshot_async, NULL, screenshot_co,
                   cancellable, callback, user_data);
}

/**
 * qvm_virtual_machine_screenshot_finish:
 * @vm: a virtual machine
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Qvm.VirtualMachine.screenshot_async].
 *
 * Returns: (transfer full): the screen, or %NULL on error
 */
GdkPixbuf *
qvm_virtual_machine_screenshot_finish (QvmVirtualMachine  *vm,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, vm), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, qvm_virtual_machine_screenshot_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * qvm_virtual_machine_screenshot:
 * @vm: a virtual machine
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes a screenshot and waits for it, running @vm's main context
 * meanwhile. Call it from the thread that runs that context. That is a
 * nested iteration: other sources of the context, @vm's own signals
 * among them, may run before it returns. It works from a script with no
 * main loop, and from inside a callback or signal handler (of @vm
 * too), as long as that handler copes with being re-entered.
 *
 * Returns: (transfer full): the screen, or %NULL on error
 */
GdkPixbuf *
qvm_virtual_machine_screenshot (QvmVirtualMachine  *vm,
                                GCancellable       *cancellable,
                                GError            **error)
{
  g_auto(QvmSync) sync = QVM_SYNC_INIT;

  g_return_val_if_fail (QVM_IS_VIRTUAL_MACHINE (vm), NULL);

  qvm_sync_begin (&sync, vm->context);
  qvm_virtual_machine_screenshot_async (vm, cancellable, qvm_sync_store_result, &sync);
  return qvm_virtual_machine_screenshot_finish (vm, qvm_sync_end (&sync), error);
}

/**
 * qvm_virtual_machine_set_http_handler:
 * @vm: a virtual machine
 * @handler: (scope notified) (closure user_data) (destroy destroy): the
 *   handler for the guest's requests to `http://169.254.169.254/`
 * @user_data: data for @handler
 * @destroy: (nullable): frees @user_data when the handler is replaced or
 *   the network released
 *
 * Sets the handler of the metadata service the guest reaches at
 * 169.254.169.254:80: passed through to the
 * machine's network. Once the machine is done, @user_data is freed at
 * once.
 */
void
qvm_virtual_machine_set_http_handler (QvmVirtualMachine  *vm,
                                      SoupServerCallback  handler,
                                      gpointer            user_data,
                                      GDestroyNotify      destroy)
{
  g_return_if_fail (QVM_IS_VIRTUAL_MACHINE (vm));

  /* Done, or its construction failed: no network to serve. */
  if (vm->phase == QVM_VM_PHASE_DONE || vm->phase == QVM_VM_PHASE_NEW)
    {
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  qvm_network_set_handler (vm->network, handler, user_data, destroy);
}

