import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { F, Tally } from '../src/core/tally.js';
import { addRequest } from './contracts/store.contract.js';
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
