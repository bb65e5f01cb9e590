#!/bin/sh
# The README's demo command: installs what is missing, builds the library,
# the qvm command and the test guest image, then runs the guest with
# `qvm run` under TCG: it boots, fetches examples/demo-payload.sh from its
# metadata service, runs it, posts the output and powers off. The demo
# prints the guest's answer from the outbox and saves a screenshot.
#
# QVM_BUILD_DIR picks the build folder (default _build); QVM_DEMO_ACCEL the
# accelerator (default tcg, which works everywhere).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/tools/setup.sh"

build=${QVM_BUILD_DIR:-"$top/_build"}
[ -f "$build/build.ninja" ] || meson setup "$build"
meson compile -C "$build"
# The test guest: a tiny Linux built from Debian packages (the first build
# downloads the kernel and busybox .debs).
meson compile -C "$build" test-guest

qvm="$build/tools/qvm"
image="$build/tests/guest/test-guest.tar.zst"
demo="$build/demo"
screenshot="$demo/screenshot.png"
# Run from the build tree: QEMU's metadata helper is not installed.
export QVM_GUESTFWD="$build/tools/qvm-guestfwd"

rm -rf "$demo"
mkdir -p "$demo"

echo
echo "\$ qvm inspect $image"
"$qvm" inspect "$image" | sed -n '/^disk.img/,$p'

echo
echo "\$ qvm run --console --accel ${QVM_DEMO_ACCEL:-tcg} --payload examples/demo-payload.sh --outbox $demo/outbox --screenshot $screenshot --timeout 300 $image"
status=0
"$qvm" run --console --accel "${QVM_DEMO_ACCEL:-tcg}" --payload examples/demo-payload.sh \
  --outbox "$demo/outbox" --screenshot "$screenshot" --timeout 300 "$image" || status=$?
if [ "$status" != 0 ]; then
  echo "demo: qvm run failed with exit status $status" >&2
  exit 1
fi

if [ ! -s "$demo/outbox/result" ]; then
  echo "demo: the guest posted no answer to $demo/outbox/result" >&2
  exit 1
fi
echo
echo "The guest answered (exit status $(cat "$demo/outbox/result.status")):"
sed 's/^/  | /' "$demo/outbox/result"
echo
if [ -s "$screenshot" ]; then
  echo "Screenshot of the guest's screen: $screenshot"
else
  echo "demo: no screenshot at $screenshot" >&2
  exit 1
fi
