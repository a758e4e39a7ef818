import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Against the built package (npm test builds first): the SQLite store's worker thread starts from
// dist/store/sqlite-worker.js there, not from the TypeScript sources as in the other tests.
const root = new URL('..', import.meta.url);
const built = existsSync(new URL('dist/store/sqlite-worker.js', root));

test(
  'apimeter/store from dist: startPersistence on SQLite writes through its worker thread',
  { skip: !built && 'not built (npm run build)' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'apimeter-dist-store-'));
    try {
      const db = join(dir, 'apimeter.db');
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { createMeter, ErrorKind } = await import('apimeter');
         const { startPersistence, openSqliteStore } = await import('apimeter/store');
         const meter = createMeter({ iniPath: false, env: {} });
         const p = await startPersistence(meter, { enabled: true, url: 'sqlite:' + ${JSON.stringify(db)}, handleSignals: false });
         const ep = meter.endpoint('GET', '/a');
         for (let i = 0; i < 4; i++) meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
         await p.close();
         const store = await openSqliteStore(${JSON.stringify(db)});
         const rows = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
         await store.close();
         console.log(JSON.stringify({ kind: p.store.kind, count: rows.reduce((n, r) => n + r.tally.count, 0) }));`,
        ],
        { cwd: root, encoding: 'utf8' },
      );
      assert.deepEqual(JSON.parse(out), { kind: 'sqlite', count: 4 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
