/**
 * The StatsD exporter's parts without a network: names and tags per dialect, numbers, deltas between
 * flushes, the bounded buffer, the circuit breaker and the configuration checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { createStats } from '../src/core/stats.js';
import { CircuitBreaker } from '../src/exporters/circuit-breaker.js';
import { forEachBucketAt, SketchBaseline } from '../src/exporters/delta.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import {
  decimal,
  nameSegment,
  sanitizeName,
  sanitizeTagKey,
  sanitizeTagValue,
  StatsdFormat,
} from '../src/exporters/statsd-format.js';
import { createStatsdExporter, nameFilter, statsdOptionsFromConfig } from '../src/exporters/statsd.js';
import type { StatsdExporterOptions } from '../src/exporters/statsd.js';
import { UdpTransport } from '../src/exporters/statsd-transport.js';

const HOSTILE = 'a b,c|d#e:f=g\n{h}/i.j@k\u00e9l;m';

test('metric names are sanitized per backend', () => {
  assert.equal(sanitizeName(`x.${HOSTILE}`, 'statsd'), 'x.a_b_c_d_e_f_g__h__i.j_k_l_m');
  assert.equal(sanitizeName(`x.${HOSTILE}`, 'datadog'), 'x.a_b_c_d_e_f_g__h__i.j_k_l_m');
  assert.equal(sanitizeName('my-app..api.', 'statsd'), 'my-app.api', 'empty segments removed');
  assert.equal(sanitizeName('my-app.api', 'datadog'), 'my_app.api', 'DataDog names have no "-"');
  assert.equal(sanitizeName('a'.repeat(300), 'datadog').length, 200);
  assert.equal(sanitizeName('a'.repeat(300), 'statsd').length, 250);
  for (const dialect of ['statsd', 'influx', 'datadog'] as const) {
    assert.match(sanitizeName(HOSTILE, dialect), /^[A-Za-z0-9_.-]+$/);
  }
});

test('tag keys and values are sanitized per backend; route segments fold safely into names', () => {
  assert.equal(sanitizeTagValue(HOSTILE, 'datadog'), 'a_b_c_d_e:f_g__h_/i.j_k_l_m');
  assert.equal(sanitizeTagValue(HOSTILE, 'influx'), 'a_b_c_d_e_f_g_{h}/i.j_k_l_m');
  assert.equal(sanitizeTagValue('', 'datadog'), '_');
  assert.equal(sanitizeTagValue('x'.repeat(500), 'datadog').length, 200);
  assert.equal(sanitizeTagKey('error type:x'), 'error_type_x');
  assert.equal(nameSegment('/api/v2/dags/{dag_id}/dagRuns'), 'api_v2_dags_dag_id_dagRuns');
  assert.equal(nameSegment('/'), 'root');
  assert.equal(nameSegment('/v1.2/files/{name}.txt'), 'v1_2_files_name_txt');
  assert.equal(nameSegment('__unmatched__'), '__unmatched__');
  const long = nameSegment('/' + 'segment/'.repeat(40));
  assert.equal(long.length, 100);
  assert.match(long, /-[0-9a-f]{8}$/);
  assert.notEqual(long, nameSegment('/' + 'segment/'.repeat(41)), 'long routes stay distinct');
  assert.match(nameSegment(HOSTILE), /^[A-Za-z0-9_-]+$/);
});

test('lines per dialect, and numbers always in plain decimal notation', () => {
  const dims = [
    ['endpoint', '/dags/{dag_id}'],
    ['method', 'GET'],
  ] as const;
  const plain = new StatsdFormat('statsd');
  const influx = new StatsdFormat('influx');
  const dog = new StatsdFormat('datadog', ['env:prod', 'bad tag:a|b'], ['method']);
  const line = (f: StatsdFormat, rate = 1) => {
    const part = f.extend(f.dims(dims), 'status_class', '2xx');
    return f.line(f.head('api.request.count', part), '3', 'c', rate, f.tail(part));
  };
  assert.equal(line(plain), 'api.request.count.dags_dag_id.GET.2xx:3|c');
  assert.equal(line(influx), 'api.request.count,endpoint=/dags/{dag_id},method=GET,status_class=2xx:3|c');
  assert.equal(
    line(dog, 0.25),
    'api.request.count:3|c|@0.25|#endpoint:/dags/_dag_id_,status_class:2xx,env:prod,bad_tag:a_b',
  );
  assert.equal(decimal(1e-7), '0.0000001');
  assert.equal(decimal(1 / 3), String(1 / 3));
  assert.equal(decimal(2.5e21), '2500000000000000000000');
  assert.equal(decimal(-0.5), '-0.5');
  assert.equal(plain.line('x', '1', 'ms', 1e-9, ''), 'x:1|ms|@0.000000001');
});

test('allow and block lists follow Airflow: prefixes, case-insensitive, allow wins', () => {
  const f = nameFilter([], ['api.request.size', 'API.RESPONSE']);
  assert.equal(f('api.request.count'), true);
  assert.equal(f('api.request.size.bytes'), false);
  assert.equal(f('api.response.size.bytes'), false);
  const g = nameFilter(['api.request.count'], ['api']);
  assert.equal(g('api.request.count'), true);
  assert.equal(g('api.request.duration'), false);
});

function setup(overrides: Partial<StatsdExporterOptions> = {}, meterOptions: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {}, clock, ...meterOptions });
  const transport = new MemoryTransport();
  const statsd = createStatsdExporter(meter, { transport, flushIntervalMs: 0, onStateChange: () => {}, ...overrides });
  return { clock, meter, transport, statsd };
}

function record(meter: Meter, route: string, n: number, status = 200, ms = 10): void {
  const ep = meter.endpoint('GET', route)!;
  for (let i = 0; i < n; i++) meter.record(ep, status, ms, 100, 200, ErrorKind.None);
}

test('counters are sent as differences between flushes; idle endpoints send nothing', async () => {
  const { clock, meter, transport, statsd } = setup();
  record(meter, '/a', 5);
  record(meter, '/b', 2, 404);
  await statsd.flush();
  const first = transport.lines().filter((l) => l.includes('.request.count.'));
  assert.deepEqual(first.sort(), [
    'apimeter.api.request.count.a.GET.2xx:5|c',
    'apimeter.api.request.count.b.GET.4xx:2|c',
  ]);
  transport.clear();
  // Across a slot rotation (the current fine slot is folded into the total): still exact differences.
  clock.advance(25_000);
  record(meter, '/a', 3);
  await statsd.flush();
  assert.deepEqual(
    transport.lines().filter((l) => !l.includes('.active.')),
    [
      'apimeter.api.request.count.a.GET.2xx:3|c',
      ...Array<string>(3).fill('apimeter.api.request.duration.a.GET:9.98866|ms'),
      ...Array<string>(3).fill('apimeter.api.request.size.bytes.a.GET:102.975|ms'),
      ...Array<string>(3).fill('apimeter.api.response.size.bytes.a.GET:205.949|ms'),
    ],
  );
  transport.clear();
  clock.advance(60_000);
  await statsd.flush();
  assert.deepEqual(transport.lines(), [], 'nothing new, nothing sent');
});

test('the in-flight gauge is sent when it changes or is not zero', async () => {
  const { meter, transport, statsd } = setup();
  const ep = meter.endpoint('GET', '/slow')!;
  meter.begin(ep);
  meter.begin(ep);
  await statsd.flush();
  assert.deepEqual(transport.lines(), ['apimeter.api.request.active.slow.GET:2|g']);
  transport.clear();
  await statsd.flush();
  assert.deepEqual(transport.lines(), ['apimeter.api.request.active.slow.GET:2|g']);
  transport.clear();
  meter.end(ep);
  meter.end(ep);
  await statsd.flush();
  assert.deepEqual(transport.lines(), ['apimeter.api.request.active.slow.GET:0|g']);
  transport.clear();
  await statsd.flush();
  assert.deepEqual(transport.lines(), []);
});

test('metrics_detailed sends exact status codes; sampled requests carry the sample rate', async () => {
  const { meter, transport, statsd } = setup(
    { timerMode: 'sampled', timerScale: 2 },
    {
      metricsDetailed: true,
      metricsSampleRate: 0.5,
      random: () => 0.25,
    },
  );
  record(meter, '/a', 4, 201);
  record(meter, '/a', 1, 418);
  record(meter, '/a', 1, 999);
  await statsd.flush();
  const lines = transport.lines();
  assert.deepEqual(
    lines.filter((l) => l.includes('.request.count.')),
    [
      'apimeter.api.request.count.a.GET.201.2xx:4|c',
      'apimeter.api.request.count.a.GET.418.4xx:1|c',
      'apimeter.api.request.count.a.GET.999.other:1|c',
    ],
  );
  // random() = 0.25 < 0.5: all 6 requests are in the sketch, which stands for a sample at rate 0.5. They
  // share one scale-2 bucket (estimate 10.336 ms, within 8.6 %), sent once with @rate = 0.5 / 6.
  assert.deepEqual(
    lines.filter((l) => l.includes('.duration.')),
    ['apimeter.api.request.duration.a.GET:10.3359|ms|@0.08333333333333333'],
  );
});

test('allow and block lists apply to the API metrics', async () => {
  const { meter, transport, statsd } = setup({
    blockList: ['api.request.size', 'api.response', 'api.request.duration'],
  });
  record(meter, '/a', 2);
  await statsd.flush();
  assert.deepEqual(transport.lines(), [
    'apimeter.api.request.count.a.GET.2xx:2|c',
    'apimeter.api.request.active.a.GET:0|g',
  ]);
});

test('a full buffer drops lines and counts them exactly; nothing else is lost or doubled', async () => {
  const { meter, transport, statsd } = setup({ maxDatagramBytes: 200, maxBufferBytes: 600, drainTimeoutMs: 50 });
  for (let i = 0; i < 40; i++) record(meter, `/r${i}`, 1);
  transport.hold = true; // sends are accepted and never complete: the buffer fills up
  const report = await statsd.flush();
  assert.match(String(report.error), /buffer full/);
  const c = statsd.counters;
  const held = transport.held.reduce((n, h) => n + h.datagram.split('\n').length, 0);
  assert.ok(held > 0 && c.linesDropped > 0);
  assert.equal(held + c.linesDropped, report.lines, 'every line is either in the buffer or counted as dropped');
  assert.ok(transport.held.reduce((n, h) => n + h.datagram.length, 0) <= 600);
  assert.equal(
    statsd.health().counters!.bufferedBytes,
    transport.held.reduce((n, h) => n + h.datagram.length, 0),
  );
  assert.equal(statsd.health().state, 'degraded');
  transport.releaseHeld();
  assert.equal(statsd.counters.linesSent, held);
  assert.equal(statsd.health().counters!.bufferedBytes, 0);
  // Lines longer than a datagram are dropped and counted too.
  createStats({ backends: [statsd] }).incr('x'.repeat(240));
  const before = statsd.counters.linesDropped;
  const second = await statsd.flush();
  assert.ok(statsd.counters.linesDropped > before);
  assert.equal(statsd.counters.linesSent - held + statsd.counters.linesDropped - before, second.lines);
});

test('Stats facade calls are aggregated between flushes and bounded', async () => {
  const { transport, statsd } = setup({ maxPendingSeries: 3, maxPendingValues: 5, dialect: 'influx' });
  const stats = createStats({ backends: [statsd], sampleRandom: () => 0 });
  for (let i = 0; i < 10; i++) stats.incr('hits', 1, 0.5, { page: 'home' });
  stats.gauge('depth', 5, 1, true);
  stats.gauge('depth', -2, 1, true);
  for (let i = 0; i < 8; i++) stats.timing('t', i);
  stats.incr('fourth.series');
  await statsd.flush();
  assert.deepEqual(transport.lines(), [
    'apimeter.hits,page=home:20|c',
    'apimeter.depth:+3|g',
    'apimeter.t:0|ms',
    'apimeter.t:1|ms',
    'apimeter.t:2|ms',
    'apimeter.t:3|ms',
    'apimeter.t:4|ms',
  ]);
  assert.equal(statsd.counters.statsDropped, 4, '3 timings past 5 values, 1 series past 3');
  await stats.close();
  stats.incr('after.close');
  assert.equal(statsd.health().state, 'off');
});

test('the circuit opens after repeated failures, lets one trial through after the cooldown, closes on success', () => {
  let now = 0;
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 3000, now: () => now });
  assert.equal(breaker.state, 'closed');
  for (let i = 0; i < 2; i++) {
    assert.ok(breaker.allow());
    breaker.failure();
  }
  assert.equal(breaker.state, 'closed');
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.allow(), false);
  now = 999;
  assert.equal(breaker.allow(), false);
  now = 1000;
  assert.equal(breaker.state, 'half-open');
  assert.equal(breaker.allow(), true);
  assert.equal(breaker.allow(), false, 'one trial at a time');
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.retryInMs, 2000, 'the cooldown doubles');
  now = 3000;
  assert.ok(breaker.allow());
  breaker.failure();
  assert.equal(breaker.retryInMs, 3000, 'capped');
  now = 6000;
  assert.ok(breaker.allow());
  breaker.success();
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.opened, 3);
});

test('exporter circuit: skipped flushes keep the baseline, so the next good flush sends everything', async () => {
  let now = 0;
  const { meter, transport, statsd } = setup({ circuit: { failureThreshold: 2, cooldownMs: 1000, now: () => now } });
  transport.openError = Object.assign(new Error('getaddrinfo ENOTFOUND statsd.invalid'), { code: 'ENOTFOUND' });
  record(meter, '/a', 3);
  await statsd.flush();
  await statsd.flush();
  assert.equal(statsd.health().circuit, 'open');
  assert.equal(statsd.health().state, 'failing');
  assert.match(statsd.health().lastError!, /ENOTFOUND statsd\.invalid \(memory\)/);
  record(meter, '/a', 2);
  assert.equal((await statsd.flush()).skipped, true);
  assert.equal(transport.opened, 2, 'an open circuit does not even try');
  transport.openError = null;
  now = 1000;
  await statsd.flush();
  assert.equal(statsd.health().circuit, 'closed');
  assert.equal(statsd.health().state, 'ok');
  assert.ok(transport.lines().includes('apimeter.api.request.count.a.GET.2xx:5|c'));
});

test('configuration: cross-key checks at start-up, and the options derived from the keys', () => {
  const config = (options: Record<string, unknown>) => createMeter({ iniPath: false, env: {}, ...options }).config;
  assert.throws(() => statsdOptionsFromConfig(config({ statsdTimerMode: 'distribution' })), {
    code: 'APIMETER_ERR_CONFIG_INVALID',
  });
  assert.throws(() => statsdOptionsFromConfig(config({ statsdDatadogEnabled: true, statsdInfluxdbEnabled: true })), {
    code: 'APIMETER_ERR_CONFIG_INVALID',
  });
  assert.throws(
    () => statsdOptionsFromConfig(config({ statsdMaxDatagramBytes: 8192, statsdMaxBufferBytes: 4096 })),
    /statsd_max_buffer_bytes/,
  );
  assert.throws(() => config({ statsdTimerMode: 'histogram' }), { code: 'APIMETER_ERR_CONFIG_INVALID' });
  const o = statsdOptionsFromConfig(
    config({ statsdDatadogEnabled: true, statsdTimerMode: 'distribution', statsdDatadogTags: 'env:prod' }),
  );
  assert.equal(o.dialect, 'datadog');
  assert.deepEqual(o.constantTags, ['env:prod']);
  assert.equal(o.maxDatagramBytes, 1432);
  assert.equal(o.flushIntervalMs, 10_000);
});

test('the UDP transport looks a host up once per TTL, never twice at a time, and keeps a good address', async () => {
  let lookups = 0;
  let fail = false;
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const transport = new UdpTransport('statsd.test', 8125, {
    dnsTtlMs: 0,
    lookup: async () => {
      lookups++;
      await gate;
      if (fail) throw Object.assign(new Error('getaddrinfo EAI_AGAIN statsd.test'), { code: 'EAI_AGAIN' });
      return [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ];
    },
  });
  const a = transport.open();
  const b = transport.open();
  release();
  await Promise.all([a, b]);
  assert.equal(lookups, 1, 'concurrent opens share one lookup');
  assert.equal(transport.target, 'udp statsd.test:8125 (127.0.0.1)', 'IPv4 preferred');
  fail = true;
  await transport.open(); // the lookup fails; the last good address is kept
  assert.match(String(transport.takeError()), /EAI_AGAIN/);
  await transport.close();
  const never = new UdpTransport('never.test', 8125, { lookup: () => new Promise(() => {}), lookupTimeoutMs: 30 });
  const keepAlive = setTimeout(() => {}, 1000); // the lookup timer is unref'd, as in an app
  await assert.rejects(never.open(), /timed out/);
  clearTimeout(keepAlive);
});

test('sketch baselines yield exact bucket differences at any output scale', () => {
  const s = new Sketch(LATENCY_SKETCH);
  const base = new SketchBaseline();
  const values = [0, 0.5, 1, 3, 3.2, 17, 250, 250, 4000];
  const got = new Map<number, number>();
  const sink = (i: number, n: number) => got.set(i, (got.get(i) ?? 0) + n);
  for (const v of values.slice(0, 4)) s.record(v);
  base.advance(s, 2, sink);
  assert.equal(base.addedCount, 4);
  assert.equal(base.addedZeros, 1);
  for (const v of values.slice(4)) s.record(v);
  base.advance(s, 2, sink);
  assert.equal(base.addedCount, 5);
  assert.equal(base.addedSum, 3.2 + 17 + 250 + 250 + 4000);
  const whole = new Map<number, number>();
  forEachBucketAt(s, 2, (i, n) => whole.set(i, n));
  assert.deepEqual(got, whole, 'the differences add up to the sketch, bucket by bucket');
  base.advance(s, 2, () => assert.fail('nothing new'));
  assert.equal(base.addedCount, 0);
});
