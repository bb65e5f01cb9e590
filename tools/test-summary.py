#!/usr/bin/python3
"""Prints one 'tests: N passed, N failed, N skipped' line over meson testlog.json files,
after the name of each test that failed: CI shows only the end of the output."""
import json
import sys

passed = failed = skipped = 0
failures = []
for path in sys.argv[1:]:
    with open(path, encoding='utf-8') as log:
        for line in log:
            record = json.loads(line)
            result = record.get('result')
            if result in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:
                failed += 1
                failures.append('%s (%s, in %s)' % (record.get('name'), result, path))
for failure in failures:
    print('failed: ' + failure)
print('tests: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
