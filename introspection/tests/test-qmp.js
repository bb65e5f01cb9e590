#!/usr/bin/gjs -m
// QvmQmpClient from GJS, against a real QEMU with QMP on a socket path.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Json from 'gi://Json';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';

const t = new TapRunner();

// Runs @body (path) with a QEMU listening on a QMP socket, always killing
// it and removing its folder afterwards.
function withQemu(body) {
    const folder = GLib.dir_make_tmp('qvm-test-qmp-XXXXXX');
    const path = GLib.build_filenamev([folder, 'qmp.sock']);
    const qemu = Gio.Subprocess.new([
        GLib.getenv('QVM_QEMU') ?? 'qemu-system-x86_64',
        '-machine', 'none', '-accel', GLib.getenv('QVM_TEST_ACCEL') ?? 'tcg',
        '-nodefaults', '-display', 'none',
        '-chardev', `socket,id=qmp,path=${path},server=on,wait=off`,
        '-mon', 'chardev=qmp,mode=control',
    ], Gio.SubprocessFlags.NONE);
    try {
        // Waiting for the socket to appear is acceptable in a test.
        for (let i = 0; i < 1000 && !GLib.file_test(path, GLib.FileTest.EXISTS); i++)
            GLib.usleep(10000);
        t.ok(GLib.file_test(path, GLib.FileTest.EXISTS), 'QMP socket');
        body(path, qemu);
    } finally {
        qemu.force_exit();
        qemu.wait(null);
        GLib.unlink(path);
        GLib.rmdir(folder);
    }
}

function runLoop(loop) {
    let timedOut = false;
    const source = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 60, () => {
        timedOut = true;
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    if (timedOut)
        throw new Error('timed out');
    GLib.source_remove(source);
}

t.test('query-status, then quit and catch SHUTDOWN', () => withQemu((path, qemu) => {
    const loop = GLib.MainLoop.new(null, false);
    const seen = {events: [], closed: false, reason: 'unset'};
    let failure = null;
    const guard = func => (...args) => {
        try {
            func(...args);
        } catch (e) {
            failure = e;
            loop.quit();
        }
    };

    Qvm.QmpClient.connect_async(path, null, guard((source, result) => {
        const client = Qvm.QmpClient.connect_finish(result);
        seen.client = client;
        client.connect('event::SHUTDOWN', (c, name, data, timestamp) => {
            seen.events.push(name);
            seen.shutdownReason = data.get_string_member('reason');
            seen.timestamp = timestamp;
        });
        client.connect('closed', (c, reason) => {
            seen.closed = true;
            seen.reason = reason;
            loop.quit();
        });
        client.execute_async('query-status', null, null, guard((c, res) => {
            seen.status = c.execute_finish(res).get_object();
            c.execute_async('quit', null, null, guard((c2, res2) => {
                seen.quit = c2.execute_finish(res2);
            }));
        }));
    }));
    runLoop(loop);
    if (failure)
        throw failure;

    t.ok(seen.client.capabilities.includes('oob'), 'capabilities');
    t.ok(/^\d+\.\d+\.\d+$/.test(seen.client.qemu_version), 'qemu-version');
    t.equal(seen.status.get_string_member('status'), 'running', 'status');
    t.equal(seen.events.join(','), 'SHUTDOWN', 'events');
    t.equal(seen.shutdownReason, 'host-qmp-quit', 'SHUTDOWN reason');
    t.ok(seen.timestamp > 0, 'timestamp');
    t.ok(seen.closed, 'closed emitted');
    t.equal(seen.reason, null, 'clean close');
    t.ok(seen.client.closed, 'closed property');
    qemu.wait(null);
    t.equal(qemu.get_exit_status(), 0, 'QEMU exit status');
}));

t.test('blocking calls and QMP errors', () => withQemu(path => {
    const client = Qvm.QmpClient.connect_sync(path, null);
    const status = client.execute('query-status', null, null);
    t.equal(status.get_object().get_string_member('status'), 'running', 'status');

    const args = new Json.Object();
    args.set_string_member('id', 'no-such-device');
    let caught = null;
    try {
        client.execute('device_del', args, null);
    } catch (e) {
        caught = e;
    }
    t.ok(caught?.matches(Qvm.qmp_error_quark(), Qvm.QmpError.DEVICE_NOT_FOUND), 'DeviceNotFound');
    t.ok(caught.message.includes('no-such-device'), 'message');

    t.ok(client.close(null), 'close');
    caught = null;
    try {
        client.execute('query-status', null, null);
    } catch (e) {
        caught = e;
    }
    t.ok(caught?.matches(Qvm.error_quark(), Qvm.Error.CLOSED), 'closed error');
}));

t.run();
