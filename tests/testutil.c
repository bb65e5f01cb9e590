/* testutil.c: the helpers every test suite (and bench/) shares
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qvm-fs-private.h"

const char *
testutil_init_with_archive (int    *argc,
                            char ***argv)
{
  g_test_init (argc, argv, NULL);
  if (*argc != 2)
    {
      g_printerr ("usage: %s [GTest options] ARCHIVE\n", (*argv)[0]);
      return NULL;
    }
  return (*argv)[1];
}

void
testutil_remove_tree (const char *path)
{
  g_autoptr(GError) error = NULL;

  /* The library's own removal, which test-fs tests on its own. */
  qvm_fs_remove_tree (path, &error);
  g_assert_no_error (error);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char **
testutil_list_folder (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

guint
testutil_count_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint count = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

guint
testutil_count_fds (void)
{
  return testutil_count_entries ("/proc/self/fd");
}

/* Whether the process of /proc/@name is a child of ours. */
static gboolean
is_our_child (const char *name)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", name);
  g_autofree char *stat = NULL;
  const char *after_comm;

  if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (stat_path, &stat, NULL, NULL))
    return FALSE;
  /* "pid (comm) state ppid …": comm may hold anything, ")" included. */
  after_comm = strrchr (stat, ')');
  return after_comm != NULL && atoi (after_comm + 4) == getpid ();
}

static gboolean
command_line_contains (const char *name,
                       const char *needle)
{
  g_autofree char *cmdline_path = g_strdup_printf ("/proc/%s/cmdline", name);
  g_autofree char *cmdline = NULL;
  gsize length = 0;

  if (!g_file_get_contents (cmdline_path, &cmdline, &length, NULL))
    return FALSE;
  for (gsize i = 0; i + 1 < length; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  return strstr (cmdline, needle) != NULL;
}

GArray *
testutil_find_children (const char *needle)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  const char *name;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      pid_t pid;

      if (!is_our_child (name) || (needle != NULL && !command_line_contains (name, needle)))
        continue;
      pid = atoi (name);
      g_array_append_val (pids, pid);
    }
  return pids;
}

guint
testutil_count_children (void)
{
  g_autoptr(GArray) pids = testutil_find_children (NULL);

  return pids->len;
}

static gboolean
on_wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
testutil_iterate_until (GMainContext   *context,
                        const gboolean *flag,
                        guint           timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  g_autoptr(GSource) wake_up = g_timeout_source_new (100);

  g_source_set_callback (wake_up, on_wake_up, NULL, NULL);
  g_source_attach (wake_up, context);
  while (!*flag)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (wake_up);
}

void
testutil_on_wait_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  TestutilWait *wait = data;

  g_assert_false (wait->done);
  wait->result = g_object_ref (result);
  wait->done = TRUE;
}

gboolean
testutil_start_vm (QvmVirtualMachine  *vm,
                   guint               timeout_s,
                   GError            **error)
{
  TestutilWait wait = { FALSE, NULL };
  gboolean started;

  qvm_virtual_machine_start_async (vm, NULL, testutil_on_wait_done, &wait);
  testutil_iterate_until (NULL, &wait.done, timeout_s);
  started = qvm_virtual_machine_start_finish (vm, wait.result, error);
  g_clear_object (&wait.result);
  return started;
}

void
testutil_iterate_until_nonzero (GMainContext *context,
                                const guint  *counter,
                                guint         timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (*counter == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
}

void
testutil_make_vm_parts (const char      *tmp_template,
                        char           **folder,
                        char           **socket_folder,
                        QvmFolderImage **image,
                        QvmUserNetwork **network)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QvmMachine) machine = qvm_machine_new_random ();
  g_autofree char *image_folder = NULL;
  g_autofree char *network_folder = NULL;

  *folder = g_dir_make_tmp (tmp_template, &error);
  g_assert_no_error (error);
  *socket_folder = g_build_filename (*folder, "sockets", NULL);
  g_assert_cmpint (g_mkdir (*socket_folder, 0700), ==, 0);

  image_folder = g_build_filename (*folder, "image", NULL);
  *image = qvm_folder_image_new_blank (image_folder, 16 * 1024 * 1024, machine, &error);
  g_assert_no_error (error);

  network_folder = g_build_filename (*folder, "network", NULL);
  g_assert_cmpint (g_mkdir (network_folder, 0700), ==, 0);
  *network = qvm_user_network_new (network_folder, &error);
  g_assert_no_error (error);
}

void
testutil_free_vm_parts (char           **folder,
                        char           **socket_folder,
                        QvmFolderImage **image,
                        QvmUserNetwork **network)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (network);
  qvm_folder_image_delete (*image, &error);
  g_assert_no_error (error);
  g_clear_object (image);
  testutil_remove_tree (*folder);
  g_clear_pointer (socket_folder, g_free);
  g_clear_pointer (folder, g_free);
}

void
testutil_use_fake_qemu (QvmVirtualMachine *vm,
                        const char        *folder,
                        const char        *mode)
{
  g_autofree char *name = g_strconcat ("fake-qemu-", mode, NULL);
  g_autofree char *link = g_build_filename (folder, name, NULL);
  /* The source tree's, or the one installed next to the test. */
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "fake-qemu.py", NULL);

  g_assert_true (g_file_test (script, G_FILE_TEST_IS_EXECUTABLE));
  g_assert_cmpint (symlink (script, link), ==, 0);
  qvm_virtual_machine_set_qemu_binary (vm, link);
}

void
testutil_count_notify (GObject    *object,
                       GParamSpec *pspec,
                       gpointer    counter)
{
  *(guint *) counter += 1;
}

QvmAccel
testutil_accel (void)
{
  g_autoptr(GError) error = NULL;
  const char *name = g_getenv ("QVM_TEST_ACCEL");
  QvmAccel accel;

  if (name == NULL || *name == '\0')
    return QVM_ACCEL_TCG;
  accel = qvm_accel_parse (name, &error);
  g_assert_no_error (error);
  return accel;
}

const char *
testutil_qemu_binary (void)
{
  const char *binary = g_getenv ("QVM_QEMU");

  return binary != NULL && *binary != '\0' ? binary : "qemu-system-x86_64";
}

gboolean
testutil_have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  return path != NULL;
}

void
testutil_die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
kill_process_group (int signum)
{
  kill (0, SIGKILL);
}

void
testutil_kill_children_on_abort (void)
{
  signal (SIGABRT, kill_process_group);
  signal (SIGTERM, kill_process_group);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

double
testutil_median (GArray *samples)
{
  g_return_val_if_fail (samples != NULL && samples->len > 0, 0);

  g_array_sort (samples, compare_doubles);
  return g_array_index (samples, double, samples->len / 2);
}
