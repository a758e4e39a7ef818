/**
 * The README's exporters snippet with `otel_on` in an application that did not install the optional
 * OpenTelemetry packages: a coded error naming them and the `npm install` line, not a raw
 * ERR_MODULE_NOT_FOUND. The child process hides `@opentelemetry/*` from module resolution.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const HIDE = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@opentelemetry/')) {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;

const CHILD = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HIDE)}));
const { createMeter, startExporters } = await import(${JSON.stringify(path.join(ROOT, 'src/index.ts'))});
const meter = createMeter({ iniPath: false, env: {}, otelOn: true });
try {
  await startExporters(meter);
  console.log(JSON.stringify({ started: true }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;

test('otel_on without the OpenTelemetry packages: APIMETER_ERR_MISSING_DEPENDENCY with the npm install line', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD],
    {
      cwd: ROOT,
      timeout: 60_000,
    },
  );
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { code?: string; message?: string };
  assert.equal(out.code, 'APIMETER_ERR_MISSING_DEPENDENCY', stdout);
  for (const pkg of [
    '@opentelemetry/api',
    '@opentelemetry/sdk-metrics',
    '@opentelemetry/resources',
    '@opentelemetry/exporter-metrics-otlp-http',
  ]) {
    assert.ok(out.message!.includes(pkg), `names ${pkg}: ${out.message}`);
  }
  assert.match(
    out.message!,
    /npm install @opentelemetry\/api @opentelemetry\/sdk-metrics @opentelemetry\/resources @opentelemetry\/exporter-metrics-otlp-http/,
  );
});

test('statsd_uds_path without unix-dgram: the same coded error, in /health', async () => {
  // unix-dgram is loaded with require(): hide it from CommonJS resolution.
  const child = `
import Module from 'node:module';
const original = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'unix-dgram') { const e = new Error("Cannot find module 'unix-dgram'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
  return original.call(this, request, ...rest);
};
const { createMeter } = await import(${JSON.stringify(path.join(ROOT, 'src/index.ts'))});
const { createStatsdExporter } = await import(${JSON.stringify(path.join(ROOT, 'src/exporters/statsd.ts'))});
const meter = createMeter({ iniPath: false, env: {} });
const statsd = createStatsdExporter(meter, { udsPath: '/tmp/apimeter-missing.sock', flushIntervalMs: 0, onStateChange: () => {} });
const report = await statsd.flush();
console.log(JSON.stringify({ code: report.error?.code, message: report.error?.message, health: statsd.health().lastError }));
await statsd.close();
`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', child],
    {
      cwd: ROOT,
      timeout: 60_000,
    },
  );
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { code?: string; message?: string; health?: string };
  assert.equal(out.code, 'APIMETER_ERR_MISSING_DEPENDENCY', stdout);
  assert.match(out.message!, /npm install unix-dgram/);
  assert.match(out.health!, /APIMETER_ERR_MISSING_DEPENDENCY.*npm install unix-dgram/);
});
