// The official E2B JS SDK (e2b 2.51.0, pinned) drives the sandbox lifecycle against e2b-mock.
// Run: node conformance/sdk/lifecycle.test.mjs  (ctest: sdk_lifecycle, label sdk-compat)
// Needs `scripts/deps.sh --with-npm` once, and a built e2b-mock ($E2B_MOCK_BIN or build/bin).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sdkInstallProblem, startMock } from './lib/mock.mjs';

const problem = sdkInstallProblem();
if (problem) {
  test('official SDKs are installed', () => assert.fail(problem));
} else {
  await lifecycleTests();
}

async function lifecycleTests() {
  const KEY = 'e2b_sdk_conformance_key';
  let mock;
  let e2b;
  const run = `sdk${process.pid.toString(16)}${Date.now().toString(16)}`;
  const T = { timeout: 30_000 };

  before(async () => {
    mock = await startMock(['--api-key', KEY]);
    process.env.E2B_API_URL = mock.url;
    process.env.E2B_SANDBOX_URL = mock.url;
    process.env.E2B_API_KEY = KEY;
    delete process.env.E2B_DEBUG;
    delete process.env.E2B_DOMAIN;
    e2b = await import('e2b');
  });

  after(async () => {
    if (mock) {
      const code = await mock.stop();
      assert.equal(code, 0, 'e2b-mock should shut down cleanly on SIGTERM');
    }
  });

  const secs = (d) => d.getTime() / 1000;

  let a; // the main sandbox of this file
  const metadata = { k: 'v w&x=y/é', run };

  test('Sandbox.create with metadata, envs and timeoutMs; getInfo reports them', T, async () => {
    a = await e2b.Sandbox.create('base', { metadata, envs: { FOO: 'bar' }, timeoutMs: 60_000 });
    assert.equal(typeof a.sandboxId, 'string');
    assert.ok(a.sandboxId.length > 0);
    const info = await a.getInfo();
    assert.equal(info.sandboxId, a.sandboxId);
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, metadata);
    assert.ok(info.templateId === 'base' || info.name === 'base', `template ${info.templateId}/${info.name}`);
    assert.ok(info.startedAt instanceof Date && !Number.isNaN(info.startedAt.getTime()), 'startedAt is a valid date');
    assert.ok(info.endAt instanceof Date && !Number.isNaN(info.endAt.getTime()), 'endAt is a valid date');
    const lifetime = secs(info.endAt) - secs(info.startedAt);
    assert.ok(Math.abs(lifetime - 60) <= 1, `endAt - startedAt = ${lifetime} s, expected 60`);
    assert.ok(info.cpuCount > 0 && info.memoryMB > 0, 'cpuCount and memoryMB are positive');
    assert.match(info.envdVersion, /^v?\d+\.\d+\.\d+/);
  });

  test('Sandbox.getInfo (static) matches the instance', T, async () => {
    const info = await e2b.Sandbox.getInfo(a.sandboxId);
    assert.equal(info.sandboxId, a.sandboxId);
    assert.deepEqual(info.metadata, metadata);
  });

  test('Sandbox.list: metadata filter with escaping, and two pages', T, async () => {
    const grp = { run, grp: 'page' };
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push((await e2b.Sandbox.create({ metadata: grp, timeoutMs: 120_000 })).sandboxId);
    }
    // a decoy that an unescaped filter "k=v w&x=y/é" would match as {k:"v w", x:"y/é"}
    const decoy = await e2b.Sandbox.create({ metadata: { k: 'v w', x: 'y/é', run } });

    const exact = e2b.Sandbox.list({ query: { metadata } });
    const exactItems = await exact.nextItems();
    assert.deepEqual(exactItems.map((s) => s.sandboxId), [a.sandboxId]);
    assert.equal(exact.hasNext, false);

    const split = await e2b.Sandbox.list({ query: { metadata: { k: 'v w', run } } }).nextItems();
    assert.deepEqual(split.map((s) => s.sandboxId), [decoy.sandboxId]);

    const pager = e2b.Sandbox.list({ query: { metadata: grp }, limit: 2 });
    const page1 = await pager.nextItems();
    assert.equal(page1.length, 2, 'first page holds `limit` items');
    assert.equal(pager.hasNext, true, 'a second page is announced');
    const page2 = await pager.nextItems();
    assert.equal(page2.length, 1);
    assert.equal(pager.hasNext, false);
    const seen = [...page1, ...page2].map((s) => s.sandboxId);
    assert.deepEqual([...seen].sort(), [...made].sort(), 'both pages together hold every sandbox once');
    for (const s of [...page1, ...page2]) {
      assert.equal(s.metadata.grp, 'page');
      assert.equal(s.state, 'running');
    }
    for (const id of [...made, decoy.sandboxId]) assert.equal(await e2b.Sandbox.kill(id), true);
  });

  test('setTimeout moves endAt', T, async () => {
    const before = await a.getInfo();
    await a.setTimeout(600_000);
    const afterLong = await a.getInfo();
    const moved = secs(afterLong.endAt) - secs(before.endAt);
    assert.ok(moved > 500 && moved < 600, `endAt moved by ${moved} s, expected about 540`);
    const toEnd = secs(afterLong.endAt) - Date.now() / 1000;
    assert.ok(toEnd > 590 && toEnd <= 602, `endAt is ${toEnd} s away, expected about 600`);
    await e2b.Sandbox.setTimeout(a.sandboxId, 30_000);
    const afterShort = await a.getInfo();
    assert.ok(afterShort.endAt < afterLong.endAt, 'a shorter timeout brings endAt closer');
  });

  test('Sandbox.connect to a running sandbox', T, async () => {
    const again = await e2b.Sandbox.connect(a.sandboxId);
    assert.equal(again.sandboxId, a.sandboxId);
    assert.equal((await again.getInfo()).state, 'running');
  });

  test('pause, pause again, then connect resumes', T, async () => {
    assert.equal(await a.pause(), true);
    assert.equal((await e2b.Sandbox.getInfo(a.sandboxId)).state, 'paused');
    const listed = await e2b.Sandbox.list({ query: { metadata, state: ['paused'] } }).nextItems();
    assert.deepEqual(listed.map((s) => s.sandboxId), [a.sandboxId], 'state filter finds it paused');
    const running = await e2b.Sandbox.list({ query: { metadata, state: ['running'] } }).nextItems();
    assert.deepEqual(running, [], 'and not running');
    assert.equal(await a.pause(), false, 'pausing a paused sandbox returns false');
    const resumed = await e2b.Sandbox.connect(a.sandboxId, { timeoutMs: 120_000 });
    assert.equal(resumed.sandboxId, a.sandboxId);
    assert.equal((await resumed.getInfo()).state, 'running');
  });

  test('kill returns true, then false; getInfo of a killed one is SandboxNotFoundError', T, async () => {
    assert.equal(await a.kill(), true);
    assert.equal(await e2b.Sandbox.kill(a.sandboxId), false);
    await assert.rejects(e2b.Sandbox.getInfo(a.sandboxId), e2b.SandboxNotFoundError);
    const left = await e2b.Sandbox.list({ query: { metadata } }).nextItems();
    assert.deepEqual(left, []);
  });

  test('unknown ids: SandboxNotFoundError from getInfo, setTimeout, connect; kill is false', T, async () => {
    const id = 'sbx-sdk-does-not-exist';
    await assert.rejects(e2b.Sandbox.getInfo(id), e2b.SandboxNotFoundError);
    await assert.rejects(e2b.Sandbox.setTimeout(id, 10_000), e2b.SandboxNotFoundError);
    await assert.rejects(e2b.Sandbox.connect(id), e2b.SandboxNotFoundError);
    assert.equal(await e2b.Sandbox.kill(id), false);
  });

  test('a wrong API key is an AuthenticationError', T, async () => {
    await assert.rejects(e2b.Sandbox.create({ apiKey: 'wrong-key' }), e2b.AuthenticationError);
    await assert.rejects(e2b.Sandbox.list({ apiKey: 'wrong-key' }).nextItems(), e2b.AuthenticationError);
    await assert.rejects(e2b.Sandbox.getInfo('whatever', { apiKey: 'wrong-key' }), e2b.AuthenticationError);
  });
}
