import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_SKETCH, SIZE_SKETCH, Sketch, relativeErrorBound } from '../src/core/sketch.js';
import { datasets, exactQuantile, rng } from './helpers/datasets.js';

const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
const bound = relativeErrorBound(LATENCY_SKETCH);

function sketchOf(values: readonly number[]): Sketch {
  const s = new Sketch(LATENCY_SKETCH);
  for (const v of values) s.record(v);
  return s;
}

test('latency layout keeps the worst-case relative error under 1 %', () => {
  assert.ok(bound < 0.01, `bound ${bound}`);
  assert.ok(Math.abs(bound - 0.0054) < 0.0001);
  // 0.1 ms and 60 s must both be inside the kept index range (not clamped).
  const s = new Sketch(LATENCY_SKETCH);
  assert.ok(s.indexOf(0.1) > LATENCY_SKETCH.minIndex);
  assert.ok(s.indexOf(60_000) < LATENCY_SKETCH.maxIndex);
});

for (const [name, values] of Object.entries(datasets())) {
  test(`quantiles within the bound of exact sorted values: ${name}`, () => {
    const s = sketchOf(values);
    const sorted = [...values].sort((a, b) => a - b);
    assert.equal(s.count, values.length);
    if (values.length === 0) {
      assert.ok(Number.isNaN(s.quantile(0.5)));
      assert.ok(Number.isNaN(s.mean));
      return;
    }
    for (const q of QUANTILES) {
      const exact = exactQuantile(sorted, q);
      const got = s.quantile(q);
      const err = exact === 0 ? got : Math.abs(got - exact) / exact;
      assert.ok(err <= bound * (1 + 1e-9), `${name} q=${q}: got ${got}, exact ${exact}, error ${err}`);
    }
    assert.equal(s.quantile(0), sorted[0]);
    assert.equal(s.quantile(1), sorted[sorted.length - 1]);
    const sum = values.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s.sum - sum) <= 1e-9 * Math.max(1, sum));
  });

  test(`merging shards equals one sketch of all values: ${name}`, () => {
    const r = rng(7);
    const shards = Array.from({ length: 5 }, () => new Sketch(LATENCY_SKETCH));
    for (const v of values) shards[Math.floor(r() * shards.length)].record(v);
    const merged = new Sketch(LATENCY_SKETCH);
    for (const shard of shards) merged.merge(shard);
    const whole = sketchOf(values);
    const a = merged.toJSON();
    const b = whole.toJSON();
    assert.deepEqual({ ...a, sum: 0 }, { ...b, sum: 0 });
    assert.ok(Math.abs(a.sum - b.sum) <= 1e-9 * Math.max(1, b.sum));
    for (const q of QUANTILES) {
      const x = merged.quantile(q);
      const y = whole.quantile(q);
      assert.ok(x === y || (Number.isNaN(x) && Number.isNaN(y)), `q=${q}: ${x} vs ${y}`);
    }
  });
}

test('merge is commutative and order of merging does not matter', () => {
  const { lognormal, heavyTail } = datasets();
  const ab = sketchOf(lognormal).merge(sketchOf(heavyTail));
  const ba = sketchOf(heavyTail).merge(sketchOf(lognormal));
  assert.deepEqual({ ...ab.toJSON(), sum: 0 }, { ...ba.toJSON(), sum: 0 });
});

test('toJSON/fromJSON round-trips exactly', () => {
  for (const values of Object.values(datasets())) {
    const s = sketchOf(values);
    const back = Sketch.fromJSON(JSON.parse(JSON.stringify(s.toJSON())), LATENCY_SKETCH);
    assert.deepEqual(back.toJSON(), s.toJSON());
    for (const q of QUANTILES) assert.ok(Object.is(back.quantile(q), s.quantile(q)));
  }
});

test('fromJSON refuses another scale; merge refuses another scale', () => {
  const s = sketchOf([1, 2, 3]);
  assert.throws(() => Sketch.fromJSON(s.toJSON(), SIZE_SKETCH), { code: 'APIMETER_ERR_SKETCH_LAYOUT' });
  assert.throws(() => new Sketch(SIZE_SKETCH).merge(s), { code: 'APIMETER_ERR_SKETCH_LAYOUT' });
});

test('memory is bounded by the layout whatever is recorded', () => {
  const s = new Sketch(LATENCY_SKETCH);
  const r = rng(3);
  for (let i = 0; i < 200_000; i++) s.record(Math.pow(10, -6 + 18 * r())); // 1 ns .. 10^12 ms
  const maxBuckets = LATENCY_SKETCH.maxIndex - LATENCY_SKETCH.minIndex + 1;
  assert.ok(s.storedBuckets <= maxBuckets, `${s.storedBuckets} > ${maxBuckets}`);
  assert.equal(s.count, 200_000);
  // Out-of-range values are clamped to edge buckets but min and max stay exact.
  assert.ok(s.min < 1e-5 && s.max > 1e11);
});

test('a quiet sketch stays sparse and small', () => {
  const s = sketchOf([5, 6, 7, 8, 500, 900]);
  assert.equal(s.storedBuckets, 6);
});

test('NaN is ignored, negatives and zero count as zero', () => {
  const s = new Sketch(LATENCY_SKETCH);
  s.record(NaN);
  s.record(-5);
  s.record(0);
  s.record(10);
  assert.equal(s.count, 3);
  assert.equal(s.zeroCount, 2);
  assert.equal(s.quantile(0.5), 0);
  assert.ok(Math.abs(s.quantile(1) - 10) < 1e-12);
});

test('reset empties the sketch for reuse', () => {
  const s = sketchOf(datasets().lognormal);
  s.reset();
  assert.equal(s.count, 0);
  assert.ok(Number.isNaN(s.quantile(0.5)));
  s.record(3);
  assert.ok(Math.abs(s.quantile(0.5) - 3) / 3 <= bound);
});

test('dense counts past 2^32 and fractional counts stay exact (merge, JSON, growth)', () => {
  // Dense storage holds uint32 counts and widens itself when a count leaves that range.
  const wide = 2 ** 32 + 5;
  const counts = Array.from({ length: 60 }, (_, i) => (i === 10 ? wide : i === 20 ? 2.5 : i + 1));
  const json = { scale: 6, count: 0, sum: 1000, min: 1, max: 100, zeroCount: 0, offset: 100, counts };
  json.count = counts.reduce((a, b) => a + b, 0);
  const s = Sketch.fromJSON(json, LATENCY_SKETCH);
  assert.deepEqual(s.toJSON().counts, counts);
  const dense = sketchOf(Array.from({ length: 60 }, (_, i) => Math.pow(2, (100 + i + 0.5) / 64)));
  assert.equal(dense.storedBuckets >= 49, true); // dense mode
  const merged = new Sketch(LATENCY_SKETCH).merge(dense).merge(s).merge(s);
  const expected = counts.map((n) => 2 * n + 1);
  assert.deepEqual(merged.toJSON().counts, expected);
  // A uint32 count that overflows by increments, and growth of a widened array.
  const hot = Sketch.fromJSON({ ...json, counts: counts.map((_, i) => (i === 0 ? 2 ** 32 - 1 : 1)) }, LATENCY_SKETCH);
  hot.record(Math.pow(2, (100 + 0.5) / 64));
  hot.record(Math.pow(2, (300 + 0.5) / 64));
  const back = hot.toJSON();
  assert.equal(back.counts[0], 2 ** 32);
  assert.equal(back.offset + back.counts.length - 1, 300);
  assert.equal(back.counts[back.counts.length - 1], 1);
});

test('dense counts past 65,535 in one bucket stay exact (uint16 storage widens by increments and merges)', () => {
  // Dense storage starts with 2-byte counts; one bucket passing 2^16 − 1 widens it.
  const spread = Array.from({ length: 60 }, (_, i) => Math.pow(2, (100 + i + 0.5) / 64));
  const s = sketchOf(spread);
  assert.equal(s.storedBuckets >= 49, true); // dense mode
  const hot = spread[7];
  for (let i = 0; i < 70_000; i++) s.record(hot);
  const counts = s.toJSON().counts;
  assert.equal(counts[7], 70_001);
  assert.equal(counts[8], 1);
  const merged = new Sketch(LATENCY_SKETCH).merge(sketchOf(spread)).merge(s).merge(s);
  assert.equal(merged.toJSON().counts[7], 140_003);
  assert.equal(merged.count, 60 + 2 * (60 + 70_000));
  assert.equal(Sketch.fromJSON(merged.toJSON(), LATENCY_SKETCH).toJSON().counts[7], 140_003);
});
