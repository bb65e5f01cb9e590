#!/usr/bin/python3
"""Prints one 'tests: N passed, N failed, N skipped' line over meson testlog.json files."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding='utf-8') as log:
        for line in log:
            result = json.loads(line).get('result')
            if result in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:
                failed += 1
print('tests: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
