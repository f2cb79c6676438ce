#!/usr/bin/env bash
# Allocation-failure torture of libe2b call sequences (torture/torture_client.c).
#
# Usage: scripts/torture.sh [scenario...]     (default: parse lifecycle run_code lifecycle+curl)
# Env:   BUILD_DIR (default build-torture; CI passes the ASan build dir of `make asan`, which
#        then only adds the torture_client target), TORTURE_JOBS (runs in parallel, default
#        2 x nproc: a run mostly waits on the mock), TORTURE_STRIDE (test every k-th
#        allocation, default 1), TORTURE_BUDGET (seconds per scenario, default 0 = none; when
#        set, the scenario is reported as truncated), TORTURE_SHOW (failures printed in full,
#        default 5).
#
# Builds with -DE2B_TORTURE=ON -DE2B_SANITIZE=ON (ASan+LSan+UBSan), starts one e2b-mock
# (with the scripted /execute answers of fixtures/execute-scripts, no warm pool), and for each
# scenario runs the program with E2B_TORTURE_FAIL_AT=n for n = 1, 2, ... until a run
# completes without an injected failure. The runs are independent processes, so they run
# TORTURE_JOBS at a time in batches (the first batch covers 1..allocations+1 of a baseline
# run; later batches only when the count varies); results are judged in order of n and the
# sweep ends at the first run that injected nothing. Each run must: not die by a signal or a
# sanitizer report (crash / leak), and either return an error from the call that hit the
# failure, or finish with results that still pass the scenario's checks ("tolerated").
# "lifecycle+curl" also injects into libcurl's allocations (curl_global_init_mem), which is
# how network-layer failures (buffers, handles, header lists) are reached; socket read/write
# faults themselves are not injected.
# An error code other than no_memory is counted as "misclass" and listed per call; it is not
# a failure (the rule is: an error, no crash, no leak) - see torture/README.md for why the
# remaining ones are libcurl's.
# Exit: 0 when every run passed, 1 otherwise (the failing n and the stack are printed).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-torture}
case $build in /*) ;; *) build=$here/$build ;; esac
stride=${TORTURE_STRIDE:-1}
budget=${TORTURE_BUDGET:-0}
show=${TORTURE_SHOW:-5}
jobs=${TORTURE_JOBS:-$(( $(nproc) * 2 ))}
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(parse lifecycle run_code lifecycle+curl)

t0=$(date +%s)
cmake -S "$here" -B "$build" -DE2B_TORTURE=ON -DE2B_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 2
cmake --build "$build" -j "$(nproc)" --target torture_client e2b-mock >"$build/torture-build.log" 2>&1 || {
    tail -40 "$build/torture-build.log"; echo "torture.sh: build failed" >&2; exit 2; }
echo "torture.sh: built in $(( $(date +%s) - t0 )) s; $jobs runs in parallel"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tmp=$(mktemp -d /tmp/e2b-torture.XXXXXX)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then kill -TERM "$mock_pid"; wait "$mock_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

E2B_MOCK_EXECUTE_SCRIPTS=$here/fixtures/execute-scripts E2B_FIXTURES_DIR=$here/fixtures E2B_MOCK_WARM_POOL=0 \
    "$build/bin/e2b-mock" --quiet >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
for _ in $(seq 100); do grep -q '^E2B_MOCK_URL=' "$tmp/mock.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^E2B_MOCK_URL=//p' "$tmp/mock.out" | head -1)
[ -n "$url" ] || { echo "torture.sh: e2b-mock did not start" >&2; cat "$tmp/mock.err" >&2; exit 2; }
export E2B_TORTURE_URL=$url

# one run: <dir> <scenario-name> <curl 0|1> <n>  ->  <dir>/<n>.{out,err,rc}
export TORTURE_BIN=$build/torture/torture_client
one_run() {
    E2B_TORTURE_CURL=$3 E2B_TORTURE_FAIL_AT=$4 "$TORTURE_BIN" "$2" >"$1/$4.out" 2>"$1/$4.err"
    echo $? >"$1/$4.rc"
}
export -f one_run

bad=0
summary=()
hdr=$(printf '%-16s %6s %6s %8s %9s %8s %6s %6s %5s %6s  %s' scenario allocs runs errored tolerated misclass garbage crash leak secs status)
echo "$hdr"
for sc in "${scenarios[@]}"; do
    name=${sc%+curl}
    curl=0; [ "$name" != "$sc" ] && curl=1
    s0=$(date +%s)
    base=$(E2B_TORTURE_CURL=$curl E2B_TORTURE_FAIL_AT=0 "$TORTURE_BIN" "$name" 2>"$tmp/err")
    brc=$?
    allocs=$(sed -nE 's/^allocations=([0-9]+).*/\1/p' <<<"$base")
    if [ $brc -ne 0 ] || [ -z "$allocs" ]; then
        echo "torture.sh: $sc: baseline run failed (rc $brc): $base"; head -30 "$tmp/err"; bad=1
        summary+=("$(printf '%-16s %6s %6s %8s %9s %8s %6s %6s %5s %6s  %s' "$sc" - - - - - - - - - "BASELINE FAILED")")
        continue
    fi
    d=$tmp/$sc
    mkdir -p "$d"
    runs=0 errored=0 tolerated=0 misclass=0 garbage=0 crash=0 leak=0 shown=0 status=running
    declare -A miscodes=() misfirst=()
    n=1
    last=$((allocs + 1))  # first batch: every n up to one past the baseline's count
    while [ "$status" = running ]; do
        if [ "$budget" -gt 0 ] && [ $(( $(date +%s) - s0 )) -ge "$budget" ]; then status="truncated@n=$n"; break; fi
        seq "$n" "$stride" "$last" | xargs -P "$jobs" -I{} bash -c 'one_run "$@"' _ "$d" "$name" "$curl" {}
        while [ "$n" -le "$last" ]; do
            rc=$(cat "$d/$n.rc" 2>/dev/null || echo missing)
            out=$(head -1 "$d/$n.out" 2>/dev/null)
            err=$d/$n.err
            runs=$((runs + 1))
            problem=
            if [ -s "$err" ] && grep -q 'LeakSanitizer' "$err"; then leak=$((leak + 1)); problem=leak
            elif [ "$rc" = missing ] || [ "$rc" -ge 128 ] || { [ -s "$err" ] && grep -qE 'AddressSanitizer|runtime error' "$err"; }; then
                crash=$((crash + 1)); problem="crash (rc $rc)"
            else
                case $rc in
                    0) status=complete; break ;;
                    10) errored=$((errored + 1))
                        if [[ $out != *" rc=no_memory "* ]]; then
                            misclass=$((misclass + 1))
                            code=${out#* rc=}; code=${code%% *}
                            call=${out#* failed_in=}; call=${call%% *}
                            miscodes["$call -> $code"]=$(( ${miscodes["$call -> $code"]:-0} + 1 ))
                            [ -n "${misfirst["$call -> $code"]:-}" ] || misfirst["$call -> $code"]="n=$n: ${out#* msg=}"
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
                    grep -E '^(    #[0-9]+ |==[0-9]+==ERROR|SUMMARY|Direct leak|Indirect leak|torture:)|runtime error' "$err" | head -14 | sed 's/^/     /'
                fi
            fi
            n=$((n + stride))
        done
        # the count varied: go on in small batches
        [ "$status" = running ] && last=$((n + jobs * 4 - 1))
    done
    line=$(printf '%-16s %6s %6s %8s %9s %8s %6s %6s %5s %6s  %s' "$sc" "$allocs" "$runs" "$errored" "$tolerated" \
        "$misclass" "$garbage" "$crash" "$leak" "$(( $(date +%s) - s0 ))" "$( [ "$status" = complete ] && echo "complete@n=$n" || echo "$status")")
    echo "$line"
    summary+=("$line")
    for k in "${!miscodes[@]}"; do
        m="     non-no_memory code: $k (${miscodes[$k]} runs; first ${misfirst[$k]})"
        echo "$m"; summary+=("$m")
    done
    unset miscodes misfirst
    rm -rf "$d"
done
kill -TERM "$mock_pid"; wait "$mock_pid"; mrc=$?; mock_pid=
if [ $mrc -ne 0 ]; then echo "torture.sh: e2b-mock exited with $mrc"; tail -20 "$tmp/mock.err"; bad=1; fi
echo
echo "torture.sh summary (n = 1..N until a run injected nothing; misclass = error code other than no_memory):"
echo "$hdr"
printf '%s\n' "${summary[@]}"
echo "torture.sh: $( [ $bad -eq 0 ] && echo OK || echo FAIL ), total $(( $(date +%s) - t0 )) s"
exit $bad
