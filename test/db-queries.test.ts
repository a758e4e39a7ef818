import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import express from 'express';
import Fastify from 'fastify';
import pg from 'pg';
import { apimeter as expressApimeter } from '../src/adapters/express.js';
import { apimeter as fastifyApimeter } from '../src/adapters/fastify.js';
import { requestContext, RequestContext } from '../src/core/detail.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import type { Distribution } from '../src/core/query.js';
import { instrumentPg, instrumentSqlite, noteQuery } from '../src/db-clients/index.js';
import { PG_URL, pgSkip } from './faults/postgres.js';
import { exactQuantile } from './helpers/datasets.js';

const TABLE = `apimeter_dbq_${process.pid}_${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), 'apimeter-dbq-'));

/** Runs `fn` as one request would: inside a fresh request context, which it returns with the result. */
async function inRequest<T>(fn: (ctx: RequestContext) => Promise<T> | T): Promise<{ ctx: RequestContext; value: T }> {
  const ctx = new RequestContext();
  const value = await requestContext.run(ctx, () => fn(ctx));
  return { ctx, value };
}

/**
 * Runs one step inside the current request and checks what it added against the test's own clock:
 * exactly `queries` queries, and time > 0 no longer than the step took.
 */
async function step<T>(ctx: RequestContext, queries: number, fn: () => Promise<T> | T): Promise<T> {
  const [q0, ms0] = [ctx.queries, ctx.dbMs];
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  assert.equal(ctx.queries - q0, queries, `queries added by ${fn.toString().slice(0, 80)}`);
  const ms = ctx.dbMs - ms0;
  if (queries > 0) {
    assert.ok(ms > 0, `time added by ${fn.toString().slice(0, 80)}: ${ms}`);
    assert.ok(ms <= wall, `time added ${ms} ms > wall ${wall} ms`);
  } else assert.equal(ms, 0);
  return value;
}

/** A callback-form call as a promise, also reporting the context its callback ran in. */
function viaCallback<R>(
  call: (cb: (err: Error | undefined, res: R) => void) => unknown,
): Promise<{ err: Error | undefined; res: R; store: RequestContext | undefined; returned: unknown }> {
  return new Promise((resolve) => {
    const returned = call((err, res) => {
      const store = requestContext.getStore();
      // Resolved a microtask later, when `returned` is set even if the callback ran synchronously.
      queueMicrotask(() => resolve({ err, res, store, returned }));
    });
  });
}

let admin: pg.Pool;

before(async () => {
  if (pgSkip) return;
  admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  await admin.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, name text)`);
  await admin.query(`INSERT INTO ${TABLE} SELECT g, 'n' || g FROM generate_series(1, 50) g`);
});

after(async () => {
  if (!pgSkip) {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.end();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('pg', { skip: pgSkip }, () => {
  test('a Client counts every call form of query once, with its time, and returns what pg returns', async (t) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    t.after(() => client.end());
    const uninstrument = instrumentPg(client);
    assert.equal(instrumentPg(client), uninstrument, 'instrumenting twice gives the same handle');

    const { ctx } = await inRequest(async (ctx) => {
      const text = await step(ctx, 1, () => client.query(`SELECT count(*)::int AS n FROM ${TABLE}`));
      assert.equal(text.rows[0].n, 50);
      const values = await step(ctx, 1, () => client.query(`SELECT name FROM ${TABLE} WHERE id = $1`, [7]));
      assert.equal(values.rows[0].name, 'n7');
      const config = await step(ctx, 1, () =>
        client.query({ text: `SELECT id FROM ${TABLE} WHERE id <= $1 ORDER BY id`, values: [3], rowMode: 'array' }),
      );
      assert.deepEqual(config.rows, [[1], [2], [3]]);
      const named = await step(ctx, 1, () =>
        client.query({ name: `dbq_${process.pid}`, text: `SELECT $1::int + 1 AS n`, values: [41] }),
      );
      assert.equal(named.rows[0].n, 42);

      // Callback forms: pg returns undefined, calls back with the result, in the request's context.
      for (const call of [
        (cb: (e: Error | undefined, r: pg.QueryResult) => void) => client.query('SELECT 1 AS n', cb),
        (cb: (e: Error | undefined, r: pg.QueryResult) => void) => client.query('SELECT $1::int AS n', [1], cb),
        (cb: (e: Error | undefined, r: pg.QueryResult) => void) => client.query({ text: 'SELECT 1 AS n' }, cb),
        (cb: (e: Error | undefined, r: pg.QueryResult) => void) =>
          client.query({ text: 'SELECT 1 AS n', callback: cb } as pg.QueryConfig),
      ]) {
        const r = await step(ctx, 1, () => viaCallback(call));
        assert.equal(r.err ?? undefined, undefined);
        assert.equal(r.res.rows[0].n, 1);
        assert.equal(r.returned, undefined);
        assert.equal(r.store, ctx);
      }

      // A Submittable: pg returns the object itself; counted once, timed until its 'end'.
      const query = new pg.Query(`SELECT id FROM ${TABLE} WHERE id <= 5`);
      const rows: unknown[] = [];
      query.on('row', (row: unknown) => rows.push(row));
      const returned = await step(ctx, 1, async () => {
        const r = client.query(query);
        await once(query, 'end');
        return r;
      });
      assert.equal(returned, query);
      assert.equal(rows.length, 5);
      // A Submittable handed a callback.
      const withCb = await step(ctx, 1, () =>
        viaCallback<pg.QueryResult>((cb) =>
          // pg accepts a callback after a Submittable; its typings do not.
          (client.query as (q: pg.Submittable, cb: unknown) => unknown)(new pg.Query('SELECT 2 AS n'), cb),
        ),
      );
      assert.equal(withCb.res.rows[0].n, 2);
      assert.equal(withCb.store, ctx);
    });
    assert.equal(ctx.queries, 10);

    uninstrument();
    assert.equal(Object.hasOwn(client, 'query'), false, 'uninstrument restores the prototype method');
    const { ctx: later } = await inRequest(() => client.query('SELECT 1'));
    assert.equal(later.queries, 0);
  });

  test('a failing query counts, with its time, and its error reaches the caller unchanged', async (t) => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    t.after(() => pool.end());
    instrumentPg(pool);
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    t.after(() => client.end());
    instrumentPg(client);
    const syntax = (e: unknown) =>
      e instanceof pg.DatabaseError && e.code === '42601' && /syntax error at or near "SELEC"/.test(e.message);

    const { ctx } = await inRequest(async (ctx) => {
      await step(ctx, 1, () => assert.rejects(client.query('SELEC 1'), syntax));
      await step(ctx, 1, () => assert.rejects(pool.query('SELEC 1'), syntax));
      await step(ctx, 1, () =>
        assert.rejects(pool.query(`INSERT INTO ${TABLE} (id, name) VALUES ($1, 'dup')`, [1]), { code: '23505' }),
      );
      const cb = await step(ctx, 1, () => viaCallback((cb) => client.query('SELEC 1', cb)));
      assert.ok(syntax(cb.err));
      const poolCb = await step(ctx, 1, () => viaCallback((cb) => pool.query('SELEC 1', cb)));
      assert.ok(syntax(poolCb.err));
      // Thrown synchronously by pg: the same TypeError, counted.
      await step(ctx, 1, () =>
        assert.throws(() => client.query(null as unknown as string), {
          name: 'TypeError',
          message: 'Client was passed a null or undefined query',
        }),
      );
      assert.equal(ctx.queries, 6);
    });
    assert.equal(ctx.queries, 6);
    // The client still works after the errors.
    assert.equal((await client.query('SELECT 1 AS n')).rows[0].n, 1);
  });

  test('nothing is counted outside a request, and requests are not charged for queries outside them', async (t) => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    t.after(() => pool.end());
    instrumentPg(pool);
    const inFlight = inRequest(async () => {
      await pool.query('SELECT pg_sleep(0.05)');
    });
    // Background work on the same (saturated) pool while the request runs.
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2'), pool.query('SELECT 3')]);
    await new Promise<void>((resolve, reject) => pool.query('SELECT 4', (err) => (err ? reject(err) : resolve())));
    noteQuery(5); // a no-op outside a request
    assert.equal((await inFlight).ctx.queries, 1);
  });

  test('pool.query counts once: the pool checks a client out and calls client.query, which is the one counted', async (t) => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    t.after(() => pool.end());
    instrumentPg(pool);
    const { ctx } = await inRequest(async (ctx) => {
      await step(ctx, 1, () => pool.query('SELECT 1'));
      await step(ctx, 1, () => pool.query('SELECT $1::int', [1]));
      await step(ctx, 1, () => pool.query({ text: 'SELECT $1::int', values: [1] }));
      const cb = await step(ctx, 1, () => viaCallback((cb) => pool.query('SELECT 1 AS n', cb)));
      assert.equal(cb.store, ctx);
      await step(ctx, 1, () => viaCallback((cb) => pool.query('SELECT $1::int AS n', [1], cb)));
      // A checked-out client: its queries count, the checkout does not.
      const client = await step(ctx, 0, () => pool.connect());
      try {
        await step(ctx, 3, async () => {
          await client.query('BEGIN');
          await client.query(`SELECT * FROM ${TABLE} WHERE id = 1 FOR UPDATE`);
          await client.query('COMMIT');
        });
      } finally {
        client.release();
      }
      // Callback-form connect: the callback runs in the request's context.
      const store = await new Promise<RequestContext | undefined>((resolve, reject) =>
        pool.connect((err, c, done) => {
          if (err || !c) return reject(err ?? new Error('no client'));
          const s = requestContext.getStore();
          void c.query('SELECT 1').finally(() => {
            done();
            resolve(s);
          });
        }),
      );
      assert.equal(store, ctx);
    });
    assert.equal(ctx.queries, 9);
  });

  test('20 concurrent requests on a saturated pool each get exactly their own queries', async (t) => {
    // Three connections for twenty requests: most pool.query calls wait in pg-pool's queue and are
    // handed a client from inside another request's completion.
    const pool = new pg.Pool({ connectionString: PG_URL, max: 3 });
    t.after(() => pool.end());
    instrumentPg(pool);
    const waits: number[] = [];
    const requests = Array.from({ length: 20 }, (_, i) => {
      const started = performance.now();
      const run = inRequest(async () => {
        let remaining = i + 1;
        for (let op = 0; remaining > 0; op++) {
          const form = (i + op) % 4;
          if (form === 0) {
            await pool.query(`SELECT $1::int AS i, pg_sleep(0.001)`, [i]);
            remaining--;
          } else if (form === 1) {
            await viaCallback((cb) => pool.query(`SELECT ${i} AS i`, cb));
            remaining--;
          } else if (form === 2 && remaining >= 2) {
            // Nested callbacks: the inner query is issued from inside pg's callback of the outer one.
            await viaCallback((cb) =>
              pool.query('SELECT 1', (err) => (err ? cb(err, undefined) : pool.query(`SELECT ${i} AS i`, cb))),
            );
            remaining -= 2;
          } else {
            const c = await pool.connect();
            try {
              await c.query(`SELECT ${i} AS i`);
            } finally {
              c.release();
            }
            remaining--;
          }
          if (op % 3 === 0) await sleep(i % 3);
        }
      });
      return run.then((r) => ({ ...r, wall: performance.now() - started }));
    });
    waits.push(pool.waitingCount);
    const results = await Promise.all(requests);
    assert.ok(waits[0] >= 10, `the pool was saturated (${waits[0]} waiting)`);
    results.forEach((r, i) => {
      assert.equal(r.ctx.queries, i + 1, `request ${i}`);
      assert.ok(r.ctx.dbMs > 0 && r.ctx.dbMs <= r.wall, `request ${i}: ${r.ctx.dbMs} ms of ${r.wall}`);
    });
  });

  test('instrumenting the pg module counts every pool and client once, and uninstruments', async (t) => {
    const off = instrumentPg(pg);
    assert.equal(instrumentPg(pg), off);
    t.after(off);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    t.after(() => pool.end());
    // Also instrumented itself: the pool's clients then have two wrappers, one counts.
    const pool2 = new pg.Pool({ connectionString: PG_URL, max: 1 });
    t.after(() => pool2.end());
    instrumentPg(pool2);
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    t.after(() => client.end());

    const { ctx } = await inRequest(async (ctx) => {
      await step(ctx, 1, () => pool.query('SELECT 1'));
      await step(ctx, 1, () => viaCallback((cb) => pool.query('SELECT 1', cb)));
      await step(ctx, 1, () => pool2.query('SELECT 1'));
      await step(ctx, 1, () => client.query('SELECT 1'));
      await step(ctx, 1, () => assert.rejects(client.query('SELEC 1'), { code: '42601' }));
      const c = await pool.connect();
      await step(ctx, 1, () => c.query('SELECT 1'));
      c.release();
    });
    assert.equal(ctx.queries, 6);

    off();
    assert.equal(instrumentPg(pg) === off, false, 'a new handle after uninstrumenting');
    instrumentPg(pg)();
    const { ctx: later } = await inRequest(async () => {
      await pool.query('SELECT 1');
      await client.query('SELECT 1');
    });
    assert.equal(later.queries, 0);
    // pool2 is still instrumented itself.
    const { ctx: own } = await inRequest(() => pool2.query('SELECT 1'));
    assert.equal(own.queries, 1);
  });
});

describe('better-sqlite3', () => {
  let db: Database.Database;

  before(() => {
    db = new Database(join(dir, 'app.db'));
    instrumentSqlite(db);
    db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`);
    const insert = db.prepare('INSERT INTO items (id, name) VALUES (?, ?)');
    for (let i = 1; i <= 100; i++) insert.run(i, `item ${i}`);
  });

  after(() => db.close());

  test('run, get, all, iterate and exec count one query each, chaining and transactions still work', async () => {
    const byId = db.prepare('SELECT id, name FROM items WHERE id = ?');
    const some = db.prepare('SELECT id, name FROM items WHERE id <= ? ORDER BY id');
    const update = db.prepare('UPDATE items SET name = ? WHERE id = ?');
    const { ctx } = await inRequest(async (ctx) => {
      assert.deepEqual(await step(ctx, 1, () => byId.get(3)), { id: 3, name: 'item 3' });
      assert.equal((await step(ctx, 1, () => some.all(10))).length, 10);
      assert.equal((await step(ctx, 1, () => update.run('renamed', 4))).changes, 1);
      assert.deepEqual(await step(ctx, 1, () => [...some.iterate(3)]), [
        { id: 1, name: 'item 1' },
        { id: 2, name: 'item 2' },
        { id: 3, name: 'item 3' },
      ]);
      // Chaining returns the statement itself, still counted.
      const names = db.prepare('SELECT name FROM items WHERE id <= ? ORDER BY id');
      assert.equal(names.pluck(), names);
      assert.deepEqual(await step(ctx, 1, () => names.all(2)), ['item 1', 'item 2']);
      assert.equal(names.pluck(false).raw(), names);
      assert.deepEqual(await step(ctx, 1, () => names.all(1)), [['item 1']]);
      assert.equal(names.raw(false).expand(), names);
      assert.deepEqual(await step(ctx, 1, () => names.get(1)), { items: { name: 'item 1' } });
      const bound = db.prepare('SELECT count(*) AS n FROM items WHERE id <= ?');
      assert.equal(bound.bind(5), bound);
      assert.deepEqual(await step(ctx, 1, () => bound.get()), { n: 5 });
      // Prepared and executed in one expression, as handlers often do.
      assert.equal(await step(ctx, 1, () => db.prepare('SELECT 1 AS one').pluck().get()), 1);
      // An iterator left early (break calls return()) counts once.
      await step(ctx, 1, () => {
        for (const row of some.iterate(50)) if ((row as { id: number }).id === 2) break;
      });
      await step(ctx, 1, () => db.exec('UPDATE items SET name = name WHERE id = 1'));
      assert.equal(await step(ctx, 1, () => db.pragma('user_version', { simple: true })), 0);
      // A transaction counts the statements it runs, not its BEGIN and COMMIT.
      const rename = db.transaction((from: number, to: number) => {
        for (let id = from; id <= to; id++) update.run(`tx ${id}`, id);
      });
      await step(ctx, 3, () => rename(10, 12));
      await step(ctx, 2, () => rename.immediate(13, 14));
    });
    assert.equal(ctx.queries, 17);
    assert.equal(db.prepare('SELECT name FROM items WHERE id = 14').pluck().get(), 'tx 14');
  });

  test('iterate is counted once and timed until the iterator is done or returned', async () => {
    const all = db.prepare('SELECT id FROM items ORDER BY id');
    const { ctx } = await inRequest((ctx) =>
      step(ctx, 3, () => {
        const it = all.iterate();
        const until = performance.now() + 10;
        while (performance.now() < until); // the caller's work between iterator calls is in the time
        assert.deepEqual(it.next(), { value: { id: 1 }, done: false });
        assert.equal([...it].length, 99);
        const before = ctx.dbMs;
        assert.ok(before >= 10, `${before} ms`);
        const returned = all.iterate();
        returned.next();
        returned.return?.();
        assert.ok(ctx.dbMs > before, 'a returned iterator adds its time');
        const left = all.iterate();
        left.next();
        const t = ctx.dbMs;
        left.return?.();
        left.return?.(); // once only
        const once = ctx.dbMs - t;
        left.return?.();
        assert.equal(ctx.dbMs - t, once);
      }),
    );
    assert.equal(ctx.queries, 3);
  });

  test('a failing statement counts, with its time, and throws the same error', async () => {
    const insert = db.prepare('INSERT INTO items (id, name) VALUES (?, ?)');
    const { ctx } = await inRequest(async (ctx) => {
      await step(ctx, 1, () => assert.throws(() => insert.run(1, 'dup'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
      await step(ctx, 1, () => assert.throws(() => db.exec('SELEC 1'), { name: 'SqliteError', message: /syntax/ }));
      await step(ctx, 1, () => assert.throws(() => insert.run(1000, null), { code: 'SQLITE_CONSTRAINT_NOTNULL' }));
      // Compiling is not executing: a statement that fails to prepare is not a query.
      await step(ctx, 0, () => assert.throws(() => db.prepare('SELEC 1'), { name: 'SqliteError' }));
    });
    assert.equal(ctx.queries, 3);
  });

  test('nothing is counted outside a request, and uninstrumenting stops counting', async () => {
    const get = db.prepare('SELECT name FROM items WHERE id = ?').pluck();
    const other = new RequestContext();
    assert.equal(get.get(1), 'item 1');
    db.exec('SELECT 1');
    assert.equal(other.queries, 0);

    const file = new Database(join(dir, 'other.db'));
    const off = instrumentSqlite(file);
    assert.equal(instrumentSqlite(file), off);
    const stmt = file.prepare('SELECT 1');
    const before = await inRequest(() => stmt.get());
    assert.equal(before.ctx.queries, 1);
    off();
    const later = await inRequest(() => {
      stmt.get();
      file.prepare('SELECT 2').get();
      file.exec('SELECT 3');
    });
    assert.equal(later.ctx.queries, 0);
    assert.equal(Object.hasOwn(file, 'prepare'), false);
    file.close();
  });
});

// ---- Over real HTTP: the adapters open the context, the meter reports per endpoint ----

const SIZE_ERROR = (2 ** (1 / 8) - 1) / (2 ** (1 / 8) + 1) + 1e-9;

/** Expected figures for requests that made `counts[i]` queries each (computed here, not by apimeter). */
function checkQueries(db: { queries: number; queriesPerRequest: Distribution }, counts: number[]): void {
  const sorted = counts.slice().sort((a, b) => a - b);
  assert.equal(
    db.queries,
    counts.reduce((a, b) => a + b, 0),
  );
  assert.equal(db.queriesPerRequest.count, counts.length);
  // Queries per request go to a size sketch (scale 3): within (b − 1)/(b + 1), b = 2^(1/8), i.e. 4.33 %,
  // of the value of the right rank.
  for (const [q, got] of [
    [0.5, db.queriesPerRequest.p50],
    [0.9, db.queriesPerRequest.p90],
    [0.99, db.queriesPerRequest.p99],
  ] as const) {
    const exact = exactQuantile(sorted, q);
    assert.ok(got !== null && Math.abs(got - exact) <= exact * SIZE_ERROR, `p${q * 100}: ${got} vs ${exact}`);
  }
  assert.ok(Math.abs(db.queriesPerRequest.max! - sorted.at(-1)!) <= sorted.at(-1)! * SIZE_ERROR);
}

function checkDbTime(dist: Distribution, requests: number, slowestWallMs: number): void {
  assert.equal(dist.count, requests);
  assert.ok(dist.min! > 0, `min ${dist.min}`);
  // DB time is part of the request's time, which the client saw in full (sketch error 0.54 %).
  assert.ok(dist.max! <= slowestWallMs * 1.0054, `max ${dist.max} ms > slowest request ${slowestWallMs} ms`);
  assert.ok(dist.p50! <= dist.max!);
}

async function timedFetch(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body: unknown = await res.json();
  return { status: res.status, body, ms: performance.now() - t0 };
}

describe('over HTTP, with detailed mode on', { skip: pgSkip }, () => {
  let pool: pg.Pool;
  let sqlite: Database.Database;

  before(() => {
    pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    instrumentPg(pool);
    sqlite = new Database(join(dir, 'http.db'));
    instrumentSqlite(sqlite);
    sqlite.exec('CREATE TABLE hits (id INTEGER PRIMARY KEY AUTOINCREMENT, route TEXT, n INTEGER)');
  });

  after(async () => {
    await pool.end();
    sqlite.close();
  });

  /** N pg queries (mixed forms) then M SQLite statements, as a handler would. */
  async function work(n: number, m: number): Promise<{ rows: number; hits: number }> {
    let rows = 0;
    for (let i = 0; i < n; i++) {
      const r =
        i % 2 === 0
          ? await pool.query(`SELECT id FROM ${TABLE} WHERE id <= $1`, [i + 1])
          : await new Promise<pg.QueryResult>((resolve, reject) =>
              pool.query(`SELECT id FROM ${TABLE} WHERE id <= ${i + 1}`, (err, res) =>
                err ? reject(err) : resolve(res),
              ),
            );
      rows += r.rowCount ?? 0;
    }
    const insert = sqlite.prepare('INSERT INTO hits (route, n) VALUES (?, ?)');
    for (let j = 0; j < m; j++) insert.run('work', n);
    return { rows, hits: m };
  }

  test('Fastify: queries and DB time per request, per endpoint, under concurrency', async (t) => {
    const meter: Meter = createMeter({ metricsDetailed: true, iniPath: false, env: {} });
    const app = Fastify({ logger: false });
    t.after(() => app.close());
    await app.register(fastifyApimeter, { meter });
    app.get<{ Params: { n: string; m: string } }>('/work/:n/:m', async (req) =>
      work(Number(req.params.n), Number(req.params.m)),
    );
    app.get('/none', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    // 40 requests, 10 at a time, with known (pg, sqlite) pairs.
    const plan = Array.from({ length: 40 }, (_, i) => [(i * 7) % 6, (i * 5) % 4] as const);
    const walls: number[] = [];
    for (let i = 0; i < plan.length; i += 10) {
      const batch = await Promise.all(plan.slice(i, i + 10).map(([n, m]) => timedFetch(`${base}/work/${n}/${m}`)));
      batch.forEach((r, j) => {
        const [n, m] = plan[i + j];
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { rows: (n * (n + 1)) / 2, hits: m });
        walls.push(r.ms);
      });
    }
    await timedFetch(`${base}/none`);

    const detail = meter.endpointSnapshot('GET', '/work/{n}/{m}', 'all')?.detail;
    assert.ok(detail, 'detail snapshot for GET /work/{n}/{m}');
    assert.equal(detail.requests, plan.length);
    const counts = plan.map(([n, m]) => n + m);
    checkQueries(detail.db, counts);
    assert.equal(detail.db.queriesPerRequestMean, counts.reduce((a, b) => a + b, 0) / plan.length);
    checkDbTime(detail.db.dbMsPerRequest, counts.filter((c) => c > 0).length, Math.max(...walls));
    assert.ok(detail.db.queryMs > 0 && detail.db.queryMs <= walls.reduce((a, b) => a + b, 0));

    const none = meter.endpointSnapshot('GET', '/none', 'all')?.detail;
    assert.equal(none?.db.queries, 0);
    assert.equal(none?.db.dbMsPerRequest.count, 0);
  });

  test('Express: queries and DB time per request for a route', async (t) => {
    const meter = createMeter({ metricsDetailed: true, iniPath: false, env: {} });
    const app = express();
    app.use(expressApimeter({ meter }));
    app.get('/orders/:n', (req, res, next) => {
      work(Number(req.params.n), 2).then((r) => res.json(r), next);
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const ns = [1, 4, 2, 3, 1, 5, 2, 2, 4, 1, 3, 3];
    const results = await Promise.all(ns.map((n) => timedFetch(`${base}/orders/${n}`)));
    results.forEach((r, i) => assert.deepEqual(r.body, { rows: (ns[i] * (ns[i] + 1)) / 2, hits: 2 }));

    const detail = meter.endpointSnapshot('GET', '/orders/{n}', 'all')?.detail;
    assert.ok(detail, 'detail snapshot for GET /orders/{n}');
    assert.equal(detail.requests, ns.length);
    checkQueries(
      detail.db,
      ns.map((n) => n + 2),
    );
    checkDbTime(detail.db.dbMsPerRequest, ns.length, Math.max(...results.map((r) => r.ms)));
  });
});
