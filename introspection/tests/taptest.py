# Runs a unittest module and prints TAP, so meson reads every case.
import sys
import traceback
import unittest


def run_tap(module_name):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    cases = list(_flatten(suite))
    print('1..%d' % len(cases), flush=True)
    failed = 0
    for number, case in enumerate(cases, 1):
        result = unittest.TestResult()
        case.run(result)
        problems = result.errors + result.failures
        if problems:
            failed += 1
            print('not ok %d - %s' % (number, case.id()))
            for _, text in problems:
                for line in text.splitlines():
                    print('# ' + line)
        elif result.skipped:
            print('ok %d - %s # SKIP %s' % (number, case.id(), result.skipped[0][1]))
        else:
            print('ok %d - %s' % (number, case.id()))
        sys.stdout.flush()
    return 1 if failed else 0


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item
