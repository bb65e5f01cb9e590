#!/usr/bin/gjs -m
// QvmMachine and QvmMachineOptions as seen from GJS.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Json from 'gi://Json';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';

const t = new TapRunner();
const encoder = new TextEncoder();

const MACHINE = {
    version: 1,
    uuid: '6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d',
    network: {device: 'rtl8139', mac: '02:5e:1a:00:00:01'},
    keyboard: {layout: 'ja'},
    cpu: {cores: 2},
};

function load(definition) {
    return Qvm.Machine.new_from_bytes(new GLib.Bytes(encoder.encode(JSON.stringify(definition))));
}

function expectError(func) {
    try {
        func();
    } catch (e) {
        return e;
    }
    throw new Error('expected an error');
}

t.test('load a machine from JSON', () => {
    const machine = load(MACHINE);
    t.equal(machine.get_uuid(), MACHINE.uuid);
    t.equal(machine.network_device, 'rtl8139');
    t.equal(machine.mac_address, '02:5e:1a:00:00:01');
    t.equal(machine.keyboard_layout, 'ja');
    t.equal(machine.cores, 2);
    t.equal(machine.sound_device, null);

    const same = Qvm.Machine.new_from_json(Json.from_string(JSON.stringify(MACHINE)));
    t.ok(machine.equal(same), 'equal');
});

t.test('validation error: domain, code and message', () => {
    const bad = {...MACHINE, network: {device: 'rtl8139', mac: '00:11:22:33:44:55'}, colour: 'red'};
    const e = expectError(() => load(bad));
    t.ok(e instanceof GLib.Error, 'a GLib.Error');
    t.ok(e.matches(Qvm.error_quark(), Qvm.Error.MALFORMED_PAYLOAD), 'domain and code');
    t.equal(e.code, Qvm.Error.MALFORMED_PAYLOAD);
    const lines = e.message.split('\n');
    t.equal(lines.length, 2);
    t.ok(lines.some(l => l.startsWith('network.mac: "00:11:22:33:44:55" is not locally administered')), e.message);
    t.ok(lines.some(l => l.startsWith('(root): ') && l.includes('colour')), e.message);
});

t.test('apply options with set_defaults', () => {
    const machine = load(MACHINE);
    let notified = 0;
    machine.connect('notify::memory', () => notified++);
    const options = Qvm.MachineOptions.new(1024);
    t.ok(machine.set_defaults(options), 'set_defaults');
    t.equal(machine.memory, 1024);
    t.equal(notified, 1);

    const big = load({...MACHINE, memory: 4096});
    const e = expectError(() => big.set_defaults(options));
    t.ok(e.matches(Qvm.error_quark(), Qvm.Error.MALFORMED_PAYLOAD), 'domain and code');
    t.ok(e.message.includes('4096') && e.message.includes('1024'), e.message);
    t.equal(big.get_options().max_memory, 4096);
    t.equal(new Qvm.MachineOptions({max_memory: 32}).max_memory, 32);
});

t.test('read the schemas', () => {
    const schema = JSON.parse(Qvm.Machine.get_schema());
    t.equal(schema.type, 'object');
    t.ok(schema.properties.network.properties.device.enum.includes('virtio-net-pci'), 'network devices');
    const options = JSON.parse(Qvm.MachineOptions.get_schema());
    t.equal(options.title, 'Machine Options');
    t.equal(options.properties.maxMemory.maximum, 1048576);
});

t.test('save and load a file', () => {
    const folder = GLib.dir_make_tmp('qvm-test-gjs-XXXXXX');
    const file = Gio.File.new_for_path(GLib.build_filenamev([folder, 'machine.json']));
    try {
        const machine = Qvm.Machine.new_random();
        t.ok(machine.save_to_file(file, null), 'saved');
        const again = Qvm.Machine.new_from_file(file, null);
        t.ok(machine.equal(again), 'equal after the round trip');
    } finally {
        try {
            file.delete(null);
        } catch (e) {
            // Nothing was saved.
        }
        GLib.rmdir(folder);
    }
});

t.run();
