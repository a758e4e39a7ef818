import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Runs against the built package (npm test builds first), through its public names.
const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };

test('the package exports resolve by name from dist', () => {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const core = await import('apimeter'); const fastify = await import('apimeter/fastify');
       const m = core.createMeter({ iniPath: false, env: {} });
       const ep = m.endpoint('GET', '/a'); m.record(ep, 200, 5, -1, -1, core.ErrorKind.None);
       console.log(JSON.stringify({ count: m.summary().count, plugin: typeof fastify.apimeter, def: typeof fastify.default }));`,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.deepEqual(JSON.parse(out), { count: 1, plugin: 'function', def: 'function' });
});

test('the apimeter bin answers version, help, config, and rejects bad usage with exit 2', () => {
  const bin = new URL('dist/cli/main.js', root).pathname;
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
  assert.equal(run(['version']).stdout.trim(), pkg.version);
  assert.match(run(['help']).stdout, /Usage: apimeter/);
  const cfg = run(['config', '--json'], { APIMETER__API__METRICS_SAMPLE_RATE: '0.5' });
  assert.equal(cfg.status, 0);
  assert.equal(JSON.parse(cfg.stdout)['api.metrics_sample_rate'], 0.5);
  const bad = run(['config'], { APIMETER__API__METRICS_SAMPLE_RATE: '2' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /\[api\] metrics_sample_rate = "2" \(env APIMETER__API__METRICS_SAMPLE_RATE\): expected/);
  assert.equal(run(['frobnicate']).status, 2);
  assert.equal(run(['config', '--nope']).status, 2);
});
