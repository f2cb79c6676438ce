// The official E2B JS SDK (e2b 2.51.0, pinned) drives envd (files.* and commands.*) against
// e2b-mock, which serves each sandbox's real directory and runs real processes under bwrap.
// Run: node conformance/sdk/envd.test.mjs  (ctest: sdk_envd, label sdk-compat)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sdkInstallProblem, startMock } from './lib/mock.mjs';

const problem = sdkInstallProblem();
if (problem) {
  test('official SDKs are installed', () => assert.fail(problem));
} else {
  await envdTests();
}

async function envdTests() {
  const KEY = 'e2b_sdk_envd_key';
  const T = { timeout: 60_000 };
  let mock, e2b, sbx;

  before(async () => {
    mock = await startMock(['--api-key', KEY]);
    process.env.E2B_API_URL = mock.url;
    process.env.E2B_SANDBOX_URL = mock.url;
    process.env.E2B_API_KEY = KEY;
    delete process.env.E2B_DEBUG;
    delete process.env.E2B_DOMAIN;
    e2b = await import('e2b');
    sbx = await e2b.Sandbox.create('base');
  });

  after(async () => {
    if (sbx) await sbx.kill();
    if (mock) assert.equal(await mock.stop(), 0, 'e2b-mock should shut down cleanly on SIGTERM');
  });

  test('files.write single/multi/relative/empty, read text/bytes/gzip, FileNotFoundError', T, async () => {
    const w = await sbx.files.write('/home/user/hello.txt', 'hello world\n');
    assert.equal(w.path, '/home/user/hello.txt');
    assert.equal(w.name, 'hello.txt');
    assert.equal((await sbx.files.write('rel/dir/x.txt', 'rel')).path, '/home/user/rel/dir/x.txt');
    const multi = await sbx.files.write([{ path: 'm1.txt', data: 'one' }, { path: '/home/user/sub/m2.txt', data: 'two' }]);
    assert.equal(multi.length, 2);
    assert.equal(await sbx.files.read('m1.txt'), 'one');
    assert.equal(await sbx.files.read('/home/user/sub/m2.txt'), 'two');
    await sbx.files.write('empty.txt', '');
    assert.equal(await sbx.files.read('empty.txt'), '');
    assert.equal((await sbx.files.read('hello.txt', { format: 'bytes' })).length, 12);
    assert.equal(await sbx.files.read('hello.txt', { gzip: true }), 'hello world\n');
    await sbx.files.write('gz.txt', 'gzipped upload', { gzip: true });
    assert.equal(await sbx.files.read('gz.txt'), 'gzipped upload');
    await sbx.files.write('oct.txt', 'octet', { useOctetStream: true });
    assert.equal(await sbx.files.read('oct.txt'), 'octet');
    await assert.rejects(sbx.files.read('nope.txt'), e2b.FileNotFoundError);
    await assert.rejects(sbx.files.read('/etc/passwd'), e2b.InvalidArgumentError);
  });

  test('files.list/exists/getInfo/makeDir/rename/remove, metadata', T, async () => {
    await sbx.files.write('l/a.txt', 'abc', { metadata: { team: 'data' } });
    await sbx.files.makeDir('l/d/e');
    const list = await sbx.files.list('l');
    assert.deepEqual(list.map((e) => `${e.type}:${e.path}`), ['file:/home/user/l/a.txt', 'dir:/home/user/l/d']);
    const deep = await sbx.files.list('l', { depth: 2 });
    assert.ok(deep.find((e) => e.path === '/home/user/l/d/e'));
    assert.equal(await sbx.files.exists('l/a.txt'), true);
    assert.equal(await sbx.files.exists('l/missing.txt'), false);
    const info = await sbx.files.getInfo('l/a.txt');
    assert.equal(info.size, 3);
    assert.equal(info.permissions, '-rw-r--r--');
    assert.deepEqual(info.metadata, { team: 'data' });
    assert.equal(await sbx.files.makeDir('l/new/x'), true);
    assert.equal(await sbx.files.makeDir('l/new/x'), false);
    assert.equal((await sbx.files.rename('l/a.txt', 'l/new/b.txt')).path, '/home/user/l/new/b.txt');
    assert.equal(await sbx.files.exists('l/a.txt'), false);
    await sbx.files.remove('l');
    assert.equal(await sbx.files.exists('l'), false);
  });

  test('files.watchDir reports create/write events (recursive and not)', T, async () => {
    await sbx.files.makeDir('w/sub');
    const all = [], top = [];
    const h1 = await sbx.files.watchDir('w', (e) => all.push(e), { recursive: true });
    const h2 = await sbx.files.watchDir('/home/user/w', (e) => top.push(e));
    await sbx.files.write('w/top.txt', '1');
    await sbx.files.write('w/sub/deep.txt', '2');
    // wait for both watchers: each has its own stream, and under load (coverage, valgrind) the
    // second one's event can arrive after the first one's
    for (let i = 0; i < 100 && !(all.find((e) => e.name === 'sub/deep.txt') && top.find((e) => e.name === 'top.txt')); i++)
      await new Promise((r) => setTimeout(r, 50));
    await h1.stop();
    await h2.stop();
    assert.ok(all.find((e) => e.name === 'top.txt' && e.type === 'create'));
    assert.ok(all.find((e) => e.name === 'sub/deep.txt'));
    assert.ok(top.find((e) => e.name === 'top.txt'));
    assert.ok(!top.find((e) => e.name.includes('deep')));
  });

  // Issue 4 also asks for watch remove events and killing through the background handle.
  test('files.watchDir reports write and remove events; CommandHandle.kill', T, async () => {
    await sbx.files.makeDir('wr');
    await sbx.files.write('wr/gone.txt', 'x');
    const ev = [];
    const h = await sbx.files.watchDir('wr', (e) => ev.push(e));
    await sbx.files.write('wr/gone.txt', 'rewritten');
    await sbx.files.remove('wr/gone.txt');
    for (let i = 0; i < 100 && !ev.find((e) => e.type === 'remove'); i++) await new Promise((r) => setTimeout(r, 50));
    await h.stop();
    assert.ok(ev.find((e) => e.name === 'gone.txt' && e.type === 'write'), JSON.stringify(ev));
    assert.ok(ev.find((e) => e.name === 'gone.txt' && e.type === 'remove'), JSON.stringify(ev));

    const bg = await sbx.commands.run('echo up; sleep 30', { background: true });
    assert.equal(await bg.kill(), true);
    await assert.rejects(bg.wait(), (e) => e instanceof e2b.CommandExitError && e.error === 'signal: killed');
    assert.ok(!(await sbx.commands.list()).find((p) => p.pid === bg.pid));
  });

  test('commands.run with onStdout/envs/cwd; CommandExitError; bad cwd', T, async () => {
    let out = '';
    const r = await sbx.commands.run('echo hi; pwd; echo $FOO', { onStdout: (d) => { out += d; }, envs: { FOO: 'bar' } });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'hi\n/home/user\nbar\n');
    assert.equal(out, r.stdout);
    assert.equal((await sbx.commands.run('pwd', { cwd: '/home/user/sub' })).stdout, '/home/user/sub\n');
    await assert.rejects(sbx.commands.run('echo so; exit 3'), (e) => e instanceof e2b.CommandExitError && e.exitCode === 3 && e.stdout === 'so\n');
    await assert.rejects(sbx.commands.run('true', { cwd: '/home/user/nonexistent' }), /does not exist/);
  });

  test('background commands: list, kill, stdin, connect, timeout', T, async () => {
    const bg = await sbx.commands.run('sleep 30', { background: true });
    assert.ok((await sbx.commands.list()).find((p) => p.pid === bg.pid));
    assert.equal(await sbx.commands.kill(bg.pid), true);
    await assert.rejects(bg.wait(), (e) => e instanceof e2b.CommandExitError && e.error === 'signal: killed');
    assert.equal(await sbx.commands.kill(bg.pid), false);

    const cat = await sbx.commands.run('cat', { background: true, stdin: true });
    await sbx.commands.sendStdin(cat.pid, 'piped\n');
    await sbx.commands.closeStdin(cat.pid);
    assert.equal((await cat.wait()).stdout, 'piped\n');

    const late = await sbx.commands.run('sleep 0.3; echo late', { background: true });
    assert.equal((await (await sbx.commands.connect(late.pid)).wait()).stdout, 'late\n');
    await assert.rejects(sbx.commands.connect(99999), e2b.NotFoundError);

    await assert.rejects(sbx.commands.run('sleep 10', { timeoutMs: 500 }), e2b.TimeoutError);
    assert.equal(await sbx.isRunning(), true);
  });

  test('pty.create, sendInput, resize, exit code', T, async () => {
    let out = '';
    const dec = new TextDecoder();
    const enc = new TextEncoder();
    const h = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => { out += dec.decode(d, { stream: true }); } });
    await sbx.pty.sendInput(h.pid, enc.encode('stty size; echo mark-$((6*7))\n'));
    for (let i = 0; i < 100 && !out.includes('mark-42'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(out.includes('24 80'), out);
    await sbx.pty.resize(h.pid, { cols: 100, rows: 30 });
    await sbx.pty.sendInput(h.pid, enc.encode('stty size; exit 5\n'));
    await assert.rejects(h.wait(), (e) => e instanceof e2b.CommandExitError && e.exitCode === 5);
    assert.ok(out.includes('30 100'), out);
  });
}
