import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { packEnd, packLength, Unpacker } from '../src/core/pack.js';
import { ErrorKind } from '../src/core/record.js';
import { slotEntryCount, Tally } from '../src/core/tally.js';
import { addRequest, fixtureTallies } from './contracts/store.contract.js';
import { datasets, rng } from './helpers/datasets.js';

// Closed ring slots are kept in the slot codec (Tally.packSlot, in memory only): reading or re-packing
// them must give exactly the tally that was packed, merged as Tally.merge would.

/** `t` in the slot codec, as a reader positioned at its first byte (a fresh one per call). */
function packed(t: Tally): Unpacker {
  t.packSlot();
  return new Unpacker().resetText(packEnd());
}

function packedMerged(t: Tally, held: Unpacker): Unpacker {
  t.packSlotMerged(held);
  return new Unpacker().resetText(packEnd());
}

const thaw = (r: Unpacker) => Tally.thawSlot(r, -1);

const sameTally = (a: Tally, b: Tally) => {
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.deepEqual(a.statusCodes(), b.statusCodes());
  assert.equal(a.latency.count, b.latency.count);
  assert.equal(a.latency.zeroCount, b.latency.zeroCount);
  assert.ok(Object.is(a.latency.min, b.latency.min), `min ${a.latency.min} vs ${b.latency.min}`);
  assert.ok(Object.is(a.latency.max, b.latency.max), `max ${a.latency.max} vs ${b.latency.max}`);
  assert.ok(Object.is(a.latency.sum, b.latency.sum), `sum ${a.latency.sum} vs ${b.latency.sum}`);
};

for (const [name, values] of Object.entries(datasets())) {
  test(`slot codec: tallies thaw, merge and re-pack exactly (${name})`, () => {
    const { a, b, sparse } = fixtureTallies(values);
    for (const t of [a, b, sparse, new Tally()]) {
      sameTally(thaw(packed(t)), new Tally().merge(t));
      assert.equal(slotEntryCount(packed(t)), t.count);
    }
    assert.equal(Tally.thawSlot(packed(a), 123_456_789).start, 123_456_789);
    for (const [x, y] of [
      [a, b],
      [b, a],
      [sparse, a],
      [a, sparse],
      [new Tally(), a],
      [a, new Tally()],
    ]) {
      const expected = thaw(packed(x)).merge(y);
      sameTally(thaw(packedMerged(y, packed(x))), expected);
      sameTally(new Tally().mergeSlot(packed(x)).mergeSlot(packed(y)), new Tally().merge(x).merge(y));
    }
  });
}

test('slot codec: odd codes, counters that disagree with the codes, unknown sizes and odd latencies stay exact', () => {
  const t = new Tally();
  for (const status of [200, 0, 999, 1234, 200.5, -1, 429, 499, 100, 599]) addRequest(t, status, 5, -1, -1);
  // Counters of a foreign row: classes that the codes do not sum to, sized above count, a fractional size count.
  const foreign = Tally.fromJSON({
    c: [2 ** 45, 3, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0.5, 1e20, 2 ** 46, 0.25],
    codes: [200, 2 ** 45, 302, 1.5],
    latency: {
      scale: 6,
      count: 2 ** 45,
      sum: 1e20,
      min: 1,
      max: 1e6,
      zeroCount: 2 ** 44,
      offset: 0,
      counts: [2 ** 44],
    },
  });
  // Latencies: only zeros; negative and non-finite extremes (a merged foreign sketch); clamped values.
  const zeros = new Tally();
  for (let i = 0; i < 5; i++) addRequest(zeros, 204, 0, 0, 0);
  const extremes = Tally.fromJSON({
    c: [3],
    codes: [200, 3],
    latency: { scale: 6, count: 3, sum: -0.5, min: -2, max: Infinity, zeroCount: 1, offset: 10, counts: [2] },
  });
  const clamped = new Tally();
  for (const d of [1e-9, 5e-4, 1e9, 2 ** 30]) addRequest(clamped, 200, d, 1, 1);
  // The request count differs from the latency count (unsampled requests).
  const unsampled = new Tally();
  unsampled.add(200, 2, -1, 12, NaN, 5, 5);
  addRequest(unsampled, 200, 3.25, 5, 5);
  for (const x of [t, foreign, zeros, extremes, clamped, unsampled]) {
    sameTally(thaw(packed(x)), new Tally().merge(x));
    for (const y of [t, foreign, zeros, extremes, clamped, unsampled]) {
      sameTally(thaw(packedMerged(y, packed(x))), thaw(packed(x)).merge(y));
    }
  }
});

test('slot codec: min and max anywhere in their bucket round-trip exactly, in six bytes', () => {
  const random = rng(5);
  for (let k = 0; k < 2_000; k++) {
    const t = new Tally();
    // Log-uniform over the latency layout, bucket edges included (Math.log2 rounding can put a value in
    // the bucket next to its own: such a value is written whole, still exactly).
    const lo = 2 ** (random() * 34 - 10);
    const hi = lo * (1 + random() * 3);
    for (const d of [lo, hi, 2 ** Math.round(Math.log2(lo) * 64) / 64, (lo + hi) / 2]) addRequest(t, 200, d, 0, 0);
    sameTally(thaw(packed(t)), new Tally().merge(t));
  }
  // A slot of one request at 12.345… ms: count, mask, size and max (2 each), codes (2), flags, sum (8),
  // buckets (3), min and max (6 each): 32 bytes, where the frozen form takes 48.
  const one = new Tally();
  addRequest(one, 200, 12.3456789, 0, 512);
  one.packSlot();
  assert.ok(packLength() <= 32, `${packLength()} bytes`);
});

test('ring windows after idle gaps of any length (a ring place holds only its window slot) and a clock stepped back', () => {
  const clock = new ManualClock(1_700_000_000_000);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const ep = meter.endpoint('GET', '/gaps')!;
  const random = rng(11);
  const recorded: number[] = [];
  // Gaps of 0 to 130 fine slots, and exact multiples of both ring lengths (7, 61 minutes, 256).
  const gaps = [0, 1, 5, 6, 7, 8, 13, 14, 36, 61 * 6, 61 * 6 + 1, 256, 7 * 61 * 6, 130];
  for (let step = 0; step < 400; step++) {
    const gap = step % 3 === 0 ? gaps[step % gaps.length] : Math.floor(random() * 4);
    clock.advance(gap * 10_000 + Math.floor(random() * 9_000));
    if (step === 200) clock.advance(-3 * 3_600_000); // stepped back three hours
    const n = 1 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) {
      meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
      recorded.push(clock.now());
    }
    // After the step back, windows count only what was recorded since (the ring starts again there).
    const since = step >= 200 ? recorded.findIndex((t, i) => i > 0 && t < recorded[i - 1]) : 0;
    const now = clock.now();
    const fine = Math.floor(now / 10_000);
    const minute = Math.floor(now / 60_000);
    const inWindow = (lo: number, hi: number, ms: number) =>
      recorded.slice(Math.max(0, since)).filter((t) => Math.floor(t / ms) > lo && Math.floor(t / ms) <= hi).length;
    const s = (w: '1m' | '5m' | '1h') => meter.endpointSnapshot('GET', '/gaps', w)!.count;
    assert.equal(s('1m'), inWindow(fine - 6, fine, 10_000), `1m at step ${step}`);
    assert.equal(s('5m'), inWindow(minute - 5, minute, 60_000), `5m at step ${step}`);
    assert.equal(s('1h'), inWindow(minute - 60, minute, 60_000), `1h at step ${step}`);
  }
});
