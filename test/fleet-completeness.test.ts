import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeness, instanceState } from '../src/fleet/completeness.js';
import type { InstanceRecord } from '../src/fleet/live-tier.js';

const T = Date.UTC(2026, 0, 1, 12);
const record = (instance: string, lastWriteAgoMs: number, more: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instance,
  version: '0.1.0',
  host: 'h',
  pid: 1,
  role: 'process',
  startedAt: T - 3_600_000,
  intervalMs: 10_000,
  seq: 5,
  lastWriteAt: T - lastWriteAgoMs,
  completeUntil: T - lastWriteAgoMs - 1500,
  durableUntil: 0,
  stoppedAt: null,
  dropped: 0,
  ...more,
});

test('instance states: live below 3 intervals, lagging from 3, gone from the configured time, stopped when it said so', () => {
  const gone = 600_000;
  assert.equal(instanceState(record('a', 29_999), T, gone), 'live');
  assert.equal(instanceState(record('a', 30_000), T, gone), 'lagging');
  assert.equal(instanceState(record('a', 599_999), T, gone), 'lagging');
  assert.equal(instanceState(record('a', 600_000), T, gone), 'gone');
  assert.equal(instanceState(record('a', 900_000, { stoppedAt: T - 900_000 }), T, gone), 'stopped');
  // Each instance's own interval counts: 3 × 1 s.
  assert.equal(instanceState(record('a', 3000, { intervalMs: 1000 }), T, gone), 'lagging');
});

test('completeness: contributors of the range, complete-until of the expected ones, lagging / gone / stopped listed', () => {
  const records = [
    record('live', 2000),
    record('lag', 45_000),
    record('gone', 700_000),
    record('stopped', 120_000, { stoppedAt: T - 120_000 }),
    // Started after the range ended: did not contribute.
    record('late', 1000, { startedAt: T - 60_000 }),
  ];
  const c = completeness(records, T, 600_000, { from: T - 300_000, to: T - 120_000 }, { at: T - 500 });
  assert.deepEqual(c.contributed, ['live', 'lag', 'stopped']);
  // The lagging instance is the furthest behind of the expected contributors.
  assert.equal(c.complete_until, new Date(T - 45_000 - 1500).toISOString());
  assert.equal(c.complete, false);
  assert.deepEqual(
    c.lagging.map((l) => [l.instance, l.lag_seconds]),
    [['lag', 45]],
  );
  assert.deepEqual(
    c.gone.map((g) => g.instance),
    ['gone'],
  );
  assert.deepEqual(
    c.stopped.map((s) => s.instance),
    ['stopped'],
  );
  assert.equal(c.read_at, new Date(T - 500).toISOString());

  const ok = completeness([record('live', 2000)], T, 600_000, null, { at: T });
  assert.equal(ok.complete, true);
  const failing = completeness([record('live', 2000)], T, 600_000, null, { at: T - 60_000, error: 'ECONNREFUSED' });
  assert.equal(failing.complete, false);
  assert.equal(failing.reader_error, 'ECONNREFUSED');
});
