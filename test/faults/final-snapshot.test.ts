import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import { SnapshotTask } from '../../src/store/snapshot-task.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

test('stop() within the grace after a bucket boundary writes both buckets: every request counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-final-'));
  const store = await openSqliteStore(join(dir, 'a.db'));
  try {
    const clock = new ManualClock(T0 + 1000);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    // 5-minute buckets, the default 2 s grace.
    const task = new SnapshotTask({ meter, store, instance: 'f', intervalSeconds: 300 });
    const ep = meter.endpoint('GET', '/f')!;
    clock.set(T0 + 5 * MIN - 3000);
    meter.record(ep, 200, 4, -1, -1, ErrorKind.None);
    meter.record(ep, 200, 6, -1, -1, ErrorKind.None);
    clock.set(T0 + 5 * MIN + 200);
    meter.record(ep, 500, 8, -1, -1, ErrorKind.None);
    meter.record(ep, 200, 9, -1, -1, ErrorKind.None);
    clock.set(T0 + 5 * MIN + 800); // SIGTERM now: inside the grace of the bucket that just ended
    await task.stop();
    const rows = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
    const byBucket = new Map(rows.map((r) => [r.bucketStart - T0, r.tally.count]));
    assert.deepEqual(
      byBucket,
      new Map([
        [0, 2],
        [5 * MIN, 2],
      ]),
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
