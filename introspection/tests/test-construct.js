#!/usr/bin/gjs -m
// Construction through properties, as GJS does it: new Qvm.VirtualMachine({
// image, …}) makes a machine that starts; a missing required property is a
// GLib.Error, never a critical (criticals are fatal here). Needs QEMU (no
// guest OS: a blank disk, SeaBIOS's screen).
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';
import {call, removeTree, runUntil} from './vmhelpers.js';

GLib.log_set_always_fatal(GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING |
    GLib.LogLevelFlags.LEVEL_ERROR);

const t = new TapRunner();
// Calls func(parts) with an image, a network (made by properties) and a
// socket folder; kills and waits for every machine it made.
function withParts(func) {
    const folder = GLib.dir_make_tmp('qvm-gjs-construct-XXXXXX');
    const sockets = GLib.build_filenamev([folder, 'sockets']);
    GLib.mkdir_with_parents(sockets, 0o700);
    const image = Qvm.FolderImage.new_blank(GLib.build_filenamev([folder, 'image']),
        16 * 1024 * 1024, Qvm.Machine.new_random());
    const network = new Qvm.UserNetwork({folder});
    const vms = [];
    const make = properties => {
        const vm = new Qvm.VirtualMachine(properties);
        vms.push(vm);
        return vm;
    };
    try {
        func({image, network, sockets, folder, make});
    } finally {
        for (const vm of vms) {
            vm.kill();
            if (vm.get_machine() !== null)
                runUntil(() => vm.get_state() === Qvm.VmState.DONE);
        }
        image.delete();
        removeTree(folder);
    }
}

t.test('network by properties', () => withParts(({network}) => {
    network.init(null);
    t.ok(GLib.file_test(network.socket_path, GLib.FileTest.EXISTS), 'socket');
    t.ok(network.get_netdev('net0').includes('restrict=on'), 'netdev');
}));

t.test('machine by properties starts', () => withParts(({image, network, sockets, make}) => {
    const vm = make({options: Qvm.MachineOptions.new(64), image, network, socket_folder: sockets});
    vm.init(null);
    vm.set_accel(Qvm.Accel.parse(GLib.getenv('QVM_TEST_ACCEL') ?? 'tcg'));
    t.equal(vm.get_machine().memory, 64, 'memory');
    const events = [];
    vm.connect('done', () => events.push('done'));
    vm.connect('notify::state', () => events.push(`state ${vm.state}`));

    t.equal(call(vm, 'start'), true, 'start');
    t.equal(vm.state, Qvm.VmState.RUNNING, 'running');
    vm.kill();
    runUntil(() => events.includes(`state ${Qvm.VmState.DONE}`));
    t.equal(events.slice(-3).join(','),
        [`state ${Qvm.VmState.STOPPING}`, 'done', `state ${Qvm.VmState.DONE}`].join(','), 'order');
    t.equal(image.get_in_use(), false, 'image released');
}));

t.test('a missing image is an error', () => withParts(({network, sockets, make}) => {
    const vm = make({options: Qvm.MachineOptions.new(64), network, socket_folder: sockets});
    let error = null;
    try {
        vm.init(null);
    } catch (e) {
        error = e;
    }
    t.ok(error?.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT), 'init error');
    t.ok(error.message.includes('image'), 'names the property');
    t.equal(vm.get_machine(), null, 'no machine');
    error = null;
    try {
        call(vm, 'start');
    } catch (e) {
        error = e;
    }
    t.ok(error?.message.includes('image'), 'start error');
    vm.kill();
}));

t.test('the accelerator is an enum', () => withParts(({image, network, sockets, make}) => {
    t.equal(Qvm.Accel.parse('kvm'), Qvm.Accel.KVM, 'parse');
    let error = null;
    try {
        Qvm.Accel.parse('hvf');
    } catch (e) {
        error = e;
    }
    t.ok(error?.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT), 'parse error');
    t.ok(error.message.includes('auto, kvm or tcg'), 'names the accelerators');
    const vm = make({options: Qvm.MachineOptions.new(64), image, network, socket_folder: sockets,
        accel: Qvm.Accel.TCG});
    t.equal(vm.get_accel(), Qvm.Accel.TCG, 'by property');
    vm.accel = Qvm.Accel.AUTO;
    t.equal(vm.get_accel(), Qvm.Accel.AUTO, 'set');
}));

t.test('short forms', () => withParts(({image, network, sockets, folder, make}) => {
    const vm = Qvm.VirtualMachine.new(null, image, network, sockets, null, null);
    t.equal(vm.options.max_memory, Qvm.MACHINE_OPTIONS_DEFAULT_MAX_MEMORY, 'default options');
    vm.kill();
    const defaults = make({image, network, socket_folder: sockets});
    defaults.init(null);
    t.ok(defaults.options !== null, 'options by default');

    const simple = Qvm.VirtualMachine.new_simple(image, network, sockets);
    const isos = ['one.iso', 'two.iso'].map(name => GLib.build_filenamev([folder, name]));
    for (const iso of isos)
        GLib.file_set_contents(iso, 'x');
    t.equal(simple.set_cdroms(isos), true, 'set_cdroms');
    t.equal(`${simple.cdrom1},${simple.cdrom2}`, isos.join(','), 'the properties');
    let error = null;
    try {
        simple.set_cdroms([...isos, isos[0]]);
    } catch (e) {
        error = e;
    }
    t.ok(error?.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT), 'at most two');
    t.equal(simple.set_cdroms(null), true, 'none');
    t.equal(simple.cdrom1, null, 'cleared');
    simple.kill();
}));

t.test('a store without a folder is an error', () => {
    let error = null;
    try {
        new Qvm.ImageStore().init(null);
    } catch (e) {
        error = e;
    }
    t.ok(error?.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT), 'init error');
});

t.run();
