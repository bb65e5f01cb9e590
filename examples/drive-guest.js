#!/usr/bin/gjs -m
// drive-guest.js: drive the test guest as a person would, from GJS
//
//   gjs -m drive-guest.js ARCHIVE [auto|kvm|tcg]
//
// As drive-guest.py: a command on the serial console, and one typed on the
// keyboard (tty1) that answers on the serial port.
//
// Copyright 2026 The qvm-glib authors
// SPDX-License-Identifier: LGPL-2.1-or-later
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import Soup from 'gi://Soup?version=3.0';
import System from 'system';

const TIMEOUT_MS = 120 * 1000;
const [archive, accel = 'tcg'] = ARGV;
const folder = GLib.dir_make_tmp('drive-guest-XXXXXX');
const payload = new TextEncoder().encode('qvm-shells\nsleep 600\n');

function answer(server, message, path) {
    if (path === '/payload') {
        message.set_response('text/plain', Soup.MemoryUse.COPY, payload);
        message.set_status(200, null);
    } else {
        message.set_status(404, null);
    }
}

let status = 1;
try {
    const store = Qvm.ImageStore.new(`${folder}/store`);
    const image = store.instance(null, Gio.File.new_for_commandline_arg(archive), null);
    const vm = Qvm.VirtualMachine.new_simple(image, Qvm.UserNetwork.new(folder), folder);
    vm.set_accel(Qvm.Accel.parse(accel));
    vm.set_http_handler(answer);
    vm.start(null);
    const console = vm.get_console();

    console.wait_for(null, 'qvm-sh\\$ ', TIMEOUT_MS, null);
    console.write(new TextEncoder().encode('echo serial-$((6*7))\n'));
    let [text, offset] = console.wait_for(null, 'serial-42', TIMEOUT_MS, null);
    print(`console: ${text} at ${offset}`);

    vm.type_text('echo keyboard-$((6*7)) > /dev/ttyS0\n', 0, null);
    [text, offset] = console.wait_for(null, 'keyboard-42', TIMEOUT_MS, null);
    print(`keyboard: ${text} at ${offset}`);

    vm.kill();
    vm.wait(TIMEOUT_MS, null);
    status = 0;
} finally {
    Gio.Subprocess.new(['rm', '-rf', folder], Gio.SubprocessFlags.NONE).wait(null);
}
System.exit(status);
