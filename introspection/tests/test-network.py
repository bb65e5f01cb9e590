#!/usr/bin/python3
# QvmUserNetwork and its metadata handler as seen from PyGObject.
import os
import shutil
import sys
import tempfile
import unittest

import gi
gi.require_version('Qvm', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import Gio, GLib, Qvm, Soup  # noqa: E402


class NetworkTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='qvm-gi-')

    def tearDown(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def fetch(self, network, method, path, body=None):
        """Sends one request over the network's socket and returns (status, body)."""
        address = Gio.UnixSocketAddress.new(network.get_socket_path())
        session = Soup.Session(remote_connectable=address)
        message = Soup.Message.new(method, 'http://169.254.169.254' + path)
        if body is not None:
            message.set_request_body_from_bytes('text/plain', GLib.Bytes.new(body))
        loop = GLib.MainLoop()
        result = {}

        def done(source, async_result):
            try:
                result['body'] = source.send_and_read_finish(async_result).get_data()
            except GLib.Error as error:
                result['error'] = error
            loop.quit()

        session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, None, done)
        loop.run()
        if 'error' in result:
            raise result['error']
        return message.get_status(), result['body']

    def test_handler_answers(self):
        network = Qvm.UserNetwork.new(self.folder)
        self.assertTrue(network.get_socket_path().startswith(self.folder + '/'))
        self.assertEqual(os.stat(os.path.dirname(network.get_socket_path())).st_mode & 0o777, 0o700)
        seen = []

        def handler(server, msg, path, query, *user_data):
            body = msg.get_request_body().flatten().get_data()
            seen.append((msg.get_method(), path, body, user_data))
            msg.set_status(200, None)
            msg.set_response('text/plain', Soup.MemoryUse.COPY, b'echo:' + body)

        network.set_handler(handler, 'data')
        status, body = self.fetch(network, 'POST', '/result', b'hello')
        self.assertEqual(status, 200)
        self.assertEqual(body, b'echo:hello')
        self.assertEqual(seen, [('POST', '/result', b'hello', ('data',))])

        network.set_handler(None)
        status, _ = self.fetch(network, 'GET', '/payload')
        self.assertEqual(status, 404)

        netdev = network.get_netdev('net0')
        self.assertTrue(netdev.startswith('user,id=net0,restrict=on,'))

        folder = os.path.dirname(network.get_socket_path())
        network.release()
        network.release()
        self.assertFalse(os.path.exists(folder))
        self.assertIsNone(network.get_socket_path())
        with self.assertRaises(GLib.Error) as caught:
            network.get_netdev('net0')
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE))

    def test_limits_are_properties(self):
        network = Qvm.UserNetwork(folder=self.folder, max_connections=2, idle_timeout=5)
        network.init(None)
        self.assertEqual(network.props.max_connections, 2)
        self.assertEqual(network.props.idle_timeout, 5)
        self.assertEqual(network.props.max_header_size, 16 * 1024)
        network.props.max_body_size = 10
        status, _ = self.fetch(network, 'POST', '/result', b'x' * 11)
        self.assertEqual(status, 413)
        network.release()

    def test_missing_folder(self):
        with self.assertRaises(GLib.Error) as caught:
            Qvm.UserNetwork.new(os.path.join(self.folder, 'missing'))
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        self.assertIn('missing', caught.exception.message)


if __name__ == '__main__':
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from taptest import run_tap
    sys.exit(run_tap(__name__))
