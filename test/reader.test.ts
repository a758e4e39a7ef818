import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { STATUS_CLASSES, statusClassLabel } from '../src/core/counts.js';
import type { Counters } from '../src/core/counts.js';
import { RequestContext } from '../src/core/detail.js';
import type { EndpointStats } from '../src/core/endpoint.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ERROR_TYPES, ErrorKind } from '../src/core/record.js';
import type { ErrorType } from '../src/core/record.js';
import { LATENCY_SKETCH, SIZE_SKETCH } from '../src/core/sketch.js';
import { rng } from './helpers/datasets.js';

/** What the test sent, counted by the test itself. */
class Sent {
  count = 0;
  codes = new Map<number, number>();
  classes = Object.fromEntries(STATUS_CLASSES.map((k) => [k, 0])) as Record<string, number>;
  errors = Object.fromEntries(ERROR_TYPES.map((t) => [t, 0])) as Record<ErrorType, number>;
  requestBytes = 0;
  requestSized = 0;
  requestMax = 0;
  responseBytes = 0;
  responseMax = 0;
  durations: number[] = [];
  requestSizes: number[] = [];
}

const KINDS = [
  ErrorKind.None,
  ErrorKind.None,
  ErrorKind.None,
  ErrorKind.Exception,
  ErrorKind.Validation,
  ErrorKind.Aborted,
];
const STATUSES = [200, 200, 201, 204, 302, 400, 404, 500, 503, 999, 101];

/** Records `n` varied requests on `ep`, moving the clock across fine and coarse slots now and then. */
function traffic(meter: Meter, clock: ManualClock, ep: EndpointStats, n: number, sent: Sent, random: () => number) {
  for (let i = 0; i < n; i++) {
    const kind = KINDS[Math.floor(random() * KINDS.length)];
    let status = STATUSES[Math.floor(random() * STATUSES.length)];
    // Integer durations keep sums exact whatever order the slots are added in.
    const ms = Math.floor(random() * 3000);
    const req = random() < 0.25 ? -1 : Math.floor(random() * 10_000);
    const res = Math.floor(random() * 100_000);
    meter.record(ep, status, ms, req, res, kind, kind === ErrorKind.Exception ? 'TypeError' : undefined, 'x');
    if (kind === ErrorKind.Aborted) status = 499;
    sent.count++;
    sent.codes.set(status, (sent.codes.get(status) ?? 0) + 1);
    sent.classes[status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other']++;
    const type: ErrorType | null =
      kind === ErrorKind.Aborted
        ? 'aborted'
        : kind === ErrorKind.Validation
          ? 'validation'
          : kind === ErrorKind.Exception
            ? 'exception'
            : status >= 500 && status <= 599
              ? 'server_error'
              : status >= 400 && status <= 499
                ? 'client_error'
                : null;
    if (type !== null) sent.errors[type]++;
    if (req >= 0) {
      sent.requestBytes += req;
      sent.requestSized++;
      sent.requestMax = Math.max(sent.requestMax, req);
      sent.requestSizes.push(req);
    }
    sent.responseBytes += res;
    sent.responseMax = Math.max(sent.responseMax, res);
    sent.durations.push(ms);
    if (random() < 0.05) clock.advance(Math.floor(random() * 25_000));
  }
}

function assertCounters(got: Counters, sent: Sent, what: string): void {
  assert.equal(got.count, sent.count, `${what}: count`);
  for (const k of STATUS_CLASSES) assert.equal(got.classes[k], sent.classes[k], `${what}: ${k}`);
  for (const t of ERROR_TYPES) assert.equal(got.errors[t], sent.errors[t], `${what}: ${t}`);
  assert.deepEqual(
    [...got.codes],
    [...sent.codes].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]),
    `${what}: codes, ascending`,
  );
  assert.equal(got.request.total, sent.requestBytes, `${what}: request bytes`);
  assert.equal(got.request.sized, sent.requestSized, `${what}: sized requests`);
  assert.equal(got.response.total, sent.responseBytes, `${what}: response bytes`);
  assert.equal(got.response.sized, sent.count, `${what}: sized responses`);
}

function setup(options: Record<string, unknown> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsSampleRate: 1, ...options });
  return { clock, meter };
}

/** (index at `scale − shift`, count) of `values` as a sketch of `layout` buckets them, positive values only. */
function buckets(values: readonly number[], layout: typeof LATENCY_SKETCH, shift: number): [number, number][] {
  const out = new Map<number, number>();
  const factor = 2 ** layout.scale;
  for (const v of values) {
    if (!(v > 0)) continue;
    const i = Math.min(layout.maxIndex, Math.max(layout.minIndex, Math.ceil(Math.log2(v) * factor) - 1)) >> shift;
    out.set(i, (out.get(i) ?? 0) + 1);
  }
  return [...out].sort((a, b) => a[0] - b[0]);
}

function pairs(delta: { forEachBucket(fn: (i: number, n: number) => void): void }): [number, number][] {
  const out: [number, number][] = [];
  delta.forEachBucket((i, n) => out.push([i, n]));
  return out;
}

test('cumulative counts equal what was recorded: since-start total plus the open slot', () => {
  const { clock, meter } = setup();
  const random = rng(7);
  const ep = meter.endpoint('GET', '/a')!;
  const sent = new Sent();
  traffic(meter, clock, ep, 2000, sent, random);
  assert.ok(ep.unfolded() !== undefined && ep.unfolded()!.count > 0, 'the test leaves data in the open slot');
  assert.ok(ep.total.count > 0 && ep.total.count < sent.count, 'and some folded into the total');
  const c = meter.reader.cumulative(ep);
  assertCounters(c, sent, 'cumulative');
  assert.equal(c.request.max, sent.requestMax);
  assert.equal(c.response.max, sent.responseMax);
  assert.equal(c.latency.count, sent.durations.length);
  assert.equal(
    c.latency.sum,
    sent.durations.reduce((a, b) => a + b, 0),
  );
  assert.equal(c.latency.min, Math.min(...sent.durations));
  assert.equal(c.latency.max, Math.max(...sent.durations));
  assert.equal(c.latency.zeroCount, sent.durations.filter((d) => d === 0).length);
  const all = meter.reader.cumulativeAll();
  assert.equal(all.length, 1);
  assertCounters(all[0], sent, 'cumulativeAll');
  // The status class label of a code is the class the counts put it in.
  for (const [code, n] of c.codes) assert.ok(c.classes[statusClassLabel(code)] >= n);
});

test('deltas: per consumer, independent of each other', () => {
  const { clock, meter } = setup();
  const random = rng(11);
  const ep = meter.endpoint('POST', '/b')!;
  const a = meter.reader.consumer('statsd', { codes: true });
  const b = meter.reader.consumer('otel');
  const first = new Sent();
  traffic(meter, clock, ep, 300, first, random);
  assertCounters(a.read(ep), first, 'a, first read');
  a.commit();
  const second = new Sent();
  traffic(meter, clock, ep, 200, second, random);
  assertCounters(a.read(ep), second, 'a sees only what came after its commit');
  a.commit();
  const both = new Sent();
  traffic(meter, clock, ep, 0, both, random);
  const d = b.read(ep);
  assert.equal(d.count, 500, 'b never committed: everything since start-up');
  assert.equal(d.errorTotal, first.count + second.count - countNoError(first) - countNoError(second));
  assert.equal(a.read(ep).empty, true, 'a is up to date');
  assert.equal(a.read(ep).count, 0);
});

function countNoError(s: Sent): number {
  return s.count - ERROR_TYPES.reduce((n, t) => n + s.errors[t], 0);
}

test('a delta that is not committed is delivered again with what came after it', () => {
  const { clock, meter } = setup();
  const random = rng(5);
  const ep = meter.endpoint('GET', '/c')!;
  const consumer = meter.reader.consumer('statsd', { latencyShift: 2, requestSizeShift: 0, codes: true });
  const first = new Sent();
  traffic(meter, clock, ep, 150, first, random);
  const d1 = consumer.read(ep);
  assertCounters(d1, first, 'first read');
  assert.deepEqual(pairs(d1.latency), buckets(first.durations, LATENCY_SKETCH, 2));
  // The send failed: no commit. More traffic comes in.
  const second = new Sent();
  traffic(meter, clock, ep, 120, second, random);
  const d2 = consumer.read(ep);
  const union = new Sent();
  for (const s of [first, second]) {
    union.count += s.count;
    for (const [code, n] of s.codes) union.codes.set(code, (union.codes.get(code) ?? 0) + n);
    for (const k of STATUS_CLASSES) union.classes[k] += s.classes[k];
    for (const t of ERROR_TYPES) union.errors[t] += s.errors[t];
    union.requestBytes += s.requestBytes;
    union.requestSized += s.requestSized;
    union.responseBytes += s.responseBytes;
    union.durations.push(...s.durations);
    union.requestSizes.push(...s.requestSizes);
  }
  assertCounters(d2, union, 'uncommitted first read included again');
  assert.equal(d2.latency.count, union.durations.length);
  assert.equal(d2.latency.zeroCount, union.durations.filter((v) => v === 0).length);
  assert.equal(
    d2.latency.sum,
    union.durations.reduce((x, y) => x + y, 0),
  );
  assert.equal(d2.latency.scale, LATENCY_SKETCH.scale - 2);
  assert.deepEqual(pairs(d2.latency), buckets(union.durations, LATENCY_SKETCH, 2));
  assert.deepEqual(pairs(d2.requestSize), buckets(union.requestSizes, SIZE_SKETCH, 0));
  assert.equal(d2.responseSize.count, 0, 'response sizes not tracked by this consumer');
  consumer.commit();
  const d3 = consumer.read(ep);
  assert.equal(d3.empty, true, 'committed: nothing left');
  assert.equal(d3.latency.count, 0);
  assert.equal(d3.codes.size, 0);
  const third = new Sent();
  traffic(meter, clock, ep, 40, third, random);
  const d4 = consumer.read(ep);
  assertCounters(d4, third, 'after the commit, only the new data');
  assert.deepEqual(pairs(d4.latency), buckets(third.durations, LATENCY_SKETCH, 2));
});

test('endpoints that appear after a read start from zero', () => {
  const { clock, meter } = setup();
  const random = rng(3);
  const consumer = meter.reader.consumer('otel', { codes: true });
  const a = meter.endpoint('GET', '/a')!;
  traffic(meter, clock, a, 50, new Sent(), random);
  for (const ep of meter.reader.endpoints()) consumer.read(ep);
  consumer.commit();
  const b = meter.endpoint('GET', '/late')!;
  const late = new Sent();
  traffic(meter, clock, b, 70, late, random);
  const seen = new Map<string, number>();
  for (const ep of meter.reader.endpoints()) seen.set(ep.route, consumer.read(ep).count);
  assert.deepEqual(Object.fromEntries(seen), { '/a': 0, '/late': 70 });
  assertCounters(consumer.read(b), late, 'late endpoint');
  assert.equal(meter.reader.cumulativeAll().length, 2, 'the pool grows with the registry');
});

test('detailed mode: auth, rate-limit and database deltas', () => {
  const { meter } = setup({ metricsDetailed: true });
  const ep = meter.endpoint('GET', '/d')!;
  const consumer = meter.reader.consumer('fleet');
  const request = (status: number, auth: number, queries: number, dbMs: number, limited = false) => {
    const ctx = new RequestContext();
    ctx.authType = auth;
    ctx.queries = queries;
    ctx.dbMs = dbMs;
    ctx.rateLimited = limited;
    meter.record(ep, status, 5, -1, 10, ErrorKind.None);
    meter.finishContext(ep, ctx, status, 5);
  };
  request(200, 0, 2, 1.5);
  request(401, 0, 0, 0);
  request(200, -1, 1, 0.25, true);
  const d = consumer.read(ep);
  assert.equal(d.detailed, 3);
  assert.equal(d.authAttempts, 2);
  assert.equal(d.authFailures, 1);
  assert.equal(d.rateLimited, 1);
  assert.equal(d.dbQueries, 3);
  assert.equal(d.dbMs, 1.75);
  // EndpointDetail.auth layout: [type * 2 + (success ? 1 : 0)]; type 0 had one failure, one success.
  assert.equal(d.auth[0], 1);
  assert.equal(d.auth[1], 1);
  assert.equal(
    [...d.auth].reduce((a, b) => a + b, 0),
    2,
  );
  consumer.commit();
  request(429, -1, 0, 0);
  const d2 = consumer.read(ep);
  assert.equal(d2.detailed, 1);
  assert.equal(d2.rateLimited, 1, '429 counts as rate-limited');
  assert.equal(
    [...d2.auth].reduce((a, b) => a + b, 0),
    0,
  );
  const c = meter.reader.cumulative(ep);
  assert.equal(c.detailed, 4);
  assert.equal(c.rateLimited, 2);
});

test('consumers are listed until closed', () => {
  const { meter } = setup();
  const a = meter.reader.consumer('statsd');
  const b = meter.reader.consumer('statsd');
  assert.notEqual(a, b, 'two exporters of one kind get baselines of their own');
  assert.deepEqual(
    meter.reader.consumers().map((c) => c.name),
    ['statsd', 'statsd'],
  );
  a.close();
  assert.deepEqual(meter.reader.consumers(), [b]);
});
