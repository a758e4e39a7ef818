import { after, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MemoryStore } from '../src/store/store.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { PostgresStore } from '../src/store/postgres.js';
import { storeContract } from './contracts/store.contract.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

export { PG_URL };

const dir = mkdtempSync(join(tmpdir(), 'apimeter-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

let n = 0;
storeContract('sqlite', async () => {
  // The directory does not exist yet: the store creates it.
  const store = await openSqliteStore(join(dir, `db${n++}`, 'apimeter.db'));
  return { store, cleanup: () => store.close() };
});

if (pgSkip) test('postgres: the store contract', { skip: pgSkip }, () => undefined);
else
  storeContract('postgres', async () => {
    const schema = `apimeter_test_${process.pid}_${n++}`;
    // Not openPostgresStore: the suite runs migrate() itself, from an empty schema.
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = new PostgresStore(pool, schema);
    return {
      store,
      cleanup: async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await store.close();
      },
    };
  });
