// bench.mjs - the official JS SDK side of e2b-bench (@e2b/code-interpreter 2.8.0 on e2b 2.51.0,
// pinned in conformance/sdk). e2b-bench starts it as `/usr/bin/node bench/sdk/bench.mjs` with
// E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY pointing at the same e2b-mock it measures itself,
// and E2B_SDK_DIR = the directory holding node_modules. Protocol: one JSON command per stdin
// line, {"op": ..., "n": N, "warmup": W, ...args}; one JSON reply per stdout line,
// {"ok": true, "samples": [...], "extra": {...}} or {"ok": false, "error": "..."}.
// Samples are microseconds per operation unless the op says otherwise (MB/s for throughput).
// It can also run alone: `node bench.mjs --rss-workload N` runs the memory workload and prints
// {"maxrss_kb": ...} (a fresh process, so its peak RSS is the workload's alone).
import { createInterface } from 'node:readline';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const sdkDir = process.env.E2B_SDK_DIR;
if (!sdkDir) {
  console.log(JSON.stringify({ ok: false, error: 'E2B_SDK_DIR is not set' }));
  process.exit(2);
}
const ci = await import(pathToFileURL(path.join(sdkDir, 'node_modules', '@e2b', 'code-interpreter', 'dist', 'index.mjs')).href);
const { Sandbox } = ci;

const now = () => process.hrtime.bigint();
const usSince = (t0) => Number(now() - t0) / 1000;

let sbx = null; // the warm sandbox shared by the ops that need one
async function sandbox() {
  if (!sbx) {
    sbx = await Sandbox.create({ timeoutMs: 3_600_000 });
    await sbx.runCode('x = 0'); // start the default Python context's kernel
  }
  return sbx;
}

// A payload of `bytes` bytes, reused (not timed).
const payloads = new Map();
function payload(bytes) {
  if (!payloads.has(bytes)) {
    const b = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) b[i] = 97 + (i % 26);
    payloads.clear();
    payloads.set(bytes, b);
  }
  return payloads.get(bytes);
}

// Each op: async (args) => sample (number); `extra` collects side information.
const ops = {
  async hello() { return 0; },

  async maxrss() { return process.resourceUsage().maxRSS; }, // kB

  async get_info() {
    const s = await sandbox();
    const t0 = now();
    const info = await Sandbox.getInfo(s.sandboxId);
    const us = usSince(t0);
    if (info.sandboxId !== s.sandboxId) throw new Error('getInfo returned another sandbox');
    return us;
  },

  async create_kill() {
    const t0 = now();
    const s = await Sandbox.create({ timeoutMs: 3_600_000 });
    await s.kill();
    return usSince(t0);
  },

  async run_code(a) {
    const s = await sandbox();
    const t0 = now();
    const ex = await s.runCode(a.code ?? 'x = 1');
    const us = usSince(t0);
    if (ex.error) throw new Error(`${ex.error.name}: ${ex.error.value}`);
    return us;
  },

  // stdout throughput: MB/s (10^6 bytes/s) of stdout received by onStdout
  async stdout(a) {
    const s = await sandbox();
    let bytes = 0;
    const t0 = now();
    const ex = await s.runCode(a.code, {
      onStdout: (m) => { bytes += Buffer.byteLength(m.line); },
      timeoutMs: 600_000,
    });
    const us = usSince(t0);
    if (ex.error) throw new Error(`${ex.error.name}: ${ex.error.value}`);
    if (bytes < a.bytes) throw new Error(`stdout: got ${bytes} of ${a.bytes} bytes`);
    return bytes / us; // bytes per us = MB/s
  },

  async upload(a) {
    const s = await sandbox();
    const data = payload(a.bytes);
    const t0 = now();
    await s.files.write(a.path, data.buffer.slice(data.byteOffset, data.byteOffset + data.length), { requestTimeoutMs: 0 });
    return a.bytes / usSince(t0);
  },

  async download(a) {
    const s = await sandbox();
    const t0 = now();
    const stream = await s.files.read(a.path, { format: 'stream', requestTimeoutMs: 0 });
    let got = 0;
    for await (const chunk of stream) got += chunk.length;
    const us = usSince(t0);
    if (got !== a.bytes) throw new Error(`download: got ${got} of ${a.bytes} bytes`);
    return a.bytes / us;
  },

  async small_file(a) {
    const s = await sandbox();
    const text = 'x'.repeat(a.bytes ?? 1024);
    const t0 = now();
    await s.files.write(a.path ?? '/home/user/bench-small.txt', text);
    const back = await s.files.read(a.path ?? '/home/user/bench-small.txt');
    const us = usSince(t0);
    if (back !== text) throw new Error('small_file: read back differs');
    return us;
  },

  // one sample = wall time of `conc` runCode calls in flight at once on one sandbox
  async exec_parallel(a, extra) {
    const s = await sandbox();
    const t0 = now();
    const res = await Promise.allSettled(Array.from({ length: a.conc }, () => s.runCode('x = 1')));
    const us = usSince(t0);
    const errors = res.filter((r) => r.status === 'rejected' || r.value.error).length;
    extra.errors = (extra.errors ?? 0) + errors;
    return us;
  },

  // one sample = wall time of `conc` sandboxes created, each running one execution, killed
  async sandboxes_parallel(a, extra) {
    const t0 = now();
    const res = await Promise.allSettled(Array.from({ length: a.conc }, async () => {
      const s = await Sandbox.create({ timeoutMs: 3_600_000 });
      try {
        const ex = await s.runCode('x = 1');
        if (ex.error) throw new Error(ex.error.name);
      } finally {
        await s.kill();
      }
    }));
    const us = usSince(t0);
    const errors = res.filter((r) => r.status === 'rejected').length;
    extra.errors = (extra.errors ?? 0) + errors;
    return us;
  },
};

// The memory workload, the same as e2b-bench's libe2b worker: create, n x (get_info, run_code,
// small file write+read), 8 MiB upload + download, kill.
async function rssWorkload(n) {
  const s = await Sandbox.create({ timeoutMs: 3_600_000 });
  for (let i = 0; i < n; i++) {
    await Sandbox.getInfo(s.sandboxId);
    await s.runCode('x = 1');
    await s.files.write('/home/user/bench-rss.txt', 'x'.repeat(1024));
    await s.files.read('/home/user/bench-rss.txt');
  }
  const big = payload(8 << 20);
  await s.files.write('/home/user/bench-rss.bin', big.buffer.slice(big.byteOffset, big.byteOffset + big.length));
  const stream = await s.files.read('/home/user/bench-rss.bin', { format: 'stream' });
  for await (const chunk of stream) void chunk;
  await s.kill();
  return process.resourceUsage().maxRSS;
}

const rssArg = process.argv.indexOf('--rss-workload');
if (rssArg > 0) {
  const kb = await rssWorkload(Number(process.argv[rssArg + 1] ?? 200));
  console.log(JSON.stringify({ ok: true, samples: [kb], extra: {} }));
  process.exit(0);
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) {
    console.log(JSON.stringify({ ok: false, error: `bad command: ${e.message}` }));
    continue;
  }
  if (cmd.op === 'exit') break;
  const fn = ops[cmd.op];
  if (!fn) {
    console.log(JSON.stringify({ ok: false, error: `unknown op ${cmd.op}` }));
    continue;
  }
  const extra = {};
  const samples = [];
  try {
    for (let i = 0; i < (cmd.warmup ?? 0); i++) await fn(cmd, {});
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < (cmd.n ?? 1); i++) samples.push(await fn(cmd, extra));
    const cpu = process.cpuUsage(cpu0);
    extra.cpu_us = cpu.user + cpu.system; // this process's CPU over the timed ops
    console.log(JSON.stringify({ ok: true, samples, extra }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) }));
  }
}
if (sbx) { try { await sbx.kill(); } catch { /* the mock may be gone */ } }
process.exit(0);
