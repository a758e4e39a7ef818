import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parseCli, startDemo } from '../demo/main.js';
import type { DemoOptions, RunningDemo } from '../demo/main.js';
import type { EndpointDetailJson, EndpointListJson, EndpointStatsJson, SummaryJson } from '../src/api/index.js';
import type { InventoryJson } from '../src/api/inventory-schema.js';

// Deterministic demo: no artificial delay, no injected faults, no console output, no ini/env config.
const QUIET: DemoOptions = {
  port: 0,
  db: ':memory:',
  traffic: false,
  reportEvery: 0,
  latencyScale: 0,
  faultRate: 0,
  log: () => {},
  // No answer cache: the tests poll the summary until the last request is recorded.
  meter: { iniPath: false, env: {}, metricsApiCacheSeconds: 0 },
};

/** GET from the demo's metrics API with its token. */
async function getJson<T>(demo: RunningDemo, path: string): Promise<T> {
  const res = await fetch(demo.metricsUrl + path, { headers: { authorization: `Bearer ${demo.token}` } });
  assert.equal(res.status, 200, `${path} answered ${res.status}`);
  return (await res.json()) as T;
}

/**
 * Endpoints over `all`, once the meter has seen `expected` requests: the client can read a response
 * before the server's onResponse hook has run, so poll briefly instead of reading once.
 */
async function settledEndpoints(demo: RunningDemo, expected: number): Promise<EndpointStatsJson[]> {
  const deadline = Date.now() + 3000;
  let summary = await getJson<SummaryJson>(demo, '/summary?window=all');
  while (summary.count < expected && Date.now() < deadline) {
    await sleep(20);
    summary = await getJson<SummaryJson>(demo, '/summary?window=all');
  }
  assert.equal(summary.count, expected, 'requests recorded (the metrics API calls themselves are excluded)');
  return (await getJson<EndpointListJson>(demo, '/endpoints?window=all&limit=1000')).endpoints;
}

function find(endpoints: EndpointStatsJson[], method: string, route: string): EndpointStatsJson {
  const ep = endpoints.find((e) => e.method === method && e.route === route);
  assert.ok(ep, `no endpoint ${method} ${route}; have ${endpoints.map((e) => `${e.method} ${e.route}`).join(', ')}`);
  return ep;
}

async function send(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

describe('demo API measured over real HTTP (traffic off)', () => {
  let demo: RunningDemo;
  const log = { bytes: -1, contentLength: null as string | null, status: 0 };

  before(async () => {
    demo = await startDemo(QUIET);
    const api = `${demo.url}/api/v2`;
    for (let i = 0; i < 20; i++) assert.equal(await send(`${api}/dags?limit=5&offset=${i % 3}`), 200);
    for (let i = 0; i < 5; i++) assert.equal(await send(`${api}/dags/no_such_dag_${i}`), 404);
    for (const body of ['{"is_paused":"maybe"}', '{}', '[1,2]']) {
      const init = { method: 'PATCH', headers: { 'content-type': 'application/json' }, body };
      assert.equal(await send(`${api}/dags/tutorial`, init), 400);
    }
    for (let i = 0; i < 7; i++) assert.equal(await send(`${demo.url}/nope/${i}?x=${i}`), 404);

    // Seeded run ids contain ':' and '+', as Airflow's do.
    const runId = encodeURIComponent('scheduled__2025-01-02T00:00:00+00:00');
    const res = await fetch(`${api}/dags/etl_orders/dagRuns/${runId}/taskInstances/extract/logs/1`);
    log.status = res.status;
    log.contentLength = res.headers.get('content-length');
    log.bytes = (await res.arrayBuffer()).byteLength;
  });

  after(() => demo?.close());

  test('every request is counted once, under its route template', async () => {
    const endpoints = await settledEndpoints(demo, 20 + 5 + 3 + 7 + 1);

    const list = find(endpoints, 'GET', '/api/v2/dags');
    assert.equal(list.count, 20);
    assert.deepEqual(list.status_codes, { '200': 20 });
    assert.equal(list.errors, 0);

    const dag = find(endpoints, 'GET', '/api/v2/dags/{dag_id}');
    assert.equal(dag.count, 5);
    assert.deepEqual(dag.status_codes, { '404': 5 });
    assert.equal(dag.error_types.client_error, 5);

    const patch = find(endpoints, 'PATCH', '/api/v2/dags/{dag_id}');
    assert.equal(patch.count, 3);
    assert.deepEqual(patch.status_codes, { '400': 3 });
    assert.equal(patch.error_types.validation, 3);
    assert.equal(patch.error_types.client_error, 0, 'error types are exclusive');

    const unmatched = find(endpoints, 'GET', '__unmatched__');
    assert.equal(unmatched.count, 7);
    assert.deepEqual(unmatched.status_codes, { '404': 7 });

    for (const e of endpoints) {
      assert.doesNotMatch(e.route, /no_such_dag|\/nope|\/metrics/, `raw path or excluded route leaked: ${e.route}`);
    }
  });

  test('the streamed log route counts the bytes the client received', async () => {
    assert.equal(log.status, 200);
    assert.equal(log.contentLength, null, 'the log must be streamed without Content-Length');
    assert.ok(log.bytes > 1000, `log too short: ${log.bytes} bytes`);
    const endpoints = await settledEndpoints(demo, 36);
    const logs = find(
      endpoints,
      'GET',
      '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}',
    );
    assert.equal(logs.count, 1);
    assert.equal(logs.response_bytes.count, 1);
    assert.equal(logs.response_bytes.total, log.bytes);
  });

  test('a bad window is a 400 with a detail; no token is a 401; /metrics is open', async () => {
    const auth = { authorization: `Bearer ${demo.token}` };
    for (const path of ['/endpoints?window=2m', '/summary?window=']) {
      const res = await fetch(demo.metricsUrl + path, { headers: auth });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { detail?: string; parameter?: string };
      assert.equal(body.parameter, 'window');
      assert.match(body.detail ?? '', /^window: .*allowed: 1m, 5m, 15m, 1h, all/);
    }
    assert.equal((await fetch(demo.metricsUrl + '/summary')).status, 401);
    const prom = await fetch(demo.url + '/metrics');
    assert.equal(prom.status, 200);
    assert.match(
      await prom.text(),
      /^http_server_requests_total\{method="GET",route="\/api\/v2\/dags",status_class="2xx"\} 20$/m,
    );
  });
  test('/inventory: never called, deprecated but called and undocumented, as sent', async () => {
    for (let i = 0; i < 2; i++) assert.equal(await send(`${demo.url}/api/v2/dags/tutorial/details`), 200);
    // Sent by before(): 20 lists, 5 unknown DAGs, 3 bad patches, 1 log read, 7 unknown paths.
    const inv = await getJson<InventoryJson>(demo, '/inventory?window=all');
    const entry = (key: string) => {
      const e = inv.endpoints.find((x) => `${x.method} ${x.route}` === key);
      assert.ok(e, `${key} not in the inventory`);
      return e;
    };
    assert.equal(entry('GET /api/v2/dags/{dag_id}/details').status, 'deprecated_but_called');
    assert.equal(entry('GET /api/v2/dags/{dag_id}/details').calls, 2);
    assert.equal(entry('GET /api/v2/dags/{dag_id}/details').operation_id, 'get_dag_details');
    assert.equal(entry('GET /api/v2/pools').status, 'never_called');
    assert.equal(entry('GET /api/v2/dags').calls, 20);
    assert.equal(entry('GET /api/v2/dags/{dag_id}').status, 'used');
    assert.equal(entry('PATCH /api/v2/dags/{dag_id}').calls, 3);
    assert.equal(entry('GET /api/v2/monitor/health').status, 'never_called');
    assert.equal(inv.totals.used, 4);
    assert.equal(inv.totals.deprecated_but_called, 1);
    assert.deepEqual(
      inv.undocumented.map((u) => [u.method, u.template, u.calls]),
      [['GET', '/nope/{id}', 7]],
    );
    assert.ok(
      inv.endpoints.every((e) => !e.route.startsWith('/api/v2/metrics')),
      'the metrics API is excluded',
    );
    assert.deepEqual(
      inv.endpoints.filter((e) => e.method === 'HEAD'),
      [],
      "Fastify's automatic HEAD routes are not declarations",
    );
  });
});

describe('demo faults and conflicts', () => {
  let demo: RunningDemo;
  before(async () => {
    demo = await startDemo({ ...QUIET, faultRate: 1 });
  });
  after(() => demo?.close());

  test('SchedulerUnavailableError is a 500 exception; a duplicate run is a 409', async () => {
    const runs = `${demo.url}/api/v2/dags/tutorial/dagRuns`;
    const runId = encodeURIComponent('scheduled__2025-01-03T00:00:00+00:00');
    for (let i = 0; i < 4; i++) assert.equal(await send(`${runs}/${runId}/taskInstances`), 500);
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dag_run_id: 'manual__one' }),
    };
    assert.equal(await send(runs, init), 200);
    assert.equal(await send(runs, init), 409);

    const endpoints = await settledEndpoints(demo, 6);
    const route = '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances';
    const tis = find(endpoints, 'GET', route);
    assert.deepEqual(tis.status_codes, { '500': 4 });
    assert.equal(tis.error_types.exception, 4);
    const detail = await getJson<EndpointDetailJson>(demo, `/endpoints/${encodeURIComponent(route)}?window=all`);
    assert.deepEqual(
      detail.exceptions.map((e) => [e.class, e.count]),
      [['SchedulerUnavailableError', 4]],
    );
    const post = find(endpoints, 'POST', '/api/v2/dags/{dag_id}/dagRuns');
    assert.deepEqual(post.status_codes, { '200': 1, '409': 1 });
  });
});

describe('demo with the traffic generator on', () => {
  let demo: RunningDemo;
  before(async () => {
    demo = await startDemo({ ...QUIET, traffic: true, rate: 100, latencyScale: 0.2, faultRate: 0.03 });
  });
  after(() => demo?.close());

  test('generated traffic reaches several routes without client failures', async () => {
    await sleep(2000);
    const { endpoints } = await getJson<EndpointListJson>(demo, '/endpoints?window=1m');
    const busy = endpoints.filter((e) => e.count > 0);
    assert.ok(busy.length >= 5, `only ${busy.length} routes saw traffic`);
    assert.ok(find(endpoints, 'GET', '/api/v2/dags').count > 0);
    assert.ok(demo.traffic);
    assert.ok(demo.traffic.stats.sent > 50, `sent ${demo.traffic.stats.sent}`);
    assert.equal(demo.traffic.stats.failed, 0);

    await demo.close();
    const sent = demo.traffic.stats.sent;
    await sleep(100);
    assert.equal(demo.traffic.stats.sent, sent, 'no request after close()');
  });
});

describe('demo command line', () => {
  test('flags, defaults and PORT', () => {
    assert.equal(parseCli(['--help']), null);
    const d = parseCli([], {});
    assert.deepEqual(d, {
      port: 8080,
      host: '127.0.0.1',
      db: './data/demo.db',
      traffic: false,
      rate: 50,
      reportEvery: 10,
    });
    assert.equal(parseCli([], { PORT: '9000' })?.port, 9000);
    assert.equal(parseCli(['--port', '0', '--traffic', '--rate', '5'], { PORT: '9000' })?.port, 0);
    assert.throws(() => parseCli(['--nope']), /unknown option '--nope'/);
    assert.throws(() => parseCli(['--port', 'http']), /--port must be an integer/);
    assert.throws(() => parseCli(['--report-every=-1']), /--report-every must be/);
  });

  test('an unknown flag exits 2 with one line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'demo/main.ts', '--bogus'], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });
});
