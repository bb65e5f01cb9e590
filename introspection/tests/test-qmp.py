#!/usr/bin/python3
# QvmQmpClient from PyGObject, against a real QEMU with QMP on a socket path.
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('Json', '1.0')
from gi.repository import GLib, Json, Qvm  # noqa: E402

PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # QEMU must not outlive a test that crashes.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)


class QmpTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='qvm-test-qmp-')
        self.path = os.path.join(self.folder, 'qmp.sock')
        self.qemu = subprocess.Popen(
            [os.environ.get('QVM_QEMU', 'qemu-system-x86_64'),
             '-machine', 'none', '-accel', os.environ.get('QVM_TEST_ACCEL', 'tcg'),
             '-nodefaults', '-display', 'none',
             '-chardev', 'socket,id=qmp,path=%s,server=on,wait=off' % self.path,
             '-mon', 'chardev=qmp,mode=control'],
            preexec_fn=_die_with_parent)
        # Waiting for the socket to appear is acceptable in a test.
        for _ in range(1000):
            if os.path.exists(self.path):
                break
            time.sleep(0.01)
        self.assertTrue(os.path.exists(self.path))

    def tearDown(self):
        self.qemu.kill()
        self.qemu.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def run_loop(self, loop):
        # A hang fails the test instead of blocking the suite.
        def give_up():
            loop.quit()
            self.fail('timed out')
        source = GLib.timeout_add_seconds(60, give_up)
        loop.run()
        GLib.source_remove(source)

    def test_query_status_then_shutdown(self):
        loop = GLib.MainLoop()
        seen = {'events': [], 'closed': False, 'reason': 'unset'}

        def on_shutdown(client, name, data, timestamp):
            seen['events'].append(name)
            seen['shutdown_reason'] = data.get_string_member('reason')
            seen['timestamp'] = timestamp

        def on_closed(client, reason):
            seen['closed'] = True
            seen['reason'] = reason
            loop.quit()

        def on_quit(client, result):
            seen['quit'] = client.execute_finish(result)

        def on_status(client, result):
            seen['status'] = client.execute_finish(result).get_object()
            client.execute_async('quit', None, None, on_quit)

        def on_connected(source, result):
            client = Qvm.QmpClient.connect_finish(result)
            seen['client'] = client
            client.connect('event::SHUTDOWN', on_shutdown)
            client.connect('closed', on_closed)
            client.execute_async('query-status', None, None, on_status)

        Qvm.QmpClient.connect_async(self.path, None, on_connected)
        self.run_loop(loop)

        client = seen['client']
        self.assertIn('oob', client.props.capabilities)
        self.assertRegex(client.props.qemu_version, r'^\d+\.\d+\.\d+$')
        self.assertEqual(seen['status'].get_string_member('status'), 'running')
        self.assertTrue(seen['status'].get_boolean_member('running'))
        self.assertEqual(seen['events'], ['SHUTDOWN'])
        self.assertEqual(seen['shutdown_reason'], 'host-qmp-quit')
        self.assertGreater(seen['timestamp'], 0)
        self.assertTrue(seen['closed'])
        self.assertIsNone(seen['reason'])
        self.assertTrue(client.props.closed)
        self.assertEqual(self.qemu.wait(timeout=30), 0)

    def test_blocking_calls_and_errors(self):
        client = Qvm.QmpClient.connect_sync(self.path, None)
        status = client.execute('query-status', None, None)
        self.assertEqual(status.get_object().get_string_member('status'), 'running')

        arguments = Json.Object()
        arguments.set_string_member('id', 'no-such-device')
        with self.assertRaises(GLib.Error) as caught:
            client.execute('device_del', arguments, None)
        self.assertTrue(caught.exception.matches(Qvm.qmp_error_quark(), Qvm.QmpError.DEVICE_NOT_FOUND))
        self.assertIn('no-such-device', caught.exception.message)

        with self.assertRaises(GLib.Error) as caught:
            client.execute('no-such-command', None, None)
        self.assertTrue(caught.exception.matches(Qvm.qmp_error_quark(), Qvm.QmpError.COMMAND_NOT_FOUND))

        self.assertTrue(client.close(None))
        with self.assertRaises(GLib.Error) as caught:
            client.execute('query-status', None, None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.CLOSED))


if __name__ == '__main__':
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from taptest import run_tap
    sys.exit(run_tap(__name__))
