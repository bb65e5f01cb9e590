#!/bin/sh
# The README's test command: installs what is missing, builds with warnings as
# errors, and runs the whole test suite. Ends with meson's summary and one
# "N passed, N failed" line.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/tools/setup.sh"

build=${QVM_BUILD_DIR:-"$top/_build"}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" -Dwerror=true >/dev/null
else
  meson setup "$build" -Dwerror=true
fi
meson compile -C "$build"

status=0
QVM_TEST_ACCEL=${QVM_TEST_ACCEL:-tcg} \
  meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?

/usr/bin/python3 "$top/tools/test-summary.py" "$build/meson-logs/testlog.json"
exit $status
