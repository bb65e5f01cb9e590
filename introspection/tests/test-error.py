#!/usr/bin/python3
# The Qvm error domain as seen from PyGObject.
import sys
import unittest

import gi
gi.require_version('Qvm', '1.0')
from gi.repository import GLib, Qvm  # noqa: E402


class ErrorTest(unittest.TestCase):
    def test_domain_and_codes(self):
        self.assertEqual(GLib.quark_to_string(Qvm.error_quark()), 'qvm-error-quark')
        self.assertEqual(int(Qvm.Error.MALFORMED_PAYLOAD), 1)
        self.assertEqual(Qvm.Error.__gtype__.name, 'QvmError')


if __name__ == '__main__':
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from taptest import run_tap
    sys.exit(run_tap(__name__))
