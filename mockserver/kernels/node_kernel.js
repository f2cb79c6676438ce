// e2b-mock JavaScript/TypeScript kernel: a persistent vm context with REPL semantics.
//
// Same wire protocol as python_kernel.py: requests on fd 4 ({"code","env_vars"} lines),
// events on fd 3 (ready, number_of_executions, stdout, stderr, result {bundle}, error, end).
// - The completion value of the cell is the main result (util.inspect -> text/plain).
// - Top-level `await` uses Node's own REPL rewriter (internal/repl/await, needs
//   --expose-internals); `let`/`const` then become script-scope bindings that persist.
// - REPL semantics for declarations: top-level `let`/`const`/`class` are rewritten to `var`
//   (with Node's bundled acorn parser), so they persist AND a cell can be run again without
//   "Identifier has already been declared". Without acorn, cells run unchanged.
// - TypeScript: a cell that is not valid JavaScript is transpiled with Debian's
//   node-typescript (ts.transpileModule: types stripped, ES2022 kept, so top-level await and
//   the last-expression value work) when that yields no syntax error; otherwise the original
//   SyntaxError is reported. Without node-typescript, cells run as plain JavaScript.
// - SIGINT interrupts the running cell: synchronous code via breakOnSigint, pending
//   top-level await by rejecting the wait. The kernel itself survives.
'use strict';
const fs = require('fs');
const vm = require('vm');
const util = require('util');
const Module = require('module');

const EV_FD = 3;
const REQ_FD = 4;
let processTopLevelAwait = null;
try {
  ({ processTopLevelAwait } = require('internal/repl/await'));
} catch (_) {
  processTopLevelAwait = null;
}
let acorn = null;
try {
  acorn = require('internal/deps/acorn/acorn/dist/acorn');
} catch (_) {
  acorn = null;
}

// TypeScript support, loaded on first need (~0.3 s). null when unavailable.
const TS_PATH = '/usr/share/nodejs/typescript';
let tsModule;
function stripTypes(code) {
  if (tsModule === undefined) {
    try { tsModule = require(TS_PATH); } catch (_) { tsModule = null; }
  }
  if (!tsModule) return null;
  const ts = tsModule;
  const r = ts.transpileModule(code, {
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
                       removeComments: false, sourceMap: false },
  });
  if (r.diagnostics && r.diagnostics.length) return null;
  return r.outputText;
}

// Top-level let/const/class -> var: declarations live on the context's global object, so
// they persist across cells and can be declared again when a cell is re-run.
function replDeclarations(code) {
  if (!acorn || !/\b(let|const|class)\b/.test(code)) return code; // parsing costs ~0.1 ms
  let ast;
  try {
    ast = acorn.parse(code, { ecmaVersion: 'latest', allowAwaitOutsideFunction: true });
  } catch (_) {
    return code; // let V8 report the syntax error with its own message
  }
  const edits = [];
  for (const n of ast.body) {
    if (n.type === 'VariableDeclaration' && (n.kind === 'let' || n.kind === 'const')) {
      edits.push([n.start, n.start + n.kind.length, 'var']);
    } else if (n.type === 'ClassDeclaration' && n.id) {
      edits.push([n.start, n.start, `var ${n.id.name} = `]);
      edits.push([n.end, n.end, ';']);
    }
  }
  let out = code;
  for (let i = edits.length - 1; i >= 0; i--) {
    const [a, b, text] = edits[i];
    out = out.slice(0, a) + text + out.slice(b);
  }
  return out;
}

function emit(ev) {
  const buf = Buffer.from(JSON.stringify(ev) + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(EV_FD, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

const inspectOpts = { depth: 4, colors: false, maxArrayLength: 100 };
function fmt(args) {
  return util.formatWithOptions(inspectOpts, ...args) + '\n';
}

const timers = {};
const counts = {};
const kConsole = {
  log: (...a) => emit({ type: 'stdout', text: fmt(a) }),
  info: (...a) => emit({ type: 'stdout', text: fmt(a) }),
  debug: (...a) => emit({ type: 'stdout', text: fmt(a) }),
  dir: (o, opts) => emit({ type: 'stdout', text: util.inspect(o, { ...inspectOpts, ...opts }) + '\n' }),
  table: (...a) => emit({ type: 'stdout', text: fmt(a) }),
  error: (...a) => emit({ type: 'stderr', text: fmt(a) }),
  warn: (...a) => emit({ type: 'stderr', text: fmt(a) }),
  trace: (...a) => emit({ type: 'stderr', text: 'Trace: ' + fmt(a) + new Error().stack.split('\n').slice(2).join('\n') + '\n' }),
  assert: (c, ...a) => { if (!c) emit({ type: 'stderr', text: 'Assertion failed' + (a.length ? ': ' + fmt(a) : '\n') }); },
  time: (l = 'default') => { timers[l] = process.hrtime.bigint(); },
  timeEnd: (l = 'default') => {
    if (timers[l] === undefined) return;
    const ms = Number(process.hrtime.bigint() - timers[l]) / 1e6;
    delete timers[l];
    emit({ type: 'stdout', text: `${l}: ${ms.toFixed(3)}ms\n` });
  },
  count: (l = 'default') => { counts[l] = (counts[l] || 0) + 1; emit({ type: 'stdout', text: `${l}: ${counts[l]}\n` }); },
};

function bundleOf(v) {
  const b = {};
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    const pairs = [['_repr_html_', 'text/html'], ['_repr_markdown_', 'text/markdown'],
      ['_repr_svg_', 'image/svg+xml'], ['_repr_png_', 'image/png'], ['_repr_json_', 'application/json']];
    for (const [m, mime] of pairs) {
      try {
        if (typeof v[m] === 'function') {
          const r = v[m]();
          if (r !== undefined && r !== null) b[mime] = r;
        }
      } catch (_) { /* ignore broken reprs */ }
    }
  }
  b['text/plain'] = typeof v === 'string' ? util.inspect(v) : util.inspect(v, inspectOpts);
  return b;
}

function display(...objs) {
  for (const o of objs) emit({ type: 'result', is_main_result: false, bundle: bundleOf(o) });
}

const userRequire = Module.createRequire(process.cwd() + '/');
const sandbox = {
  console: kConsole, display, require: userRequire, process, Buffer,
  setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate,
  queueMicrotask, structuredClone, URL, URLSearchParams, TextEncoder, TextDecoder,
  AbortController, AbortSignal, fetch: globalThis.fetch, performance: globalThis.performance,
  module: { exports: {} }, __filename: process.cwd() + '/[cell]', __dirname: process.cwd(),
};
sandbox.global = sandbox;
sandbox.globalThis = sandbox;
const context = vm.createContext(sandbox);

let count = 0;
let interruptCurrent = null; // rejects the pending top-level await on SIGINT
let running = false;

process.on('SIGINT', () => {
  if (running && interruptCurrent) interruptCurrent(makeInterrupt());
});
process.on('uncaughtException', (e) => {
  emit({ type: 'stderr', text: 'Uncaught ' + (e && e.stack ? e.stack : String(e)) + '\n' });
});
process.on('unhandledRejection', (e) => {
  emit({ type: 'stderr', text: 'Unhandled rejection: ' + (e && e.stack ? e.stack : String(e)) + '\n' });
});

function makeInterrupt() {
  const e = new Error('Script execution was interrupted by `SIGINT`');
  e.name = 'KeyboardInterrupt';
  return e;
}

function errorEvent(e) {
  if (e instanceof Error || (e && typeof e === 'object' && 'stack' in e)) {
    let name = e.name || 'Error';
    if (e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') name = 'KeyboardInterrupt';
    // hide the kernel's own frames (node internals, the -e script)
    const tb = String(e.stack || '').split('\n')
      .filter((l) => !/^\s+at .*(\(node:|\[eval\]|\bnode:(vm|internal)|sigintHandlersWrap)/.test(l)).join('\n');
    return { type: 'error', name: String(name), value: String(e.message === undefined ? '' : e.message), traceback: tb };
  }
  return { type: 'error', name: 'Error', value: util.inspect(e), traceback: 'Uncaught ' + util.inspect(e) };
}

async function execute(code, env) {
  count += 1;
  emit({ type: 'number_of_executions', execution_count: count });
  const saved = {};
  if (env) {
    for (const k of Object.keys(env)) {
      saved[k] = Object.prototype.hasOwnProperty.call(process.env, k) ? process.env[k] : undefined;
      process.env[k] = String(env[k]);
    }
  }
  running = true;
  try {
    const prepare = (text) => {
      let src = replDeclarations(text);
      let wrapped = false;
      if (processTopLevelAwait && /\bawait\b/.test(src)) {
        let w = null;
        try { w = processTopLevelAwait(src); } catch (_) { w = null; }
        if (w !== null) { src = w; wrapped = true; }
      }
      return { script: new vm.Script(src, { filename: `cell-${count}` }), wrapped };
    };
    let prepared;
    try {
      prepared = prepare(code);
    } catch (e) {
      const js = e instanceof SyntaxError ? stripTypes(code) : null;
      if (js === null) throw e;
      prepared = prepare(js); // TypeScript: the same cell with its types stripped
    }
    const { script, wrapped } = prepared;
    let value = script.runInContext(context, { breakOnSigint: true, displayErrors: false });
    if (wrapped) {
      const res = await new Promise((resolve, reject) => {
        interruptCurrent = reject;
        Promise.resolve(value).then(resolve, reject);
      });
      value = res ? res.value : undefined;
    } else if (value && typeof value.then === 'function' && /^\s*\(?\s*async\b/.test(code) === false) {
      // a bare promise as the cell value: show it as is, like the Node REPL
    }
    if (value !== undefined) emit({ type: 'result', is_main_result: true, bundle: bundleOf(value) });
  } catch (e) {
    emit(errorEvent(e));
  } finally {
    running = false;
    interruptCurrent = null;
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  }
}

// Request reader: a queue so cells run strictly one after another.
let pendingText = '';
const queue = [];
let busy = false;

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const line = queue.shift();
    let msg;
    try {
      msg = JSON.parse(line);
      if (typeof msg.code !== 'string') throw new Error('code must be a string');
    } catch (e) {
      emit({ type: 'error', name: 'KernelProtocolError', value: String(e.message), traceback: '' });
      emit({ type: 'end' });
      continue;
    }
    await execute(msg.code, msg.env_vars || null);
    emit({ type: 'end' });
  }
  busy = false;
}

const input = fs.createReadStream(null, { fd: REQ_FD, highWaterMark: 65536 });
input.setEncoding('utf8');
input.on('data', (chunk) => {
  pendingText += chunk;
  let i;
  while ((i = pendingText.indexOf('\n')) >= 0) {
    const line = pendingText.slice(0, i);
    pendingText = pendingText.slice(i + 1);
    if (line.length) queue.push(line);
  }
  pump();
});
input.on('end', () => process.exit(0));
input.on('error', () => process.exit(0));
emit({ type: 'ready', pid: process.pid });
