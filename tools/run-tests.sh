#!/bin/sh
# The README's test command, and what CI runs: installs what is missing, then
# runs every leg below and ends with meson's summary of each leg and one
# "N passed, N failed" line over all of them.
#
#   default    the normal build (-Dwerror=true, with the docs), every suite
#   sanitize   AddressSanitizer + UndefinedBehaviorSanitizer, gthread
#              coroutine backend, the unit and qemu suites, leaks fatal
#   gthread    the gthread coroutine backend, every suite but the docs
#   valgrind   memcheck over the unit suite of the default build
#   fuzz       every libFuzzer target of tests/fuzz for QVM_FUZZ_SECONDS
#              (default 30) each, ASan + UBSan (tools/fuzz.sh)
#   soak       a short soak on the default build (100 start/kill cycles and
#              3 guest runs; `meson test --suite soak` alone runs the full one)
#   installed  -Dinstalled_tests=true, `meson install` into a temporary
#              prefix, the installed layout checked and the installed tests
#              run by gnome-desktop-testing-runner (tools/check-installed.sh)
#
# QVM_TEST_LEGS="default valgrind" picks legs; extra arguments go to every
# `meson test` (e.g. --suite unit).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/tools/setup.sh"

legs=${QVM_TEST_LEGS:-"default gthread sanitize valgrind soak fuzz installed"}
build=${QVM_BUILD_DIR:-"$top/_build"}
export QVM_TEST_ACCEL="${QVM_TEST_ACCEL:-tcg}"
logs=""
status=0

configure () {
  dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" -Dwerror=true "$@" >/dev/null
  else
    meson setup "$dir" -Dwerror=true "$@" >/dev/null
  fi
  meson compile -C "$dir"
}

run_leg () {
  name=$1
  dir=$2
  shift 2
  echo "=== leg $name"
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || status=1
  cp "$dir/meson-logs/testlog.json" "$dir/meson-logs/testlog-$name.json"
  logs="$logs $dir/meson-logs/testlog-$name.json"
}

coroutine_option () {
  # The coroutine backend option exists once the runtime is built in.
  if grep -q "'coroutine'" "$top/meson_options.txt"; then
    echo "-Dcoroutine=$1"
  fi
}

for leg in $legs; do
  case $leg in
    default)
      configure "$build" -Ddocs=true
      run_leg default "$build" "$@"
      ;;
    gthread)
      configure "$build-gthread" $(coroutine_option gthread)
      run_leg gthread "$build-gthread" --no-suite docs "$@"
      ;;
    sanitize)
      # ASan with a GThread per coroutine runs test-coroutine in ~34 s on a
      # 2-core machine, over meson's 30 s: the same limits, three times as long.
      configure "$build-sanitize" -Db_sanitize=address,undefined \
        -Db_lundef=false -Dintrospection=false -Dguest_tests=disabled $(coroutine_option gthread)
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      LSAN_OPTIONS=suppressions="$top/tests/lsan.supp" \
        run_leg sanitize "$build-sanitize" --suite unit --suite qemu --timeout-multiplier 3 "$@"
      ;;
    valgrind)
      [ -f "$build/build.ninja" ] || configure "$build" -Ddocs=true
      run_leg valgrind "$build" --suite unit --timeout-multiplier 10 \
        --wrap="valgrind --quiet --error-exitcode=1 --leak-check=full \
--errors-for-leak-kinds=definite,indirect,possible \
--show-leak-kinds=definite,indirect,possible --num-callers=30 \
--suppressions=/usr/share/glib-2.0/valgrind/glib.supp" "$@"
      ;;
    fuzz)
      echo "=== leg fuzz"
      if QVM_FUZZ_BUILD_DIR="$build-fuzz" "$top/tools/fuzz.sh" "${QVM_FUZZ_SECONDS:-30}"; then
        fuzz_result=OK
      else
        fuzz_result=FAIL
        status=1
      fi
      # One record in meson's format, so the summary counts the leg.
      mkdir -p "$build-fuzz/meson-logs"
      echo "{\"name\": \"fuzz\", \"result\": \"$fuzz_result\"}" > "$build-fuzz/meson-logs/testlog-fuzz.json"
      logs="$logs $build-fuzz/meson-logs/testlog-fuzz.json"
      ;;
    soak)
      [ -f "$build/build.ninja" ] || configure "$build" -Ddocs=true
      QVM_SOAK_CYCLES=100 QVM_SOAK_GUEST_RUNS=3 \
        run_leg soak "$build" --suite soak "$@"
      ;;
    installed)
      prefix=$(mktemp -d "${TMPDIR:-/tmp}/qvm-glib-prefix-XXXXXX")
      configure "$build-installed" --prefix="$prefix" -Dinstalled_tests=true -Ddocs=true \
        -Dguest_tests=disabled
      echo "=== leg installed"
      mkdir -p "$build-installed/meson-logs"
      "$top/tools/check-installed.sh" "$build-installed" "$prefix" | tee "$build-installed/meson-logs/installed.tap" || status=1
      # One record in meson's format per check, so the summary counts them.
      sed -n 's/^\(not \)\{0,1\}ok [0-9]* \(.*\)$/\1|\2/p' "$build-installed/meson-logs/installed.tap" |
        while IFS='|' read -r failed what; do
          if [ -n "$failed" ]; then result=FAIL; else result=OK; fi
          echo "{\"name\": \"installed: $what\", \"result\": \"$result\"}"
        done > "$build-installed/meson-logs/testlog-installed.json"
      logs="$logs $build-installed/meson-logs/testlog-installed.json"
      rm -rf "$prefix"
      ;;
    *)
      echo "run-tests: unknown leg $leg" >&2
      exit 2
      ;;
  esac
done

# shellcheck disable=SC2086
/usr/bin/python3 "$top/tools/test-summary.py" $logs
exit $status
