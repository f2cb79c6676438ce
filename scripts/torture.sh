#!/usr/bin/env bash
# Allocation-failure torture of libe2b call sequences (torture/torture_client.c).
#
# Usage: scripts/torture.sh [scenario...]     (default: parse lifecycle run_code lifecycle+curl)
# Env:   BUILD_DIR (default build-torture), TORTURE_STRIDE (test every k-th allocation,
#        default 1), TORTURE_BUDGET (seconds per scenario, default 150; the scenario is then
#        reported as truncated), TORTURE_SHOW (failures printed in full, default 5).
#
# Builds with -DE2B_TORTURE=ON -DE2B_SANITIZE=ON (ASan+LSan+UBSan), starts one e2b-mock
# (with the scripted /execute answers of fixtures/execute-scripts), and for each scenario
# runs the program with E2B_TORTURE_FAIL_AT=n for n = 1, 2, ... until a run completes without
# an injected failure. Each run must: not die by a signal or a sanitizer report (crash / leak),
# and either return an error from the call that hit the failure, or finish with results that
# still pass the scenario's checks. "lifecycle+curl" also injects into libcurl's allocations
# (curl_global_init_mem), which is how network-layer failures (buffers, handles, header
# lists) are reached; socket read/write faults themselves are not injected.
# Exit: 0 when every run passed, 1 otherwise (the failing n and the stack are printed).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-torture}
case $build in /*) ;; *) build=$here/$build ;; esac
stride=${TORTURE_STRIDE:-1}
budget=${TORTURE_BUDGET:-150}
show=${TORTURE_SHOW:-5}
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(parse lifecycle run_code lifecycle+curl)

t0=$(date +%s)
cmake -S "$here" -B "$build" -DE2B_TORTURE=ON -DE2B_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 2
cmake --build "$build" -j "$(nproc)" --target torture_client e2b-mock >"$build/torture-build.log" 2>&1 || {
    tail -40 "$build/torture-build.log"; echo "torture.sh: build failed" >&2; exit 2; }
echo "torture.sh: built in $(( $(date +%s) - t0 )) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tmp=$(mktemp -d /tmp/e2b-torture.XXXXXX)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then kill -TERM "$mock_pid"; wait "$mock_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

E2B_MOCK_EXECUTE_SCRIPTS=$here/fixtures/execute-scripts E2B_FIXTURES_DIR=$here/fixtures \
    "$build/bin/e2b-mock" --quiet >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
for _ in $(seq 100); do grep -q '^E2B_MOCK_URL=' "$tmp/mock.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^E2B_MOCK_URL=//p' "$tmp/mock.out" | head -1)
[ -n "$url" ] || { echo "torture.sh: e2b-mock did not start" >&2; cat "$tmp/mock.err" >&2; exit 2; }
export E2B_TORTURE_URL=$url

bad=0
printf '%-16s %6s %6s %8s %9s %8s %6s %6s %5s %6s  %s\n' scenario allocs runs errored tolerated misclass garbage crash leak secs status
for sc in "${scenarios[@]}"; do
    name=${sc%+curl}
    curl=0; [ "$name" != "$sc" ] && curl=1
    s0=$(date +%s)
    base=$(E2B_TORTURE_CURL=$curl E2B_TORTURE_FAIL_AT=0 "$build/torture/torture_client" "$name" 2>"$tmp/err")
    brc=$?
    allocs=$(sed -nE 's/^allocations=([0-9]+).*/\1/p' <<<"$base")
    if [ $brc -ne 0 ] || [ -z "$allocs" ]; then
        echo "torture.sh: $sc: baseline run failed (rc $brc): $base"; head -30 "$tmp/err"; bad=1; continue
    fi
    runs=0 errored=0 tolerated=0 misclass=0 garbage=0 crash=0 leak=0 shown=0 status=complete
    declare -A miscodes=()
    n=1
    while :; do
        if [ $(( $(date +%s) - s0 )) -ge "$budget" ]; then status="truncated@n=$n"; break; fi
        out=$(E2B_TORTURE_CURL=$curl E2B_TORTURE_FAIL_AT=$n "$build/torture/torture_client" "$name" 2>"$tmp/err")
        rc=$?
        runs=$((runs + 1))
        problem=
        if [ -s "$tmp/err" ] && grep -q 'LeakSanitizer' "$tmp/err"; then leak=$((leak + 1)); problem=leak
        elif [ $rc -ge 128 ] || { [ -s "$tmp/err" ] && grep -qE 'AddressSanitizer|runtime error' "$tmp/err"; }; then
            crash=$((crash + 1)); problem="crash (rc $rc)"
        else
            case $rc in
                0) break ;;
                10) errored=$((errored + 1))
                    if [[ $out != *" rc=no_memory "* ]]; then
                        misclass=$((misclass + 1))
                        code=${out#* rc=}; code=${code%% *}
                        call=${out#* failed_in=}; call=${call%% *}
                        miscodes["$call -> $code"]=$(( ${miscodes["$call -> $code"]:-0} + 1 ))
                    fi ;;
                13) tolerated=$((tolerated + 1)) ;;
                11) garbage=$((garbage + 1)); problem="success with a wrong result" ;;
                *) problem="unexpected exit $rc" ;;
            esac
        fi
        if [ -n "$problem" ]; then
            bad=1
            if [ $shown -lt "$show" ]; then
                shown=$((shown + 1))
                echo "---- $sc n=$n: $problem"
                echo "     $out"
                grep -E '^(    #[0-9]+ |==[0-9]+==ERROR|SUMMARY|Direct leak|Indirect leak|torture:)|runtime error' "$tmp/err" | head -14 | sed 's/^/     /'
            fi
        fi
        n=$((n + stride))
    done
    printf '%-16s %6s %6s %8s %9s %8s %6s %6s %5s %6s  %s\n' "$sc" "$allocs" "$runs" "$errored" "$tolerated" \
        "$misclass" "$garbage" "$crash" "$leak" "$(( $(date +%s) - s0 ))" "$status"
    for k in "${!miscodes[@]}"; do echo "     non-no_memory code: $k (${miscodes[$k]} runs)"; done
    unset miscodes
done
kill -TERM "$mock_pid"; wait "$mock_pid"; mrc=$?; mock_pid=
if [ $mrc -ne 0 ]; then echo "torture.sh: e2b-mock exited with $mrc"; tail -20 "$tmp/mock.err"; bad=1; fi
echo "torture.sh: total $(( $(date +%s) - t0 )) s"
exit $bad
