#!/bin/sh
# tools/fuzz.sh [SECONDS] [TARGET…]: runs the libFuzzer targets of tests/fuzz.
#
# Configures _build-fuzz (clang, -Dfuzzing=true, AddressSanitizer and
# UndefinedBehaviorSanitizer) if needed, builds the targets, then runs each
# one in turn for SECONDS (default 60) on a copy of its seed corpus: new
# inputs go to _build-fuzz/corpus/TARGET, never into the source tree, and
# accumulate from one run to the next. Prints, per target, the executions,
# executions per second, the inputs that brought new coverage, and crashes.
# Exits 1 when a target crashed (a failed check, a sanitizer report, a leak,
# a timeout or running out of memory), after printing the input that
# reproduces it; replay it with
#
#   _build-fuzz/tests/fuzz/fuzz-TARGET FILE       (with the sanitizers)
#   _build/tests/fuzz/fuzz-TARGET FILE            (a normal build, gdb…)
#
# Environment: QVM_FUZZ_BUILD_DIR (default _build-fuzz), QVM_FUZZ_ARGS (more
# libFuzzer options, e.g. "-seed=1"), TMPDIR (where fuzz-archive extracts;
# /dev/shm when it is writable, to spare the disk).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"machine options schema-instance schema qcow2 archive qmp-parser qmp-client ppm"}
build=${QVM_FUZZ_BUILD_DIR:-"$top/_build-fuzz"}

case $seconds in
  ''|*[!0-9]*) echo "Usage: $0 [SECONDS] [TARGET…]" >&2; exit 2 ;;
esac

# The largest input libFuzzer makes for each target: qcow2 headers are read
# in a 64 KiB window, archives and QMP streams need room too.
max_len () {
  case $1 in
    qcow2) echo 70000 ;;
    archive|qmp-client) echo 65536 ;;
    qmp-parser|schema|schema-instance|machine) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

dictionary () {
  case $1 in
    machine|options|schema-instance) echo json ;;
    qmp-parser|qmp-client) echo qmp ;;
    *) echo "$1" ;;
  esac
}

# clang, libFuzzer (libclang-rt-14-dev) and the library's dependencies.
"$top/tools/setup.sh"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$top" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dintrospection=false >/dev/null
fi
build_targets=""
for t in $targets; do
  build_targets="$build_targets tests/fuzz/fuzz-$t"
done
# shellcheck disable=SC2086
meson compile -C "$build" -j 2 $build_targets >/dev/null

if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
# Undefined behaviour is a crash too, with a stack.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

# A field of libFuzzer's final statistics ("stat::NAME: VALUE").
stat () {
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# "cov: N" (edges covered) of the first, or with -l the last, status line
# matching $1.
coverage () {
  if [ "$1" = -l ]; then
    shift
    grep -E "$1" "$2" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p'
  else
    grep -m 1 -E "$1" "$2" | sed -n 's/.*cov: \([0-9]*\).*/\1/p'
  fi
}

status=0
total_runs=0
start=$(date +%s)
printf '%-16s %12s %9s %9s %14s %8s  %s\n' target executions exec/s new-units coverage corpus crashes
for t in $targets; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$build/fuzz-logs"
  cp "$top/tests/fuzz/corpus/$t/"* "$corpus/"
  dict="-dict=$top/tests/fuzz/$(dictionary "$t").dict"

  set +e
  # shellcheck disable=SC2086
  "$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$artifacts" \
    $dict ${QVM_FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
  rc=$?
  set -e

  runs=$(stat number_of_executed_units "$log")
  speed=$(stat average_exec_per_sec "$log")
  new=$(stat new_units_added "$log")
  cov_start=$(coverage 'INITED' "$log")
  cov_end=$(coverage -l '(DONE|pulse|NEW|REDUCE) ' "$log")
  files=$(find "$corpus" -type f | wc -l)
  total_runs=$((total_runs + ${runs:-0}))
  crash="none"
  if [ "$rc" -ne 0 ]; then
    status=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    crash="CRASH (exit $rc) ${crash:-see $log}"
  fi
  printf '%-16s %12s %9s %9s %14s %8s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${new:-?}" \
    "${cov_start:-?}->${cov_end:-?}" "$files" "$crash"
  if [ "$rc" -ne 0 ]; then
    # What went wrong, in short; the whole output is in the log.
    grep -E 'fuzz check failed|runtime error|ERROR: [A-Za-z]+Sanitizer|SUMMARY: ' "$log" | head -n 4 | sed 's/^/    /'
    grep -E '^ *#[0-9]+ .* (/[^ ]*)?(qvm-glib|tests/fuzz)/[a-z0-9-]+\.c:' "$log" | head -n 6 | sed 's/^ */      /'
    echo "    log: $log"
  fi
done
echo "total: $total_runs executions in $(( $(date +%s) - start )) s"

if [ "$status" -ne 0 ]; then
  echo "A target crashed: replay its input with the command in the header of $0." >&2
fi
exit "$status"
