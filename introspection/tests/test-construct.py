#!/usr/bin/python3
# Construction through properties, as PyGObject does it: Qvm.VirtualMachine(
# image=…, …) makes a machine that starts; a missing required property is a
# GLib.Error, never a critical (criticals are fatal here). Needs QEMU (no
# guest OS: a blank disk, SeaBIOS's screen).
import os
import shutil
import sys
import tempfile

import gi
gi.require_version('Qvm', '1.0')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from looptest import LoopTestCase  # noqa: E402
from gi.repository import Gio, GLib, Qvm  # noqa: E402

GLib.log_set_always_fatal(GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
                          | GLib.LogLevelFlags.LEVEL_ERROR)


class ConstructTest(LoopTestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='qvm-gi-construct-')
        self.sockets = os.path.join(self.folder, 'sockets')
        os.mkdir(self.sockets)
        self.image = Qvm.FolderImage.new_blank(os.path.join(self.folder, 'image'),
                                               16 * 1024 * 1024, Qvm.Machine.new_random())
        self.network = Qvm.UserNetwork(folder=self.folder)
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            vm.kill()
            if vm.get_machine() is not None:
                self.run_until(lambda: vm.get_state() == Qvm.VmState.DONE)
        self.image.delete()
        shutil.rmtree(self.folder, ignore_errors=True)

    def make(self, **properties):
        vm = Qvm.VirtualMachine(**properties)
        self.vms.append(vm)
        return vm

    def test_network_by_properties(self):
        self.network.init(None)
        self.assertTrue(os.path.exists(self.network.props.socket_path))
        self.assertIn('restrict=on', self.network.get_netdev('net0'))

    def test_vm_by_properties_starts(self):
        vm = self.make(options=Qvm.MachineOptions.new(64), image=self.image,
                       network=self.network, socket_folder=self.sockets)
        vm.init(None)
        vm.set_accel(Qvm.Accel.parse(os.environ.get('QVM_TEST_ACCEL', 'tcg')))
        self.assertEqual(vm.get_machine().props.memory, 64)
        events = []
        vm.connect('done', lambda vm: events.append('done'))
        vm.connect('notify::state', lambda vm, pspec: events.append(vm.props.state.value_nick))

        self.assertTrue(self.call(vm.start_async, vm.start_finish))
        self.assertEqual(vm.get_state(), Qvm.VmState.RUNNING)
        vm.kill()
        self.run_until(lambda: 'done' in events and vm.get_state() == Qvm.VmState.DONE)
        self.assertEqual(events[-3:], ['stopping', 'done', 'done'], events)
        self.assertFalse(self.image.get_in_use())

    def test_missing_image_is_an_error(self):
        vm = self.make(options=Qvm.MachineOptions.new(64), network=self.network,
                       socket_folder=self.sockets)
        with self.assertRaises(GLib.Error) as caught:
            vm.init(None)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertIn('image', caught.exception.message)
        self.assertIsNone(vm.get_machine())
        with self.assertRaises(GLib.Error) as caught:
            self.call(vm.start_async, vm.start_finish)
        self.assertIn('image', caught.exception.message)
        vm.kill()

    def test_accel_is_an_enum(self):
        self.assertEqual(Qvm.Accel.parse('kvm'), Qvm.Accel.KVM)
        with self.assertRaises(GLib.Error) as caught:
            Qvm.Accel.parse('hvf')
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertIn('auto, kvm or tcg', caught.exception.message)
        vm = self.make(options=Qvm.MachineOptions.new(64), image=self.image,
                       network=self.network, socket_folder=self.sockets, accel=Qvm.Accel.TCG)
        self.assertEqual(vm.get_accel(), Qvm.Accel.TCG)
        vm.props.accel = Qvm.Accel.AUTO
        self.assertEqual(vm.get_accel(), Qvm.Accel.AUTO)
        with self.assertRaises(TypeError):
            vm.set_accel('hvf')

    def test_short_forms(self):
        vm = Qvm.VirtualMachine.new(None, self.image, self.network, self.sockets, None, None)
        self.vms.append(vm)
        self.assertEqual(vm.props.options.props.max_memory,
                         Qvm.MACHINE_OPTIONS_DEFAULT_MAX_MEMORY)
        defaults = self.make(image=self.image, network=self.network, socket_folder=self.sockets)
        defaults.init(None)
        self.assertIsNotNone(defaults.props.options)

        simple = Qvm.VirtualMachine.new_simple(self.image, self.network, self.sockets)
        self.vms.append(simple)
        isos = [os.path.join(self.folder, name) for name in ('one.iso', 'two.iso')]
        for iso in isos:
            with open(iso, 'wb') as f:
                f.write(b'x')
        self.assertTrue(simple.set_cdroms(isos))
        self.assertEqual([simple.props.cdrom1, simple.props.cdrom2], isos)
        with self.assertRaises(GLib.Error) as caught:
            simple.set_cdroms(isos + isos[:1])
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertTrue(simple.set_cdroms(None))
        self.assertIsNone(simple.props.cdrom1)

    def test_own_identity(self):
        vm = Qvm.VirtualMachine.new_simple(self.image, self.network, self.sockets)
        self.vms.append(vm)
        self.assertTrue(vm.set_uuid(None))
        self.assertTrue(vm.set_mac_address('02:5e:1a:00:00:07'))
        self.assertNotEqual(vm.get_machine().props.uuid, self.image.get_machine().props.uuid)
        self.assertEqual(vm.get_machine().props.mac_address, '02:5e:1a:00:00:07')
        with self.assertRaises(GLib.Error) as caught:
            vm.set_mac_address('01:00:5e:00:00:01')
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.MALFORMED_PAYLOAD))

    def test_store_without_folder_is_an_error(self):
        store = Qvm.ImageStore()
        with self.assertRaises(GLib.Error) as caught:
            store.init(None)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))


if __name__ == '__main__':
    from taptest import run_tap
    sys.exit(run_tap(__name__))
