#!/bin/sh
# live_mode.sh - ctest driver for `e2b-bench live` (label bench).
#
#   live_mode.sh skip  E2B_BENCH        without E2B_LIVE/E2B_API_KEY: exit 0 + the skip message,
#                                       no series measured
#   live_mode.sh mock  E2B_BENCH E2B_MOCK
#                                       E2B_LIVE=1 + E2B_API_KEY with E2B_API_URL/E2B_SANDBOX_URL
#                                       on an e2b-mock started here (--create-latency-ms 150
#                                       standing in for the cloud): -n 3 rounds, JSON checked
#                                       for the live_round p50/p95/p99 and the published figures
#
# Checks behaviour only; no timing verdict (timings belong in the bench output).
set -u
mode=$1
bench=$2
tmp=$(mktemp -d /tmp/e2b-bench-live.XXXXXX) || exit 1
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
msg='skipped: set E2B_LIVE=1 and E2B_API_KEY to measure real E2B'

case "$mode" in
skip)
    env -u E2B_LIVE -u E2B_API_KEY "$bench" live --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr"
    rc=$?
    cat "$tmp/stdout" "$tmp/stderr"
    [ "$rc" -eq 0 ] || fail "e2b-bench live without the env exited $rc (want 0)"
    grep -qF "$msg" "$tmp/stderr" || fail "no skip message on stderr"
    grep -qF "$msg" "$tmp/stdout" || fail "no skip message in the table"
    grep -qF "\"target\":\"$msg\"" "$tmp/out.json" || fail "JSON target is not the skip message"
    grep -qF '"series":[]' "$tmp/out.json" || fail "skipped run still measured series"
    # E2B_LIVE=1 alone (no key) also skips
    env -u E2B_API_KEY E2B_LIVE=1 "$bench" live >"$tmp/stdout2" 2>&1 || fail "E2B_LIVE=1 without key failed"
    grep -qF "$msg" "$tmp/stdout2" || fail "E2B_LIVE=1 without key: no skip message"
    echo "PASS: live skipped cleanly"
    ;;
mock)
    mock=$3
    "$mock" --port 0 --create-latency-ms 150 --warm-pool 0 --quiet >"$tmp/mock.out" 2>"$tmp/mock.err" &
    mock_pid=$!
    url=
    i=0
    while [ $i -lt 100 ]; do
        url=$(sed -n 's/^E2B_MOCK_URL=//p' "$tmp/mock.out")
        [ -n "$url" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$url" ] || { cat "$tmp/mock.err"; fail "e2b-mock printed no E2B_MOCK_URL"; }
    env -u E2B_DOMAIN -u E2B_DEBUG E2B_LIVE=1 E2B_API_KEY=bench-live-test \
        E2B_API_URL="$url" E2B_SANDBOX_URL="$url" \
        "$bench" live -n 3 --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr"
    rc=$?
    cat "$tmp/stdout" "$tmp/stderr"
    [ "$rc" -eq 0 ] || fail "e2b-bench live against the mock exited $rc"
    env -i /usr/bin/python3 - "$tmp/out.json" "$url" <<'PY' || fail "JSON check"
import json, sys
d = json.load(open(sys.argv[1]))
sc = [s for s in d["scenarios"] if s["scenario"] == "live"]
assert len(sc) == 1 and sc[0]["ok"], "live scenario missing or not ok"
assert sys.argv[2] in sc[0]["target"], "target is not the E2B_API_URL: " + sc[0]["target"]
series = {s["name"]: s for s in sc[0]["series"]}
for name in ("live_round", "live_create", "live_exec", "live_run", "live_kill"):
    s = series[name]
    assert s["n"] == 3 and len(s["samples"]) == 3, name + ": want 3 samples"
    for f in ("p50", "p95", "p99", "max"):
        assert isinstance(s[f], (int, float)) and s[f] > 0, name + "." + f
    assert s["p50"] <= s["p95"] <= s["p99"] <= s["max"], name + ": percentiles out of order"
r = series["live_round"]
# the phases are inside the round; the mock injects 150 ms into every create
assert series["live_create"]["p50"] >= 150000, "create faster than the injected 150 ms"
assert r["max"] >= series["live_create"]["max"], "round shorter than its create"
lv = d["live_vs_published"]
assert lv["published_ms"] == {"p50": 442, "p95": 811, "p99": 4135}, lv
assert abs(lv["measured_ms"]["p95"] - r["p95"] / 1000) < 0.01, lv
metrics = {m["name"]: m["value"] for m in sc[0]["metrics"]}
assert metrics["live_failed_rounds"] == 0 and metrics["live_rounds_ok"] == 3, metrics
print("PASS: live JSON has p50/p95/p99 for", ", ".join(sorted(series)))
PY
    # every sandbox the rounds created was killed
    left=$(curl -sf -H "X-API-Key: bench-live-test" "$url/sandboxes") || fail "list sandboxes"
    [ "$left" = "[]" ] || fail "sandboxes left running: $left"
    ;;
*)
    fail "usage: live_mode.sh skip BENCH | mock BENCH MOCK"
    ;;
esac
