#!/bin/sh
# The README's demo command: installs what is missing, builds, and shows the
# library at work.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/tools/setup.sh"

build=${QVM_BUILD_DIR:-"$top/_build"}
[ -f "$build/build.ninja" ] || meson setup "$build"
meson compile -C "$build"

echo "qvm-glib built in $build"
qvm="$build/tools/qvm"

echo
echo "\$ qvm validate --print examples/machine.json"
"$qvm" validate --print examples/machine.json

echo
echo "\$ qvm validate examples/bad-machine.json"
# The bad sample must be refused (status 1) with one line per problem.
if "$qvm" validate examples/bad-machine.json; then
  echo "demo: examples/bad-machine.json was accepted" >&2
  exit 1
fi
echo "(refused, as it should be)"
