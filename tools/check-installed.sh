#!/bin/sh
# The "installed" leg of run-tests.sh: installs a build configured with
# -Dinstalled_tests=true into PREFIX, checks the installed layout (library,
# pkg-config file, typelib, libexec helper, tool, man page) and runs the
# installed tests with gnome-desktop-testing-runner. Prints one TAP line per
# check and per installed test; exits non-zero on any failure.
#
#   tools/check-installed.sh BUILD_DIR PREFIX
set -u

build=$1
prefix=$2
status=0
n=0

check () {
  n=$((n + 1))
  what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "ok $n $what"
  else
    echo "not ok $n $what"
    status=1
  fi
}

meson install -C "$build" --no-rebuild >/dev/null || exit 1

libdir=$(find "$prefix" -name 'libqvm-glib-1.0.so.0' -printf '%h\n' | head -n 1)
check "library installed" test -n "$libdir"
check "pkg-config file valid" env PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --validate qvm-glib-1.0
check "pkg-config names the prefix" sh -c \
  "PKG_CONFIG_PATH='$libdir/pkgconfig' pkg-config --variable=prefix qvm-glib-1.0 | grep -qx '$prefix'"
check "typelib installed" test -f "$libdir/girepository-1.0/Qvm-1.0.typelib"
check "metadata helper in libexec" test -x "$prefix/libexec/qvm-guestfwd"
check "qvm runs from the prefix" env LD_LIBRARY_PATH="$libdir" "$prefix/bin/qvm" --version
check "man page installed" test -f "$prefix/share/man/man1/qvm.1"
check "installed tests listed" sh -c "ls '$prefix/share/installed-tests/qvm-glib-1.0/'*.test"

# The installed tests find everything through the prefix: no build tree,
# no QVM_GUESTFWD (the library looks in its own libexec folder).
env -u QVM_GUESTFWD -u G_TEST_SRCDIR -u G_TEST_BUILDDIR \
  LD_LIBRARY_PATH="$libdir" GI_TYPELIB_PATH="$libdir/girepository-1.0" \
  gnome-desktop-testing-runner --parallel 2 --timeout 900 --log-directory "$build/meson-logs" \
    --dir "$prefix/share" qvm-glib-1.0 > "$build/meson-logs/installed-tests.log" 2>&1
runner=$?
# The runner repeats the failures after its SUMMARY line: read up to it.
for result in $(sed -n '/^SUMMARY:/q; s/^\(PASS\|FAIL\|SKIP\): qvm-glib-1.0\/\([^ ]*\)\.test.*/\1:\2/p' \
                  "$build/meson-logs/installed-tests.log"); do
  n=$((n + 1))
  case $result in
    PASS:*) echo "ok $n installed ${result#PASS:}" ;;
    SKIP:*) echo "ok $n installed ${result#SKIP:} # SKIP" ;;
    *) echo "not ok $n installed ${result#FAIL:}"; status=1 ;;
  esac
done
[ $runner -eq 0 ] || status=1
echo "1..$n"
exit $status
