/* qvm-spawn-private.h: child processes that die with the library's process
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Spawns @argv from @launcher (which gets a child set-up function, so it
 * must have none of its own) such that the child is sent SIGKILL when
 * this process dies, however it dies: a QEMU must not outlive the program
 * that controls it. The spawn happens in a thread of the library's own
 * that lives as long as the process, because PR_SET_PDEATHSIG follows the
 * thread that forked, not the process: a spawn from a short-lived thread
 * would kill the child when that thread ends. The child leads a process
 * group of its own, so that signals meant for the owner's group (a Ctrl-C
 * on its terminal) do not reach it. The result is delivered in the
 * thread-default main context of the caller. */
void         qvm_spawn_tied_async  (GSubprocessLauncher  *launcher,
                                    const char * const   *argv,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data);

GSubprocess *qvm_spawn_tied_finish (GAsyncResult         *result,
                                    GError              **error);

G_END_DECLS
