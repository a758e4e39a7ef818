/**
 * The inventory against a test that knows the truth: each adapter's app declares routes, the test
 * calls some of them a known number of times (one deprecated route among them) and sends junk paths
 * no route covers; `/inventory` must list every declared route from the first second, classify each,
 * and group the junk by template. Real servers on loopback; the store case uses SQLite.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import type { FastifySchema } from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { apimeter as fastifyApimeter, apimeterApi } from '../src/adapters/fastify.js';
import { apimeter as expressApimeter } from '../src/adapters/express.js';
import { apimeter as honoApimeter } from '../src/adapters/hono.js';
import { apimeter as nodeApimeter } from '../src/adapters/node.js';
import { createMeter } from '../src/core/meter.js';
import { ManualClock } from '../src/core/clock.js';
import { ErrorKind } from '../src/core/record.js';
import { MemoryHistory } from '../src/core/history.js';
import { SILENT } from '../src/alerts/anomaly.js';
import { compileRules } from '../src/alerts/rules.js';
import { startAlerts } from '../src/alerts/start.js';
import type { Meter } from '../src/core/meter.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { statusClassOf, Tally } from '../src/core/tally.js';
import type { InventoryJson } from '../src/api/inventory-schema.js';
import { createProxy, RouteMatcher } from '../src/proxy/index.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { StoreHistory } from '../src/store/history.js';
import type { SnapshotRow } from '../src/store/store.js';
import { run as reportCli } from '../src/cli/report.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';

const P = '/api/v2/metrics';
/** A consumer id a spreadsheet would run, with a comma and a quote: escaped in CSV like every string. */
const EVIL = '=HYPERLINK("http://x.example","a,b")';
const AIRFLOW = new URL('./fixtures/airflow-v2-openapi.yaml', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'apimeter-inventory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Entry = InventoryJson['endpoints'][number];

/** What @fastify/swagger reads from a route schema (Fastify's own type lacks these keys). */
const swagger = (s: { deprecated?: boolean; operationId?: string }) => s as FastifySchema;

function meterFor(extra: Record<string, unknown> = {}): Meter {
  return createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: [P, '/metrics'], ...extra });
}

async function inventoryOf(base: string, query = ''): Promise<InventoryJson> {
  const answer = await get<InventoryJson>(`${base}${P}/inventory${query}`);
  assert.equal(answer.status, 200, answer.text);
  const doc = await get<Record<string, unknown>>(`${base}${P}/openapi.json`);
  schemaValidator(doc.json)('Inventory', answer.json);
  return answer.json;
}

function byKey(inv: InventoryJson): Map<string, Entry> {
  return new Map(inv.endpoints.map((e) => [`${e.method} ${e.route}`, e]));
}

/** The truth each adapter's case checks: status and calls per declared operation. */
function expectEntries(inv: InventoryJson, truth: Record<string, readonly [Entry['status'], number]>): void {
  const got = byKey(inv);
  assert.deepEqual([...got.keys()].sort(), Object.keys(truth).sort(), 'the declared operations, all of them');
  for (const [key, [status, calls]] of Object.entries(truth)) {
    const e = got.get(key)!;
    assert.equal(e.status, status, `${key} status`);
    assert.equal(e.calls, calls, `${key} calls`);
    assert.equal(e.last_called === null, calls === 0, `${key} last_called ${e.last_called}`);
  }
}

/** 50 junk paths with different ids, 5 scanner probes: they must come out as two candidates. */
async function sendJunk(base: string): Promise<void> {
  for (let i = 0; i < 50; i++) await fetch(`${base}/api/v2/dags/${1000 + i * 7}/foo`);
  for (let i = 0; i < 5; i++) await fetch(`${base}/wp-login.php`);
}

function checkJunk(inv: InventoryJson): void {
  const u = new Map(inv.undocumented.map((c) => [`${c.method} ${c.template}`, c]));
  assert.equal(u.get('GET /api/v2/dags/{id}/foo')?.calls, 50, JSON.stringify(inv.undocumented));
  assert.equal(u.get('GET /wp-login.php')?.calls, 5);
  assert.equal(u.get('GET /api/v2/dags/{id}/foo')?.origin, 'unmatched');
  assert.equal(inv.unmatched_calls, 55);
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => unknown) {
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('inventory: Fastify', () => {
  test('routes from onRoute with schema deprecated/operationId; auto HEAD routes not listed; junk grouped', async () => {
    const meter = meterFor();
    const app = Fastify();
    await app.register(fastifyApimeter, { meter });
    const ok = async () => ({ ok: true });
    app.get('/api/v2/dags', { schema: swagger({ operationId: 'get_dags' }) }, ok);
    app.post('/api/v2/dags', ok);
    app.get('/api/v2/dags/:dag_id', ok);
    app.delete('/api/v2/dags/:dag_id', ok);
    app.get(
      '/api/v2/legacy/dags/:dag_id',
      { schema: swagger({ deprecated: true, operationId: 'get_dag_legacy' }) },
      ok,
    );
    app.get('/api/v2/pools', ok);
    // A prefixed '/' route: Fastify registers its HEAD twin with a trailing slash, still not listed.
    await app.register(
      async (runs) => {
        runs.get('/', ok);
      },
      { prefix: '/api/v2/runs' },
    );
    await app.register(apimeterApi, { meter, prefix: P, authorize: () => true, cacheSeconds: 0 });
    meter.declarations.setTopConsumers((endpoint) =>
      endpoint === 'GET /api/v2/legacy/dags/{dag_id}' ? [{ consumer: EVIL, requests: 2 }] : [],
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      // From the first second: every declared route, none called.
      const first = await inventoryOf(base);
      expectEntries(first, {
        'GET /api/v2/dags': ['never_called', 0],
        'POST /api/v2/dags': ['never_called', 0],
        'GET /api/v2/dags/{dag_id}': ['never_called', 0],
        'DELETE /api/v2/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/legacy/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/pools': ['never_called', 0],
        'GET /api/v2/runs': ['never_called', 0],
      });
      assert.equal(byKey(first).get('GET /api/v2/dags')!.operation_id, 'get_dags');
      assert.deepEqual(byKey(first).get('GET /api/v2/dags')!.sources, ['fastify']);

      for (let i = 0; i < 3; i++) await fetch(`${base}/api/v2/dags`);
      await fetch(`${base}/api/v2/dags`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      await fetch(`${base}/api/v2/dags/etl`);
      await fetch(`${base}/api/v2/dags/etl`, { method: 'HEAD' }); // Fastify's HEAD route: counts for the GET
      for (let i = 0; i < 2; i++) await fetch(`${base}/api/v2/legacy/dags/etl`);
      await sendJunk(base);

      const inv = await inventoryOf(base);
      expectEntries(inv, {
        'GET /api/v2/dags': ['used', 3],
        'POST /api/v2/dags': ['used', 1],
        'GET /api/v2/dags/{dag_id}': ['used', 2],
        'DELETE /api/v2/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/legacy/dags/{dag_id}': ['deprecated_but_called', 2],
        'GET /api/v2/pools': ['never_called', 0],
        'GET /api/v2/runs': ['never_called', 0],
      });
      const legacy = byKey(inv).get('GET /api/v2/legacy/dags/{dag_id}')!;
      assert.deepEqual(legacy.consumers, [{ consumer: EVIL, requests: 2 }]);
      assert.equal(legacy.operation_id, 'get_dag_legacy');
      assert.equal(byKey(inv).get('GET /api/v2/dags')!.consumers, null, 'consumers asked only for deprecated ones');
      assert.deepEqual(
        { ...inv.totals },
        { declared: 7, used: 3, never_called: 3, deprecated_but_called: 1, undocumented: inv.undocumented.length },
      );
      checkJunk(inv);
      assert.equal(inv.undocumented.length, 2, JSON.stringify(inv.undocumented));

      // Filter and CSV (strings escaped like every other CSV of the API).
      const only = await inventoryOf(base, '?status=never_called');
      assert.deepEqual(only.endpoints.map((e) => `${e.method} ${e.route}`).sort(), [
        'DELETE /api/v2/dags/{dag_id}',
        'GET /api/v2/pools',
        'GET /api/v2/runs',
      ]);
      assert.deepEqual(only.undocumented, []);
      const csv = await get(`${base}${P}/inventory?format=csv`);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      const lines = csv.text.trimEnd().split('\r\n');
      assert.equal(lines[0], 'status,method,route,operation_id,deprecated,calls,last_called,sources,consumers');
      const legacyLine = lines.find((l) => l.startsWith('deprecated_but_called,'));
      assert.match(
        legacyLine ?? '',
        /^deprecated_but_called,GET,\/api\/v2\/legacy\/dags\/\{dag_id\},get_dag_legacy,true,2,/,
      );
      // The consumer cell: formula-guarded with a leading ', quoted (it holds a comma), quotes doubled.
      assert.ok(legacyLine!.endsWith(`,fastify,"'=HYPERLINK(""http://x.example"",""a,b"")=2"`), legacyLine);
      assert.ok(
        lines.includes(
          'undocumented,GET,/api/v2/dags/{id}/foo,,false,50,' +
            lines.find((l) => l.includes('{id}/foo'))!.split(',')[6] +
            ',unmatched,',
        ),
      );
      const bad = await get(`${base}${P}/inventory?status=dead`);
      assert.equal(bad.status, 400);
    } finally {
      await app.close();
    }
  });
});

describe("inventory: deprecated_but_called lists the consumer tracker's callers", () => {
  test('with metrics_consumers on, the meter installs the hook: who called the deprecated route, how often', async () => {
    const meter = meterFor({ metricsConsumers: true, metricsConsumerHeader: 'X-Client-Id' });
    const app = Fastify();
    await app.register(fastifyApimeter, { meter });
    const ok = async () => ({ ok: true });
    app.get('/old/:id', { schema: swagger({ deprecated: true }) }, ok);
    app.get('/new/:id', ok);
    await app.register(apimeterApi, { meter, prefix: P, authorize: () => true, cacheSeconds: 0 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const calls: [string, number][] = [
        ['team-a', 5],
        ['team-b', 2],
      ];
      for (const [id, n] of calls) {
        for (let i = 0; i < n; i++) await fetch(`${base}/old/${i}`, { headers: { 'x-client-id': id } });
      }
      await fetch(`${base}/new/1`, { headers: { 'x-client-id': 'team-c' } });
      const e = byKey(await inventoryOf(base)).get('GET /old/{id}')!;
      assert.equal(e.status, 'deprecated_but_called');
      assert.deepEqual(e.consumers, [
        { consumer: 'team-a', requests: 5 },
        { consumer: 'team-b', requests: 2 },
      ]);
    } finally {
      await app.close();
    }
  });
});

describe('inventory: Express', () => {
  test('the router stack (nested routers, all()) listed from start-up with the app option', async () => {
    const meter = meterFor();
    const app = express();
    app.use(expressApimeter({ meter, app }));
    const router = express.Router();
    router.get('/dags', (_req, res) => void res.json([]));
    router.get('/dags/:dag_id', (_req, res) => void res.json({}));
    router.patch('/dags/:dag_id', (_req, res) => void res.json({}));
    router.get('/legacy/dags/:dag_id', (_req, res) => void res.json({}));
    app.use('/api/v2', router);
    app.all('/health', (_req, res) => void res.send('ok'));
    // Express has no deprecated flag: the application marks it (docs/inventory.md).
    meter.declare('GET', '/api/v2/legacy/dags/{dag_id}', { deprecated: true, operationId: 'legacy' });
    const served = await serveApi({ meter, cacheSeconds: 0 });
    const server = await listen(app);
    try {
      const truth0 = {
        'GET /api/v2/dags': ['never_called', 0],
        'GET /api/v2/dags/{dag_id}': ['never_called', 0],
        'PATCH /api/v2/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/legacy/dags/{dag_id}': ['never_called', 0],
        '* /health': ['never_called', 0],
      } as const;
      expectEntries(await inventoryOf(served.base), truth0);

      for (let i = 0; i < 4; i++) await fetch(`${server.base}/api/v2/dags/etl`);
      await fetch(`${server.base}/api/v2/legacy/dags/etl`);
      await fetch(`${server.base}/health`, { method: 'POST' });
      await fetch(`${server.base}/health`);
      await sendJunk(server.base);
      const inv = await inventoryOf(served.base);
      expectEntries(inv, {
        'GET /api/v2/dags': ['never_called', 0],
        'GET /api/v2/dags/{dag_id}': ['used', 4],
        'PATCH /api/v2/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/legacy/dags/{dag_id}': ['deprecated_but_called', 1],
        '* /health': ['used', 2],
      });
      assert.deepEqual(byKey(inv).get('GET /api/v2/dags')!.sources, ['express']);
      checkJunk(inv);
    } finally {
      await server.close();
      await served.close();
    }
  });

  test('without the app option the routes are listed from the first request on', async () => {
    const meter = meterFor();
    const app = express();
    app.use(expressApimeter({ meter }));
    app.get('/a', (_req, res) => void res.send('a'));
    app.post('/b/:id', (_req, res) => void res.send('b'));
    const server = await listen(app);
    try {
      assert.equal(meter.declarations.list().length, 0);
      await fetch(`${server.base}/a`);
      assert.deepEqual(
        meter.declarations.list().map((d) => `${d.method} ${d.route}`),
        ['GET /a', 'POST /b/{id}'],
      );
    } finally {
      await server.close();
    }
  });
});

describe('inventory: Hono', () => {
  test('app.routes listed (with the app option); middleware entries are not routes', async () => {
    const meter = meterFor();
    const app = new Hono();
    app.use(honoApimeter({ meter, app }));
    app.get('/api/v2/dags', (c) => c.json([]));
    app.get('/api/v2/dags/:dag_id', (c) => c.json({}));
    app.get('/api/v2/legacy/dags/:dag_id', (c) => c.json({}));
    app.post('/api/v2/pools', (c) => c.json({}));
    meter.declare('GET', '/api/v2/legacy/dags/{dag_id}', { deprecated: true });
    const served = await serveApi({ meter, cacheSeconds: 0 });
    const node = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((r) => node.once('listening', () => r()));
    const base = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 2; i++) await fetch(`${base}/api/v2/dags`);
      for (let i = 0; i < 3; i++) await fetch(`${base}/api/v2/legacy/dags/x`);
      await sendJunk(base);
      const inv = await inventoryOf(served.base);
      expectEntries(inv, {
        'GET /api/v2/dags': ['used', 2],
        'GET /api/v2/dags/{dag_id}': ['never_called', 0],
        'GET /api/v2/legacy/dags/{dag_id}': ['deprecated_but_called', 3],
        'POST /api/v2/pools': ['never_called', 0],
      });
      // Hono's node path resolves an unmatched request twice; each is counted once.
      checkJunk(inv);
    } finally {
      await new Promise<void>((r) => node.close(() => r()));
      await served.close();
    }
  });
});

/** Airflow's real document, with one operation marked deprecated (the fixture itself has none). */
function airflowWithDeprecated(): string {
  const doc = parseYaml(readFileSync(AIRFLOW, 'utf8')) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  doc.paths['/api/v2/dags/{dag_id}/details'].get.deprecated = true;
  const file = join(dir, 'airflow-deprecated.yaml');
  writeFileSync(file, stringifyYaml(doc));
  return file;
}

const AIRFLOW_OPERATIONS = 110;

describe('inventory: OpenAPI document (node adapter, proxy) and the store', () => {
  test('node adapter: 110 operations from the first second; store calls 10 days ago count in window=30d', async () => {
    const file = airflowWithDeprecated();
    const db = join(dir, 'node.db');
    const store = await openSqliteStore(db);
    const now = Date.now();
    const step = 300_000;
    const bucket = Math.floor((now - 10 * 86_400_000) / step) * step;
    const indexer = new Sketch(LATENCY_SKETCH);
    const stored = (n: number) => {
      const t = new Tally();
      for (let i = 0; i < n; i++) t.add(200, statusClassOf(200), -1, 12, indexer.indexOf(12), -1, -1);
      return t;
    };
    const rows: SnapshotRow[] = [
      {
        instance: 'a',
        method: 'GET',
        route: '/api/v2/pools',
        bucketStart: bucket,
        bucketSeconds: 300,
        tally: stored(7),
      },
      {
        instance: 'a',
        method: 'GET',
        route: '/api/v2/dags/{dag_id}/details',
        bucketStart: bucket,
        bucketSeconds: 300,
        tally: stored(4),
      },
      // A route the document does not have, kept by an older version of the app.
      { instance: 'a', method: 'GET', route: '/api/v1/old', bucketStart: bucket, bucketSeconds: 300, tally: stored(9) },
    ];
    await store.writeSnapshot(rows);
    const history = new StoreHistory(store, { stepMs: step });
    await history.refresh();

    const meter = meterFor();
    const handler = nodeApimeter((_req, res) => void res.end('{}'), { meter, openapi: file });
    const served = await serveApi({ meter, history, cacheSeconds: 0 });
    const server = await listen(handler);
    try {
      const first = await inventoryOf(served.base);
      assert.equal(first.range.window, '30d', 'the default window with a store');
      assert.equal(first.totals.declared, AIRFLOW_OPERATIONS);
      assert.ok(first.endpoints.every((e) => e.sources.includes('openapi')));
      const details = byKey(first).get('GET /api/v2/dags/{dag_id}/details')!;
      assert.equal(details.deprecated, true);
      assert.equal(details.operation_id, 'get_dag_details');

      for (let i = 0; i < 5; i++) await fetch(`${server.base}/api/v2/dags`);
      await fetch(`${server.base}/api/v2/dags/etl/details`);
      await fetch(`${server.base}/api/v2/variables/a/b/c`);
      await sendJunk(server.base);
      const inv = await inventoryOf(served.base, '?window=30d');
      const got = byKey(inv);
      assert.equal(got.get('GET /api/v2/dags')!.status, 'used');
      assert.equal(got.get('GET /api/v2/dags')!.calls, 5);
      assert.equal(got.get('GET /api/v2/pools')!.calls, 7);
      assert.equal(got.get('GET /api/v2/pools')!.last_called, new Date(bucket).toISOString(), 'from the store');
      assert.equal(got.get('GET /api/v2/dags/{dag_id}/details')!.status, 'deprecated_but_called');
      assert.equal(got.get('GET /api/v2/dags/{dag_id}/details')!.calls, 5); // 4 stored + 1 live
      assert.equal(got.get('GET /api/v2/variables/{variable_key}')!.calls, 0, 'a/b/c is not one segment');
      assert.equal(inv.totals.used, 2);
      assert.equal(inv.totals.deprecated_but_called, 1);
      assert.equal(inv.totals.never_called, AIRFLOW_OPERATIONS - 3);
      const old = inv.undocumented.find((u) => u.template === '/api/v1/old')!;
      assert.equal(old.calls, 9);
      assert.equal(old.origin, 'endpoint');
      const u = new Map(inv.undocumented.map((c) => [`${c.method} ${c.template}`, c.calls]));
      assert.equal(u.get('GET /api/v2/dags/{id}/foo'), 50);
      assert.equal(u.get('GET /wp-login.php'), 5);
      assert.equal(u.get('GET /api/v2/variables/a/b/c'), 1);

      // window=1h: only the live calls.
      const hour = byKey(await inventoryOf(served.base, '?window=1h'));
      assert.equal(hour.get('GET /api/v2/pools')!.status, 'never_called');
    } finally {
      await server.close();
      await served.close();
      await store.close();
    }
  });

  test('proxy: the document it matches against is the inventory', async () => {
    const meter = meterFor();
    const upstream = await listen((_req, res) => void res.end('{}'));
    const matcher = RouteMatcher.fromFile(airflowWithDeprecated());
    const proxy = createProxy({ target: upstream.base, meter, matcher });
    const { port } = await proxy.listen(0);
    const base = `http://127.0.0.1:${port}`;
    const served = await serveApi({ meter, cacheSeconds: 0 });
    try {
      for (let i = 0; i < 3; i++) await fetch(`${base}/api/v2/dags/etl/details`);
      await fetch(`${base}/api/v2/version`);
      await sendJunk(base);
      const inv = await inventoryOf(served.base);
      const got = byKey(inv);
      assert.equal(inv.totals.declared, AIRFLOW_OPERATIONS);
      assert.equal(got.get('GET /api/v2/dags/{dag_id}/details')!.status, 'deprecated_but_called');
      assert.equal(got.get('GET /api/v2/dags/{dag_id}/details')!.calls, 3);
      assert.equal(got.get('GET /api/v2/version')!.status, 'used');
      assert.equal(inv.totals.never_called, AIRFLOW_OPERATIONS - 2);
      checkJunk(inv);
    } finally {
      await served.close();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe('apimeter report inventory', () => {
  test('md, json and csv from a SQLite store and the OpenAPI document', async () => {
    const file = airflowWithDeprecated();
    const db = join(dir, 'report.db');
    const ini = join(dir, 'report.ini');
    writeFileSync(ini, `[metrics]\napi_metrics_store_url = sqlite:${db}\n`);
    const NOW = Date.parse('2025-06-30T00:00:00Z');
    const indexer = new Sketch(LATENCY_SKETCH);
    const store = await openSqliteStore(db);
    const row = (method: string, route: string, hoursAgo: number, n: number): SnapshotRow => {
      const t = new Tally();
      for (let i = 0; i < n; i++) t.add(200, statusClassOf(200), -1, 20, indexer.indexOf(20), -1, -1);
      return { instance: 'a', method, route, bucketStart: NOW - hoursAgo * 3_600_000, bucketSeconds: 300, tally: t };
    };
    await store.writeSnapshot([
      row('GET', '/api/v2/dags', 5, 10),
      row('GET', '/api/v2/dags', 30, 6),
      row('GET', '/api/v2/dags/{dag_id}/details', 48, 3),
      row('GET', '/api/v2/pools', 40 * 24, 8), // older than 30 days: never called in the window
      row('GET', '/api/v2/dags/{id}/foo', 2, 11), // a normalizer template the document lacks
    ]);
    await store.close();
    const io = () => {
      const out = { stdout: '', stderr: '' };
      return {
        out,
        io: {
          stdout: { write: (s: string) => ((out.stdout += s), true) },
          stderr: { write: (s: string) => ((out.stderr += s), true) },
        } as never,
      };
    };
    const json = io();
    assert.equal(
      await reportCli(
        ['inventory', '--window', '30d', '--format', 'json', '--openapi', file, '--ini', ini],
        NOW,
        json.io,
      ),
      0,
      json.out.stderr,
    );
    const inv = JSON.parse(json.out.stdout) as InventoryJson;
    const got = byKey(inv);
    assert.equal(inv.totals.declared, AIRFLOW_OPERATIONS);
    assert.equal(got.get('GET /api/v2/dags')!.calls, 16);
    assert.equal(got.get('GET /api/v2/dags')!.last_called, new Date(NOW - 5 * 3_600_000).toISOString());
    assert.equal(got.get('GET /api/v2/dags/{dag_id}/details')!.status, 'deprecated_but_called');
    assert.equal(got.get('GET /api/v2/pools')!.status, 'never_called');
    assert.equal(inv.totals.never_called, AIRFLOW_OPERATIONS - 2);
    assert.deepEqual(
      inv.undocumented.map((u) => [u.method, u.template, u.calls]),
      [['GET', '/api/v2/dags/{id}/foo', 11]],
    );

    const md = io();
    assert.equal(await reportCli(['inventory', '--openapi', file, '--ini', ini], NOW, md.io), 0, md.out.stderr);
    const lines = md.out.stdout.split('\n');
    assert.match(lines[0], /^Inventory from sqlite and .*airflow-deprecated\.yaml, 2025-05-31T00:00:00\.000Z to /);
    assert.equal(
      lines[2],
      `${AIRFLOW_OPERATIONS} declared: 1 used, ${AIRFLOW_OPERATIONS - 2} never called, 1 deprecated but called; 1 undocumented candidates.`,
    );
    assert.ok(
      lines.includes(
        '| deprecated_but_called | GET | /api/v2/dags/{dag_id}/details | get_dag_details | 3 | ' +
          new Date(NOW - 48 * 3_600_000).toISOString() +
          ' |',
      ),
      md.out.stdout,
    );

    const csv = io();
    assert.equal(await reportCli(['inventory', '--format', 'csv', '--openapi', file, '--ini', ini], NOW, csv.io), 0);
    const rows = csv.out.stdout.trimEnd().split('\r\n');
    assert.equal(rows.length, 1 + AIRFLOW_OPERATIONS + 1);
    assert.ok(rows.some((r) => r.startsWith('undocumented,GET,/api/v2/dags/{id}/foo,,false,11,')));

    const help = io();
    assert.equal(await reportCli(['inventory', '--help'], NOW, help.io), 0);
    assert.match(help.out.stdout, /^Usage: apimeter report inventory/);
    const neither = io();
    assert.equal(await reportCli(['inventory', '--ini', ini], NOW, neither.io), 2);
    assert.match(neither.out.stderr, /--openapi FILE .* or --url URL/);
  });
});

describe('went silent: declared endpoints feed the traffic_anomaly signal', () => {
  test('a declared route with steady traffic on past days and none now is 99 (silent)', async () => {
    const MIN = 60_000;
    const HOUR = 60 * MIN;
    const DAY = 24 * HOUR;
    const NOW = Date.parse('2025-06-10T14:20:00Z');
    const hour = Math.floor(NOW / HOUR) * HOUR;
    const history = new MemoryHistory(HOUR);
    const indexer = new Sketch(LATENCY_SKETCH);
    const steady = () => {
      const t = new Tally();
      for (let i = 0; i < 3600; i++) t.add(200, statusClassOf(200), -1, 20, indexer.indexOf(20), -1, -1);
      return t;
    };
    for (let d = 1; d <= 7; d++) {
      history.add(hour - d * DAY, 'GET', '/orders/{id}', steady());
      history.add(hour - d * DAY, 'POST', '/orders', steady());
    }
    const clock = new ManualClock(NOW - 40 * MIN);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    // The node adapter's route table: both declared from start-up, in the inventory.
    nodeApimeter(() => undefined, { meter, routes: ['GET /orders/{id}', 'POST /orders'] });
    assert.deepEqual(
      meter.declarations.list().map((d) => `${d.method} ${d.route}`),
      ['GET /orders/{id}', 'POST /orders'],
    );
    // POST /orders was called after start-up, then stopped 20 minutes ago; GET /orders/{id} never was.
    const post = meter.endpoint('POST', '/orders')!;
    for (let m = 40; m > 20; m--) {
      clock.set(NOW - m * MIN);
      for (let i = 0; i < 60; i++) meter.record(post, 200, 20, -1, -1, ErrorKind.None);
    }
    clock.set(NOW);
    const rules = compileRules(
      { rules: [{ name: 'Silent', signal: 'traffic_anomaly', window: '15m', above: 6, min_requests: 50 }] },
      {
        defaultRules: false,
        errorRateThreshold: 0.05,
        p95ThresholdMs: 1000,
        authFailureThreshold: 0.2,
        anomalyThreshold: 6,
        anomalyMinRequests: 50,
      },
    );
    const alerts = startAlerts(meter, { rules, history, intervalSeconds: 0 });
    try {
      await alerts.evaluateNow();
      const byEndpoint = new Map(alerts.instances().map((i) => [i.endpoint, i]));
      assert.equal(byEndpoint.get('GET /orders/{id}')?.value, SILENT, 'declared, never called since start-up');
      assert.equal(byEndpoint.get('POST /orders')?.value, SILENT, 'called, then silent for the window');
      assert.equal(byEndpoint.get('POST /orders')?.state, 'firing');
    } finally {
      await alerts.close();
    }
  });
});
