/**
 * Schema 3 stores each tally in binary (`tally_packed`) beside the JSON: a store migrated from schema 2
 * still reads the rows written before (JSON only) and merges them with new ones exactly, in real SQLite
 * and real PostgreSQL, against the in-memory store holding the same rows.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { statusClassOf, Tally } from '../src/core/tally.js';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { COLUMNS, encodeRow, packTally, unpackTally } from '../src/store/row.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { MemoryStore } from '../src/store/store.js';
import type { SnapshotRow, SnapshotStore } from '../src/store/store.js';
import { PG_URL, pgSkip } from './faults/postgres.js';
import { lognormal, rng } from './helpers/datasets.js';

const dir = mkdtempSync(join(tmpdir(), 'apimeter-packed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MIN = 60_000;
const T0 = Date.UTC(2025, 4, 1);
const indexer = new Sketch(LATENCY_SKETCH);

function tally(random: () => number, n: number): Tally {
  const t = new Tally();
  for (let i = 0; i < n; i++) {
    const ms = lognormal(random, 80, 1);
    const status = random() < 0.05 ? 503 : random() < 0.1 ? 404 : 200;
    t.add(status, statusClassOf(status), -1, ms, indexer.indexOf(ms), 100, 2000);
  }
  return t;
}

function rows(seed: number, fromMinute: number, minutes: number): SnapshotRow[] {
  const random = rng(seed);
  const out: SnapshotRow[] = [];
  for (let m = fromMinute; m < fromMinute + minutes; m += 5) {
    for (const route of ['/a', '/b/{id}']) {
      out.push({
        instance: 'i1',
        method: 'GET',
        route,
        bucketStart: T0 + m * MIN,
        bucketSeconds: 300,
        tally: tally(random, 1 + Math.floor(random() * 40)),
      });
    }
  }
  return out;
}

const OLD = rows(1, 0, 120); // written at schema 2: JSON only
const NEW = rows(2, 60, 120); // written after the migration (overlapping the old hour: both merge)

/** Schema-2 column values of a row: every column but tally_packed. */
const oldValues = (r: SnapshotRow) => encodeRow(r).slice(0, COLUMNS.length - 1);
const OLD_COLUMNS = COLUMNS.slice(0, -1);

/** Exactly equal, but the latency sum: float additions in another row order differ in the last bits. */
function same(actual: Tally, expected: Tally, what: string): void {
  const a = actual.toJSON();
  const e = expected.toJSON();
  assert.ok(Math.abs(a.latency.sum - e.latency.sum) <= 1e-9 * Math.abs(e.latency.sum), `${what}: latency sum`);
  a.latency.sum = e.latency.sum;
  assert.deepEqual(a, e, what);
}

async function checkAgainstMemory(store: SnapshotStore): Promise<void> {
  const reference = new MemoryStore();
  await reference.writeSnapshot([...OLD, ...NEW]);
  const ranges = [{ from: T0, to: T0 + 180 * MIN }];
  for (const by of ['endpoint', 'bucket'] as const) {
    const q = { ranges, by, stepMs: 30 * MIN };
    const got = await store.mergeRows(q);
    const want = await reference.mergeRows(q);
    assert.equal(got.length, want.length, by);
    const key = (r: { method: string; route: string; bucketStart: number }) =>
      by === 'endpoint' ? `${r.method} ${r.route}` : String(r.bucketStart);
    const byKey = new Map(want.map((r) => [key(r), r]));
    for (const r of got) same(r.tally, byKey.get(key(r))!.tally, `${by} ${key(r)}`);
  }
  const read = await store.readRows({ from: T0, to: T0 + 180 * MIN });
  const want = await reference.readRows({ from: T0, to: T0 + 180 * MIN });
  assert.equal(read.length, want.length);
  const k = (r: SnapshotRow) => `${r.route} ${r.bucketStart}`;
  const wanted = new Map(want.map((r) => [k(r), r]));
  for (const r of read) same(r.tally, wanted.get(k(r))!.tally, `row ${k(r)}`);
  // Rollups over old and new rows alike, then read through the hourly tier.
  await store.rollup(T0 + 180 * MIN);
  await reference.rollup(T0 + 180 * MIN);
  const q = { ranges: [{ from: T0, to: T0 + 180 * MIN, rollup: 3600 }], by: 'endpoint' as const };
  const rolled = await store.mergeRows(q);
  const rolledWant = await reference.mergeRows(q);
  assert.equal(rolled.length, 2);
  for (const r of rolled) same(r.tally, rolledWant.find((w) => w.route === r.route)!.tally, `rollup ${r.route}`);
}

test('packed tallies round-trip exactly and refuse another format', () => {
  const random = rng(7);
  for (const n of [0, 1, 500]) {
    const t = tally(random, n);
    same(unpackTally(packTally(t)), t, `n=${n}`);
  }
  const bad = packTally(tally(random, 3));
  bad[1] = LATENCY_SKETCH.scale + 1;
  assert.throws(() => unpackTally(bad), /latency scale/);
  assert.throws(() => unpackTally(Buffer.from([9, 6, 0])), /format/);
});

test('sqlite: a schema-2 database migrates, keeps reading its JSON rows and merges them with packed ones', async () => {
  const path = join(dir, 'old.db');
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
    for (const sql of m.sqlite) db.exec(sql.replaceAll('{schema}', ''));
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
  }
  const insert = db.prepare(
    `INSERT INTO api_metric_snapshots (${OLD_COLUMNS.join(', ')}) VALUES (${OLD_COLUMNS.map(() => '?').join(', ')})`,
  );
  for (const r of OLD) insert.run(oldValues(r));
  db.close();

  const store = await openSqliteStore(path);
  try {
    await store.writeSnapshot(NEW);
    const check = new Database(path, { readonly: true });
    const counts = check
      .prepare(
        'SELECT SUM(tally_packed IS NULL) AS old, SUM(tally_packed IS NOT NULL) AS new FROM api_metric_snapshots',
      )
      .get() as { old: number; new: number };
    // The overlapping hour's old rows were replaced by new ones (same keys); the rest stay JSON-only.
    const overlap = NEW.filter((n) => OLD.some((o) => o.route === n.route && o.bucketStart === n.bucketStart)).length;
    assert.deepEqual(counts, { old: OLD.length - overlap, new: NEW.length });
    assert.equal(
      (check.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v,
      MIGRATIONS.at(-1)!.version,
    );
    check.close();
    // The reference holds the same rows: old ones replaced where NEW has the key.
    await checkAgainstMemory(store);
  } finally {
    await store.close();
  }
});

test(
  'postgres: a schema-2 schema migrates, keeps reading its JSON rows and merges them with packed ones',
  { skip: pgSkip },
  async () => {
    const schema = `apimeter_packed_${process.pid}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const prefix = `"${schema}".`;
    try {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.query(`CREATE SCHEMA "${schema}"`);
      await pool.query(
        `CREATE TABLE ${prefix}schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
        for (const sql of m.postgres) await pool.query(sql.replaceAll('{schema}', prefix));
        await pool.query(`INSERT INTO ${prefix}schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      }
      for (const r of OLD) {
        await pool.query(
          `INSERT INTO ${prefix}api_metric_snapshots (${OLD_COLUMNS.join(', ')}) VALUES (${OLD_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
          oldValues(r),
        );
      }
      const store = await openPostgresStore({ url: PG_URL, schema, max: 2 });
      try {
        await store.writeSnapshot(NEW);
        const { rows } = await pool.query<{ old: string; new: string }>(
          `SELECT COUNT(*) FILTER (WHERE tally_packed IS NULL) AS old, COUNT(*) FILTER (WHERE tally_packed IS NOT NULL) AS new FROM ${prefix}api_metric_snapshots`,
        );
        assert.equal(Number(rows[0].new), NEW.length);
        assert.ok(Number(rows[0].old) > 0);
        await checkAgainstMemory(store);
      } finally {
        await store.close();
      }
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  },
);
