#!/usr/bin/python3
# drive-guest.py: drive the test guest as a person would, from PyGObject
#
#   drive-guest.py ARCHIVE [auto|kvm|tcg]
#
# Boots ARCHIVE (tests/guest's test guest) with a payload that starts its
# shells, then: waits for the serial console's prompt and runs a command
# there; types a command on the keyboard (the shell on tty1) that writes
# to the serial port, and waits for that on the console. Exits 0 when all
# of it worked. drive-guest.js is the same in GJS.
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import shutil
import sys
import tempfile

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import Gio, Qvm, Soup  # noqa: E402

PAYLOAD = b'qvm-shells\nsleep 600\n'
TIMEOUT_MS = 120 * 1000


def answer(server, message, path, query):
    if path == '/payload':
        message.set_response('text/plain', Soup.MemoryUse.COPY, PAYLOAD)
        message.set_status(200, None)
    else:
        message.set_status(404, None)


def main(archive, accel='tcg'):
    folder = tempfile.mkdtemp(prefix='drive-guest-')
    try:
        store = Qvm.ImageStore.new(folder + '/store')
        image = store.instance(None, Gio.File.new_for_commandline_arg(archive), None)
        vm = Qvm.VirtualMachine.new_simple(image, Qvm.UserNetwork.new(folder), folder)
        vm.set_accel(Qvm.Accel.parse(accel))
        vm.set_http_handler(answer)
        vm.start(None)
        console = vm.get_console()

        # The serial console: a prompt, a command, its answer.
        console.wait_for(None, r'qvm-sh\$ ', TIMEOUT_MS, None)
        console.write(b'echo serial-$((6*7))\n')
        text, offset = console.wait_for(None, r'serial-42', TIMEOUT_MS, None)
        print('console:', text, 'at', offset)

        # The keyboard: typed on tty1, answered on the serial port.
        vm.type_text('echo keyboard-$((6*7)) > /dev/ttyS0\n', 0, None)
        text, offset = console.wait_for(None, r'keyboard-42', TIMEOUT_MS, None)
        print('keyboard:', text, 'at', offset)

        vm.kill()
        vm.wait(TIMEOUT_MS, None)
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: drive-guest.py ARCHIVE [auto|kvm|tcg]')
    sys.exit(main(*sys.argv[1:3]))
