/* test-guestfwd.c: QEMU guestfwd "cmd:" helper for the tests
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-guestfwd SOCKET
 *
 * QEMU's user network runs this once per guest connection to the forwarded
 * address, with the connection on stdin/stdout; it joins them to the unix
 * stream socket SOCKET. When the guest stops sending, the socket gets a
 * half-close so the server can still answer; when the server closes, the
 * helper exits. It stands in for the library's qvm-guestfwd until the guest
 * tests switch to it.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static bool
write_all (int fd, const char *data, size_t size)
{
  while (size > 0)
    {
      ssize_t written = write (fd, data, size);

      if (written < 0 && errno == EINTR)
        continue;
      if (written <= 0)
        return false;
      data += written;
      size -= (size_t) written;
    }
  return true;
}

/* Copies what is readable on @from to @to; false at end of file or error. */
static bool
forward (int from, int to)
{
  char buffer[16384];
  ssize_t got;

  do
    got = read (from, buffer, sizeof buffer);
  while (got < 0 && errno == EINTR);

  return got > 0 && write_all (to, buffer, (size_t) got);
}

int
main (int argc, char *argv[])
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  struct pollfd fds[2];
  bool guest_open = true;
  int sock;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s SOCKET\n", argv[0]);
      return 2;
    }
  if (strlen (argv[1]) >= sizeof address.sun_path)
    {
      fprintf (stderr, "test-guestfwd: socket path too long: %s\n", argv[1]);
      return 1;
    }
  strcpy (address.sun_path, argv[1]);

  /* A peer that goes away must end the helper, not kill it mid-write. */
  signal (SIGPIPE, SIG_IGN);

  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect (sock, (struct sockaddr *) &address, sizeof address) < 0)
    {
      fprintf (stderr, "test-guestfwd: cannot connect to %s: %s\n", argv[1], strerror (errno));
      return 1;
    }

  for (;;)
    {
      fds[0] = (struct pollfd) { .fd = guest_open ? STDIN_FILENO : -1, .events = POLLIN };
      fds[1] = (struct pollfd) { .fd = sock, .events = POLLIN };

      if (poll (fds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return 1;
        }

      if (fds[0].revents != 0 && !forward (STDIN_FILENO, sock))
        {
          guest_open = false;
          shutdown (sock, SHUT_WR);
        }
      if (fds[1].revents != 0 && !forward (sock, STDOUT_FILENO))
        return 0;
    }
}
