// Starting and stopping e2b-mock for the official-SDK tests, and the install check.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sdkDir = path.resolve(here, '..');
const sourceDir = path.resolve(sdkDir, '..', '..');

// Versions pinned in package.json; a different install would make the test meaningless.
export const PINNED = { 'e2b': '2.51.0', '@e2b/code-interpreter': '2.8.0' };

// Returns null when the pinned SDKs are installed, else a message saying how to fix it.
export function sdkInstallProblem() {
  for (const [name, version] of Object.entries(PINNED)) {
    const pj = path.join(sdkDir, 'node_modules', name, 'package.json');
    if (!existsSync(pj)) {
      return `${name} is not installed in ${sdkDir}/node_modules: run \`scripts/deps.sh --with-npm\` ` +
        '(it runs `npm ci` from the committed package-lock.json)';
    }
    const got = JSON.parse(readFileSync(pj, 'utf8')).version;
    if (got !== version) {
      return `${name} ${got} is installed but ${version} is pinned: run \`scripts/deps.sh --with-npm\` ` +
        `after deleting ${sdkDir}/node_modules`;
    }
  }
  return null;
}

// Path of e2b-mock: $E2B_MOCK_BIN, else build/bin/e2b-mock in the source tree.
export function mockBinary() {
  if (process.env.E2B_MOCK_BIN) return process.env.E2B_MOCK_BIN;
  return path.join(sourceDir, 'build', 'bin', 'e2b-mock');
}

// Starts `e2b-mock --port 0 ...args` and resolves to { url, child, stop() } once it printed
// its first line `E2B_MOCK_URL=http://127.0.0.1:<port>`. Rejects after timeoutMs, or when
// the process exits or prints something else first.
export function startMock(args = [], { timeoutMs = 10_000 } = {}) {
  const bin = mockBinary();
  if (!existsSync(bin)) {
    return Promise.reject(new Error(`e2b-mock not found at ${bin}: build it, or set E2B_MOCK_BIN`));
  }
  const child = spawn(bin, ['--port', '0', ...args], {
    stdio: ['ignore', 'pipe', process.env.E2B_MOCK_VERBOSE ? 'inherit' : 'ignore'],
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`e2b-mock printed no URL line within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err) => { clearTimeout(timer); rl.close(); reject(err); };
    child.once('error', fail);
    child.once('exit', (code, sig) => fail(new Error(`e2b-mock exited early (code ${code}, signal ${sig})`)));
    rl.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      const m = /^E2B_MOCK_URL=(http:\/\/127\.0\.0\.1:\d+)\s*$/.exec(line);
      if (!m) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line from e2b-mock: ${JSON.stringify(line)}`));
        return;
      }
      // keep draining stdout so the mock never blocks on a full pipe
      child.stdout.resume();
      resolve({
        url: m[1],
        child,
        stop: () => stopChild(child),
      });
    });
  });
}

// SIGTERM, then SIGKILL after 5 s; resolves to the exit code (null when killed).
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', (code) => { clearTimeout(hard); resolve(code); });
    child.kill('SIGTERM');
  });
}
