import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthJson } from '../src/api/index.js';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';

const P = '/api/v2/metrics';
const HOUR = 3_600_000;

// Durations and whether the test expects each outside the sketch's (2^-10, 2^24] ms, written out here.
const DURATIONS: [number, boolean][] = [
  [0.0001, true], // 0.1 µs
  [2 ** -10, true], // the range's open lower end
  [0.000977, false], // just above 2^-10 = 0.0009765625
  [0.001, false], // 1 µs
  [12.5, false],
  [4 * HOUR, false],
  [2 ** 24, false], // the range's closed upper end (4.66 h)
  [5 * HOUR, true],
  [30 * 24 * HOUR, true],
  [0, false], // zero bucket, not clamped
];

test('durations outside the latency sketch range are counted per endpoint and in /health', async () => {
  const meter = createMeter({ iniPath: false, env: {}, clock: new ManualClock(1_700_000_000_000) });
  const a = meter.endpoint('GET', '/a')!;
  const b = meter.endpoint('GET', '/b')!;
  for (const [ms] of DURATIONS) meter.record(a, 200, ms, -1, -1, ErrorKind.None);
  for (let i = 0; i < 3; i++) meter.record(b, 200, 6 * HOUR, -1, -1, ErrorKind.None);
  meter.record(b, 200, 40, -1, -1, ErrorKind.None);
  const expectedA = DURATIONS.filter(([, out]) => out).length;
  assert.equal(expectedA, 4);
  assert.equal(a.latencyClamped, expectedA);
  assert.equal(b.latencyClamped, 3);
  assert.equal(meter.registry.latencyClamped, expectedA + 3);
  // Counted, and still recorded: every request is in the sketch, min and max exact.
  const total = meter.reader.cumulative(a).latency;
  assert.equal(total.count, DURATIONS.length);
  assert.equal(total.max, 30 * 24 * HOUR);

  const served = await serveApi({ meter });
  try {
    const validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
    const res = await get<HealthJson>(`${served.base}${P}/health`);
    validate('Health', res.json);
    assert.equal(res.json.meter.latency_clamped, expectedA + 3);
  } finally {
    await served.close();
  }
});

test('unsampled requests are not counted as clamped (the sketch never sees them)', () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsSampleRate: 0.5, random: () => 0.9 });
  const ep = meter.endpoint('GET', '/a')!;
  meter.record(ep, 200, 10 * HOUR, -1, -1, ErrorKind.None);
  assert.equal(ep.latencyClamped, 0);
});
