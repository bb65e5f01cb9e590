#!/usr/bin/python3
# run-image.py: run an image archive with qvm-glib from Python (PyGObject)
#
#   run-image.py ARCHIVE SCREENSHOT.png [auto|kvm|tcg]
#
# Loads ARCHIVE into an image store, boots an instance on a user network
# whose metadata service hands the guest a payload at /payload and takes
# its answer at /result, saves a screenshot once the machine runs, and
# waits for "done". Exits 0 when the guest answered and powered off.
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import shutil
import sys
import tempfile

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import Gio, GLib, Qvm, Soup  # noqa: E402

PAYLOAD = b'echo hello from run-image.py\n'


def main(archive, png, accel='auto'):
    folder = tempfile.mkdtemp(prefix='run-image-')
    loop = GLib.MainLoop()
    found = {}

    def handle(server, message, path, query):
        if message.get_method() == 'GET' and path == '/payload':
            message.set_response('text/plain', Soup.MemoryUse.COPY, PAYLOAD)
            message.set_status(200, None)
        elif message.get_method() == 'POST' and path == '/result':
            found['answer'] = message.get_request_body().flatten().get_data().decode()
            message.set_status(200, None)
        else:
            message.set_status(404, None)

    def screenshot_done(vm, result):
        vm.screenshot_finish(result).savev(png, 'png', [], [])
        found['screenshot'] = png

    def started(vm, result):
        vm.start_finish(result)
        vm.screenshot_async(None, screenshot_done)

    def instance_ready(store, result):
        try:
            image = store.instance_finish(result)
        except GLib.Error as error:
            print(error.message, file=sys.stderr)
            loop.quit()
            return
        network = Qvm.UserNetwork.new(folder)
        vm = Qvm.VirtualMachine.new(Qvm.MachineOptions.new(1024), image, network,
                                    folder, None, None)
        vm.set_accel(Qvm.Accel.parse(accel))
        vm.set_http_handler(handle)
        vm.connect('done', lambda vm: loop.quit())
        vm.start_async(None, started)
        found['vm'] = vm

    store = Qvm.ImageStore.new(folder + '/store')
    store.instance_async('image', Gio.File.new_for_commandline_arg(archive), None,
                         instance_ready)
    try:
        loop.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    vm = found.get('vm')
    if vm is not None and vm.get_error() is not None:
        print('done:', vm.get_error().message, file=sys.stderr)
    print('guest answered:', found.get('answer', '(nothing)\n'), end='')
    print('screenshot:', found.get('screenshot', '(none)'))
    return 0 if 'answer' in found and 'screenshot' in found else 1


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit('usage: run-image.py ARCHIVE SCREENSHOT.png [auto|kvm|tcg]')
    sys.exit(main(*sys.argv[1:4]))
