/* qvm-guestfwd.c: joins its stdin/stdout to a unix socket
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU's user-mode network runs this program once per guest TCP connection to
 * the metadata address (guestfwd=…-cmd:qvm-guestfwd SOCKET), with stdin and
 * stdout (and stderr) joined to that connection. It copies the guest's bytes
 * to the network's unix socket and the answer back, until either side is
 * done. Plain POSIX on purpose: it starts once per request, so it stays small.
 *
 * Because stderr is the guest's connection too, the program never prints
 * anything once it runs; failures only show in its exit status.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
  EXIT_OK = 0,
  EXIT_USAGE = 1,
  EXIT_CONNECT = 2,
  EXIT_IO = 3,
};

/* Each direction holds at most this much in flight: a peer that stops
 * reading stops the other peer's writes instead of growing memory. */
#define BUFFER_SIZE (64 * 1024)

/* Once the socket side has closed, how long unread output may wait for a
 * guest that does not read it before the program gives up (milliseconds). */
#define DRAIN_TIMEOUT_MS (30 * 1000)

typedef struct {
  int from_fd;
  int to_fd;
  char data[BUFFER_SIZE];
  size_t start;
  size_t end;
  bool eof;        /* from_fd has no more data */
  bool to_failed;  /* to_fd refuses more data */
} Direction;

static bool
direction_is_empty (const Direction *direction)
{
  return direction->start == direction->end;
}

static bool
direction_wants_input (const Direction *direction)
{
  return !direction->eof && !direction->to_failed && direction->end < BUFFER_SIZE;
}

static bool
direction_wants_output (const Direction *direction)
{
  return !direction_is_empty (direction) && !direction->to_failed;
}

static bool
errno_is_transient (void)
{
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Reads what is available. A read error counts as the end of the stream:
 * either way no more bytes will come from that side. */
static void
direction_fill (Direction *direction)
{
  ssize_t n = read (direction->from_fd, direction->data + direction->end,
                    BUFFER_SIZE - direction->end);

  if (n > 0)
    direction->end += (size_t) n;
  else if (n == 0 || !errno_is_transient ())
    direction->eof = true;
}

static void
direction_flush (Direction *direction, bool to_is_socket)
{
  ssize_t n;

  if (to_is_socket)
    n = send (direction->to_fd, direction->data + direction->start,
              direction->end - direction->start, MSG_NOSIGNAL);
  else
    n = write (direction->to_fd, direction->data + direction->start,
               direction->end - direction->start);

  if (n > 0)
    {
      direction->start += (size_t) n;
      if (direction->start == direction->end)
        direction->start = direction->end = 0;
    }
  else if (n < 0 && !errno_is_transient ())
    {
      direction->to_failed = true;
      direction->start = direction->end = 0;
    }
}

static int
connect_unix (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (path) >= sizeof address.sun_path)
    return -1;
  strcpy (address.sun_path, path);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;

  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0)
    {
      close (fd);
      return -1;
    }

  return fd;
}

static void
set_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags >= 0)
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

int
main (int argc, char *argv[])
{
  static Direction up;    /* stdin → socket */
  static Direction down;  /* socket → stdout */
  bool up_shut = false;
  int socket_fd;

  if (argc != 2 || argv[1][0] == '\0')
    {
      fprintf (stderr, "Usage: %s SOCKET\n"
               "Copies standard input to the unix socket SOCKET and its answer "
               "to standard output.\n", argc > 0 ? argv[0] : "qvm-guestfwd");
      return EXIT_USAGE;
    }

  signal (SIGPIPE, SIG_IGN);

  socket_fd = connect_unix (argv[1]);
  if (socket_fd < 0)
    return EXIT_CONNECT;

  set_nonblocking (STDIN_FILENO);
  set_nonblocking (STDOUT_FILENO);
  set_nonblocking (socket_fd);

  up.from_fd = STDIN_FILENO;
  up.to_fd = socket_fd;
  down.from_fd = socket_fd;
  down.to_fd = STDOUT_FILENO;

  for (;;)
    {
      struct pollfd fds[3] = {
        { .fd = STDIN_FILENO, .events = 0 },
        { .fd = socket_fd, .events = 0 },
        { .fd = STDOUT_FILENO, .events = 0 },
      };
      int timeout = -1;
      int n;

      /* The guest has sent everything: pass the half-close on, so the
       * server sees the end of the request and still sends its answer. */
      if ((up.eof || up.to_failed) && direction_is_empty (&up) && !up_shut)
        {
          shutdown (socket_fd, SHUT_WR);
          up_shut = true;
        }

      /* The server is done (or the guest stopped taking data): that side is
       * closed, so is the whole connection once its bytes are passed on. */
      if (down.to_failed)
        break;
      if (down.eof && direction_is_empty (&down))
        break;
      if (down.eof)
        timeout = DRAIN_TIMEOUT_MS;

      if (direction_wants_input (&up))
        fds[0].events |= POLLIN;
      if (direction_wants_output (&up))
        fds[1].events |= POLLOUT;
      if (direction_wants_input (&down))
        fds[1].events |= POLLIN;
      if (direction_wants_output (&down))
        fds[2].events |= POLLOUT;

      /* A hung-up fd is reported even when nothing is asked of it, which
       * would spin this loop; poll() skips negative fds. Stdout stays in,
       * as its hang-up means the guest is gone. */
      if (fds[0].events == 0)
        fds[0].fd = -1;
      if (fds[1].events == 0)
        fds[1].fd = -1;

      n = poll (fds, 3, timeout);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return EXIT_IO;
        }
      if (n == 0)
        break;  /* the guest did not read the rest of the answer in time */

      /* The guest side is gone entirely (stdout reports an error or a
       * hang-up even when no output is pending). */
      if (fds[2].revents & (POLLERR | POLLHUP | POLLNVAL))
        {
          if (!(fds[2].revents & POLLOUT))
            break;
        }

      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        direction_fill (&up);
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR) && direction_wants_input (&down))
        direction_fill (&down);
      if (fds[1].revents & (POLLOUT | POLLERR) && direction_wants_output (&up))
        direction_flush (&up, true);
      if (fds[2].revents & POLLOUT)
        direction_flush (&down, false);
    }

  close (socket_fd);
  return EXIT_OK;
}
