import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const hide = fileURLToPath(new URL('./hide-packages.ts', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Runs node with tsx and `packages` made unresolvable; resolves exit code and output (never rejects). */
async function withoutPackages(packages: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--import', hide, ...args], {
      cwd: root,
      env: { ...process.env, ...env, APIMETER_TEST_HIDE: packages },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test(
  'apimeter cleanup without better-sqlite3: one coded message naming the package and the install line',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apimeter-nodriver-'));
    try {
      const r = await withoutPackages('better-sqlite3', [main, 'cleanup'], {
        APIMETER__METRICS__API_METRICS_STORE_URL: `sqlite:${join(dir, 'a.db')}`,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /APIMETER_ERR_STORE_DRIVER/);
      assert.match(r.stderr, /npm install better-sqlite3@12/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('apimeter cleanup on PostgreSQL without pg: the same, naming pg', { timeout: 60_000 }, async () => {
  const r = await withoutPackages('pg', [main, 'cleanup'], {
    APIMETER__METRICS__API_METRICS_STORE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /APIMETER_ERR_STORE_DRIVER/);
  assert.match(r.stderr, /npm install pg@8/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('startPersistence without the driver rejects at once with the coded error', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-nodriver-'));
  try {
    const script = join(dir, 'app.mts');
    writeFileSync(
      script,
      `import { createMeter } from ${JSON.stringify(join(root, 'src/index.ts'))};
       import { startPersistence } from ${JSON.stringify(join(root, 'src/store/persistence.ts'))};
       const meter = createMeter({ iniPath: false, env: {} });
       for (const url of ['sqlite:${join(dir, 'a.db')}', 'postgres://postgres@127.0.0.1:5432/test']) {
         try {
           await startPersistence(meter, { enabled: true, url, handleSignals: false });
           console.log('started');
         } catch (e) {
           console.log(e.code, e.message.match(/npm install \\S+/)?.[0]);
         }
       }`,
    );
    const r = await withoutPackages('better-sqlite3,pg', [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'APIMETER_ERR_STORE_DRIVER npm install better-sqlite3@12\nAPIMETER_ERR_STORE_DRIVER npm install pg@8\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
