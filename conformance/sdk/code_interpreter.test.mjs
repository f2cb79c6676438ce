// The official code-interpreter SDK (@e2b/code-interpreter 2.8.0, pinned) runs code against
// e2b-mock's real kernels: streaming callbacks, results with PNGs, errors, execution counts,
// code contexts (create/list/restart/remove), JavaScript, env vars, timeouts, kill.
// Run: node conformance/sdk/code_interpreter.test.mjs  (ctest: sdk_code_interpreter, label sdk-compat)
// Needs `scripts/deps.sh --with-npm` once, and a built e2b-mock ($E2B_MOCK_BIN or build/bin).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sdkInstallProblem, startMock } from './lib/mock.mjs';

const problem = sdkInstallProblem();
if (problem) {
  test('official SDKs are installed', () => assert.fail(problem));
} else {
  await codeInterpreterTests();
}

// A PNG: signature, then IHDR with a non-zero size. Returns {width, height}.
function pngInfo(b64) {
  const buf = Buffer.from(b64, 'base64');
  assert.ok(buf.length > 33, `png is only ${buf.length} bytes`);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  assert.equal(buf.subarray(buf.length - 8, buf.length - 4).toString('latin1'), 'IEND', 'ends with IEND');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

async function codeInterpreterTests() {
  const KEY = 'e2b_sdk_ci_conformance_key';
  let mock;
  let ci;
  let sbx;
  const T = { timeout: 60_000 };

  before(async () => {
    mock = await startMock(['--api-key', KEY]);
    process.env.E2B_API_URL = mock.url;
    process.env.E2B_SANDBOX_URL = mock.url;
    process.env.E2B_API_KEY = KEY;
    delete process.env.E2B_DEBUG;
    delete process.env.E2B_DOMAIN;
    ci = await import('@e2b/code-interpreter');
  });

  after(async () => {
    if (mock) {
      const code = await mock.stop();
      assert.equal(code, 0, 'e2b-mock should shut down cleanly on SIGTERM');
    }
  });

  test('Sandbox.create (default code-interpreter template)', T, async () => {
    sbx = await ci.Sandbox.create({ timeoutMs: 300_000 });
    assert.equal(typeof sbx.sandboxId, 'string');
    assert.ok(sbx.sandboxId.length > 0);
    assert.equal(await sbx.isRunning(), true);
  });

  test('runCode streams stdout/stderr to the callbacks before the execution ends', T, async () => {
    const events = [];
    const started = Date.now();
    const code = [
      'import sys, time',
      "print('first', flush=True)",
      "print('warn', file=sys.stderr, flush=True)",
      'time.sleep(2)',
      "print('second', flush=True)",
      "'done'",
    ].join('\n');
    const exec = await sbx.runCode(code, {
      onStdout: (m) => events.push({ kind: 'stdout', m, at: Date.now() }),
      onStderr: (m) => events.push({ kind: 'stderr', m, at: Date.now() }),
      onResult: (r) => events.push({ kind: 'result', r, at: Date.now() }),
    });
    const ended = Date.now();
    assert.deepEqual(exec.logs.stdout, ['first\n', 'second\n']);
    assert.deepEqual(exec.logs.stderr, ['warn\n']);
    assert.equal(exec.text, 'done');
    assert.equal(exec.error, undefined);
    assert.equal(typeof exec.executionCount, 'number');
    assert.ok(exec.executionCount >= 1);

    const outs = events.filter((e) => e.kind === 'stdout');
    assert.deepEqual(outs.map((e) => e.m.line), ['first\n', 'second\n']);
    for (const e of outs) {
      assert.equal(e.m.error, false);
      assert.equal(typeof e.m.timestamp, 'number');
    }
    const errs = events.filter((e) => e.kind === 'stderr');
    assert.equal(errs.length, 1);
    assert.equal(errs[0].m.line, 'warn\n');
    assert.equal(errs[0].m.error, true);
    // streaming, not buffered: generous bounds (the code sleeps 2 s between the prints)
    assert.ok(outs[1].at - outs[0].at >= 1500, `stdout events ${outs[1].at - outs[0].at} ms apart`);
    assert.ok(ended - outs[0].at >= 1500, `first stdout only ${ended - outs[0].at} ms before the end`);
    assert.ok(outs[0].at - started < 15_000);
    const results = events.filter((e) => e.kind === 'result');
    assert.equal(results.length, 1);
    assert.equal(results[0].r.isMainResult, true);
    assert.equal(results[0].r.text, 'done');
    assert.ok(results[0].at >= outs[1].at, 'the main result comes after the last print');
  });

  test('a matplotlib plot is a display result with a PNG (onResult)', T, async () => {
    const seen = [];
    const exec = await sbx.runCode(
      'import matplotlib.pyplot as plt; import numpy as np; x=np.linspace(0,10,100); plt.plot(x,np.sin(x)); plt.show()',
      { onResult: (r) => seen.push(r) },
    );
    assert.equal(exec.error, undefined, exec.error && exec.error.traceback);
    assert.equal(exec.results.length, 1);
    const r = exec.results[0];
    assert.equal(r.isMainResult, false);
    assert.equal(typeof r.png, 'string');
    const { width, height } = pngInfo(r.png);
    assert.ok(width >= 100 && height >= 100, `png is ${width}x${height}`);
    assert.ok(r.formats().includes('png'), `formats ${r.formats()}`);
    assert.equal(exec.text, undefined, 'a display result is not the main result');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].png, r.png);
  });

  test('a DataFrame result has html and text', T, async () => {
    const exec = await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})");
    assert.equal(exec.results.length, 1);
    assert.match(exec.results[0].html, /<table/);
    assert.match(exec.results[0].text, /a\s+b/);
    assert.ok(exec.results[0].formats().includes('html'));
  });

  test('a Python exception is execution.error and onError, not a rejection', T, async () => {
    const errors = [];
    const exec = await sbx.runCode("print('before')\n1/0", { onError: (e) => errors.push(e) });
    assert.deepEqual(exec.logs.stdout, ['before\n']);
    assert.ok(exec.error, 'execution.error is set');
    assert.equal(exec.error.name, 'ZeroDivisionError');
    assert.equal(exec.error.value, 'division by zero');
    assert.match(exec.error.traceback, /ZeroDivisionError/);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].name, 'ZeroDivisionError');
    assert.equal(exec.results.length, 0);
  });

  test('envs apply to one execution only', T, async () => {
    const code = "import os; print(os.environ.get('E2B_SDK_VAR'))";
    const a = await sbx.runCode(code, { envs: { E2B_SDK_VAR: 'set for one run' } });
    assert.deepEqual(a.logs.stdout, ['set for one run\n']);
    const b = await sbx.runCode(code);
    assert.deepEqual(b.logs.stdout, ['None\n']);
  });

  let ctx;
  test('createCodeContext, runCode in it, listCodeContexts, executionCount per context', T, async () => {
    ctx = await sbx.createCodeContext({ language: 'python', cwd: '/tmp' });
    assert.equal(typeof ctx.id, 'string');
    assert.equal(ctx.language, 'python');
    assert.equal(ctx.cwd, '/tmp');
    const a = await sbx.runCode('import os\nx = 7\nos.getcwd()', { context: ctx });
    assert.equal(a.text, '/tmp');
    assert.equal(a.executionCount, 1);
    const b = await sbx.runCode('x * 6', { context: ctx });
    assert.equal(b.text, '42');
    assert.equal(b.executionCount, 2);
    const other = await sbx.runCode('x', { context: await sbx.createCodeContext() });
    assert.equal(other.error?.name, 'NameError', 'contexts are isolated');
    const list = await sbx.listCodeContexts();
    assert.ok(list.some((c) => c.id === ctx.id), 'the new context is listed');
    assert.ok(list.some((c) => c.language === 'python'), 'a python context is listed');
    assert.ok(list.some((c) => c.language === 'javascript'), 'the default javascript context is listed');
    for (const c of list) assert.equal(typeof c.id, 'string');
  });

  test('context and language together is InvalidArgumentError', T, async () => {
    await assert.rejects(sbx.runCode('1', { context: ctx, language: 'python' }), ci.InvalidArgumentError);
  });

  test('timeoutMs ends a runaway execution with TimeoutError; the context still works', T, async () => {
    await assert.rejects(sbx.runCode('while True: pass', { context: ctx, timeoutMs: 1_000 }), ci.TimeoutError);
    const after = await sbx.runCode("'alive', x", { context: ctx, timeoutMs: 30_000 });
    assert.equal(after.error, undefined, after.error && after.error.traceback);
    assert.equal(after.text, "('alive', 7)");
  });

  test('restartCodeContext wipes the variables and resets the count', T, async () => {
    await sbx.restartCodeContext(ctx);
    const exec = await sbx.runCode('x', { context: ctx });
    assert.equal(exec.error?.name, 'NameError');
    assert.equal(exec.executionCount, 1);
    await assert.rejects(sbx.restartCodeContext('no-such-context'), ci.NotFoundError);
  });

  test('removeCodeContext, then the context is NotFoundError', T, async () => {
    await sbx.removeCodeContext(ctx.id);
    const list = await sbx.listCodeContexts();
    assert.ok(!list.some((c) => c.id === ctx.id), 'removed context is not listed');
    // short requestTimeoutMs: see the kill test
    await assert.rejects(sbx.runCode('1', { context: ctx, requestTimeoutMs: 5_000 }), ci.NotFoundError);
    await assert.rejects(sbx.removeCodeContext(ctx), ci.NotFoundError);
  });

  test('JavaScript: console.log, top-level await, last expression, errors', T, async () => {
    const out = [];
    const exec = await sbx.runCode(
      "console.log('from js');\nconst v = await Promise.resolve(21);\nv * 2",
      { language: 'javascript', onStdout: (m) => out.push(m.line) },
    );
    assert.equal(exec.error, undefined, exec.error && exec.error.traceback);
    assert.deepEqual(exec.logs.stdout, ['from js\n']);
    assert.deepEqual(out, ['from js\n']);
    assert.equal(exec.text, '42');
    const again = await sbx.runCode('v + 1', { language: 'javascript' });
    assert.equal(again.text, '22', 'bindings persist in the default javascript context');
    const bad = await sbx.runCode('notDefinedAnywhere()', { language: 'javascript' });
    assert.equal(bad.error?.name, 'ReferenceError');
    assert.match(bad.error.value, /notDefinedAnywhere/);
    const jsCtx = await sbx.createCodeContext({ language: 'javascript' });
    assert.equal(jsCtx.language, 'javascript');
    const t = await sbx.runCode('typeof v', { context: jsCtx });
    assert.equal(t.text, 'undefined', 'a new javascript context does not see the default one');
  });

  test('bash: output and non-zero exit status', T, async () => {
    const exec = await sbx.runCode('echo hi; false', { language: 'bash' });
    assert.deepEqual(exec.logs.stdout, ['hi\n']);
    assert.ok(exec.error, 'a failing command is an execution error');
    assert.equal(exec.error.value, '1');
  });

  test('kill at the end; then runCode fails', T, async () => {
    assert.equal(await sbx.kill(), true);
    assert.equal(await sbx.isRunning(), false);
    // (a short requestTimeoutMs: when /execute answers an error status, runCode 2.8.0 throws
    // without clearing its request timer, which would keep node alive for the default 60 s)
    await assert.rejects(sbx.runCode('1', { requestTimeoutMs: 5_000 }), (e) => {
      assert.ok(e instanceof ci.TimeoutError, `expected TimeoutError (502 from a killed sandbox), got ${e}`);
      return true;
    });
  });
}
