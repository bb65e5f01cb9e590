#!/usr/bin/python3
# QvmMachine and QvmMachineOptions as seen from PyGObject.
import json
import os
import shutil
import sys
import tempfile
import unittest

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('Json', '1.0')
from gi.repository import Gio, GLib, Json, Qvm  # noqa: E402

MACHINE = {
    'version': 1,
    'uuid': '6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d',
    'network': {'device': 'e1000', 'mac': '02:5e:1a:00:00:01'},
    'keyboard': {'layout': 'fr-ch'},
    'sound': {'device': 'AC97', 'controller': 'pci'},
}


def load(definition):
    return Qvm.Machine.new_from_bytes(GLib.Bytes.new(json.dumps(definition).encode()))


class MachineTest(unittest.TestCase):
    def test_load_from_json(self):
        machine = load(MACHINE)
        self.assertEqual(machine.get_uuid(), MACHINE['uuid'])
        self.assertEqual(machine.props.mac_address, '02:5e:1a:00:00:01')
        self.assertEqual(machine.props.keyboard_layout, 'fr-ch')
        self.assertEqual(machine.props.sound_device, 'AC97')
        self.assertEqual(machine.props.memory, 0)
        self.assertEqual(machine.props.cores, 0)

        node = Json.from_string(json.dumps(MACHINE))
        same = Qvm.Machine.new_from_json(node)
        self.assertTrue(machine.equal(same))

    def test_validation_error(self):
        bad = dict(MACHINE, network={'device': 'e1000', 'mac': '01:00:5e:00:00:01'}, memory=-1)
        with self.assertRaises(GLib.Error) as caught:
            load(bad)
        error = caught.exception
        self.assertEqual(error.domain, 'qvm-error-quark')
        self.assertEqual(error.code, Qvm.Error.MALFORMED_PAYLOAD)
        self.assertTrue(error.matches(Qvm.error_quark(), Qvm.Error.MALFORMED_PAYLOAD))
        lines = error.message.split('\n')
        self.assertEqual(len(lines), 2)
        # In document order: memory comes last in this dict.
        self.assertTrue(lines[0].startswith('network.mac: "01:00:5e:00:00:01" has the multicast bit set'),
                        lines[0])
        self.assertTrue(lines[1].startswith('memory: -1'), lines[1])

    def test_set_defaults(self):
        machine = load(MACHINE)
        notified = []
        machine.connect('notify::memory', lambda *args: notified.append(True))
        options = Qvm.MachineOptions.new(2048)
        self.assertTrue(machine.set_defaults(options))
        self.assertEqual(machine.props.memory, 2048)
        self.assertEqual(notified, [True])

        big = load(dict(MACHINE, memory=8192))
        with self.assertRaises(GLib.Error) as caught:
            big.set_defaults(options)
        self.assertEqual(caught.exception.code, Qvm.Error.MALFORMED_PAYLOAD)
        self.assertIn('8192', caught.exception.message)
        self.assertIn('2048', caught.exception.message)
        self.assertEqual(big.get_options().props.max_memory, 8192)

    def test_options(self):
        options = Qvm.MachineOptions.new_from_data('{"maxMemory": 512}', -1)
        self.assertEqual(options.props.max_memory, 512)
        options.props.max_memory = 1024
        self.assertEqual(options.get_max_memory(), 1024)
        self.assertEqual(Qvm.MachineOptions(max_memory=64).props.max_memory, 64)
        with self.assertRaises(GLib.Error) as caught:
            Qvm.MachineOptions.new_from_data('{"maxMemory": 1048577}', -1)
        self.assertTrue(caught.exception.message.startswith('maxMemory: 1048577'))

    def test_schema(self):
        schema = json.loads(Qvm.Machine.get_schema())
        self.assertEqual(schema['$schema'], 'http://json-schema.org/draft-04/schema#')
        self.assertIn('fr-ch', schema['properties']['keyboard']['properties']['layout']['enum'])
        options = json.loads(Qvm.MachineOptions.get_schema())
        self.assertEqual(options['title'], 'Machine Options')
        self.assertEqual(options['required'], ['maxMemory'])

    def test_read_only(self):
        machine = Qvm.Machine.new_random()
        with self.assertRaises(TypeError):
            machine.props.memory = 1024
        # A machine made the GObject way is a random valid one.
        other = Qvm.Machine()
        self.assertNotEqual(other.props.uuid, machine.props.uuid)
        self.assertTrue(Qvm.Machine.new_from_json(other.to_json()).equal(other))

    def test_save_and_load_file(self):
        folder = tempfile.mkdtemp(prefix='qvm-test-gi-')
        try:
            machine = load(MACHINE)
            file = Gio.File.new_for_path(os.path.join(folder, 'machine.json'))
            self.assertTrue(machine.save_to_file(file, None))
            again = Qvm.Machine.new_from_file(file, None)
            self.assertTrue(machine.equal(again))
            self.assertEqual(again.to_data(), machine.to_data())

            missing = Gio.File.new_for_path(os.path.join(folder, 'missing.json'))
            with self.assertRaises(GLib.Error) as caught:
                Qvm.Machine.new_from_file(missing, None)
            self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
            self.assertIn('missing.json', caught.exception.message)
        finally:
            shutil.rmtree(folder)


if __name__ == '__main__':
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from taptest import run_tap
    sys.exit(run_tap(__name__))
