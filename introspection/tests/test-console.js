#!/usr/bin/gjs -m
// QvmConsole as seen from GJS: a reader's stream, writes, wait_for and its
// errors, the end with the machine. Needs QEMU (a blank disk: the guest
// writes nothing to its console; the guest suite reads real output).
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';
import {call, removeTree, runUntil} from './vmhelpers.js';

const t = new TapRunner();

// Catches what @func throws, or null.
function thrown(func) {
    try {
        func();
    } catch (e) {
        return e;
    }
    return null;
}

t.test('console: stream, write, wait_for, end', () => {
    const folder = GLib.dir_make_tmp('qvm-gjs-console-XXXXXX');
    const path = name => GLib.build_filenamev([folder, name]);
    for (const name of ['sockets', 'network'])
        GLib.mkdir_with_parents(path(name), 0o700);
    const image = Qvm.FolderImage.new_blank(path('disk'), 16 << 20, Qvm.Machine.new_random());
    const vm = new Qvm.VirtualMachine({
        options: Qvm.MachineOptions.new(64), image,
        network: Qvm.UserNetwork.new(path('network')), socket_folder: path('sockets'),
    });
    vm.set_accel(Qvm.Accel.parse(GLib.getenv('QVM_TEST_ACCEL') ?? 'tcg'));
    const console = vm.get_console();
    try {
        t.equal(console.ring_size, 1024 * 1024, 'default ring');
        const stream = console.open_stream(Qvm.ConsoleFrom.NOW);
        t.ok(stream instanceof Gio.IOStream, 'a GIOStream');
        t.ok(console.write(new TextEncoder().encode('root\n')), 'queued before the start');
        t.equal(call(vm, 'start'), true, 'start');

        const bad = thrown(() => console.wait_for(null, '(', 0, null));
        t.ok(bad !== null && bad.domain === GLib.regex_error_quark(), 'bad regex');
        const late = thrown(() => console.wait_for(stream, 'login:', 100, null));
        t.ok(late !== null && late.matches(Qvm.error_quark(), Qvm.Error.TIMED_OUT), 'timed out');

        let result = null;
        console.wait_for_async(null, 'never', 0, null, (source, res) => {
            result = thrown(() => console.wait_for_finish(res));
        });
        vm.kill();
        runUntil(() => result !== null);
        t.ok(result.matches(Qvm.error_quark(), Qvm.Error.KILLED), 'the machine\'s error');
        runUntil(() => vm.get_state() === Qvm.VmState.DONE);
        t.ok(console.closed, 'closed');
        t.equal(stream.get_input_stream().read_bytes(4096, null).get_size(), 0, 'stream ended');
    } finally {
        vm.kill();
        runUntil(() => vm.get_state() === Qvm.VmState.DONE);
        image.delete();
        removeTree(folder);
    }
});

t.run();
