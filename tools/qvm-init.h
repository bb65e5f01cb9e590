/* qvm-init.h: qvm as the init of a PID namespace
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* When this process is PID 1 (a container started with qvm as its
 * command, no init of its own), forks: the child returns FALSE and goes
 * on as qvm; this process stays behind as a minimal init that reaps every
 * orphan reparented to it (QEMU's metadata helpers among them), passes
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT on to the child, and returns TRUE
 * with the child's exit status in @status once the child ends. Anywhere
 * else, returns FALSE at once. Must run before any thread is started. */
gboolean qvm_init_supervise_if_pid1 (int *status);

G_END_DECLS
