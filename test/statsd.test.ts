/**
 * The StatsD exporter against the real Etsy StatsD daemon (npm `statsd`), started on loopback: what the
 * daemon aggregated is checked against the traffic this test sent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { createStats } from '../src/core/stats.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { StatsdExporter } from '../src/exporters/statsd.js';
import { datasets } from './helpers/datasets.js';
import { eventually, startEtsyStatsd } from './helpers/exporters.js';
import type { EtsyStatsd } from './helpers/exporters.js';
import { pipelineGets } from './helpers/http.js';

let daemon: EtsyStatsd;
let app: FastifyInstance;
let meter: Meter;
let statsd: StatsdExporter;
let port: number;
/** Durations the app itself saw (reply.elapsedTime), per route: the independent record. */
const seen = new Map<string, number[]>();

before(async () => {
  daemon = await startEtsyStatsd(200);
  meter = createMeter({
    iniPath: false,
    env: {},
    statsdOn: true,
    statsdHost: '127.0.0.1',
    statsdPort: daemon.port,
  });
  statsd = createStatsdExporter(meter, { flushIntervalMs: 100, onStateChange: () => {} });
  app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/users/:id', async (req) => {
    await sleep(2 + (Number((req.params as { id: string }).id) % 7));
    return { id: (req.params as { id: string }).id };
  });
  app.get('/fail', async (_req, reply) => reply.code(503).send({ detail: 'down' }));
  app.post('/items', async (req, reply) => reply.code(201).send(req.body));
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const list = seen.get(route) ?? [];
    list.push(reply.elapsedTime);
    seen.set(route, list);
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});

after(async () => {
  await statsd.close();
  await app.close();
  await daemon.stop();
});

test('the Etsy daemon receives exact request and error counts of real Fastify traffic', async () => {
  const users = await pipelineGets(port, 300, (i) => `/users/${i}`, 8);
  const fails = await pipelineGets(port, 40, () => '/fail', 4);
  const missing = await pipelineGets(port, 15, (i) => `/nope/${i}`, 3);
  assert.deepEqual([...users], [[200, 300]]);
  assert.deepEqual([...fails], [[503, 40]]);
  assert.deepEqual([...missing], [[404, 15]]);
  const body = JSON.stringify({ name: 'x'.repeat(90) });
  for (let i = 0; i < 25; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 201);
    await res.text();
  }

  const expected = new Map([
    ['apimeter.api.request.count.users_id.GET.2xx', 300],
    ['apimeter.api.request.count.fail.GET.5xx', 40],
    ['apimeter.api.request.error.fail.GET.server_error', 40],
    ['apimeter.api.request.count.__unmatched__.GET.4xx', 15],
    ['apimeter.api.request.error.__unmatched__.GET.client_error', 15],
    ['apimeter.api.request.count.items.POST.2xx', 25],
  ]);
  await eventually(() => {
    const { counters } = daemon.totals();
    return [...expected].every(([k, v]) => counters.get(k) === v);
  }, 'the daemon to count every request');
  await sleep(400); // two more daemon flushes: nothing may be added twice
  const { counters, timers, timerCounts } = daemon.totals();
  for (const [key, value] of expected) assert.equal(counters.get(key), value, key);
  const ours = [...counters.keys()].filter((k) => k.startsWith('apimeter.'));
  assert.deepEqual(ours.sort(), [...expected.keys()].sort(), 'no other counter series');

  // Timers: one value per request (timer mode "values"), so the daemon's count and statistics are exact.
  const durations = timers.get('apimeter.api.request.duration.users_id.GET')!;
  assert.equal(durations.length, 300);
  assert.equal(timerCounts.get('apimeter.api.request.duration.users_id.GET'), 300);
  const bound = relativeErrorBound(LATENCY_SKETCH);
  const truth = [...seen.get('/users/:id')!].sort((a, b) => a - b);
  const got = [...durations].sort((a, b) => a - b);
  // Rank by rank: the reply.elapsedTime read by this test's hook is a few µs later than the adapter's.
  for (const q of [0, 0.5, 0.9, 0.99, 1]) {
    const k = Math.min(truth.length - 1, Math.round(q * (truth.length - 1)));
    assert.ok(Math.abs(got[k] - truth[k]) <= bound * truth[k] + 0.05, `q${q}: ${got[k]} vs ${truth[k]}`);
  }
  // Request sizes: 25 bodies of the same length (scale-3 size sketch: 4.3 %).
  const sizes = timers.get('apimeter.api.request.size.bytes.items.POST')!;
  assert.equal(sizes.length, 25);
  for (const s of sizes) assert.ok(Math.abs(s - body.length) <= 0.044 * body.length, `size ${s}`);

  const stats = await daemon.command('stats');
  assert.match(stats, /messages\.bad_lines_seen: 0/);
  assert.equal(statsd.health().state, 'ok');
  assert.equal(statsd.health().circuit, 'closed');
});

test('app metrics from the Stats facade ride the same exporter (counters, gauges, timings)', async () => {
  const stats = createStats({ backends: [statsd] });
  stats.incr('jobs.done', 2);
  stats.incr('jobs.done');
  stats.decr('jobs.running', 4);
  stats.gauge('queue.depth', 7);
  stats.gauge('queue.depth', 2, 1, true);
  stats.gauge('temperature', -3);
  stats.timing('job.run', 12.5);
  stats.timing('job.run', 30);
  await eventually(() => daemon.totals().counters.get('apimeter.jobs.done') === 3, 'facade counters');
  await sleep(300);
  const { counters, gauges, timers } = daemon.totals();
  assert.equal(counters.get('apimeter.jobs.done'), 3);
  assert.equal(counters.get('apimeter.jobs.running'), -4);
  assert.equal(gauges.get('apimeter.queue.depth'), 9);
  assert.equal(gauges.get('apimeter.temperature'), -3, 'negative gauges are set via 0 first');
  assert.deepEqual(timers.get('apimeter.job.run'), [12.5, 30]);
});

test('timer statistics at the daemon match the exact ones within the sketch bound', async () => {
  const values = datasets().lognormal.slice(0, 2000);
  const local = createMeter({ iniPath: false, env: {}, statsdPrefix: 'exact' });
  const exporter = createStatsdExporter(local, {
    host: '127.0.0.1',
    port: daemon.port,
    flushIntervalMs: 0,
    timerMaxValues: 0, // every value
    onStateChange: () => {},
  });
  const ep = local.endpoint('GET', '/lognormal')!;
  for (const v of values) local.record(ep, 200, v, -1, -1, ErrorKind.None);
  const report = await exporter.flush();
  assert.equal(report.error, null);
  const key = 'exact.api.request.duration.lognormal.GET';
  await eventually(() => (daemon.totals().timers.get(key)?.length ?? 0) >= 2000, 'all timer values');
  const got = [...daemon.totals().timers.get(key)!].sort((a, b) => a - b);
  const truth = [...values].sort((a, b) => a - b);
  assert.equal(got.length, truth.length);
  const bound = relativeErrorBound(LATENCY_SKETCH) + 1e-5; // values are sent with 6 significant digits
  // The daemon's own statistics (median, upper_90, upper_99, lower, upper) are ranks of this array.
  for (let k = 0; k < got.length; k++) {
    assert.ok(Math.abs(got[k] - truth[k]) <= bound * truth[k], `rank ${k}: ${got[k]} vs ${truth[k]}`);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum(got) - sum(truth)) <= bound * sum(truth));
  await exporter.close();
});

test('values mode past statsd_timer_max_values: a uniform share with one rate, count and quantiles kept', async () => {
  const values = datasets().lognormal.slice(0, 5000);
  const local = createMeter({ iniPath: false, env: {}, statsdPrefix: 'capped' });
  const exporter = createStatsdExporter(local, {
    host: '127.0.0.1',
    port: daemon.port,
    flushIntervalMs: 0,
    timerMaxValues: 500,
    onStateChange: () => {},
  });
  const ep = local.endpoint('GET', '/capped')!;
  for (const v of values) local.record(ep, 200, v, -1, -1, ErrorKind.None);
  assert.equal((await exporter.flush()).error, null);
  const key = 'capped.api.request.duration.capped.GET';
  await eventually(() => (daemon.totals().timers.get(key)?.length ?? 0) >= 500, 'the capped values');
  await sleep(200);
  const { timers, timerCounts } = daemon.totals();
  const got = [...timers.get(key)!].sort((a, b) => a - b);
  assert.equal(got.length, 500, 'exactly statsd_timer_max_values lines');
  // Every line carries |@0.1: the daemon scales the count back to the requests.
  assert.ok(Math.abs(timerCounts.get(key)! - 5000) < 1e-6, String(timerCounts.get(key)));
  const truth = [...values].sort((a, b) => a - b);
  const bound = relativeErrorBound(LATENCY_SKETCH) + 1e-5;
  for (const q of [0.1, 0.5, 0.9, 0.99]) {
    const v = got[Math.floor(q * got.length)];
    // Systematic sampling over sorted buckets: within one sampled rank (1/500) of the true quantile.
    const lo = truth[Math.max(0, Math.floor((q - 0.002) * truth.length))] * (1 - bound);
    const hi = truth[Math.min(truth.length - 1, Math.ceil((q + 0.002) * truth.length))] * (1 + bound);
    assert.ok(v >= lo && v <= hi, `q${q}: ${v} not in [${lo}, ${hi}]`);
  }
  await exporter.close();
});

test('values mode at the default cap: the daemon gets the true count, lower and upper; mean and sum as Etsy computes them', async () => {
  // Etsy's daemon (lib/process_metrics.js), for the values v and rates r it got for a timer in one flush:
  // count = Σ 1/r, lower = min v, upper = max v, sum = Σ v (unweighted), mean = sum / #values.
  const bound = relativeErrorBound(LATENCY_SKETCH) + 1e-5; // values are sent with 6 significant digits
  for (const [name, values] of [
    ['lognormal', datasets().lognormal.slice(0, 5000)],
    ['heavytail', datasets().heavyTail.slice(0, 5000)],
    ['withzeros', datasets().withZeros.slice(0, 5000)],
  ] as const) {
    const local = createMeter({ iniPath: false, env: {}, statsdPrefix: `cap${name}` });
    const exporter = createStatsdExporter(local, {
      host: '127.0.0.1',
      port: daemon.port,
      flushIntervalMs: 0,
      onStateChange: () => {},
    });
    const ep = local.endpoint('GET', '/t')!;
    for (const v of values) local.record(ep, 200, v, -1, -1, ErrorKind.None);
    assert.equal((await exporter.flush()).error, null);
    const key = `cap${name}.api.request.duration.t.GET`;
    await eventually(() => (daemon.totals().timerCounts.get(key) ?? 0) >= 5000 - 1e-6, `${name}: the values`);
    const { timers, timerCounts } = daemon.totals();
    const got = timers.get(key)!;
    // What the test sent, computed here.
    const truth = [...values].sort((a, b) => a - b);
    const n = truth.length;
    const trueSum = truth.reduce((a, b) => a + b, 0);
    const trueMean = trueSum / n;
    assert.equal(got.length, 1000, `${name}: statsd_timer_max_values (default 1,000) lines`);
    assert.ok(Math.abs(timerCounts.get(key)! - n) < 1e-6, `${name}: count ${timerCounts.get(key)}`);
    const lower = Math.min(...got);
    const upper = Math.max(...got);
    assert.ok(Math.abs(lower - truth[0]) <= bound * truth[0], `${name}: lower ${lower} vs min ${truth[0]}`);
    assert.ok(Math.abs(upper - truth[n - 1]) <= bound * truth[n - 1], `${name}: upper ${upper} vs max ${truth[n - 1]}`);
    // A systematic sample of the sorted values, one per stratum of (n−1)/999 ranks: its mean is within
    // (max − min)/1000 (the strata's spreads telescope) plus one stratum's weight and the sketch bound.
    const mean = got.reduce((a, b) => a + b, 0) / got.length;
    const tolerance = (truth[n - 1] - truth[0]) / got.length + trueMean * (got.length / n + bound);
    assert.ok(Math.abs(mean - trueMean) <= tolerance, `${name}: mean ${mean} vs ${trueMean} ± ${tolerance}`);
    // So mean × count is the true sum; Etsy's own `sum` is Σ v, i.e. mean × 1,000 values.
    const count = timerCounts.get(key)!;
    assert.ok(Math.abs(mean * count - trueSum) <= tolerance * n, `${name}: mean × count vs the true sum`);
    // The daemon's own statistics, when its flush held the whole batch.
    const flushes = daemon.flushes().filter((f) => (f.timers[key]?.length ?? 0) > 0);
    if (flushes.length === 1) {
      const t = flushes[0].timer_data[key];
      assert.equal(t.lower, lower);
      assert.equal(t.upper, upper);
      assert.ok(Math.abs(t.count - n) < 1e-6);
      assert.ok(Math.abs(t.sum - mean * got.length) <= 1e-9 * t.sum);
    }
    await exporter.close();
  }
});

test('sampled timer mode: one value per bucket, the daemon still counts every request', async () => {
  const values = datasets().bimodal.slice(0, 3000);
  const local = createMeter({ iniPath: false, env: {}, statsdPrefix: 'sampled' });
  const exporter = createStatsdExporter(local, {
    host: '127.0.0.1',
    port: daemon.port,
    flushIntervalMs: 0,
    timerMode: 'sampled',
    timerScale: 4,
    onStateChange: () => {},
  });
  const ep = local.endpoint('GET', '/bimodal')!;
  for (const v of values) local.record(ep, 200, v, -1, -1, ErrorKind.None);
  assert.equal((await exporter.flush()).error, null);
  const key = 'sampled.api.request.duration.bimodal.GET';
  await eventually(() => Math.round(daemon.totals().timerCounts.get(key) ?? 0) === 3000, 'the scaled count');
  const { timers, timerCounts } = daemon.totals();
  assert.ok(Math.abs(timerCounts.get(key)! - 3000) < 1e-6, String(timerCounts.get(key)));
  const distinct = timers.get(key)!;
  assert.ok(distinct.length < 200, `${distinct.length} values for 3000 requests`);
  // Etsy does not weight values by their sample rate: its median is the median of bucket values, which
  // is why "values" is the default mode (see docs/exporters.md).
  await exporter.close();
});
