# What the Python tests that run a virtual machine share: iterating the
# main context until something holds, and running an _async/_finish pair.
import unittest

from gi.repository import GLib

TIMEOUT_S = 60


class LoopTestCase(unittest.TestCase):
    def run_until(self, condition):
        context = GLib.MainContext.default()
        deadline = GLib.get_monotonic_time() + TIMEOUT_S * 1000000
        while not condition():
            self.assertLess(GLib.get_monotonic_time(), deadline, 'timed out')
            context.iteration(True)

    def call(self, start, finish, *args):
        result = {}

        def done(source, async_result):
            try:
                result['value'] = finish(async_result)
            except GLib.Error as error:
                result['error'] = error

        start(*args, None, done)
        self.run_until(lambda: result)
        if 'error' in result:
            raise result['error']
        return result['value']
