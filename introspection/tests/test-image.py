#!/usr/bin/python3
# Images, packaging and the image store as seen from PyGObject.
import os
import shutil
import sys
import tempfile
import unittest

import gi
gi.require_version('Qvm', '1.0')
from gi.repository import Gio, GLib, Qvm  # noqa: E402

MIB = 1024 * 1024


def wait(start):
    """Runs an _async call to completion; returns its result."""
    loop = GLib.MainLoop()
    results = []

    def done(source, result):
        results.append(result)
        loop.quit()

    start(done)
    loop.run()
    return results[0]


class ImageTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='qvm-test-gi-image-')

    def tearDown(self):
        shutil.rmtree(self.folder)

    def path(self, name):
        return os.path.join(self.folder, name)

    def test_package_and_instance(self):
        machine = Qvm.Machine.new_random()
        image = Qvm.FolderImage.new_blank(self.path('build'), 64 * MIB, machine)
        self.assertIsInstance(image, Qvm.MutableImage)
        self.assertIsInstance(image, Qvm.Image)
        self.assertEqual(image.get_format(), 'raw')
        self.assertEqual(image.props.format, 'raw')
        self.assertTrue(image.get_machine().equal(machine))

        disk = image.get_disk_file()
        self.assertEqual(disk, self.path('build/disk.img'))
        self.assertEqual(image.get_disk().get_path(), disk)
        self.assertFalse(image.props.in_use)
        self.assertTrue(image.acquire())
        self.assertTrue(image.props.in_use)
        with open(disk, 'r+b') as f:
            f.seek(10 * MIB)
            f.write(b'written from Python')
        image.release()
        self.assertFalse(image.props.in_use)

        progress = []
        image.connect('progress', lambda image, done, total: progress.append((done, total)))
        archive = self.path('image.tar.zst')
        result = wait(lambda done: image.package_async(archive, None, done))
        self.assertTrue(image.package_finish(result))
        self.assertTrue(progress)
        self.assertEqual(progress[-1][0], progress[-1][1])

        store = Qvm.ImageStore.new(self.path('store'))
        self.assertEqual(store.props.max_size, 50 * 1024 * MIB)
        source = Gio.File.new_for_path(archive)
        result = wait(lambda done: store.instance_async('python', source, None, done))
        instance = store.instance_finish(result)
        self.assertEqual(instance.get_format(), 'qcow2')
        self.assertTrue(instance.get_machine().equal(machine))
        path = instance.get_disk_file()
        self.assertTrue(os.path.isfile(path))
        with open(os.path.join(os.path.dirname(path), 'disk.img'), 'rb') as f:
            f.seek(10 * MIB)
            self.assertEqual(f.read(19), b'written from Python')
        self.assertTrue(instance.acquire())
        instance.release()
        self.assertFalse(os.path.exists(path))
        self.assertIsNone(instance.get_disk_file())
        self.assertIsNone(instance.get_disk())
        with self.assertRaises(GLib.Error) as caught:
            instance.acquire()
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE))
        self.assertEqual(store.collect(), 1)

        self.assertTrue(image.delete())
        self.assertFalse(os.path.exists(self.path('build')))

    def test_in_use_error(self):
        image = Qvm.FolderImage.new_blank(self.path('build'), MIB, Qvm.Machine.new_random())
        image.acquire()
        with self.assertRaises(GLib.Error) as caught:
            image.package(self.path('image.tar.zst'), None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE))
        with self.assertRaises(GLib.Error) as caught:
            image.acquire()
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE))

    def test_id_names_one_archive(self):
        machine = Qvm.Machine.new_random()
        image = Qvm.FolderImage.new_blank(self.path('build'), MIB, machine)
        first, second = self.path('first.tar.zst'), self.path('second.tar.zst')
        self.assertTrue(image.package(first, None))
        shutil.copyfile(first, second)
        store = Qvm.ImageStore.new(self.path('store'))

        # Blocking, no main loop; no id: keyed by the file's URI.
        instance = store.instance(None, Gio.File.new_for_path(first), None)
        self.assertTrue(instance.get_machine().equal(machine))
        instance.release()
        store.instance('one', Gio.File.new_for_path(first), None).release()
        with self.assertRaises(GLib.Error) as caught:
            store.instance('one', Gio.File.new_for_path(second), None)
        self.assertTrue(caught.exception.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE))
        self.assertIn('second.tar.zst', caught.exception.message)
        self.assertEqual(store.collect(), 2)

    def test_malformed_archive(self):
        archive = self.path('image.tar.gz')
        with open(archive, 'wb') as f:
            f.write(b'\x1f\x8b\x08\x00 not an image')
        store = Qvm.ImageStore.new(self.path('store'))
        result = wait(lambda done: store.instance_async('bad', Gio.File.new_for_path(archive), None, done))
        with self.assertRaises(GLib.Error) as caught:
            store.instance_finish(result)
        self.assertEqual(caught.exception.code, Qvm.Error.MALFORMED_PAYLOAD)
        self.assertIn('gzip', caught.exception.message)
        self.assertEqual(os.listdir(self.path('store')), ['.qvm-image-store'])


if __name__ == '__main__':
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from taptest import run_tap
    sys.exit(run_tap(__name__))
