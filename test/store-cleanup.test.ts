import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/cli/cleanup.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { Tally } from '../src/core/tally.js';
import { addRequest } from './contracts/store.contract.js';

const DAY = 86_400_000;

async function capture(fn: () => Promise<number>): Promise<[number, string]> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = (chunk: string) => ((out += chunk), true);
  try {
    return [await fn(), out];
  } finally {
    process.stdout.write = write;
  }
}

test('apimeter cleanup: --dry-run counts, then removes rows older than the retention', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-cleanup-'));
  try {
    const db = join(dir, 'apimeter.db');
    const ini = join(dir, 'apimeter.ini');
    writeFileSync(ini, `[metrics]\napi_metrics_store_url = sqlite:${db}\napi_metrics_retention_days = 30\n`);
    const now = Date.UTC(2025, 5, 1);
    const store = await openSqliteStore(db);
    const tally = new Tally();
    addRequest(tally, 200, 12, -1, 10);
    const ages = [40, 31, 29, 1];
    await store.writeSnapshot(
      ages.map((d) => ({
        instance: 'i',
        method: 'GET',
        route: '/a',
        bucketStart: Math.floor((now - d * DAY) / 300_000) * 300_000,
        bucketSeconds: 300,
        tally,
      })),
    );
    await store.close();
    const [dryCode, dry] = await capture(() => run(['--ini', ini, '--dry-run'], now));
    assert.equal(dryCode, 0);
    assert.match(dry, /^would remove 2 snapshot rows older than 2025-05-02T00:00:00\.000Z \(30 days\) from sqlite/);
    const [code, out] = await capture(() => run(['--ini', ini, '--retention-days', '2'], now));
    assert.equal(code, 0);
    assert.match(out, /^removed 3 snapshot rows/);
    const reopened = await openSqliteStore(db);
    assert.equal((await reopened.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER })).length, 1);
    await reopened.close();
    assert.equal(await run(['--ini', ini, '--retention-days', '0'], now), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
