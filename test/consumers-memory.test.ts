import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ConsumerTracker, SpaceSaving } from '../src/core/consumers.js';
import { createMeter } from '../src/core/meter.js';
import { zipfStream } from './helpers/zipf.js';

const run = promisify(execFile);

test('1,000,000 distinct consumers: the heap stays within the stated bound (child process, after GC)', async () => {
  const child = new URL('./helpers/consumers-memory-child.ts', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', child, '1000000'], {
    maxBuffer: 1 << 20,
    timeout: 300_000,
  });
  const r = JSON.parse(stdout.trim()) as {
    bound: number;
    marks: Record<string, number>;
    listed: number;
    total: number;
  };
  assert.equal(r.total, 1_000_000);
  assert.equal(r.listed, 100);
  // Everything the meter and its consumers hold after a million distinct ids, within the bound.
  assert.ok(r.marks['1000000'] <= r.bound, `heap grew ${r.marks['1000000']} B, bound ${r.bound} B`);
  // Not growing with distinct ids: 100k → 1M adds less than a tenth of the bound.
  const growth = r.marks['1000000'] - r.marks['100000'];
  assert.ok(growth < r.bound / 10, `heap grew ${growth} B between 100k and 1M distinct ids (bound ${r.bound} B)`);
});

test('Space-Saving on Zipf streams: every count within [true, true + error], error <= N/k, heavy hitters kept', () => {
  for (const [s, k, distinct] of [
    [1.1, 20, 5000],
    [0.8, 20, 2000],
    [1.5, 100, 100000],
    [1.0, 5, 50],
  ] as const) {
    const table = new SpaceSaving(k);
    const exact = new Map<string, number>();
    let n = 0;
    for (const id of zipfStream(s, distinct, 50_000, 7)) {
      table.offer(id);
      exact.set(id, (exact.get(id) ?? 0) + 1);
      n++;
    }
    assert.equal(table.total, n);
    for (let i = 0; i < table.size; i++) {
      const truth = exact.get(table.ids[i]) ?? 0;
      assert.ok(table.counts[i] - table.errors[i] <= truth, `lower bound for ${table.ids[i]}`);
      assert.ok(truth <= table.counts[i], `upper bound for ${table.ids[i]}`);
      assert.ok(table.errors[i] <= n / k, 'error within N/k');
    }
    for (const [id, c] of exact) if (c > n / k) assert.ok(table.indexOf(id) >= 0, `${id} (${c} > N/k) kept`);
  }
});

test('Space-Saving edge cases: empty, one id, k = 1', () => {
  const empty = new SpaceSaving(3);
  assert.equal(empty.minCount(), 0);
  assert.deepEqual(empty.ranked(), []);
  const one = new SpaceSaving(3);
  for (let i = 0; i < 10; i++) one.offer('a');
  assert.deepEqual([one.size, one.counts[0], one.errors[0]], [1, 10, 0]);
  const single = new SpaceSaving(1);
  single.offer('a');
  single.offer('b');
  assert.deepEqual([single.ids[0], single.counts[0], single.errors[0], single.evicted], ['b', 2, 1, 'a']);
  assert.throws(() => new SpaceSaving(0), RangeError);
});

test('ConsumerTracker.drain: per-interval deltas equal what was recorded in between; the rest is other', () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const a = meter.endpoint('GET', '/a')!;
  const b = meter.endpoint('GET', '/b')!;
  meter.record(a, 200, 1, -1, -1, 0);
  meter.record(b, 200, 1, -1, -1, 0);
  const t = new ConsumerTracker({ top: 2, endpointTop: 2, maxEndpoints: 10, maxIdLength: 32 });
  for (let i = 0; i < 5; i++) t.record(a, 'x', 200, 10, false);
  t.record(b, 'x', 503, 20, false);
  for (let i = 0; i < 3; i++) t.record(a, 'y', 404, 5, false);
  const first = t.drain();
  assert.equal(first.requests, 9);
  assert.equal(first.other, 0);
  const x = first.consumers.find((c) => c.id === 'x')!;
  assert.deepEqual([x.requests, x.errors, x.serverErrors, x.latency.count], [6, 1, 1, 6]);
  assert.deepEqual(
    [...x.endpoints],
    [
      [a.id, [5, 0]],
      [b.id, [1, 1]],
    ],
  );
  // Second interval: x twice more; z arrives with K = 2 full and takes y's counter (y had 3).
  t.record(a, 'x', 200, 10, false);
  t.record(a, 'x', 200, 10, false);
  t.record(b, 'z', 200, 10, false);
  const second = t.drain();
  assert.equal(second.requests, 3);
  assert.deepEqual(
    second.consumers.map((c) => [c.id, c.requests, [...c.endpoints]]),
    [
      ['x', 2, [[a.id, [2, 0]]]],
      ['z', 1, [[b.id, [1, 0]]]],
    ],
  );
  assert.equal(second.other, 0);
  assert.deepEqual(t.drain(), { consumers: [], other: 0, requests: 0 });
});

test("the meter's latency bucket, shifted by 2, is the consumer sketch's bucket: the tracker reuses it", async () => {
  const { LATENCY_SKETCH, Sketch } = await import('../src/core/sketch.js');
  const { CONSUMER_LATENCY_SKETCH } = await import('../src/core/consumers.js');
  const fine = new Sketch(LATENCY_SKETCH);
  const coarse = new Sketch(CONSUMER_LATENCY_SKETCH);
  const values: number[] = [];
  // Bucket boundaries of both layouts and their neighbours, the ends of both ranges and beyond them,
  // and a log-uniform sweep from 1 ns to 10 days.
  for (let i = LATENCY_SKETCH.minIndex - 8; i <= LATENCY_SKETCH.maxIndex + 8; i++) {
    const edge = 2 ** ((i + 1) / 2 ** LATENCY_SKETCH.scale);
    values.push(edge, edge * (1 + 1e-12), edge * (1 - 1e-12));
  }
  for (let k = 0; k < 100_000; k++) values.push(10 ** (-6 + (15 * k) / 100_000));
  let mismatches = 0;
  for (const v of values) if (fine.indexOf(v) >> 2 !== coarse.indexOf(v)) mismatches++;
  assert.equal(mismatches, 0, `${mismatches} of ${values.length} durations differ`);

  // Through the meter and noteConsumer, as an adapter records: the consumer's sketch holds the same
  // buckets as one fed the durations directly.
  const { noteConsumer } = await import('../src/core/consumers.js');
  const { ErrorKind } = await import('../src/core/record.js');
  const meter = createMeter({ iniPath: false, env: {}, metricsConsumers: true, metricsConsumerHeader: 'x-client-id' });
  const ep = meter.endpoint('GET', '/a')!;
  const direct = new Sketch(CONSUMER_LATENCY_SKETCH);
  for (const v of values.slice(0, 5000)) {
    meter.record(ep, 200, v, -1, -1, ErrorKind.None);
    noteConsumer(meter, ep, null, null, { 'x-client-id': 'acme' }, 200, v, ErrorKind.None);
    direct.record(v);
  }
  const seen = meter.consumers!.tracker.get('acme')!.latency;
  const buckets = (s: InstanceType<typeof Sketch>) => {
    const out: [number, number][] = [];
    s.forEachBucket((i, n) => out.push([i, n]));
    return out;
  };
  assert.equal(seen.count, 5000);
  assert.deepEqual(buckets(seen), buckets(direct));
});

// K = 8: a handful of cells per table; K = 3,000: cells grow by doubling well past their first size.
for (const top of [8, 3000])
  test(`churn (K = ${top}): every endpoint table matches a reference Space-Saving, and each counter sketch holds only its holder`, () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const eps = Array.from({ length: 5 }, (_, i) => meter.endpoint('GET', `/c${i}/{id}`)!);
    const tracker = new ConsumerTracker({ top, endpointTop: 4, maxEndpoints: 100, maxIdLength: 64 });
    const reference = eps.map(() => new SpaceSaving(4));
    const ids = [...zipfStream(1.1, 300, 5000, 3)];
    const exact = new Map<string, { n: number; sum: number }>();
    // Per id: endpoint id → [requests, errors] since the current holder took its overall counter.
    const pairs = new Map<string, Map<number, [number, number]>>();
    ids.forEach((id, n) => {
      const e = (n * 7) % eps.length;
      const d = 1 + ((n * 13) % 97);
      const status = n % 11 === 0 ? 503 : 200;
      // What the current holder of id's overall counter saw since it took the counter.
      if (tracker.overall.indexOf(id) < 0) {
        exact.set(id, { n: 0, sum: 0 });
        pairs.set(id, new Map());
      }
      tracker.record(eps[e], id, status, d, false);
      reference[e].offer(id);
      const x = exact.get(id) ?? { n: 0, sum: 0 };
      exact.set(id, { n: x.n + 1, sum: x.sum + d });
      const p = pairs.get(id)!.get(eps[e].id) ?? [0, 0];
      pairs.get(id)!.set(eps[e].id, [p[0] + 1, p[1] + (status >= 400 ? 1 : 0)]);
    });
    eps.forEach((ep, e) => {
      const ref = reference[e];
      const want = ref.ranked().map((j) => ({ id: ref.ids[j], requests: ref.counts[j], errorBound: ref.errors[j] }));
      assert.deepEqual(tracker.topOf(ep, 4), want, `endpoint ${e}`);
      assert.equal(tracker.endpointTotals(ep).requests, ref.total);
      assert.equal(tracker.endpointTotals(ep).unlistedBound, ref.minCount());
    });
    for (const f of tracker.list()) {
      let inBuckets = 0;
      f.latency.forEachBucket((_, c) => (inBuckets += c));
      // Buckets of an evicted holder would show up here as counts beyond the holder's own requests.
      assert.equal(inBuckets, f.tracked, f.id);
      assert.equal(f.latency.count, f.tracked, f.id);
      assert.equal(f.latency.sum, exact.get(f.id)!.sum, f.id);
      // Per endpoint: exact for the holder, whether or not it kept its counter in the endpoint's table.
      const byEndpoint = (m: Map<number, [number, number]>) => [...m].sort((a, b) => a[0] - b[0]);
      assert.deepEqual(byEndpoint(f.endpoints), byEndpoint(pairs.get(f.id)!), f.id);
    }
  });

test('a consumer that lost its overall counter and took one again keeps its endpoint counter, and its figures there restart', () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const [e, f] = [meter.endpoint('GET', '/e')!, meter.endpoint('GET', '/f')!];
  const tracker = new ConsumerTracker({ top: 1, endpointTop: 2, maxEndpoints: 10, maxIdLength: 32 });
  tracker.record(e, 'acme', 200, 1, false);
  tracker.record(e, 'acme', 500, 1, false);
  tracker.record(f, 'bravo', 200, 1, false); // bravo takes the only overall counter from acme
  tracker.record(e, 'acme', 404, 1, false); // and acme takes it back: found by id on /e, not inserted twice
  assert.deepEqual(tracker.topOf(e, 2), [{ id: 'acme', requests: 3, errorBound: 0 }]);
  assert.deepEqual(tracker.topOf(f, 2), [{ id: 'bravo', requests: 1, errorBound: 0 }]);
  const acme = tracker.get('acme')!;
  assert.deepEqual([...acme.endpoints], [[(e.redirect ?? e).id, [1, 1]]]);
  assert.equal(tracker.get('bravo'), undefined);
});
