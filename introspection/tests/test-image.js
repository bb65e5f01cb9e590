#!/usr/bin/gjs -m
// Images, packaging and the image store as seen from GJS.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';

const t = new TapRunner();
const MIB = 1024 * 1024;
const folder = GLib.dir_make_tmp('qvm-test-gi-image-XXXXXX');

// Runs an _async call to completion; returns its result.
function wait(start) {
    const loop = new GLib.MainLoop(null, false);
    let result = null;
    start((source, res) => {
        result = res;
        loop.quit();
    });
    loop.run();
    return result;
}

t.test('package a blank image and get an instance from a store', () => {
    const machine = Qvm.Machine.new_random();
    const image = Qvm.FolderImage.new_blank(`${folder}/build`, 64 * MIB, machine);
    t.ok(image instanceof Qvm.MutableImage, 'a MutableImage');
    t.equal(image.get_format(), 'raw');
    t.equal(image.get_disk_file(), `${folder}/build/disk.img`);
    t.equal(image.get_disk().get_path(), `${folder}/build/disk.img`);
    t.ok(!image.in_use, 'asking for the disk does not mark it in use');
    t.ok(image.acquire(), 'acquired');
    t.ok(image.in_use, 'in use');
    image.release();

    let progress = 0;
    image.connect('progress', (_image, done, total) => {
        t.ok(done <= total, 'done <= total');
        progress++;
    });
    const archive = `${folder}/image.tar.zst`;
    const packaged = wait(done => image.package_async(archive, null, done));
    t.ok(image.package_finish(packaged), 'packaged');
    t.ok(progress > 0, 'progress signalled');

    const store = Qvm.ImageStore.new(`${folder}/store`);
    const result = wait(done => store.instance_async('gjs', Gio.File.new_for_path(archive), null, done));
    const instance = store.instance_finish(result);
    t.equal(instance.get_format(), 'qcow2');
    t.ok(instance.get_machine().equal(machine), 'same machine');
    t.ok(GLib.file_test(instance.get_disk_file(), GLib.FileTest.IS_REGULAR), 'instance file');
    t.ok(instance.acquire(), 'instance acquired');
    instance.release();
    t.equal(instance.get_disk_file(), null);
    t.equal(instance.get_disk(), null);
    try {
        instance.acquire();
        throw new Error('expected an error');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE), 'released: cannot acquire');
    }
    t.equal(store.collect(), 1);
    t.ok(image.delete(), 'deleted');
});

t.test('one id names one archive; the blocking instance()', () => {
    const machine = Qvm.Machine.new_random();
    const image = Qvm.FolderImage.new_blank(`${folder}/build-id`, MIB, machine);
    const first = `${folder}/first.tar.zst`, second = `${folder}/second.tar.zst`;
    t.ok(image.package(first, null), 'packaged');
    Gio.File.new_for_path(first).copy(Gio.File.new_for_path(second), Gio.FileCopyFlags.NONE, null, null);
    const store = Qvm.ImageStore.new(`${folder}/store-id`);
    const instance = store.instance(null, Gio.File.new_for_path(first), null);
    t.ok(instance.get_machine().equal(machine), 'keyed by URI, same machine');
    instance.release();
    store.instance('one', Gio.File.new_for_path(first), null).release();
    try {
        store.instance('one', Gio.File.new_for_path(second), null);
        throw new Error('expected an error');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE), 'another file under one id');
        t.ok(e.message.includes('second.tar.zst'), e.message);
    }
    t.equal(store.collect(), 2);
    t.ok(image.delete(), 'deleted');
});

t.test('a hostile archive is a MALFORMED_PAYLOAD error', () => {
    const archive = `${folder}/image.tar`;
    GLib.file_set_contents(archive, 'plain tar, no zstd');
    const store = Qvm.ImageStore.new(`${folder}/store2`);
    const result = wait(done => store.instance_async('bad', Gio.File.new_for_path(archive), null, done));
    try {
        store.instance_finish(result);
        throw new Error('expected an error');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.MALFORMED_PAYLOAD), 'domain and code');
        t.ok(e.message.startsWith('image archive: '), e.message);
    }
});

t.test('clean up', () => {
    const [ok] = GLib.spawn_sync(null, ['rm', '-rf', folder], null, GLib.SpawnFlags.SEARCH_PATH, null);
    t.ok(ok, 'removed');
    t.ok(!GLib.file_test(folder, GLib.FileTest.EXISTS), 'gone');
});

t.run();
