#!/usr/bin/python3
# fake-qemu.py: a scripted QEMU, for what the real one will not do on demand.
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# QvmVirtualMachine runs it as its QEMU binary through a symbolic link named
# "fake-qemu-MODE" (testutil_use_fake_qemu()). It ignores QEMU's arguments,
# speaks QMP on fd 3 the way QEMU 7.2 does (greeting, replies with the
# command's id, query-status), and plays the scenario MODE:
#
#   dies-at-once   SIGKILLs itself before the greeting
#   refuses        complains on stderr and exits with status 3, no QMP
#   prints-netdev  prints its -netdev value on stderr and exits with status 3
#   dies-on-cont   SIGKILLs itself when told to run the guest
#   never-greets   keeps QMP open and says nothing
#   guest-failed   on cont: KVM's internal-error lines on stderr, STOP, and
#                  waits for ever in internal-error
#   closes-qmp     on cont: closes the QMP socket and waits for ever
#   poweroff       on cont: RESUME, then the guest powers off
#   floods-output  on cont: 16 MiB on stdout with no newline, 1 MiB on
#                  stderr, then exits with status 1
#   obeys          system_powerdown powers the guest off
#   (anything else) a guest that runs until killed

import json
import os
import signal
import socket
import sys

MODE = os.path.basename(sys.argv[0]).split('-', 2)[2]


def send(sock, message):
    sock.sendall((json.dumps(message) + '\r\n').encode())


def event(sock, name, data=None):
    message = {'event': name, 'timestamp': {'seconds': 1700000000, 'microseconds': 0}}
    if data is not None:
        message['data'] = data
    send(sock, message)


def commands(sock):
    """The QMP commands the client sends, one object at a time."""
    decoder = json.JSONDecoder()
    buffer = ''
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return
        buffer += chunk.decode()
        while True:
            buffer = buffer.lstrip()
            try:
                command, end = decoder.raw_decode(buffer)
            except ValueError:
                break
            buffer = buffer[end:]
            yield command


def flood_and_crash():
    # A guest's serial console with no newline, then a crash.
    chunk = b'x' * 65536
    for _ in range(256):
        sys.stdout.buffer.write(chunk)
    sys.stdout.flush()
    for _ in range(16):
        sys.stderr.buffer.write(chunk)
    sys.stderr.flush()
    os._exit(1)


def after_cont(sock, status):
    """What MODE does once the guest is told to run; the new status."""
    if MODE == 'guest-failed':
        print('KVM internal error. Suberror: 1', file=sys.stderr, flush=True)
        print('emulation failure', file=sys.stderr, flush=True)
        event(sock, 'STOP')
        return 'internal-error'
    if MODE == 'closes-qmp':
        sock.close()
        while True:
            signal.pause()
    if MODE == 'poweroff':
        event(sock, 'RESUME')
        event(sock, 'SHUTDOWN', {'guest': True, 'reason': 'guest-shutdown'})
        sys.exit(0)
    if MODE == 'floods-output':
        flood_and_crash()
    event(sock, 'RESUME')
    return 'running'


def main():
    if MODE == 'dies-at-once':
        os.kill(os.getpid(), signal.SIGKILL)
    if MODE == 'refuses':
        print('qemu: first complaint', file=sys.stderr)
        print('qemu: -device bogus: not found', file=sys.stderr)
        sys.exit(3)
    if MODE == 'prints-netdev':
        print('netdev: ' + sys.argv[sys.argv.index('-netdev') + 1], file=sys.stderr)
        sys.exit(3)

    sock = socket.socket(fileno=3)
    if MODE == 'never-greets':
        while True:
            signal.pause()
    send(sock, {'QMP': {'version': {'qemu': {'major': 7, 'minor': 2, 'micro': 0},
                                    'package': 'fake'},
                        'capabilities': []}})
    status = 'prelaunch'
    for command in commands(sock):
        name = command['execute']
        if name == 'cont' and MODE == 'dies-on-cont':
            os.kill(os.getpid(), signal.SIGKILL)
        reply = {'return': {}}
        if 'id' in command:
            reply['id'] = command['id']
        if name == 'query-status':
            reply['return'] = {'status': status, 'running': status == 'running'}
        send(sock, reply)
        if name == 'cont':
            status = after_cont(sock, status)
        elif name == 'system_powerdown' and MODE == 'obeys':
            event(sock, 'POWERDOWN')
            event(sock, 'SHUTDOWN', {'guest': True, 'reason': 'guest-shutdown'})
            sys.exit(0)


main()
