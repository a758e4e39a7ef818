/**
 * The DogStatsD dialect against a receiver that parses every datagram strictly (name, value, type,
 * sample rate, tags), over UDP and over a Unix datagram socket, with real Fastify traffic.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { createStats } from '../src/core/stats.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { StatsdExporterOptions } from '../src/exporters/statsd.js';
import { eventually, parseDogLine, parseDogLines, startDogStatsdReceiver } from './helpers/exporters.js';
import type { DogLine, DogStatsdReceiver } from './helpers/exporters.js';
import { pipelineGets } from './helpers/http.js';

class SchedulerDown extends Error {}

let receiver: DogStatsdReceiver;
let app: FastifyInstance;
let meter: Meter;
let port: number;

const MAX_DATAGRAM = 512;

before(async () => {
  receiver = await startDogStatsdReceiver();
  meter = createMeter({
    iniPath: false,
    env: {},
    statsdDatadogEnabled: true,
    statsdPrefix: 'my-app',
    apiMetricsPrefix: 'web/api',
    statsdDatadogTags: ['env:test', 'team:api'],
  });
  app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/dags/:dag_id/runs', async () => ({ runs: [] }));
  app.delete('/dags/:dag_id', async (_req, reply) => reply.code(204).send());
  app.get('/boom', async () => {
    throw new SchedulerDown('no scheduler');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  const runs = await pipelineGets(port, 400, (i) => `/dags/d${i % 13}/runs`, 8);
  assert.deepEqual([...runs], [[200, 400]]);
  const boom = await pipelineGets(port, 30, () => '/boom', 3);
  assert.deepEqual([...boom], [[500, 30]]);
  const missing = await pipelineGets(port, 20, (i) => `/x/${i}?q=${i}`, 2);
  assert.deepEqual([...missing], [[404, 20]]);
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/dags/d${i}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
  }
});

after(async () => {
  await app.close();
  await receiver.close();
});

function exporter(overrides: Partial<StatsdExporterOptions>) {
  return createStatsdExporter(meter, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    maxDatagramBytes: MAX_DATAGRAM,
    onStateChange: () => {},
    ...overrides,
  });
}

/** Sum of values (scaled by 1/rate) per series key built from `keys`, for lines named `name`. */
function totals(lines: readonly DogLine[], name: string, keys: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    if (l.name !== name) continue;
    const key = keys.map((k) => l.tags.get(k) ?? '-').join(' ');
    out.set(key, (out.get(key) ?? 0) + (l.type === 'c' ? l.value : 1) / (l.type === 'c' ? 1 : l.rate));
  }
  return out;
}

test('counts by endpoint, method and status class arrive exactly, every datagram parses and fits', async () => {
  receiver.lines.length = 0;
  const statsd = exporter({ timerMode: 'values' });
  const stats = createStats({ backends: [statsd] });
  stats.incr('jobs.done', 5, 1, { queue: 'a b,c|d#e', 'bad key': 'x' });
  stats.gauge('pool.size', 4, 1, false, { db: 'main' });
  stats.gauge('pool.size', 3, 1, true, { db: 'main' }); // DogStatsD has no delta gauges: sent as 7
  stats.timing('job.run', 42, { queue: 'a' });
  const report = await statsd.flush();
  assert.equal(report.error, null);
  await eventually(() => receiver.lines.length >= report.lines, 'every line');

  assert.deepEqual(receiver.invalid, []);
  assert.equal(receiver.lines.length, report.lines);
  for (const d of receiver.datagrams) assert.ok(d.length <= MAX_DATAGRAM, `datagram of ${d.length} bytes`);
  assert.ok(receiver.datagrams.length > 10, 'many lines per datagram, many datagrams');
  for (const l of receiver.lines) {
    assert.equal(l.tags.get('env'), 'test', 'constant tags on every line');
    assert.equal(l.tags.get('team'), 'api');
  }

  const counts = totals(receiver.lines, 'my_app.web_api.request.count', ['endpoint', 'method', 'status_class']);
  assert.deepEqual(Object.fromEntries(counts), {
    '/dags/_dag_id_/runs GET 2xx': 400,
    '/boom GET 5xx': 30,
    '__unmatched__ GET 4xx': 20,
    '/dags/_dag_id_ DELETE 2xx': 12,
  });
  const errors = totals(receiver.lines, 'my_app.web_api.request.error', ['endpoint', 'error_type']);
  assert.deepEqual(Object.fromEntries(errors), { '/boom exception': 30, '__unmatched__ client_error': 20 });
  const durations = totals(receiver.lines, 'my_app.web_api.request.duration', ['endpoint', 'method']);
  assert.equal(durations.get('/dags/_dag_id_/runs GET'), 400, 'one timer value per request');
  for (const l of receiver.lines.filter((x) => x.name === 'my_app.web_api.request.duration')) {
    assert.equal(l.type, 'ms');
    assert.equal(l.rate, 1);
  }

  // The facade's metrics, sanitized for DataDog, in the same datagrams.
  const job = receiver.lines.find((l) => l.name === 'my_app.jobs.done')!;
  assert.equal(job.value, 5);
  assert.equal(job.tags.get('queue'), 'a_b_c_d_e');
  assert.equal(job.tags.get('bad_key'), 'x');
  const pool = receiver.lines.filter((l) => l.name === 'my_app.pool.size');
  assert.deepEqual(
    pool.map((l) => [l.type, l.value, l.tags.get('db')]),
    [['g', 7, 'main']],
  );
  assert.deepEqual(
    receiver.lines.filter((l) => l.name === 'my_app.job.run').map((l) => [l.type, l.value]),
    [['ms', 42]],
  );

  // A second flush without traffic sends no counter and no timer again.
  receiver.lines.length = 0;
  await statsd.flush();
  await statsd.close();
  assert.deepEqual(
    receiver.lines.filter((l) => l.type !== 'g'),
    [],
  );
});

test('distribution mode: one |d line per bucket whose sample rates add up to the request count', async () => {
  receiver.lines.length = 0;
  const local = createMeter({ iniPath: false, env: {}, statsdDatadogEnabled: true, statsdTimerMode: 'distribution' });
  const statsd = createStatsdExporter(local, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    onStateChange: () => {},
  });
  const ep = local.endpoint('GET', '/things/{id}')!;
  for (let i = 0; i < 5000; i++) local.record(ep, 200, 1 + (i % 500) / 10, 10, 2000 + (i % 3), ErrorKind.None);
  const report = await statsd.flush();
  await eventually(() => receiver.lines.length >= report.lines, 'every line');
  assert.deepEqual(receiver.invalid, []);
  const duration = receiver.lines.filter((l) => l.name === 'apimeter.api.request.duration');
  assert.ok(duration.every((l) => l.type === 'd'));
  assert.ok(duration.length < 100, `${duration.length} lines for 5000 requests`);
  const sum = duration.reduce((n, l) => n + 1 / l.rate, 0);
  assert.ok(Math.abs(sum - 5000) < 1e-6, String(sum));
  const sizes = receiver.lines.filter((l) => l.name === 'apimeter.api.response.size.bytes');
  assert.ok(sizes.every((l) => l.type === 'd'));
  assert.ok(Math.abs(sizes.reduce((n, l) => n + 1 / l.rate, 0) - 5000) < 1e-6);
  await statsd.close();
});

test('statsd_disabled_tags: endpoints folded together are summed before sending', async () => {
  receiver.lines.length = 0;
  const statsd = exporter({ disabledTags: ['endpoint'], timerMode: 'sampled' });
  const report = await statsd.flush();
  await eventually(() => receiver.lines.length >= report.lines, 'every line');
  assert.deepEqual(receiver.invalid, []);
  for (const l of receiver.lines) assert.equal(l.tags.has('endpoint'), false);
  const counts = totals(receiver.lines, 'my_app.web_api.request.count', ['method', 'status_class']);
  assert.deepEqual(Object.fromEntries(counts), { 'GET 2xx': 400, 'GET 5xx': 30, 'GET 4xx': 20, 'DELETE 2xx': 12 });
  const series = receiver.lines.filter((l) => l.name === 'my_app.web_api.request.count').map((l) => [...l.tags].join());
  assert.equal(new Set(series).size, series.length, 'one line per series: merged, not repeated');
  const durations = totals(receiver.lines, 'my_app.web_api.request.duration', ['method']);
  assert.ok(Math.abs(durations.get('GET')! - 450) < 1e-6);
  await statsd.close();
});

test('the strict parser rejects what DogStatsD does not accept', () => {
  for (const bad of [
    'a.b:1|x',
    'a b:1|c',
    '1a:1|c',
    'a:1e-7|ms',
    'a:1|c|@2',
    'a:1|c|#k:v,',
    'a:1|c|#k:v|#x:y',
    'a:|c',
    'a:1|c|#ta g:v',
  ]) {
    assert.throws(() => parseDogLine(bad), /not a valid|bad sample/, bad);
  }
  assert.deepEqual(
    parseDogLine('a.b_c:0.25|d|@0.5|#k:v/x,flag').tags,
    new Map([
      ['k', 'v/x'],
      ['flag', ''],
    ]),
  );
});

test('DogStatsD over a Unix datagram socket (unix-dgram): lines arrive; a missing socket shows in health', async () => {
  const unix = createRequire(import.meta.url)('unix-dgram') as {
    createSocket(type: 'unix_dgram', listener: (buf: Buffer) => void): { bind(p: string): void; close(): void };
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-dsd-'));
  const socketPath = path.join(dir, 'dsd.socket');
  const got: string[] = [];
  const server = unix.createSocket('unix_dgram', (buf) =>
    got.push(
      ...buf
        .toString()
        .split('\n')
        .flatMap((l) => parseDogLines(l).map(() => l)),
    ),
  );
  server.bind(socketPath);
  try {
    const statsd = exporter({ udsPath: socketPath, maxDatagramBytes: 8192 });
    const report = await statsd.flush();
    assert.equal(report.error, null);
    await eventually(() => got.length >= report.lines, 'lines over the socket');
    for (const line of got) parseDogLines(line);
    assert.ok(got.some((l) => l.startsWith('my_app.web_api.request.count:400|c|#endpoint:/dags/_dag_id_/runs')));
    await statsd.close();

    const missing = exporter({ udsPath: path.join(dir, 'nobody.socket'), circuit: { failureThreshold: 1 } });
    assert.match(String((await missing.flush()).error), /ENOENT/);
    assert.equal((await missing.flush()).skipped, true, 'circuit open: the next flush does not run');
    const health = missing.health();
    assert.equal(health.name, 'dogstatsd');
    assert.equal(health.state, 'failing');
    assert.equal(health.circuit, 'open');
    assert.match(health.lastError!, /ENOENT/);
    assert.match(health.lastError!, /nobody\.socket/);
    await missing.close();
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
