#!/usr/bin/env bash
# runaway-output-rss.sh - the server's peak RSS while a sandbox prints without end.
#
# Starts a private e2b-mock (default limits: 16 MiB output kept per stream), runs
# `while True: print('x'*1000)` for DURATION seconds (default 10) through the client (e2bc run,
# execution timeout = DURATION), samples the mock's VmRSS/VmHWM from /proc every 0.2 s, and
# prints the figures. The client's own output is counted, not kept.
#
# usage: scripts/runaway-output-rss.sh [BUILD_DIR] [DURATION_S]
#   BUILD_DIR   where bin/e2b-mock and bin/e2bc are (default: build)
# env: E2B_MOCK_ARGS  extra e2b-mock arguments (e.g. "--limit-output-mb 64")
set -euo pipefail

BUILD=${1:-build}
DUR=${2:-10}
MOCK=$BUILD/bin/e2b-mock
E2BC=$BUILD/bin/e2bc
if [ ! -x "$MOCK" ] || [ ! -x "$E2BC" ]; then
    echo "need $MOCK and $E2BC (build first)" >&2
    exit 2
fi

work=$(mktemp -d /tmp/e2b-rss-XXXXXX)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086 # E2B_MOCK_ARGS is a word list on purpose
E2B_MOCK_WARM_POOL=0 "$MOCK" --port 0 --root "$work/root" --quiet ${E2B_MOCK_ARGS:-} \
    >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
url=
for _ in $(seq 100); do
    url=$(sed -n 's/^E2B_MOCK_URL=//p' "$work/mock.out")
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "$url" ] || { echo "e2b-mock did not start:" >&2; cat "$work/mock.err" >&2; exit 2; }
export E2B_API_URL=$url E2B_SANDBOX_URL=$url E2B_API_KEY=rss-probe E2BC_NO_PROGRESS=1

status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$mock_pid/status"; }
rss0=$(status VmRSS)
hwm0=$(status VmHWM)

# the sandbox and its kernel first, so the window measures the output alone
sbx=$("$E2BC" sandbox create 2>/dev/null | awk '$1 == "sandbox" || $1 == "id" { print $NF; exit }')
[ -n "$sbx" ] || { echo "could not create a sandbox" >&2; exit 2; }
"$E2BC" run -s "$sbx" -c "print('warm')" >/dev/null
rss1=$(status VmRSS)

"$E2BC" run -s "$sbx" -T $((DUR * 1000)) -c "while True: print('x'*1000)" 2>/dev/null |
    wc -c >"$work/bytes" &
run_pid=$!
peak_rss=0
while kill -0 "$run_pid" 2>/dev/null; do
    r=$(status VmRSS)
    [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    sleep 0.2
done
wait "$run_pid" || true
hwm=$(status VmHWM)
bytes=$(cat "$work/bytes")

echo "runaway output for ${DUR} s: client received $bytes bytes of stdout"
echo "e2b-mock VmRSS: at start ${rss0} kB, with a warm sandbox ${rss1} kB, peak sampled" \
    "during the output ${peak_rss} kB"
echo "e2b-mock VmHWM (peak RSS over its life): before ${hwm0} kB, after ${hwm} kB"
peak=$hwm # VmHWM is synced lazily: a sample may be above it
[ "$peak_rss" -gt "$peak" ] && peak=$peak_rss
echo "PEAK_RSS_KB=$peak"
