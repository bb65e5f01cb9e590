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
