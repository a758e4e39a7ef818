/**
 * Per-status latency sketches (src/core/status-latency.ts) as the reader hands them out: the primary
 * (first 2xx) code derived from the endpoint's own sketch must equal, bucket for bucket, a sketch fed
 * directly; the other codes are stored; deltas per code add up across commits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { ABORTED_KEY } from '../src/core/status-latency.js';

const buckets = (s: { forEachBucket(fn: (i: number, n: number) => void): void }) => {
  const out: number[] = [];
  s.forEachBucket((i, n) => out.push(i, n));
  return out;
};

test('derived primary code and stored codes equal directly fed sketches, across fine slots and both orders', () => {
  const clock = new ManualClock();
  const m = createMeter({ iniPath: false, env: {}, clock, otelOn: true });
  const ep = m.endpoint('GET', '/mixed')!;
  const truth = new Map<number, Sketch>();
  let seed = 3;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const codes = [404, 200, 200, 200, 503, 200, 201, 200, 500];
  for (let i = 0; i < 5000; i++) {
    const code = codes[Math.floor(rnd() * codes.length)];
    const aborted = rnd() < 0.01;
    const ms = rnd() < 0.02 ? 0 : 0.2 * 10_000 ** rnd();
    m.record(ep, code, ms, -1, -1, aborted ? ErrorKind.Aborted : ErrorKind.None);
    const key = aborted ? ABORTED_KEY : code;
    if (!truth.has(key)) truth.set(key, new Sketch(LATENCY_SKETCH));
    truth.get(key)!.record(ms);
    if (i % 700 === 0) clock.advance(10_000); // folds slots into the total on the way
    if (i % 1000 === 0) {
      // A rare code: stays in the compact cells (few distinct buckets), zero durations included.
      const ms = i === 0 ? 0 : 3 + i / 1000;
      m.record(ep, 418, ms, -1, -1, ErrorKind.None);
      if (!truth.has(418)) truth.set(418, new Sketch(LATENCY_SKETCH));
      truth.get(418)!.record(ms);
    }
  }
  const got = m.reader.byStatus(ep)!;
  assert.equal(m.reader.statusLatency!.derivePrimary, true);
  assert.deepEqual(
    [...got.keys].sort((a, b) => a - b),
    [...truth.keys()].sort((a, b) => a - b),
  );
  got.keys.forEach((key, i) => {
    const s = got.sketches[i];
    const t = truth.get(key)!;
    assert.deepEqual(buckets(s), buckets(t), `buckets of ${key}`);
    assert.deepEqual([s.count, s.zeroCount, s.min, s.max], [t.count, t.zeroCount, t.min, t.max], `${key}`);
    assert.ok(Math.abs(s.sum - t.sum) < 1e-6 * t.sum, `sum of ${key}`);
  });
  // The first request was a 404, yet 200 (the first 2xx) is the derived one: only the others are stored.
  const stats = m.reader.statusLatency!.stats();
  assert.equal(stats.sketches + stats.compact, truth.size - 1);
  assert.ok(stats.compact >= 1 && stats.sketches >= 1, JSON.stringify(stats));
});

test('per-status deltas: each commit moves every code baseline, the derived one included', () => {
  const m = createMeter({ iniPath: false, env: {}, otelOn: true });
  const ep = m.endpoint('POST', '/jobs')!;
  const c = m.reader.consumer('t', { byStatus: true });
  for (let i = 0; i < 10; i++) m.record(ep, 201, 5, -1, -1, ErrorKind.None);
  m.record(ep, 500, 50, -1, -1, ErrorKind.None);
  let d = c.read(ep);
  assert.deepEqual(
    d.statusKeys.map((k, i) => [k, d.byStatus[i].count]),
    [
      [201, 10],
      [500, 1],
    ],
  );
  c.commit();
  for (let i = 0; i < 3; i++) m.record(ep, 201, 7, -1, -1, ErrorKind.None);
  d = c.read(ep);
  assert.deepEqual(
    d.statusKeys.map((k, i) => [k, d.byStatus[i].count]),
    [
      [201, 3],
      [500, 0],
    ],
  );
  // Not committed: the next read includes the same three again.
  d = c.read(ep);
  assert.equal(d.byStatus[0].count, 3);
});

test('tracking that starts after traffic stores every code (nothing to derive from) and counts from then on', () => {
  const m = createMeter({ iniPath: false, env: {} });
  const ep = m.endpoint('GET', '/late')!;
  m.record(ep, 200, 5, -1, -1, ErrorKind.None);
  const table = m.reader.trackStatusLatency(m.clock.now());
  assert.equal(table.derivePrimary, false);
  m.record(ep, 200, 9, -1, -1, ErrorKind.None);
  const got = m.reader.byStatus(ep)!;
  assert.deepEqual([got.keys, got.sketches.map((s) => s.count)], [[200], [1]]);
});
