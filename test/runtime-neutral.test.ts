import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The core (src/core/) and the Hono adapter claim to run where Node's built-in modules do not exist
// (docs/internals.md, "Runtimes"): a child process forbids every `node:` import and
// process.getBuiltinModule, then meters requests through a Hono app.

const root = fileURLToPath(new URL('..', import.meta.url));
const forbid = join(root, 'test/fixtures/forbid-node-builtins.ts');

function runChild(script: string, cwd: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--import', forbid, '--input-type=module', '-e', script],
    {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 60_000,
    },
  );
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const src = (file: string) => JSON.stringify(new URL(`../src/${file}`, import.meta.url).href);

test('the forbidding hook does forbid node: imports (else the test below proves nothing)', () => {
  const r = runChild(`await import('node:fs');`, root);
  assert.notEqual(r.status, 0);
  assert.match(r.err, /forbidden import of node:fs/);
});

test('core + Hono adapter load and record without node: built-ins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-neutral-'));
  try {
    // An apimeter.ini in the working directory: without a file system it cannot be read, so the
    // default (optional) file is skipped and metrics_sample_rate stays 1.
    writeFileSync(join(dir, 'apimeter.ini'), '[api]\nmetrics_sample_rate = 0.5\n');
    const script = `
      const { createMeter } = await import(${src('core/meter.ts')});
      const { apimeter } = await import(${src('adapters/hono.ts')});
      const { currentContext } = await import(${src('core/detail/context.ts')});
      const { Hono } = await import(${JSON.stringify(import.meta.resolve('hono'))});
      const meter = createMeter({ metricsDetailed: true });
      const app = new Hono();
      app.use(apimeter({ meter }));
      let sawContext = 0;
      app.get('/items/:id', (c) => { if (currentContext() !== undefined) sawContext++; return c.text('ok'); });
      app.get('/boom', () => { throw new Error('boom'); });
      for (let i = 0; i < 3; i++) await (await app.request('/items/' + i)).text();
      await (await app.request('/boom')).text();
      const snap = meter.snapshot('all').map((e) => [e.method, e.route, e.count, e.errorTypes?.exception ?? e.errors]);
      let iniError = '';
      try { createMeter({ iniPath: 'apimeter.ini' }); } catch (e) { iniError = e.code; }
      console.log(JSON.stringify({ snap, sawContext, rate: meter.config.metricsSampleRate, iniError }));
    `;
    const r = runChild(script, dir);
    assert.equal(r.status, 0, r.err);
    const got = JSON.parse(r.out.trim().split('\n').pop()!) as {
      snap: [string, string, number, number][];
      sawContext: number;
      rate: number;
      iniError: string;
    };
    const byRoute = new Map(got.snap.map(([m, route, count, exc]) => [`${m} ${route}`, [count, exc]]));
    assert.deepEqual(byRoute.get('GET /items/{id}'), [3, 0]);
    assert.deepEqual(byRoute.get('GET /boom'), [1, 1]);
    assert.equal(got.sawContext, 3, 'detailed mode: the handler runs inside the request context');
    assert.equal(got.rate, 1, 'the default INI file is skipped where there is no file system');
    assert.equal(got.iniError, 'APIMETER_ERR_CONFIG_FILE', 'a named INI file cannot be read: a coded error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
