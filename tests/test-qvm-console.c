/* test-qvm-console.c: `qvm run --console` on a terminal, with the test guest
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-qvm-console [GTest options] ARCHIVE
 *
 * qvm runs on a pseudo-terminal whose other end the test holds, as a
 * person at a terminal would: the terminal goes to raw mode, the guest's
 * serial shell answers what is typed, Ctrl-] detaches and gives the
 * terminal back as it was, and a SIGTERM then ends the run.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

/* A guard against hangs (a boot takes ~10 s under TCG), not a timing
 * assertion. */
#define TIMEOUT_MS (240 * 1000)

static const char *archive;

typedef struct {
  int      master;
  GString *output;
  pid_t    qvm;         /* in a session of its own: killed on failure */
} Terminal;

static void
fail (Terminal   *terminal,
      const char *what,
      const char *needle)
{
  kill (terminal->qvm, SIGKILL);
  g_error ("%s “%s”; the terminal shows:\n%s", what, needle, terminal->output->str);
}

/* Reads the terminal until @needle shows up after @from; where it ends. */
static gsize
read_until (Terminal   *terminal,
            gsize       from,
            const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  const char *found;

  while ((found = g_strstr_len (terminal->output->str + from, terminal->output->len - from,
                                needle)) == NULL)
    {
      struct pollfd poll_fd = { terminal->master, POLLIN, 0 };
      int left_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      char buffer[4096];
      gssize n;

      if (left_ms <= 0 || poll (&poll_fd, 1, left_ms) <= 0)
        fail (terminal, "no", needle);
      n = read (terminal->master, buffer, sizeof buffer);
      if (n <= 0)
        fail (terminal, "the terminal ended before", needle);
      g_string_append_len (terminal->output, buffer, n);
    }
  return found - terminal->output->str + strlen (needle);
}

static void
type (Terminal   *terminal,
      const char *keys)
{
  g_assert_cmpint (write (terminal->master, keys, strlen (keys)), ==, (gssize) strlen (keys));
}

static void
test_qvm_console_terminal (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("qvm-test-console-tty-XXXXXX", &error);
  g_autofree char *payload = NULL;
  g_autofree char *slave_name = NULL;
  g_auto(GStrv) env = g_get_environ ();
  const char *accel = g_getenv ("QVM_TEST_ACCEL") != NULL ? g_getenv ("QVM_TEST_ACCEL") : "tcg";
  const char *argv[] = { QVM_TOOL_PATH, "run", "--console", "--grace", "1", "--timeout", "200",
                         "--accel", accel, "--payload", NULL, NULL, NULL };
  Terminal terminal = { -1, g_string_new (NULL), -1 };
  struct termios before, raw, after;
  gsize at;
  pid_t pid;
  int status;

  g_assert_no_error (error);
  payload = g_build_filename (folder, "payload.sh", NULL);
  g_file_set_contents (payload, "qvm-shells\nsleep 600\n", -1, &error);
  g_assert_no_error (error);
  argv[10] = payload;
  argv[11] = archive;

  terminal.master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (terminal.master, >=, 0);
  g_assert_cmpint (grantpt (terminal.master), ==, 0);
  g_assert_cmpint (unlockpt (terminal.master), ==, 0);
  slave_name = g_strdup (ptsname (terminal.master));
  g_assert_cmpint (tcgetattr (terminal.master, &before), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      /* A session of its own whose controlling terminal is the slave. */
      int slave;

      setsid ();
      slave = open (slave_name, O_RDWR);
      if (slave < 0 || ioctl (slave, TIOCSCTTY, 0) != 0)
        _exit (126);
      dup2 (slave, 0);
      dup2 (slave, 1);
      dup2 (slave, 2);
      execve (argv[0], (char **) argv, env);
      _exit (127);
    }
  terminal.qvm = pid;

  at = read_until (&terminal, 0, "Ctrl-] detaches");
  g_assert_cmpint (tcgetattr (terminal.master, &raw), ==, 0);
  g_assert_false (raw.c_lflag & (ICANON | ECHO | ISIG));

  /* The guest's shell, typed at. Its answer comes back as the guest wrote
   * it (raw mode: no newline translation on the way). */
  at = read_until (&terminal, at, "qvm-sh$ ");
  type (&terminal, "echo hello-$((6*7))\r");
  at = read_until (&terminal, at, "\nhello-42\r\n");

  /* Ctrl-] gives the terminal back, the machine going on. */
  type (&terminal, "\x1d");
  at = read_until (&terminal, at, "console detached");
  g_assert_cmpint (tcgetattr (terminal.master, &after), ==, 0);
  g_assert_cmpint (after.c_lflag, ==, before.c_lflag);
  g_assert_cmpint (after.c_iflag, ==, before.c_iflag);
  g_assert_cmpint (after.c_oflag, ==, before.c_oflag);

  kill (pid, SIGTERM);
  read_until (&terminal, at, "done:");
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 128 + SIGTERM);

  close (terminal.master);
  g_string_free (terminal.output, TRUE);
  g_assert_cmpint (g_unlink (payload), ==, 0);
  g_assert_cmpint (g_rmdir (folder), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  if (argc != 2)
    {
      g_printerr ("usage: %s [GTest options] ARCHIVE\n", argv[0]);
      return 2;
    }
  archive = argv[1];

  g_test_add_func ("/qvm/console/terminal", test_qvm_console_terminal);

  return g_test_run ();
}
