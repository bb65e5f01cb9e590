#!/usr/bin/python3
# QvmVirtualMachine as seen from PyGObject: start, screenshot, kill, done.
# Needs QEMU (no guest OS: a blank disk, SeaBIOS's screen).
import os
import shutil
import sys
import tempfile

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('GdkPixbuf', '2.0')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from looptest import LoopTestCase  # noqa: E402
from gi.repository import GdkPixbuf, Gio, GLib, Qvm  # noqa: E402


class VirtualMachineTest(LoopTestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='qvm-gi-vm-')
        sockets = os.path.join(self.folder, 'sockets')
        os.mkdir(sockets)
        network_folder = os.path.join(self.folder, 'network')
        os.mkdir(network_folder)
        self.image = Qvm.FolderImage.new_blank(os.path.join(self.folder, 'image'),
                                               16 * 1024 * 1024, Qvm.Machine.new_random())
        self.network = Qvm.UserNetwork.new(network_folder)
        self.vm = Qvm.VirtualMachine.new(Qvm.MachineOptions.new(64), self.image, self.network,
                                         sockets, None, None)
        self.vm.set_accel(Qvm.Accel.parse(os.environ.get('QVM_TEST_ACCEL', 'tcg')))
        self.sockets = sockets

    def tearDown(self):
        # Nothing may outlive the test, whatever happened in it.
        self.vm.kill()
        self.run_until(lambda: self.vm.get_state() == Qvm.VmState.DONE)
        self.image.delete()
        shutil.rmtree(self.folder, ignore_errors=True)

    def test_start_screenshot_kill_done(self):
        reasons = []
        self.vm.connect('done', lambda vm: reasons.append(vm.get_done_reason()))
        states = []
        self.vm.connect('notify::state', lambda vm, pspec: states.append(vm.props.state))

        self.assertEqual(self.vm.get_state(), Qvm.VmState.CREATED)
        self.assertTrue(self.call(self.vm.start_async, self.vm.start_finish))
        self.assertEqual(self.vm.get_state(), Qvm.VmState.RUNNING)
        self.assertTrue(os.path.exists(self.vm.get_vnc_socket()))
        self.assertIsNotNone(self.vm.get_qmp_client())

        pixbuf = self.call(self.vm.screenshot_async, self.vm.screenshot_finish)
        self.assertIsInstance(pixbuf, GdkPixbuf.Pixbuf)
        self.assertGreater(pixbuf.get_width(), 0)
        self.assertGreater(pixbuf.get_height(), 0)
        blocking = self.vm.screenshot(None)
        self.assertEqual((blocking.get_width(), blocking.get_height()),
                         (pixbuf.get_width(), pixbuf.get_height()))

        self.vm.kill()
        self.run_until(lambda: reasons)
        self.assertEqual(reasons, [Qvm.VmDoneReason.KILLED])
        self.assertTrue(self.vm.get_error().matches(Qvm.error_quark(), Qvm.Error.KILLED))
        self.assertIsNone(self.vm.get_vnc_socket())
        self.assertEqual(states[-1], Qvm.VmState.DONE)
        self.assertEqual(os.listdir(self.sockets), [])
        self.assertFalse(self.image.get_in_use())

    def test_input(self):
        self.assertTrue(self.vm.start(None))
        self.assertTrue(self.vm.send_keys('ctrl-alt-f2', None))
        self.assertTrue(self.vm.type_text('echo typed\n', 100, None))
        with self.assertRaises(GLib.Error) as caught:
            self.vm.type_text('Straße', 0, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.FAILED))
        self.assertIn('ß', caught.exception.message)
        with self.assertRaises(GLib.Error):
            self.vm.send_keys('ctrl-nokey', None)
        self.assertTrue(self.vm.pointer_move(4, 4, None))
        self.assertTrue(self.vm.pointer_click(Qvm.PointerButton.RIGHT, None))

    def test_blocking(self):
        # No main loop runs: each blocking call returns when it is over.
        self.assertTrue(self.vm.start(None))
        self.assertEqual(self.vm.get_state(), Qvm.VmState.RUNNING)
        self.assertTrue(self.vm.pause(None))
        self.assertEqual(self.vm.get_state(), Qvm.VmState.PAUSED)
        self.assertTrue(self.vm.resume(None))
        with self.assertRaises(GLib.Error) as caught:
            self.vm.wait(100, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.TIMED_OUT))
        # No OS answers the power button: killed, and the result says so.
        with self.assertRaises(GLib.Error) as caught:
            self.vm.shutdown(200, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.KILLED))
        self.assertTrue(self.vm.wait(0, None))
        self.assertEqual(self.vm.get_done_reason(), Qvm.VmDoneReason.KILLED)

    def screenshot_with_banner(self):
        # SeaBIOS's text screen once it wrote its banner and the line
        # after: over 300 lit pixels in the second row (the cursor alone
        # has 16), so the blinking cursor has left the banner's row.
        deadline = GLib.get_monotonic_time() + 60 * 1000000
        while True:
            pixbuf = self.vm.screenshot(None)
            pixels = pixbuf.get_pixels()
            stride, channels = pixbuf.get_rowstride(), pixbuf.get_n_channels()
            lit = sum(pixels[y * stride + x * channels] != pixels[0]
                      for y in range(16, 32) for x in range(360)) if pixbuf.get_width() == 720 else 0
            if lit > 300:
                return pixbuf
            self.assertLess(GLib.get_monotonic_time(), deadline, 'no banner')
            GLib.usleep(50000)

    def test_wait_for_screen(self):
        self.assertTrue(self.vm.start(None))
        first = self.screenshot_with_banner()

        # SeaBIOS's banner, cut from the first screenshot: on the screen.
        needle = Qvm.Needle.new(first, Qvm.NEEDLE_DEFAULT_MATCH_LEVEL, Qvm.NEEDLE_DEFAULT_MARGIN)
        self.assertTrue(needle.add_area(0, 0, 360, 16, Qvm.ScreenAreaKind.MATCH))
        self.assertEqual(needle.compare(first), (1.0, 0, 0))
        ok, similarity, x, y = self.call(self.vm.wait_for_screen_async,
                                         self.vm.wait_for_screen_finish, needle, 60000)
        self.assertTrue(ok)
        self.assertGreaterEqual(similarity, 0.96)
        self.assertEqual((x, y), (0, 0))

        # An area outside the reference is refused.
        with self.assertRaises(GLib.Error) as caught:
            needle.add_area(700, 0, 100, 16, Qvm.ScreenAreaKind.EXCLUDE)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))

        # A white banner is never shown: the blocking form times out.
        white = first.copy()
        white.fill(0xffffffff)
        never = Qvm.Needle.new(white, 0.96, 10)
        never.add_area(0, 0, 360, 16, Qvm.ScreenAreaKind.MATCH)
        with self.assertRaises(GLib.Error) as caught:
            self.vm.wait_for_screen(never, 300, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.TIMED_OUT))
        self.assertIn('best similarity', caught.exception.message)

        self.assertEqual(Qvm.screen_psnr(first, first), float('inf'))
        self.assertLess(Qvm.screen_psnr(first, white), Qvm.STILL_SCREEN_DEFAULT_PSNR)

        # SeaBIOS's idle screen, its cursor blinking (about 45.7 dB).
        self.assertTrue(self.vm.wait_for_still_screen(500, 40.0, 60000, None))

    def test_missing_qemu(self):
        details = []
        self.vm.connect('done::failed', lambda vm: details.append('failed'))
        self.vm.props.qemu_binary = os.path.join(self.folder, 'no-qemu')
        with self.assertRaises(GLib.Error) as caught:
            self.call(self.vm.start_async, self.vm.start_finish)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.QEMU_NOT_FOUND))
        self.assertIn('no-qemu', caught.exception.message)
        self.run_until(lambda: details)
        self.assertEqual(details, ['failed'])

    def test_bad_cdrom(self):
        with self.assertRaises(GLib.Error) as caught:
            Qvm.VirtualMachine.new(Qvm.MachineOptions.new(64), self.image, self.network,
                                   self.sockets, os.path.join(self.folder, 'none.iso'), None)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        self.assertIn('none.iso', caught.exception.message)


if __name__ == '__main__':
    from taptest import run_tap
    sys.exit(run_tap(__name__))
