#!/usr/bin/python3 -I
"""Generates the seed corpora of the fuzz targets from fixtures/ and hand-made samples.

Usage: /usr/bin/python3 -I fuzz/gen_seeds.py <source-root> <out-dir>
Writes <out-dir>/<target>/<name> files (content-named, so re-running is idempotent and does
not disturb inputs libFuzzer added to the same directories). Nothing binary is committed:
Connect envelopes and split-seed bytes are built here.
"""
import hashlib
import json
import os
import struct
import sys

root, out = sys.argv[1], sys.argv[2]


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixtures(sub):
    base = os.path.join(root, "fixtures", sub)
    for dirpath, _, files in os.walk(base):
        for fn in sorted(files):
            if fn.endswith(".json"):
                with open(os.path.join(dirpath, fn), "rb") as f:
                    yield fn, f.read()


def env(flags, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">BI", flags, len(payload)) + payload


# ---- NDJSON / execution events ------------------------------------------------------
events = []
for _, raw in fixtures("execute-scripts"):
    try:
        doc = json.loads(raw)
    except ValueError:
        continue
    for script in doc if isinstance(doc, list) else doc.get("scripts", []):
        evs = [{k: v for k, v in e.items() if k != "delay_ms"} for e in script.get("events", [])]
        events.append(evs)
hand = [
    [{"type": "stdout", "text": "hi\n", "timestamp": "2024-01-01T00:00:00.000Z"},
     {"type": "stderr", "text": "warn\n"},
     {"type": "result", "text": "2", "is_main_result": True, "png": "iVBORw0KGgo=",
      "chart": {"type": "line", "title": "t", "elements": []}, "extra": {"x/y": 1}},
     {"type": "error", "name": "ZeroDivisionError", "value": "division by zero",
      "traceback": ["a", "b"]},
     {"type": "number_of_executions", "execution_count": 3}],
    [{"type": "unexpected"}],
    [{"type": "stdout"}],
]
for evs in events + hand:
    lines = [json.dumps(e) for e in evs] + ['{"type":"end_of_execution"}']
    body = "\n".join(lines) + "\n"
    for seed in (b"\x00", b"\x05", b"\x81"):
        put("client_execution", seed + body.encode())
        put("client_ndjson", seed + body.encode())
    put("client_execution", b"\x03" + "\r\n\r\n".join(lines).encode())  # CRLF, blank lines
put("client_ndjson", b"\x00a\nb\r\n\n  \t\nlast")
put("client_ndjson", b"\x80" + b"x" * 40 + b"\n")
put("client_execution", b'\x00{"type":"stdout","text":"\\u0000x"}\n{"type":"end_of_execution"}')

# ---- Connect envelopes --------------------------------------------------------------
msgs = [
    '{"event":{"start":{"pid":42}}}',
    '{"event":{"data":{"stdout":"aGVsbG8K"}}}',
    '{"event":{"end":{"exitCode":1,"exited":true,"status":"exit status 1"}}}',
    '{"event":{"keepalive":{}}}',
    '{"entry":{"name":"a","type":"FILE_TYPE_FILE","path":"/a","size":"12"}}',
]
ends = ['{}', '{"error":{"code":"not_found","message":"no such file"}}',
        '{"error":{"code":"unavailable"}}', '{"metadata":{"a":["b"]}}', '[]', 'nope']
for end in ends:
    body = b"".join(env(0, m) for m in msgs) + env(2, end)
    for seed in (b"\x00", b"\x01", b"\x02", b"\x07"):
        put("client_connect", seed + body)
        put("mock_connect", seed + body)
put("client_connect", b"\x00" + env(1, "{}"))        # compressed
put("client_connect", b"\x00" + env(0, "{}")[:7])    # truncated
put("client_connect", b"\x04" + b'{"code":"permission_denied","message":"x"}')
put("client_connect", b"\x00" + b'{"start":"2024-01-01T00:00:00.5+02:00","n":"123","b":"aGk="}')
put("mock_connect", b"\x00" + env(0x80, "{}") + env(0, "{}"))
put("mock_connect", b"\x01" + struct.pack(">BI", 0, 1 << 30))

# ---- control-plane JSON -------------------------------------------------------------
info = {"sandboxID": "i7a3k2m9x1q8w4e6r5t0y", "templateID": "base", "alias": "base",
        "clientID": "c", "startedAt": "2024-01-01T00:00:00Z", "endAt": "2024-01-01T00:05:00Z",
        "cpuCount": 2, "memoryMB": 512, "diskSizeMB": 1024, "envdVersion": "0.2.0",
        "envdAccessToken": "tok", "domain": None, "state": "running",
        "metadata": {"k": "v"}}
put("client_sandbox_json", json.dumps(info))
put("client_sandbox_json", json.dumps([info, dict(info, state="paused", metadata={})]))
put("client_sandbox_json", json.dumps({"sandboxID": "x", "envdVersion": "v0.0.9"}))
put("client_sandbox_json", json.dumps({"sandboxID": 5}))
put("client_sandbox_json", "0.1.0\n0.1.0-rc1")
put("client_sandbox_json", "2024-02-29T23:59:60.123-07:30")

# ---- mock query / routes --------------------------------------------------------------
for q in ["user%3Dalice%26app%3Dprod", "k%3Dv%252520w", "", "a", "=x", "a%3D%zz",
          "MjAyNC0wMS0wMVQwMDowMDowMFpfX2ktMQ", "2026-11-26T09:15:14.123456789Z"]:
    put("mock_query", q)
for m, p in [("GET", "/v2/sandboxes"), ("POST", "/sandboxes"), ("GET", "/sandboxes/abc"),
             ("DELETE", "/sandboxes/abc"), ("POST", "/sandboxes/abc/timeout"),
             ("POST", "/filesystem.Filesystem/Stat"), ("POST", "/process.Process/Start"),
             ("GET", "/files"), ("POST", "/execute"), ("DELETE", "/contexts/x"),
             ("PUT", "/health"), ("GET", "//x//")]:
    put("mock_query", f"{m}\n{p}\n")

# ---- mock_http: selector byte (bit0 envd, bits1-3 method GET POST DELETE PUT PATCH HEAD POST
# POST, bits4-5 content type json multipart connect+json octet, bit6 no auth) + path\nbody
def sel(envd=0, method=0, ctype=0, noauth=0):
    return bytes([envd | (method << 1) | (ctype << 4) | (noauth << 6)])


GET, POST, DELETE, PUT = 0, 1, 2, 3
http = [
    (sel(0, POST), "/sandboxes", '{"templateID":"base","timeout":60,"metadata":{"a":"b"},'
                                  '"envVars":{"X":"1"},"autoPause":false}'),
    (sel(0, POST), "/v2/sandboxes", '{"templateID":"nope"}'),
    (sel(0, GET), "/v2/sandboxes?metadata=a%3Db&state=running&limit=2", ""),
    (sel(0, GET), "/v2/sandboxes?nextToken=MjAyNi0xMS0yNlQwOToxNToxNFpfX2FiYw", ""),
    (sel(0, GET), "/sandboxes/abc", ""),
    (sel(0, POST), "/sandboxes/abc/timeout", '{"timeout":30}'),
    (sel(0, POST), "/sandboxes/abc/connect", '{"timeout":30}'),
    (sel(0, GET, 0, 1), "/v2/sandboxes", ""),
    (sel(0, GET), "/sandboxes/metrics?sandbox_ids=a,b", ""),
    (sel(1, GET), "/health", ""),
    (sel(1, GET), "/files?path=/home/user/a.txt&username=user", ""),
    (sel(1, POST, 1), "/files?path=/home/user/up.txt",
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.txt\"\r\n"
     "Content-Type: application/octet-stream\r\n\r\nhello\r\n--XyZ--\r\n"),
    (sel(1, POST, 1), "/files",
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/tmp/x\"\r\n\r\nA\r\n"
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/tmp/y\"\r\n\r\nB\r\n--XyZ--"),
    (sel(1, POST, 0), "/filesystem.Filesystem/Stat", '{"path":"/home/user"}'),
    (sel(1, POST, 0), "/filesystem.Filesystem/ListDir", '{"path":"/","depth":2}'),
    (sel(1, POST, 0), "/filesystem.Filesystem/MakeDir", '{"path":"/home/user/d"}'),
    (sel(1, POST, 0), "/filesystem.Filesystem/Move", '{"source":"/home/user/d","destination":"/home/user/e"}'),
    (sel(1, POST, 0), "/filesystem.Filesystem/Remove", '{"path":"/home/user/e"}'),
    (sel(1, POST, 0, 1), "/filesystem.Filesystem/Stat", '{"path":"/"}'),
]
for s_, path, body in http:
    put("mock_http", s_ + path.encode() + b"\n" + body.encode())

# ---- loaders: templates.json, execute scripts, fixtures ---------------------------------
with open(os.path.join(root, "fixtures", "templates.json"), "rb") as f:
    put("mock_loaders", b"\x01" + f.read())
for _, raw in fixtures("execute-scripts"):
    put("mock_loaders", b"\x00" + raw)
for sub in ("lifecycle", "agent", "execute-scripts"):
    for _, raw in fixtures(sub):
        put("fixture_loader", raw)
put("fixture_loader", '{"a": [1, 2, {"b": null}]} trailing')

# ---- agent: chat messages from the agent fixtures --------------------------------------
for _, raw in fixtures("agent"):
    try:
        doc = json.loads(raw)
    except ValueError:
        continue
    for case in doc.get("cases", []) if isinstance(doc, dict) else []:
        for key in ("message", "text"):
            if isinstance(case.get(key), str):
                put("agent", case[key])
put("agent", "Run this:\n```py\nprint(1)\n```\n~~~\nunterminated")
print(f"gen_seeds: corpora written under {out}")
