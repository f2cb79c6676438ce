#!/usr/bin/env bash
# ThreadSanitizer gate: builds with -DE2B_TSAN=ON and runs
#   1. torture/tsan_stress: in-process e2b-mock + 4 threads sharing one e2b_client
#      (create/get_info/list/set_timeout/kill loops) + 4 raw libcurl threads on the server;
#   2. the threaded unit tests (ctest -R "$TSAN_TESTS"), built with TSan as well.
# Usage: scripts/tsan.sh [iterations]   (default 50 lifecycles per client thread)
# Env:   BUILD_DIR (default build-tsan), TSAN_TESTS (ctest regex, default
#        "unit_server|unit_http|unit_sandbox_api|unit_store"; "" skips step 2).
#        KEEP_GOING=1 (run what builds when some test does not link; still exits 2)
# Exit 0 when no data race / TSan report and every call succeeded.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-tsan}
case $build in /*) ;; *) build=$here/$build ;; esac
iters=${1:-50}
tests=${TSAN_TESTS-unit_server|unit_http|unit_sandbox_api|unit_store}

t0=$(date +%s)
cmake -S "$here" -B "$build" -DE2B_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
targets=(tsan_stress e2b-mock)
if [ -n "$tests" ]; then
    while read -r t; do targets+=("$t"); done < <(cd "$build" && ctest -N -R "$tests" | sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p')
fi
build_rc=0
if [ "${KEEP_GOING:-0}" = 1 ]; then
    cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" -- -k >"$build/tsan-build.log" 2>&1 || build_rc=2
    [ $build_rc -ne 0 ] && echo "tsan.sh: build FAILED for some targets (KEEP_GOING: running what built)"
    [ -x "$build/torture/tsan_stress" ] || { tail -40 "$build/tsan-build.log"; exit 2; }
else
    cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >"$build/tsan-build.log" 2>&1 || {
        tail -40 "$build/tsan-build.log"; echo "tsan.sh: build failed" >&2; exit 2; }
fi
echo "tsan.sh: built in $(( $(date +%s) - t0 )) s"

export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 history_size=4"
rc=0
t1=$(date +%s)
"$build/torture/tsan_stress" "$iters" >"$build/tsan-stress.out" 2>"$build/tsan-stress.err"
src=$?
cat "$build/tsan-stress.out"
races=$(grep -c '^WARNING: ThreadSanitizer' "$build/tsan-stress.err")
echo "tsan.sh: tsan_stress rc=$src, $races TSan report(s), $(( $(date +%s) - t1 )) s"
if [ $src -ne 0 ] || [ "$races" -ne 0 ]; then
    rc=1
    grep -A14 '^WARNING: ThreadSanitizer' "$build/tsan-stress.err" | grep -E 'WARNING|^    #[0-3] |SUMMARY|Previous|Location' | head -40
    grep -v '^$' "$build/tsan-stress.err" | grep -E '^tsan_stress' | head -10
fi
if [ -n "$tests" ]; then
    t2=$(date +%s)
    (cd "$build" && ctest --output-on-failure -R "$tests") >"$build/tsan-ctest.log" 2>&1
    crc=$?
    n=$(grep -c '^WARNING: ThreadSanitizer' "$build/tsan-ctest.log")
    grep -E 'tests passed|tests failed|^\s+[0-9]+ - ' "$build/tsan-ctest.log" | sed 's/^/ctest: /'
    echo "tsan.sh: ctest -R '$tests' rc=$crc, $n TSan report(s), $(( $(date +%s) - t2 )) s"
    if [ $crc -ne 0 ] || [ "$n" -ne 0 ]; then
        rc=1
        grep -A14 '^WARNING: ThreadSanitizer' "$build/tsan-ctest.log" | grep -E 'WARNING|^    #[0-3] |SUMMARY' | head -30
    fi
fi
echo "tsan.sh: $( [ $rc -eq 0 ] && [ $build_rc -eq 0 ] && echo OK || echo FAIL ), total $(( $(date +%s) - t0 )) s"
[ $build_rc -ne 0 ] && exit 2
exit $rc
