#!/usr/bin/gjs -m
// QvmVirtualMachine as seen from GJS: start, screenshot, kill, done.
// Needs QEMU (no guest OS: a blank disk, SeaBIOS's screen).
import GdkPixbuf from 'gi://GdkPixbuf?version=2.0';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';
import {call, removeTree, runUntil} from './vmhelpers.js';

const t = new TapRunner();
function withMachine(func) {
    const folder = GLib.dir_make_tmp('qvm-gjs-vm-XXXXXX');
    const sockets = GLib.build_filenamev([folder, 'sockets']);
    const networkFolder = GLib.build_filenamev([folder, 'network']);
    GLib.mkdir_with_parents(sockets, 0o700);
    GLib.mkdir_with_parents(networkFolder, 0o700);
    const image = Qvm.FolderImage.new_blank(GLib.build_filenamev([folder, 'image']),
        16 * 1024 * 1024, Qvm.Machine.new_random());
    const network = Qvm.UserNetwork.new(networkFolder);
    const vm = Qvm.VirtualMachine.new(Qvm.MachineOptions.new(64), image, network,
        sockets, null, null);
    vm.set_accel(Qvm.Accel.parse(GLib.getenv('QVM_TEST_ACCEL') ?? 'tcg'));
    try {
        func(vm, image, sockets, folder);
    } finally {
        vm.kill();
        runUntil(() => vm.get_state() === Qvm.VmState.DONE);
        image.delete();
        removeTree(folder);
    }
}

t.test('start, screenshot, kill, done', () => withMachine((vm, image, sockets) => {
    const reasons = [];
    vm.connect('done', () => reasons.push(vm.get_done_reason()));

    t.equal(call(vm, 'start'), true, 'start');
    t.equal(vm.state, Qvm.VmState.RUNNING, 'state');
    t.ok(GLib.file_test(vm.get_vnc_socket(), GLib.FileTest.EXISTS), 'VNC socket');

    const pixbuf = call(vm, 'screenshot');
    t.ok(pixbuf instanceof GdkPixbuf.Pixbuf, 'a pixbuf');
    t.ok(pixbuf.get_width() > 0 && pixbuf.get_height() > 0, 'a size');

    vm.kill();
    runUntil(() => reasons.length > 0);
    t.equal(reasons.length, 1, 'done once');
    t.equal(reasons[0], Qvm.VmDoneReason.KILLED, 'reason');
    t.ok(vm.get_error().matches(Qvm.error_quark(), Qvm.Error.KILLED), 'killed error');
    t.equal(vm.get_vnc_socket(), null, 'no VNC socket once done');
    t.equal(image.get_in_use(), false, 'image released');
    t.equal(Gio.File.new_for_path(sockets).enumerate_children('standard::name',
        Gio.FileQueryInfoFlags.NONE, null).next_file(null), null, 'socket folder empty');
}));

t.test('keyboard and pointer', () => withMachine(vm => {
    t.ok(vm.start(null), 'started');
    t.ok(vm.send_keys('alt-f2', null), 'chord');
    t.ok(vm.type_text('echo typed\n', 100, null), 'typed');
    try {
        vm.type_text('Straße', 0, null);
        throw new Error('expected an error');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.FAILED), e.message);
    }
    t.ok(vm.pointer_move(4, 4, null), 'moved');
    t.ok(vm.pointer_click(Qvm.PointerButton.LEFT, null), 'clicked');
}));

t.test('the blocking forms, with no main loop running', () => withMachine(vm => {
    t.ok(vm.start(null), 'started');
    t.equal(vm.get_state(), Qvm.VmState.RUNNING);
    t.ok(vm.pause(null), 'paused');
    t.equal(vm.get_state(), Qvm.VmState.PAUSED);
    t.ok(vm.resume(null), 'resumed');
    try {
        vm.wait(100, null);
        throw new Error('expected a timeout');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.TIMED_OUT), 'wait timed out');
    }
    try {
        vm.shutdown(200, null);
        throw new Error('expected a kill');
    } catch (e) {
        t.ok(e.matches(Qvm.error_quark(), Qvm.Error.KILLED), 'shutdown: killed');
    }
    t.ok(vm.wait(0, null), 'done');
    t.equal(vm.get_done_reason(), Qvm.VmDoneReason.KILLED);
}));

t.test('missing QEMU fails the start', () => withMachine((vm, image, sockets, folder) => {
    vm.qemu_binary = GLib.build_filenamev([folder, 'no-qemu']);
    let error = null;
    try {
        call(vm, 'start');
    } catch (e) {
        error = e;
    }
    t.ok(error !== null, 'an error');
    t.ok(error.matches(Qvm.error_quark(), Qvm.Error.QEMU_NOT_FOUND), 'QEMU_NOT_FOUND');
    t.equal(vm.get_done_reason(), Qvm.VmDoneReason.FAILED, 'reason');
}));

t.run();
