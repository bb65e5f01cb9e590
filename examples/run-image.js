#!/usr/bin/gjs -m
// run-image.js: run an image archive with qvm-glib from JavaScript (GJS)
//
//   run-image.js ARCHIVE SCREENSHOT.png [auto|kvm|tcg]
//
// Loads ARCHIVE into an image store, boots an instance on a user network
// whose metadata service hands the guest a payload at /payload and takes
// its answer at /result, saves a screenshot once the machine runs, and
// waits for "done". Exits 0 when the guest answered and powered off.
//
// Copyright 2026 The qvm-glib authors
// SPDX-License-Identifier: LGPL-2.1-or-later
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import Soup from 'gi://Soup?version=3.0';
import {exit} from 'system';

const PAYLOAD = new TextEncoder().encode('echo hello from run-image.js\n');

function removeTree(file) {
    const flags = Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS;
    if (file.query_file_type(flags, null) === Gio.FileType.DIRECTORY) {
        const children = file.enumerate_children('standard::name', flags, null);
        let info;
        while ((info = children.next_file(null)) !== null)
            removeTree(children.get_child(info));
    }
    file.delete(null);
}

function main([archive, png, accel = 'auto']) {
    const folder = GLib.dir_make_tmp('run-image-XXXXXX');
    const loop = new GLib.MainLoop(null, false);
    let answer = null, screenshot = null, vm = null;

    function handle(server, message, path) {
        if (message.get_method() === 'GET' && path === '/payload') {
            message.set_response('text/plain', Soup.MemoryUse.COPY, PAYLOAD);
            message.set_status(200, null);
        } else if (message.get_method() === 'POST' && path === '/result') {
            answer = new TextDecoder().decode(message.get_request_body().flatten().get_data());
            message.set_status(200, null);
        } else {
            message.set_status(404, null);
        }
    }

    const store = Qvm.ImageStore.new(`${folder}/store`);
    store.instance_async('image', Gio.File.new_for_commandline_arg(archive), null, (_, result) => {
        try {
            const image = store.instance_finish(result);
            const network = Qvm.UserNetwork.new(folder);
            vm = Qvm.VirtualMachine.new(Qvm.MachineOptions.new(1024), image, network,
                folder, null, null);
        } catch (e) {
            printerr(e.message);
            loop.quit();
            return;
        }
        vm.set_accel(Qvm.Accel.parse(accel));
        vm.set_http_handler(handle);
        vm.connect('done', () => loop.quit());
        vm.start_async(null, (_vm, started) => {
            vm.start_finish(started);
            vm.screenshot_async(null, (_vm2, shot) => {
                vm.screenshot_finish(shot).savev(png, 'png', [], []);
                screenshot = png;
            });
        });
    });
    loop.run();
    removeTree(Gio.File.new_for_path(folder));

    if (vm?.get_error())
        printerr(`done: ${vm.get_error().message}`);
    print(`guest answered: ${(answer ?? '(nothing)\n').trimEnd()}`);
    print(`screenshot: ${screenshot ?? '(none)'}`);
    return answer !== null && screenshot !== null ? 0 : 1;
}

if (ARGV.length < 2) {
    printerr('usage: run-image.js ARCHIVE SCREENSHOT.png [auto|kvm|tcg]');
    exit(2);
}
exit(main(ARGV));
