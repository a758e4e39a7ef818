import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { F, Tally } from '../src/core/tally.js';
import { addRequest, fixtureTallies } from './contracts/store.contract.js';
import { datasets, exactQuantile } from './helpers/datasets.js';

const roundTrip = (t: Tally) => Tally.fromJSON(JSON.parse(JSON.stringify(t.toJSON())));

for (const [name, values] of Object.entries(datasets())) {
  test(`Tally JSON: merging deserialized tallies equals merging the originals (${name})`, () => {
    const parts = [new Tally(), new Tally(), new Tally()];
    values.forEach((v, i) => addRequest(parts[i % 3], i % 7 === 0 ? 503 : i % 5 === 0 ? 404 : 200, v, i, 2 * i));
    const direct = new Tally();
    const viaJson = new Tally();
    for (const p of parts) {
      direct.merge(p);
      viaJson.merge(roundTrip(p));
    }
    assert.deepEqual(viaJson.toJSON(), direct.toJSON());
    assert.deepEqual(viaJson.statusCodes(), direct.statusCodes());
    assert.equal(viaJson.count, values.length);
    if (values.length > 0) {
      // Against an independent computation too, not only the code's own output.
      const sorted = [...values].filter((v) => v > 0).sort((a, b) => a - b);
      const bound = relativeErrorBound(LATENCY_SKETCH);
      if (sorted.length === values.length) {
        const p95 = exactQuantile(sorted, 0.95);
        assert.ok(Math.abs(viaJson.latency.quantile(0.95) - p95) <= bound * p95 + 1e-9);
      }
      assert.equal(viaJson.c[F.responseBytesMax], 2 * (values.length - 1));
    }
  });
}

test('Tally JSON: an empty tally round-trips; malformed data is refused', () => {
  const empty = roundTrip(new Tally());
  assert.equal(empty.count, 0);
  assert.ok(Number.isNaN(empty.latency.quantile(0.5)));
  assert.deepEqual(empty.toJSON(), new Tally().toJSON());
  assert.throws(() => Tally.fromJSON({ c: [1], codes: [200], latency: new Tally().toJSON().latency }), TypeError);
  assert.throws(
    () => Tally.fromJSON({ c: new Array(99).fill(0), codes: [], latency: new Tally().toJSON().latency }),
    TypeError,
  );
});

// Closed ring slots are kept frozen (Tally.freeze): reading or re-freezing them must give exactly the
// tally that was frozen, merged as Tally.merge would.
const sameTally = (a: Tally, b: Tally) => {
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.deepEqual(a.statusCodes(), b.statusCodes());
  assert.equal(a.latency.count, b.latency.count);
  assert.equal(a.latency.zeroCount, b.latency.zeroCount);
  assert.equal(a.latency.min, b.latency.min);
  assert.equal(a.latency.max, b.latency.max);
};

for (const [name, values] of Object.entries(datasets())) {
  test(`frozen tallies thaw, merge and re-freeze exactly (${name})`, () => {
    const { a, b, sparse } = fixtureTallies(values);
    for (const t of [a, b, sparse, new Tally()]) sameTally(Tally.thaw(t.freeze(9)), new Tally().merge(t));
    assert.equal(Tally.thaw(a.freeze(123_456_789)).start, 123_456_789);
    for (const [x, y] of [
      [a, b],
      [b, a],
      [sparse, a],
      [a, sparse],
      [new Tally(), a],
      [a, new Tally()],
    ]) {
      const expected = Tally.thaw(x.freeze()).merge(y);
      const refrozen = Tally.thaw(y.freezeMerged(x.freeze(), 5));
      sameTally(refrozen, expected);
      assert.equal(refrozen.start, 5);
      sameTally(new Tally().mergeFrozen(x.freeze()).mergeFrozen(y.freeze()), new Tally().merge(x).merge(y));
    }
  });
}

test('frozen tallies keep odd status codes and huge bucket counts exactly', () => {
  const t = new Tally();
  for (const status of [200, 0, 999, 1234, 200.5, -1]) addRequest(t, status, 5, -1, -1);
  const big = Tally.fromJSON({
    c: [2 ** 45],
    codes: [200, 2 ** 45],
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
  for (const x of [t, big]) sameTally(Tally.thaw(x.freeze()), new Tally().merge(x));
  sameTally(Tally.thaw(big.freezeMerged(t.freeze(), 0)), Tally.thaw(t.freeze()).merge(big));
});

// History reads add each stored row's JSON into its group's tally (Tally.mergeJSON) instead of decoding
// it first: the result must be the one merging decoded tallies gives, and the counts those we added.
for (const [name, values] of Object.entries(datasets())) {
  test(`Tally.mergeJSON equals merging decoded tallies (${name})`, () => {
    const parts = [new Tally(), new Tally(), new Tally(), new Tally()];
    let errors = 0;
    values.forEach((v, i) => {
      const status = i % 7 === 0 ? 503 : i % 5 === 0 ? 404 : 200;
      if (status === 503) errors++;
      addRequest(parts[i % 4], status, v, i, 2 * i);
    });
    const json = parts.map((p) => JSON.parse(JSON.stringify(p.toJSON())));
    const decoded = new Tally();
    for (const j of json) decoded.merge(Tally.fromJSON(j));
    const viaJson = Tally.fromJSON(json[0]);
    for (const j of json.slice(1)) viaJson.mergeJSON(j);
    const intoEmpty = new Tally();
    for (const j of json) intoEmpty.mergeJSON(j);
    for (const t of [viaJson, intoEmpty]) {
      sameTally(t, decoded);
      assert.equal(t.latency.sum, decoded.latency.sum);
      assert.equal(t.count, values.length);
      assert.equal(t.statusCodes().get(503) ?? 0, errors);
      if (values.length > 0) assert.equal(t.c[F.responseBytesMax], 2 * (values.length - 1));
    }
  });
}

test('Tally.mergeJSON refuses malformed data and sketches of another scale', () => {
  const latency = new Tally().toJSON().latency;
  assert.throws(() => new Tally().mergeJSON({ c: [1], codes: [200], latency }), TypeError);
  assert.throws(() => new Tally().mergeJSON({ c: new Array(99).fill(0), codes: [], latency }), TypeError);
  assert.throws(() => new Tally().mergeJSON({ c: [1], codes: [200, 1], latency: { ...latency, scale: 99 } }), {
    code: 'APIMETER_ERR_SKETCH_LAYOUT',
  });
});
