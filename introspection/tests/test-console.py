#!/usr/bin/python3
# QvmConsole as seen from PyGObject: its properties, a reader's GIOStream,
# writes, wait_for and its errors, and the end with the machine. Needs QEMU
# (no guest OS: a blank disk, so the guest writes nothing to its console;
# the guest suite reads real output).
import os
import shutil
import sys
import tempfile

import gi
gi.require_version('Qvm', '1.0')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from looptest import LoopTestCase  # noqa: E402
from gi.repository import Gio, GLib, Qvm  # noqa: E402


class ConsoleTest(LoopTestCase):
    def setUp(self):
        # A blank 16 MiB disk on a user network, built through properties.
        self.folder = tempfile.mkdtemp(prefix='qvm-gi-console-')
        paths = {name: os.path.join(self.folder, name) for name in ('sockets', 'network', 'disk')}
        os.mkdir(paths['sockets'])
        os.mkdir(paths['network'])
        self.image = Qvm.FolderImage.new_blank(paths['disk'], 16 << 20, Qvm.Machine.new_random())
        self.vm = Qvm.VirtualMachine(options=Qvm.MachineOptions.new(64), image=self.image,
                                     network=Qvm.UserNetwork.new(paths['network']),
                                     socket_folder=paths['sockets'])
        self.vm.set_accel(Qvm.Accel.parse(os.environ.get('QVM_TEST_ACCEL', 'tcg')))

    def tearDown(self):
        self.vm.kill()
        self.run_until(lambda: self.vm.get_state() == Qvm.VmState.DONE)
        self.image.delete()
        shutil.rmtree(self.folder, ignore_errors=True)

    def test_console(self):
        console = self.vm.get_console()
        self.assertIsInstance(console, Qvm.Console)
        self.assertEqual(console.props.ring_size, Qvm.CONSOLE_DEFAULT_RING_SIZE)
        self.assertEqual(console.props.ring_size, 1024 * 1024)
        self.assertEqual(console.get_bytes_received(), 0)
        self.assertFalse(console.props.closed)
        lines = []
        console.connect('line', lambda console, text, data: lines.append((text, data.get_data())))

        stream = console.open_stream(Qvm.ConsoleFrom.OLDEST)
        self.assertIsInstance(stream, Gio.IOStream)
        self.assertIs(stream.get_console(), console)
        self.assertIsInstance(stream.get_input_stream(), Gio.PollableInputStream)
        self.assertEqual(stream.props.bytes_lost, 0)

        # Queued before QEMU runs; the guest's UART takes it later.
        self.assertTrue(console.write(b'root\n'))
        self.assertTrue(self.call(self.vm.start_async, self.vm.start_finish))
        self.assertIs(self.vm.get_console(), console)

        with self.assertRaises(GLib.Error) as caught:
            console.wait_for(None, '(', 0, None)
        self.assertEqual(caught.exception.domain, 'g-regex-error-quark')
        with self.assertRaises(GLib.Error) as caught:
            console.wait_for(None, 'login:', 100, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.TIMED_OUT))

        # A wait that is running ends with the machine, with its error.
        result = {}

        def waited(source, async_result):
            try:
                result['value'] = console.wait_for_finish(async_result)
            except GLib.Error as error:
                result['error'] = error

        console.wait_for_async(stream, 'never', 0, None, waited)
        self.vm.kill()
        self.run_until(lambda: result)
        self.assertTrue(result['error'].matches(Qvm.error_quark(), Qvm.Error.KILLED))
        self.run_until(lambda: self.vm.get_state() == Qvm.VmState.DONE)
        self.assertTrue(console.props.closed)

        # SeaBIOS wrote nothing there: the reader's stream just ends.
        data = stream.get_input_stream().read_bytes(4096, None)
        self.assertEqual(data.get_size(), 0)
        recent, offset = console.get_recent()
        self.assertEqual((recent.get_size(), offset), (0, 0))
        self.assertEqual(lines, [])
        with self.assertRaises(GLib.Error) as caught:
            console.write(b'late')
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED))


if __name__ == '__main__':
    from taptest import run_tap
    sys.exit(run_tap(__name__))
