/* testutil.h: the helpers every test suite (and bench/) shares
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Folders (removal, listing, counting), this process's file descriptors and
 * child processes, waiting on a main context with a guard against hangs,
 * and what the suites that start QEMU need (the binary to run, children that
 * die with the test). One copy here, so that a fix reaches every suite.
 */

#pragma once

#include <gio/gio.h>

#include "qvm.h"

G_BEGIN_DECLS

/* g_test_init() for a suite run as "TEST [GTest options] ARCHIVE": the
 * archive's path, or NULL after a usage line on stderr (main() then
 * returns 2). */
const char *testutil_init_with_archive (int    *argc,
                                        char ***argv);

/* Removes @path and everything below it, never following a symbolic link;
 * a missing @path is fine. Fails the test when something stays behind. */
void      testutil_remove_tree       (const char     *path);

/* The names in the folder @path (which must exist), sorted. */
char    **testutil_list_folder       (const char     *path);

/* How many entries the folder @path (which must exist) holds. */
guint     testutil_count_entries     (const char     *path);

/* How many file descriptors this process has open. */
guint     testutil_count_fds         (void);

/* The pids of this process's children whose command line contains
 * @needle (all of them for NULL), from /proc. */
GArray   *testutil_find_children     (const char     *needle);

/* How many children this process has. */
guint     testutil_count_children    (void);

/* Iterates @context (NULL: the global default) until *@flag is set; fails
 * the test after @timeout_s seconds, a guard against hangs, not a timing
 * assertion. Wakes at least every 100 ms, so flags set from another thread
 * are seen. */
void      testutil_iterate_until     (GMainContext   *context,
                                      const gboolean *flag,
                                      guint           timeout_s);

/* An asynchronous call waited for: pass testutil_on_wait_done() as its
 * callback and the TestutilWait as its data, iterate until .done, give
 * .result to the _finish function, then g_clear_object (&.result). */
typedef struct {
  gboolean      done;
  GAsyncResult *result;
} TestutilWait;

/* A GAsyncReadyCallback that keeps the result in the TestutilWait @data
 * (once: a second call fails the test). */
void      testutil_on_wait_done      (GObject        *source,
                                      GAsyncResult   *result,
                                      gpointer        data);

/* Starts @vm with qvm_virtual_machine_start_async() and iterates the
 * global default main context until the start has ended (at most
 * @timeout_s seconds): TRUE, or FALSE with @error set. */
gboolean  testutil_start_vm          (QvmVirtualMachine *vm,
                                      guint           timeout_s,
                                      GError        **error);

/* The same, until *@counter is not 0. */
void      testutil_iterate_until_nonzero (GMainContext *context,
                                          const guint  *counter,
                                          guint         timeout_s);

/* What a QvmVirtualMachine of the tests runs on: a new private folder
 * (from the g_dir_make_tmp() @tmp_template) with an empty "sockets"
 * folder in it, a blank 16 MiB QvmFolderImage of a random machine in
 * "image", and a QvmUserNetwork in "network". */
void      testutil_make_vm_parts     (const char      *tmp_template,
                                      char           **folder,
                                      char           **socket_folder,
                                      QvmFolderImage **image,
                                      QvmUserNetwork **network);

/* Undoes testutil_make_vm_parts(): drops the network, deletes the image
 * (which must not be in use), removes the folder and frees and clears
 * all four. */
void      testutil_free_vm_parts     (char           **folder,
                                      char           **socket_folder,
                                      QvmFolderImage **image,
                                      QvmUserNetwork **network);

/* Makes @vm run tests/fake-qemu.py as its QEMU, playing @mode (see the
 * script for the modes), through a link "fake-qemu-@mode" in @folder. */
void      testutil_use_fake_qemu     (QvmVirtualMachine *vm,
                                      const char     *folder,
                                      const char     *mode);

/* A "notify" handler that counts its calls in the guint at @counter. */
void      testutil_count_notify      (GObject        *object,
                                      GParamSpec     *pspec,
                                      gpointer        counter);

/* The accelerator the tests run with: $QVM_TEST_ACCEL, or TCG. */
QvmAccel  testutil_accel             (void);

/* The QEMU to run: $QVM_QEMU, or qemu-system-x86_64. */
const char *testutil_qemu_binary     (void);

/* Whether @name is a program on PATH. */
gboolean  testutil_have_program      (const char     *name);

/* A GSpawnChildSetupFunc: the child gets SIGKILL when the test dies. */
void      testutil_die_with_parent   (gpointer        data);

/* On SIGABRT (a failed assertion) and SIGTERM (meson's timeout), kills the
 * whole process group, the test and the QEMUs it started: meson runs each
 * test in a session of its own. */
void      testutil_kill_children_on_abort (void);

/* For bench/: sorts @samples (doubles) and returns their median; the
 * smallest is then the first. */
double    testutil_median            (GArray         *samples);

G_END_DECLS
