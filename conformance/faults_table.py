#!/usr/bin/python3 -I
"""Builds the faults x operation-families table of conformance/FAULTS.md from a real run.

Usage: /usr/bin/python3 -I conformance/faults_table.py BUILD_DIR [--write]
Runs BUILD_DIR/tests/conformance_errors_faults and conformance_timeouts_faults against the
build's e2b-mock, collects the "FAULTCELL|row|family|code|http|calls|ms|expected" line each case
prints, and prints the markdown tables (with --write: replaces the part of conformance/FAULTS.md
between the "<!-- table:begin -->" and "<!-- table:end -->" markers). Cells whose fixture says
{"na": "..."} or that no fixture scripts are "n/a" with the reason. Exit 1 when a suite failed,
a cell differs from its fixture's expectation, or a design rule is broken (retries only for 429
on the control plane; request timeout, execution timeout and sandbox expiry distinct).
"""
import glob
import json
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 2:
    sys.exit(__doc__)
build = os.path.abspath(sys.argv[1])
write = "--write" in sys.argv[2:]

FAMILIES = [("control", "control plane: get_info"), ("create", "control plane: create"),
            ("execute", "execute stream: run_code"), ("envd_unary", "envd unary: files_stat"),
            ("envd_stream", "envd stream: commands_run"), ("files_read", "file transfer: read"),
            ("files_write", "file transfer: write")]
IDEMPOTENT_FAMILIES = ("control", "envd_unary", "files_read", "files_write")
ROWS = [  # (fixture name, row label)
    ("reset", "RST (connection reset)"), ("close_after_bytes", "close after N bytes"),
    ("empty_reply", "empty reply"), ("garbage", "garbage bytes"),
    ("lying_length", "lying Content-Length"), ("hang", "hang (no answer)"),
    ("slow_close", "slow close (404, closed 8 s later)"), ("html_502", "HTML 502 page"),
    ("rate_limited_retry_after_once", "429 with Retry-After, once"),
    ("rate_limited_persistent", "429 with Retry-After, always"),
    ("rate_limited_no_retry_after", "429 without Retry-After"), ("service_busy", "503"),
    ("vanish", "vanish after N s (mock clock)"), ("create_lost", "lost create answer"),
    ("stream_cut", "stream: cut mid-stream"), ("stream_reset", "stream: RST mid-stream"),
    ("stream_no_end_stream_frame", "stream: no end-stream frame"),
    ("stream_no_end", "stream: no end_of_execution / end event"),
    ("stream_malformed", "stream: malformed envelope"),
    ("stream_invalid_utf8", "stream: invalid UTF-8"),
    ("stream_stall", "stream: stalled, no keepalives"),
    ("stream_stall_keepalive", "stream: stalled with keepalives"),
]
NA_STREAM = ("n/a: not a streamed answer - stream faults need a chunked event stream; a "
             "truncated or stalled plain body is the close-after-N-bytes / lying-length / hang row")
NA_REASON = {  # (row prefix or name, family) -> reason, for cells no fixture scripts
    ("create_lost", "*"): "n/a: only a create can succeed on the server and lose its answer",
    ("stream_no_end_stream_frame", "execute"):
        "n/a: NDJSON has no end-stream frame (its end marker is end_of_execution: next row)",
}


def na_reason(row, fam, fixtures):
    fx = fixtures.get(row, {})
    e = (fx.get("expect") or {}).get(fam)
    if isinstance(e, dict) and "na" in e:
        return "n/a: " + e["na"]
    for (r, f), why in NA_REASON.items():
        if r == row and f in (fam, "*"):
            return why
    if row.startswith("stream_"):
        return NA_STREAM
    return "not scripted"


def run(binary):
    env = dict(os.environ)
    env.update({"E2B_MOCK_BIN": os.path.join(build, "bin", "e2b-mock"),
                "E2B_FIXTURES_DIR": os.path.join(here, "fixtures"), "E2B_SOURCE_DIR": here})
    p = subprocess.run([os.path.join(build, "tests", binary)], env=env, capture_output=True,
                       text=True, timeout=1800)
    out = p.stdout + p.stderr
    failed = re.findall(r"^\[  FAILED  \] (\S+)$", out, re.M)
    cells = [ln.split("|")[1:] for ln in out.splitlines() if ln.startswith("FAULTCELL|")]
    return p.returncode, cells, failed


fixtures = {}
for f in sorted(glob.glob(os.path.join(here, "fixtures", "faults", "*.json"))):
    d = json.load(open(f))
    fixtures[d.get("name", os.path.basename(f)[:-5])] = d

problems = []
rc_e, cells_e, failed_e = run("conformance_errors_faults")
rc_t, cells_t, failed_t = run("conformance_timeouts_faults")
for name in failed_e + failed_t:
    problems.append(f"test failed: {name}")
if rc_e or rc_t:
    problems.append(f"suite exit codes: errors {rc_e}, timeouts {rc_t}")

obs = {}
for row, fam, code, http, calls, ms, want in cells_e:
    obs[(row, fam)] = (code, http, calls, ms, want)
    if code != want:
        problems.append(f"{row}/{fam}: observed {code}, fixture expects {want}")
    if calls not in ("-", "0", "1"):
        # libcurl re-sends once on a dead reused connection, but libe2b refuses that for
        # calls the server must not act on twice (create, run_code, process start)
        curl_resend = (row in ("reset", "empty_reply") and calls == "2"
                       and fam in IDEMPOTENT_FAMILIES)
        if not row.startswith("rate_limited") and not curl_resend:
            problems.append(f"{row}/{fam}: {calls} calls (a retry outside the design)")
        if row.startswith("rate_limited") and fam not in ("control", "create"):
            problems.append(f"{row}/{fam}: data-plane 429 retried ({calls} calls)")

table = ["| fault | " + " | ".join(label for _, label in FAMILIES) + " |",
         "|---" * (len(FAMILIES) + 1) + "|"]
notes = set()
legend = []
for row, label in ROWS:
    cols = []
    for fam, _ in FAMILIES:
        o = obs.get((row, fam))
        if not o:
            why = na_reason(row, fam, fixtures)
            if why not in legend:
                legend.append(why)
            cols.append(f"n/a [{legend.index(why) + 1}]" if why.startswith("n/a") else why)
            continue
        code, http, calls, ms, want = o
        c = f"`{code}`"
        if http not in ("0", "-"):
            c += f" ({http})"
        if calls not in ("-", "0", "1"):
            c += f" ×{calls}"
            notes.add("retry" if row.startswith("rate_limited") else "resend")
        cols.append(c)
    table.append(f"| {label} | " + " | ".join(cols) + " |")
missing = [r for r, _ in ROWS if not any(k[0] == r for k in obs)]
for r in missing:
    problems.append(f"row {r}: no case ran")

trow = {}
for row, fam, code, http, calls, ms, want in cells_t:
    trow[(row, fam)] = (code, http, ms)
t2 = ["| case (timeouts suite) | family | observed | took |", "|---|---|---|---|"]
TLABEL = {"request_timeout": "request timeout (hang, request_timeout_ms 2 s)",
          "execution_timeout": "execution timeout (stalled stream, timeout 2.5 s)",
          "sandbox_expiry": "sandbox expiry (mock clock +61 s)",
          "kill_mid_stream": "kill mid-stream (default: streams cut)",
          "kill_mid_stream_graceful": "kill mid-stream, cutStreamsOnKill false"}
for (row, fam), (code, http, ms) in trow.items():
    c = f"`{code}`" + (f" ({http})" if http not in ("0", "-") else "")
    t2.append(f"| {TLABEL.get(row, row)} | {fam} | {c} | {ms} ms |")
three = {trow.get(("request_timeout", "control"), ("?",))[0],
         trow.get(("execution_timeout", "execute"), ("?",))[0],
         trow.get(("sandbox_expiry", "envd_unary"), ("?",))[0]}
if len(three) != 3 or "?" in three:
    problems.append(f"request timeout / execution timeout / expiry not three distinct codes: {three}")
for fam in ("execute", "envd_stream"):
    if trow.get(("kill_mid_stream", fam), ("?",))[0] != "sandbox_gone":
        problems.append(f"kill mid-stream ({fam}) is not sandbox_gone")

text = "\n".join(table) + "\n\n"
text += "\n".join(f"[{i + 1}] {why[5:]}" + "  " for i, why in enumerate(legend)) + "\n\n"
text += "\n".join(t2) + "\n"
text += (f"\n{len(cells_e)} fault cases, {len(cells_t)} timeout/kill cases; "
         f"design check: {'all as designed (a ×2 on RST / empty reply is libcurl re-sending an idempotent call on a dead reused connection: see Re-sends)' if not problems else 'PROBLEMS: ' + '; '.join(problems)}\n")
print(text)
if write:
    path = os.path.join(here, "conformance", "FAULTS.md")
    doc = open(path).read()
    b, e = "<!-- table:begin -->", "<!-- table:end -->"
    doc = doc[:doc.index(b) + len(b)] + "\n" + text + doc[doc.index(e):]
    open(path, "w").write(doc)
sys.exit(1 if problems else 0)
