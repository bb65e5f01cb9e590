/* run-image.c: run an image archive with qvm-glib
 *
 *   run-image ARCHIVE SCREENSHOT.png [auto|kvm|tcg]
 *
 * Loads ARCHIVE into an image store, boots an instance on a user network
 * whose metadata service hands the guest a payload at /payload and takes
 * its answer at /result, saves a screenshot once the machine runs, and
 * waits for "done". Exits 0 when the guest answered and powered off.
 * (The test suite runs it on the test guest.)
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>
#include <qvm.h>

static const char payload[] = "echo hello from run-image.c\n";

typedef struct {
  GMainLoop *loop;
  char      *folder;
  char      *png;
  QvmAccel   accel;
  char      *answer;       /* the body of POST /result */
  gboolean   screenshot_saved;
} App;

/* The metadata service: 169.254.169.254 as the guest sees it. */
static void
handle (SoupServer *server, SoupServerMessage *message, const char *path,
        GHashTable *query, gpointer user_data)
{
  App *app = user_data;
  const char *method = soup_server_message_get_method (message);

  if (g_str_equal (method, "GET") && g_str_equal (path, "/payload"))
    {
      soup_server_message_set_status (message, 200, NULL);
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_STATIC,
                                        payload, strlen (payload));
    }
  else if (g_str_equal (method, "POST") && g_str_equal (path, "/result"))
    {
      g_autoptr(GBytes) body =
        soup_message_body_flatten (soup_server_message_get_request_body (message));

      app->answer = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
      soup_server_message_set_status (message, 200, NULL);
    }
  else
    soup_server_message_set_status (message, 404, NULL);
}

static void
screenshot_cb (GObject *vm, GAsyncResult *result, gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) screen =
    qvm_virtual_machine_screenshot_finish (QVM_VIRTUAL_MACHINE (vm), result, &error);

  if (screen != NULL && gdk_pixbuf_save (screen, app->png, "png", &error, NULL))
    app->screenshot_saved = TRUE;
  else
    g_printerr ("screenshot: %s\n", error->message);
}

static void
started_cb (GObject *vm, GAsyncResult *result, gpointer user_data)
{
  /* A failed start also ends in "done", with the error. */
  if (qvm_virtual_machine_start_finish (QVM_VIRTUAL_MACHINE (vm), result, NULL))
    qvm_virtual_machine_screenshot_async (QVM_VIRTUAL_MACHINE (vm), NULL, screenshot_cb, user_data);
}

static void
done_cb (QvmVirtualMachine *vm, gpointer user_data)
{
  App *app = user_data;
  const GError *error = qvm_virtual_machine_get_error (vm);

  if (error != NULL)
    g_printerr ("done: %s\n", error->message);
  g_main_loop_quit (app->loop);
}

static void
instance_cb (GObject *store, GAsyncResult *result, gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmImage) image = qvm_image_store_instance_finish (QVM_IMAGE_STORE (store),
                                                               result, &error);
  g_autoptr(QvmUserNetwork) network = NULL;
  g_autoptr(QvmMachineOptions) options = qvm_machine_options_new (1024);
  QvmVirtualMachine *vm;

  if (image == NULL || (network = qvm_user_network_new (app->folder, &error)) == NULL ||
      (vm = qvm_virtual_machine_new (options, image, QVM_NETWORK (network), app->folder,
                                     NULL, NULL, &error)) == NULL)
    {
      g_printerr ("%s\n", error->message);
      g_main_loop_quit (app->loop);
      return;
    }
  qvm_virtual_machine_set_accel (vm, app->accel);
  qvm_virtual_machine_set_http_handler (vm, handle, app, NULL);
  g_signal_connect (vm, "done", G_CALLBACK (done_cb), app);
  qvm_virtual_machine_start_async (vm, NULL, started_cb, app);
  /* The loop ends at "done"; the machine is freed then. */
  g_object_set_data_full (G_OBJECT (store), "vm", vm, g_object_unref);
}

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFile *child;

  while (children != NULL && g_file_enumerator_iterate (children, NULL, &child, NULL, NULL) &&
         child != NULL)
    remove_tree (child);
  g_file_delete (file, NULL, NULL);
}

int
main (int argc, char *argv[])
{
  App app = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) archive = NULL;
  g_autoptr(GFile) folder = NULL;
  g_autofree char *store_folder = NULL;
  QvmImageStore *store;
  int status;

  if (argc < 3)
    {
      g_printerr ("usage: %s ARCHIVE SCREENSHOT.png [auto|kvm|tcg]\n", argv[0]);
      return 2;
    }
  app.png = argv[2];
  if (argc > 3)
    app.accel = qvm_accel_parse (argv[3], &error);
  if (error != NULL)
    {
      g_printerr ("%s: %s\n", argv[0], error->message);
      return 2;
    }
  app.folder = g_dir_make_tmp ("run-image-XXXXXX", &error);
  g_assert_no_error (error);
  app.loop = g_main_loop_new (NULL, FALSE);

  store_folder = g_build_filename (app.folder, "store", NULL);
  store = qvm_image_store_new (store_folder, &error);
  g_assert_no_error (error);
  archive = g_file_new_for_commandline_arg (argv[1]);
  qvm_image_store_instance_async (store, "image", archive, NULL, instance_cb, &app);
  g_main_loop_run (app.loop);

  g_print ("guest answered: %s", app.answer != NULL ? app.answer : "(nothing)\n");
  g_print ("screenshot: %s\n", app.screenshot_saved ? app.png : "(none)");
  status = app.answer != NULL && app.screenshot_saved ? 0 : 1;

  g_object_unref (store);
  folder = g_file_new_for_path (app.folder);
  remove_tree (folder);
  g_main_loop_unref (app.loop);
  g_free (app.answer);
  g_free (app.folder);
  return status;
}
