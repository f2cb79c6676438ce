#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time and prints executions and coverage.
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]
#   seconds-per-target  default 25 (CI); longer local run: scripts/fuzz.sh 600
#   target              names from fuzz/CMakeLists.txt (default: all), e.g. client_connect
# Env: BUILD_DIR (default build-fuzz), FUZZ_JOBS (parallel targets, default 1),
#      FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=65536").
#
# Builds with CC=clang -DE2B_FUZZ=ON (ASan+UBSan+libFuzzer) into $BUILD_DIR, generates the
# seed corpora (fuzz/gen_seeds.py) into $BUILD_DIR/fuzz-corpus/<target> (kept between runs:
# the corpus grows), and runs each target with -max_total_time. A crash leaves its input in
# $BUILD_DIR/fuzz-artifacts/<target>/; the script prints it and the lines to commit it as a
# regression (fuzz/regressions/<target>/), which ctest -L fuzz-regress then replays in
# every normal build. Exit status: 0 when no target crashed, 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-25}
shift || true
build=${BUILD_DIR:-$here/build-fuzz}
case $build in /*) ;; *) build=$here/$build ;; esac

all=(client_ndjson client_execution client_connect client_sandbox_json agent
     mock_connect mock_query mock_loaders mock_http fixture_loader)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/deps.sh installs it)" >&2; exit 2; }
t0=$(date +%s)
CC=clang cmake -S "$here" -B "$build" -DE2B_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >"$build/fuzz-build.log" 2>&1 || {
    tail -40 "$build/fuzz-build.log"; echo "fuzz.sh: build failed" >&2; exit 2; }
/usr/bin/python3 -I "$here/fuzz/gen_seeds.py" "$here" "$build/fuzz-corpus" >/dev/null || exit 2
echo "fuzz.sh: built in $(( $(date +%s) - t0 )) s; ${secs} s per target"

known_regression() {  # is this crash input already committed under fuzz/regressions/<t>/?
    local r
    for r in "$2"/*; do [ -f "$r" ] && cmp -s "$1" "$r" && return 0; done
    return 1
}

hdr=$(printf '%-20s %5s %10s %8s %6s %6s %7s %7s  %s' target secs execs exec/s cov ft corpus crashes result)
echo "$hdr"
rows=()
crashed=0
for t in "${targets[@]}"; do
    corpus=$build/fuzz-corpus/$t
    art=$build/fuzz-artifacts/$t
    log=$build/fuzz-logs/$t.log
    mkdir -p "$corpus" "$art" "$(dirname "$log")"
    rm -f "$art"/*   # artifacts of earlier runs: this run's crashes only
    seeds=()
    [ -d "$here/fuzz/regressions/$t" ] && seeds+=("$here/fuzz/regressions/$t")
    s0=$(date +%s)
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - s0 ))
    # libFuzzer's final stats (-print_final_stats=1) and its last status line (cov, ft)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    execs=$(awk '/^stat::number_of_executed_units/ {v=$2} END {print v}' "$log")
    eps=$(awk '/^stat::average_exec_per_sec/ {v=$2} END {print v}' "$log")
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    ncorp=$(find "$corpus" -maxdepth 1 -type f | wc -l)
    ncrash=$(find "$art" -maxdepth 1 -type f | wc -l)
    if [ $rc -eq 0 ]; then res=ok; else res="CRASH (rc $rc)"; crashed=1; fi
    row=$(printf '%-20s %5s %10s %8s %6s %6s %7s %7s  %s' "$t" "$dt" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$ncorp" "$ncrash" "$res")
    echo "$row"
    rows+=("$row")
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR: |SUMMARY: |invariant failed|runtime error' "$log" | head -5 | sed 's/^/    /'
        for a in "$art"/*; do
            [ -f "$a" ] || continue
            echo "    input: $a"
            if known_regression "$a" "$here/fuzz/regressions/$t"; then
                echo "    (already a committed regression: the owner's fix is pending)"
            else
                echo "    keep it: mkdir -p fuzz/regressions/$t && cp '$a' fuzz/regressions/$t/"
            fi
        done
        echo "    log: $log"
    fi
done
echo
echo "fuzz.sh summary (libFuzzer final stats; cov = coverage edges, ft = features, corpus = files kept):"
echo "$hdr"
printf '%s\n' "${rows[@]}"
echo "fuzz.sh: $( [ $crashed -eq 0 ] && echo OK || echo FAIL ), total $(( $(date +%s) - t0 )) s"
exit $crashed
