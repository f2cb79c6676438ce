#!/usr/bin/python3 -I
"""Runs ctest's test commands under valgrind memcheck (driver of scripts/valgrind.sh).

Usage: valgrind_run.py <build-dir> <pass> <jobs> <timeout-s> <supp-file> <ctest-args...>
  pass "tests": each test binary under valgrind; e2b-mock children run natively.
  pass "mock":  test binaries run natively; every e2b-mock they spawn runs under valgrind
                (E2B_MOCK_BIN points at a wrapper), each child writes its own log.
A test fails on a valgrind error (invalid read/write, uninitialised use, bad free) or a
definite/indirect leak, or when the test itself fails. Prints one line per test and a
summary; exit 1 if anything failed.
"""
import concurrent.futures as cf
import glob
import json
import os
import re
import stat
import subprocess
import sys
import time

build, vpass, jobs, timeout, supp = sys.argv[1:6]
ctest_args = sys.argv[6:]
jobs, timeout = int(jobs), int(timeout)
logdir = os.path.join(build, "valgrind", vpass)
os.makedirs(logdir, exist_ok=True)
for f in glob.glob(os.path.join(logdir, "*.log")):
    os.unlink(f)

VG = ["valgrind", "--tool=memcheck", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
      "--error-exitcode=99", "--track-origins=no", "--num-callers=30",
      "--suppressions=" + supp, "--gen-suppressions=all",
      # A child between fork and exec (libe2b's e2b_local_start) holds a copy of the parent's
      # heap; when a test kills it before its exec (a start timeout, slow under valgrind),
      # memcheck would report that copy as leaked. The child only runs async-signal-safe calls
      # before exec, and an exec'd program is not traced anyway (no --trace-children).
      "--child-silent-after-fork=yes"]

info = json.loads(subprocess.run(["ctest", "--show-only=json-v1"] + ctest_args, cwd=build,
                                 capture_output=True, text=True, check=True).stdout)
tests = []
for t in info["tests"]:
    if t["name"] == "fuzz_seeds":  # python; valgrind.sh has generated the corpora already
        continue
    if "command" not in t:
        tests.append((t["name"], None, None, None))
        continue
    env, cwd = {}, build
    for p in t.get("properties", []):
        if p["name"] == "ENVIRONMENT":
            for kv in p["value"]:
                k, _, v = kv.partition("=")
                env[k] = v
        elif p["name"] == "WORKING_DIRECTORY":
            cwd = p["value"]
    tests.append((t["name"], t["command"], env, cwd))

wrapper = os.path.join(logdir, "e2b-mock-valgrind")
real_mock = os.path.join(build, "bin", "e2b-mock")
with open(wrapper, "w") as f:
    f.write("#!/bin/sh\n# e2b-mock under valgrind (scripts/valgrind.sh, pass mock)\n"
            f"exec {' '.join(VG)} --log-file={logdir}/mock-%p.log {real_mock} \"$@\"\n")
os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)


def bad_log(path):
    try:
        txt = open(path, errors="replace").read()
    except OSError:
        return None
    m = re.search(r"ERROR SUMMARY: (\d+) errors", txt)
    if m and int(m.group(1)) > 0:
        return txt
    return None


def run(t):
    name, cmd, env, cwd = t
    if cmd is None:
        return name, "NOT BUILT", 0.0, ""
    e = dict(os.environ)
    e.update(env)
    log = os.path.join(logdir, name + ".log")
    if vpass == "tests":
        argv = VG + ["--log-file=" + log] + cmd
    else:
        e["E2B_MOCK_BIN"] = wrapper
        argv = cmd
    t0 = time.time()
    try:
        p = subprocess.run(argv, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        rc, out = p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as ex:
        rc, out = "timeout", (ex.stdout or b"").decode(errors="replace")
    dt = time.time() - t0
    if vpass == "tests":
        txt = bad_log(log)
        if rc == 99 or txt:
            return name, "VALGRIND", dt, txt or open(log, errors="replace").read()
    if rc != 0:
        return name, f"FAILED ({rc})", dt, out[-3000:]
    return name, "ok", dt, ""


results = []
t0 = time.time()
with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
    for r in ex.map(run, tests):
        results.append(r)
        print(f"  {r[1]:<12} {r[2]:7.1f}s  {r[0]}", flush=True)

mock_bad = []
if vpass == "mock":
    logs = sorted(glob.glob(os.path.join(logdir, "mock-*.log")))
    for lg in logs:
        if bad_log(lg):
            mock_bad.append(lg)
    print(f"  e2b-mock children under valgrind: {len(logs)}, with errors/leaks: {len(mock_bad)}")

failed = [r for r in results if r[1] not in ("ok",)]
for name, status, _, detail in failed:
    print(f"---- {name}: {status}")
    keep = [ln for ln in detail.splitlines()
            if re.search(r"ERROR SUMMARY|definitely lost|indirectly lost|Invalid|uninitialised|"
                         r"at 0x|by 0x|FAILED|ERROR|Assert|timeout", ln)]
    print("\n".join(keep[:40]))
for lg in mock_bad[:5]:
    txt = open(lg, errors="replace").read()
    keep = [ln for ln in txt.splitlines()
            if re.search(r"ERROR SUMMARY|lost in|Invalid|uninitialised|at 0x|by 0x", ln)]
    print(f"---- {lg}")
    print("\n".join(keep[:40]))


def totals(paths):
    """Sums memcheck's ERROR SUMMARY and LEAK SUMMARY over logs."""
    tot = {"logs": 0, "errors": 0, "definitely": 0, "indirectly": 0, "possibly": 0}
    for path in paths:
        try:
            txt = open(path, errors="replace").read()
        except OSError:
            continue
        tot["logs"] += 1
        m = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", txt)
        if m:
            tot["errors"] += int(m[-1].replace(",", ""))
        for kind in ("definitely", "indirectly", "possibly"):
            m = re.findall(kind + r" lost: ([\d,]+) bytes", txt)
            if m:
                tot[kind] += int(m[-1].replace(",", ""))
    return tot


if vpass == "tests":
    tot = totals(os.path.join(logdir, r[0] + ".log") for r in results)
else:
    tot = totals(glob.glob(os.path.join(logdir, "mock-*.log")))
print(f"valgrind ({vpass}): {len(results)} tests, {len(failed)} failed, "
      f"{len(mock_bad)} e2b-mock logs with errors, {time.time() - t0:.0f} s")
print(f"valgrind ({vpass}) memcheck totals over {tot['logs']} process logs: {tot['errors']} errors, "
      f"definitely lost {tot['definitely']} B, indirectly lost {tot['indirectly']} B "
      f"(possibly lost {tot['possibly']} B, reported but not gated)")
sys.exit(1 if failed or mock_bad else 0)
