import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import pg from 'pg';
import { createMeter, ManualClock } from '../src/index.js';
import type { Meter } from '../src/core/meter.js';
import { apimeter as fastifyApimeter } from '../src/adapters/fastify.js';
import { StoreHistory } from '../src/store/history.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { MemoryStore } from '../src/store/store.js';
import { drainConsumerRows, emptyBaseline, mergeConsumerRows } from '../src/store/consumer-rows.js';
import { CONSUMER_LATENCY_SKETCH } from '../src/core/consumers.js';
import { Sketch } from '../src/core/sketch.js';
import type { ConsumerRow } from '../src/store/consumer-rows.js';
import type { SnapshotStore } from '../src/store/store.js';
import type { ConsumerDetailJson, ConsumerListJson } from '../src/api/consumer-schemas.js';
import { PG_URL, pgSkip } from './faults/postgres.js';
import { get, serveApi } from './helpers/api.js';

const P = '/api/v2/metrics';
const TOP = 3;

function newMeter(): Meter {
  return createMeter({ iniPath: false, env: {}, metricsConsumers: true, metricsConsumerTop: TOP });
}

/** A Fastify app whose consumer is the x-tenant header; /items/bad answers 500. */
async function startApp(meter: Meter): Promise<{ port: number; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  await app.register(fastifyApimeter, {
    meter,
    consumer: (request) => {
      const h = request.headers['x-tenant'];
      return typeof h === 'string' ? h : undefined;
    },
  });
  app.get('/items/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    return reply.code(id === 'bad' ? 500 : 200).send({});
  });
  app.get('/other', async () => ({}));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

/**
 * Small consumers first (they take the K counters, then lose them to the large ones before any drain: the
 * store counts them as `other`), then the top three, each exact from its first request.
 */
const PLAN: { id: string; ok: number; bad: number; other: number }[] = [
  { id: 'f', ok: 1, bad: 0, other: 0 },
  { id: 'e', ok: 2, bad: 0, other: 0 },
  { id: 'd', ok: 2, bad: 0, other: 1 },
  { id: 'a', ok: 14, bad: 0, other: 6 },
  { id: 'b', ok: 12, bad: 3, other: 0 },
  { id: 'c', ok: 8, bad: 2, other: 0 },
];
const TOTAL = PLAN.reduce((n, p) => n + p.ok + p.bad + p.other, 0);

async function drive(port: number): Promise<void> {
  for (const p of PLAN) {
    const send = (path: string) =>
      fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-tenant': p.id } }).then((r) => r.arrayBuffer());
    for (let i = 0; i < p.ok; i++) await send(`/items/${i}`);
    for (let i = 0; i < p.bad; i++) await send('/items/bad');
    for (let i = 0; i < p.other; i++) await send('/other');
  }
}

async function settled(meter: Meter, n: number): Promise<void> {
  for (let i = 0; i < 300 && (meter.consumers?.tracker.requests ?? 0) < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(meter.consumers?.tracker.requests, n);
}

/** One meter's life: traffic through Fastify, then the snapshot task's final write (the manual interval). */
async function runMeter(store: SnapshotStore, instance: string): Promise<Meter> {
  const meter = newMeter();
  const task = new SnapshotTask({ meter, store, instance, intervalSeconds: 60, rollups: false, retentionDays: 0 });
  const app = await startApp(meter);
  try {
    await drive(app.port);
    await settled(meter, TOTAL);
  } finally {
    await app.close();
  }
  await task.stop();
  assert.equal(task.stats.failures, 0);
  assert.equal(task.stats.buffered, 0);
  return meter;
}

async function consumersOf(meter: Meter, store: SnapshotStore, query: string) {
  const api = await serveApi({ meter, history: new StoreHistory(store, { stepMs: 60_000 }), cacheSeconds: 0 });
  try {
    return await get<ConsumerListJson & ConsumerDetailJson & { detail?: string }>(`${api.base}${P}/consumers${query}`);
  } finally {
    await api.close();
  }
}

async function checkStore(store: SnapshotStore): Promise<void> {
  const meter = await runMeter(store, 'one');

  const list = await consumersOf(meter, store, '?window=30d');
  assert.equal(list.status, 200, list.text);
  const byId = new Map(list.json.consumers.map((c) => [c.id, c]));
  assert.deepEqual([...byId.keys()].sort(), ['a', 'b', 'c'], 'the top K, `other` not among them');
  for (const id of ['a', 'b', 'c']) {
    const p = PLAN.find((x) => x.id === id)!;
    const c = byId.get(id)!;
    assert.equal(c.requests, p.ok + p.bad + p.other, `${id} requests`);
    assert.equal(c.error_bound, 0);
    assert.equal(c.errors, p.bad, `${id} errors`);
    assert.equal(c.server_errors, p.bad, `${id} 5xx`);
    assert.ok(c.latency_ms.p95 !== null && c.latency_ms.p95 >= 0, `${id} p95 from the stored sketches`);
  }
  assert.equal(list.json.range.source, 'store');
  assert.equal(list.json.range.requests, TOTAL);
  assert.equal(list.json.range.other_requests, 1 + 2 + 3, 'd, e and f as other');
  assert.equal(list.json.range.unlisted_bound, 6);

  const detail = await consumersOf(meter, store, '/a?window=30d');
  assert.equal(detail.status, 200, detail.text);
  assert.deepEqual(
    detail.json.endpoints.map((e) => [e.method, e.route, e.requests, e.errors]),
    [
      ['GET', '/items/{id}', 14, 0],
      ['GET', '/other', 6, 0],
    ],
  );
  const other = await consumersOf(meter, store, '/other?window=7d');
  assert.equal(other.status, 200, other.text);
  assert.equal(other.json.requests, 6);
  assert.deepEqual(
    other.json.endpoints.map((e) => [e.route, e.requests]),
    [
      ['/items/{id}', 5],
      ['/other', 1],
    ],
  );
  const gone = await consumersOf(meter, store, '/d?window=24h');
  assert.equal(gone.status, 404, gone.text);

  // start/end: the same answer as the window covering it; a range before any row is empty.
  const start = new Date(Date.now() - 3_600_000).toISOString();
  const ranged = await consumersOf(meter, store, `?start=${start}`);
  assert.equal(ranged.status, 200, ranged.text);
  assert.equal(ranged.json.range.requests, TOTAL);
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
  const oldEnd = new Date(Date.now() - 39 * 86_400_000).toISOString();
  const empty = await consumersOf(meter, store, `?start=${old}&end=${oldEnd}`);
  assert.equal(empty.status, 200, empty.text);
  assert.equal(empty.json.range.requests, 0);

  // since start-up stays the in-memory answer.
  const memory = await consumersOf(meter, store, '');
  assert.equal(memory.json.range.source, 'memory');
  assert.equal(memory.json.range.requests, TOTAL);

  // A restart: a new meter (another instance) over the same store reads the first one's rows, and adds its own.
  const second = await runMeter(store, 'two');
  const both = await consumersOf(second, store, '?window=30d');
  assert.equal(both.status, 200, both.text);
  assert.equal(both.json.range.requests, 2 * TOTAL);
  assert.equal(both.json.range.other_requests, 12);
  const a = both.json.consumers.find((c) => c.id === 'a')!;
  assert.equal(a.requests, 40);

  // ?consumer= on /endpoints and /endpoints/{endpoint}: over a stored range from the store's per-consumer
  // endpoint rows (both instances), since start-up from memory otherwise.
  const stored = await endpointsOf(second, store, '?consumer=b&window=30d');
  assert.equal(stored.status, 200, stored.text);
  assert.deepEqual(
    stored.json.endpoints.map((e) => [e.route, e.consumer]),
    [
      [
        '/items/{id}',
        {
          id: 'b',
          requests: 30,
          errors: 6,
          source: 'store',
          since: stored.json.endpoints[0].consumer!.since,
          until: stored.json.endpoints[0].consumer!.until,
        },
      ],
    ],
  );
  assert.ok(Date.parse(stored.json.endpoints[0].consumer!.since!) < Date.now());
  const live = await endpointsOf(second, store, '?consumer=b');
  assert.deepEqual(
    live.json.endpoints.map((e) => [e.route, e.consumer]),
    [['/items/{id}', { id: 'b', requests: 15, errors: 3, source: 'memory' }]],
  );
  const one = await endpointsOf(second, store, `/${encodeURIComponent('GET /other')}?consumer=a&window=7d`);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(
    [one.json.consumer?.requests, one.json.consumer?.errors, one.json.consumer?.source],
    [12, 0, 'store'],
  );
  const none = await endpointsOf(second, store, '?consumer=d&window=30d');
  assert.equal(none.status, 404, 'd was never stored under its own id (it is in other)');
}

async function endpointsOf(meter: Meter, store: SnapshotStore, path: string) {
  type WithConsumer = {
    consumer?: { id: string; requests: number; errors: number; source: string; since?: string; until?: string };
  };
  const api = await serveApi({ meter, history: new StoreHistory(store, { stepMs: 60_000 }), cacheSeconds: 0 });
  try {
    return await get<{ endpoints: ({ route: string } & WithConsumer)[] } & WithConsumer>(
      `${api.base}${P}/endpoints${path}`,
    );
  } finally {
    await api.close();
  }
}

test('consumers over a window from SQLite: exact top K, the rest as other, across a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-cstore-'));
  const path = join(dir, 'apimeter.db');
  try {
    const store = await openSqliteStore(path);
    await checkStore(store);
    await store.close();
    // The rows are in the file: a store opened afresh reads them.
    const reopened = await openSqliteStore(path);
    const rows = await reopened.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER });
    assert.equal(
      rows.filter((r) => r.method === '').reduce((n, r) => n + r.requests, 0),
      2 * TOTAL,
    );
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Runs `check` on a PostgreSQL store in a fresh schema (dropped before and after), then `after` with an
 * admin connection once the store is closed.
 */
async function inPostgresSchema(
  schema: string,
  check: (store: Awaited<ReturnType<typeof openPostgresStore>>) => Promise<void>,
  after?: (admin: pg.Pool, schema: string) => Promise<void>,
): Promise<void> {
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const store = await openPostgresStore({ url: PG_URL, schema });
    try {
      await check(store);
    } finally {
      await store.close();
    }
    await after?.(admin, schema);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

test(
  'consumers over a window from PostgreSQL: exact top K, the rest as other, across a restart',
  { skip: pgSkip },
  async () => {
    await inPostgresSchema(`apimeter_cstore_${process.pid}`, checkStore, async (admin, schema) => {
      const { rows } = await admin.query<{ n: string }>(
        `SELECT SUM(requests) AS n FROM "${schema}".api_metric_consumers WHERE method = ''`,
      );
      assert.equal(Number(rows[0].n), 2 * TOTAL);
    });
  },
);

test('consumers over a window from the in-memory store; a failing store costs no request', async () => {
  const store = new MemoryStore();
  store.failWith = new Error('down');
  const meter = newMeter();
  const task = new SnapshotTask({ meter, store, instance: 'm', intervalSeconds: 60, rollups: false, retentionDays: 0 });
  const app = await startApp(meter);
  try {
    await drive(app.port);
    await settled(meter, TOTAL);
  } finally {
    await app.close();
  }
  // The store down: rows stay buffered (the final write fails), the requests were all answered.
  assert.equal(meter.endpointSnapshot('GET', '/items/{id}')?.count, TOTAL - 7);
  await task.stop();
  assert.ok(task.stats.failures >= 1);
  const down = await consumersOf(meter, store, '?window=30d');
  assert.equal(down.status, 500, 'a failing store read is an error answer, not a crash');
  store.failWith = null;
  const empty = await consumersOf(meter, store, '?window=30d');
  assert.equal(empty.status, 200, empty.text);
  assert.equal(empty.json.range.requests, 0, 'the failed write left nothing half-written');

  // Without a store, a window is a 400 that says what is needed.
  const api = await serveApi({ meter, cacheSeconds: 0 });
  try {
    const res = await get<{ detail: string }>(`${api.base}${P}/consumers?window=30d`);
    assert.equal(res.status, 400);
    assert.match(res.text, /snapshot store/);
    const live = await get(`${api.base}${P}/consumers?window=1h`);
    assert.equal(live.status, 400);
  } finally {
    await api.close();
  }
});

test('the memory store keeps what the snapshot task drains', async () => {
  const store = new MemoryStore();
  const meter = await runMeter(store, 'mem');
  const list = await consumersOf(meter, store, '?window=6h');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.consumers.map((c) => [c.id, c.requests]).sort(), [
    ['a', 20],
    ['b', 15],
    ['c', 10],
  ]);
  assert.equal(list.json.range.other_requests, 6);
});

test('drainConsumerRows: per-interval deltas, top K exact, the rest as other per endpoint and in total', async () => {
  const meter = newMeter();
  const tracker = meter.consumers!.tracker;
  const x = meter.endpoint('GET', '/x')!;
  const y = meter.endpoint('POST', '/y')!;
  // As the meter records (which lists the endpoint), then as the adapter tells the tracker.
  const rec = (ep: typeof x, id: string, status: number, ms: number, errored: boolean) => {
    meter.record(ep, status, ms, -1, -1, 0);
    tracker.record(ep, id, status, ms, errored);
  };
  const baseline = emptyBaseline();
  const drain = (b: number) => drainConsumerRows(tracker, meter.registry.endpoints(), baseline, 'i', b * 60_000, 60);
  const totals = (rows: ConsumerRow[]) =>
    Object.fromEntries(
      rows.filter((r) => r.method === '').map((r) => [r.consumer, [r.requests, r.errors, r.serverErrors]]),
    );
  const perEndpoint = (rows: ConsumerRow[], id: string) =>
    rows.filter((r) => r.consumer === id && r.method !== '').map((r) => [r.route, r.requests, r.errors]);

  // Interval 1: three consumers fill K = 3; z comes last and evicts the smallest (c), whose undrained
  // requests go to other.
  for (let i = 0; i < 5; i++) rec(x, 'a', 200, 3, false);
  for (let i = 0; i < 4; i++) rec(y, 'b', 503, 3, false);
  rec(x, 'c', 200, 3, false);
  for (let i = 0; i < 2; i++) rec(y, 'z', 404, 3, false);
  const first = drain(1);
  assert.deepEqual(totals(first), { a: [5, 0, 0], b: [4, 4, 4], z: [2, 2, 0], other: [1, 0, 0] });
  assert.deepEqual(perEndpoint(first, 'other'), [['/x', 1, 0]]);
  assert.deepEqual(perEndpoint(first, 'b'), [['/y', 4, 4]]);
  assert.ok(first.every((r) => r.bucketStart === 60_000));
  assert.equal(first.find((r) => r.consumer === 'a' && r.method === '')!.latency!.count, 5);

  // Interval 2: only what was added since; a consumer with nothing new writes no row.
  for (let i = 0; i < 3; i++) rec(y, 'a', 200, 3, false);
  const second = drain(2);
  assert.deepEqual(totals(second), { a: [3, 0, 0] });
  assert.deepEqual(perEndpoint(second, 'a'), [['/y', 3, 0]]);
  assert.equal(second.find((r) => r.method === '')!.latency!.count, 3, 'the sketch is the interval delta');
  assert.deepEqual(drain(3), []);

  // Over both intervals the rows add up to every request recorded.
  const all = [...first, ...second].filter((r) => r.method === '').reduce((n, r) => n + r.requests, 0);
  assert.equal(all, tracker.requests);
});

test('snapshot task on a manual clock: one consumer row set per interval, buffered while the store fails, then written with the snapshot rows', async () => {
  const MIN = 60_000;
  const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);
  const clock = new ManualClock(T0 + 5_000);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsConsumers: true, metricsConsumerTop: TOP });
  const store = new MemoryStore();
  const task = new SnapshotTask({
    meter,
    store,
    instance: 'i1',
    intervalSeconds: 60,
    graceMs: 1000,
    minRetryMs: 10,
    rollups: false,
    retentionDays: 0,
    onError: () => undefined,
  });
  const ep = meter.endpoint('GET', '/x')!;
  const rec = (id: string, n: number) => {
    for (let i = 0; i < n; i++) {
      meter.record(ep, 200, 4, -1, -1, 0);
      meter.consumers!.tracker.record(ep, id, 200, 4, false);
    }
  };
  rec('a', 4);
  clock.set(T0 + MIN + 1500);
  store.failWith = new Error('connection refused');
  await task.runOnce();
  assert.equal(task.stats.failures, 1);
  clock.set(T0 + MIN + 10_000);
  rec('a', 2);
  rec('b', 1);
  clock.set(T0 + 2 * MIN + 1500);
  await task.runOnce();
  assert.equal(task.stats.failures, 2);
  store.failWith = null;
  assert.deepEqual(await store.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER }), [], 'nothing written yet');
  await task.runOnce();
  assert.equal(task.stats.failures, 0);
  const rows = await store.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER });
  const totals = rows.filter((r) => r.method === '').map((r) => [r.bucketStart - T0, r.consumer, r.requests]);
  assert.deepEqual(totals, [
    [0, 'a', 4],
    [MIN, 'a', 2],
    [MIN, 'b', 1],
  ]);
  const snap = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
  assert.deepEqual(
    snap.map((r) => [r.bucketStart - T0, r.tally.count]),
    [
      [0, 4],
      [MIN, 3],
    ],
  );
  await task.stop();
});

/**
 * Rows over many intervals and two instances, with latency sketches: the store's `merged` read (summed
 * in SQL) must give what merging the raw rows gives — counts, per-endpoint rows, sketch buckets, count,
 * sum, min and max — for all instances and for one.
 */
async function checkMergedRead(store: SnapshotStore): Promise<void> {
  const rows: ConsumerRow[] = [];
  let seed = 3;
  const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (const instance of ['i1', 'i2']) {
    for (let b = 0; b < 40; b++) {
      for (const consumer of ['acme', 'beta', 'other']) {
        const latency = consumer === 'other' ? null : new Sketch(CONSUMER_LATENCY_SKETCH);
        const n = 1 + Math.floor(next() * 20);
        for (let i = 0; i < n; i++) latency?.record(next() < 0.05 ? 0 : 0.5 + next() * 900);
        const base = { instance, bucketStart: b * 60_000, bucketSeconds: 60, consumer };
        rows.push({ ...base, method: '', route: '', requests: n, errors: b % 3, serverErrors: b % 2, latency });
        rows.push({
          ...base,
          method: 'GET',
          route: `/r${b % 4}`,
          requests: n,
          errors: b % 3,
          serverErrors: 0,
          latency: null,
        });
      }
    }
  }
  await store.writeSnapshot([], { consumers: rows });
  for (const instance of [undefined, 'i2']) {
    const q = { from: 0, to: 30 * 60_000, ...(instance !== undefined && { instance }) };
    const raw = await store.readConsumers(q);
    const merged = await store.readConsumers({ ...q, merged: true });
    assert.ok(merged.length < raw.length / 5, `${merged.length} merged rows for ${raw.length} raw`);
    assert.equal(new Set(merged.map((r) => `${r.consumer} ${r.method} ${r.route}`)).size, merged.length);
    const a = mergeConsumerRows(raw);
    const b = mergeConsumerRows(merged);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [id, x] of a) {
      const y = b.get(id)!;
      assert.deepEqual([y.requests, y.errors, y.serverErrors], [x.requests, x.errors, x.serverErrors], id);
      assert.deepEqual([...y.endpoints.values()].sort(byRoute), [...x.endpoints.values()].sort(byRoute), id);
      const [jx, jy] = [x.latency.toJSON(), y.latency.toJSON()];
      assert.deepEqual(
        [jy.offset, jy.counts, jy.count, jy.zeroCount, jy.min, jy.max],
        [jx.offset, jx.counts, jx.count, jx.zeroCount, jx.min, jx.max],
        id,
      );
      assert.ok(Math.abs(jy.sum - jx.sum) <= 1e-9 * Math.abs(jx.sum), `${id} sum`);
      if (id !== 'other') assert.ok(jx.count > 0);
    }
    const one = await store.readConsumers({ ...q, consumer: 'beta', merged: true });
    assert.deepEqual(new Set(one.map((r) => r.consumer)), new Set(['beta']));
  }
}
const byRoute = (p: { route: string }, q: { route: string }) => (p.route < q.route ? -1 : 1);

test('merged consumer reads (summed in the store) equal merging the raw rows: SQLite, PostgreSQL, memory', async (t) => {
  await t.test('memory', () => checkMergedRead(new MemoryStore()));
  await t.test('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apimeter-cmerge-'));
    const store = await openSqliteStore(join(dir, 'apimeter.db'));
    try {
      await checkMergedRead(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  await t.test('PostgreSQL', { skip: pgSkip }, async () => {
    await inPostgresSchema(`apimeter_cmerge_${process.pid}`, checkMergedRead);
  });
});
