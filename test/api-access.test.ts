import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createMeter, ErrorKind, ManualClock } from '../src/index.js';
import type { ApimeterError } from '../src/index.js';
import type { ApiRequest, SummaryJson } from '../src/api/index.js';
import { createMetricsApi, createNodeHandler, MemoryHistory } from '../src/api/index.js';
import { AnswerCache } from '../src/api/cache.js';
import { get, serveApi } from './helpers/api.js';

const P = '/api/v2/metrics';

function meterWithTraffic(clock = new ManualClock(Date.parse('2025-03-01T12:00:00Z'))) {
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const ep = meter.endpoint('GET', '/a')!;
  for (let i = 0; i < 10; i++) meter.record(ep, 200, 5 + i, -1, -1, ErrorKind.None);
  return { meter, clock, ep };
}

describe('access: bearer token, authorize(), open /metrics', () => {
  test('no credentials 401 (with a Bearer challenge), wrong 403, right 200, on every route', async () => {
    const { meter } = meterWithTraffic();
    const served = await serveApi({ meter, token: 's3cret-token' });
    try {
      for (const path of [
        `${P}/endpoints`,
        `${P}/endpoints/%2Fa`,
        `${P}/summary`,
        `${P}/health`,
        `${P}/openapi.json`,
        '/metrics',
      ]) {
        const none = await get<{ detail: string }>(served.base + path);
        assert.equal(none.status, 401, path);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="apimeter"');
        assert.match(none.json.detail, /Authorization: Bearer/);
        assert.equal(
          (await get(served.base + path, { authorization: 'Basic dXNlcjpwYXNz' })).status,
          401,
          `${path} basic`,
        );
        for (const wrong of ['s3cret-tokeN', 's3cret-token-and-more', 's', 'Bearer']) {
          const res = await get<{ detail: string }>(served.base + path, { authorization: `Bearer ${wrong}` });
          assert.equal(res.status, 403, `${path} ${wrong}`);
        }
        const ok = await get(served.base + path, { authorization: 'bearer s3cret-token' });
        assert.equal(ok.status, 200, path);
      }
      // Auth comes before parameter checks: an anonymous client learns nothing about the API.
      assert.equal((await get(`${served.base}${P}/endpoints?limit=abc`)).status, 401);
    } finally {
      await served.close();
    }
  });

  test('metrics_api_open_prometheus leaves /metrics open and the rest protected', async () => {
    const { meter } = meterWithTraffic();
    const served = await serveApi({ meter, token: 'tok', openPrometheus: true });
    try {
      const prom = await get(`${served.base}/metrics`);
      assert.equal(prom.status, 200);
      assert.match(prom.text, /^http_server_requests_total\{method="GET",route="\/a",status_class="2xx"\} 10$/m);
      assert.equal((await get(`${served.base}${P}/summary`)).status, 401);
    } finally {
      await served.close();
    }
  });

  test('configuration keys: token, open Prometheus, paths from the meter config', async () => {
    const meter = createMeter({
      iniPath: false,
      env: { APIMETER__API__METRICS_API_TOKEN: 'from-env', APIMETER__API__METRICS_API_OPEN_PROMETHEUS: 'true' },
      metricsApiPrefix: '/m/',
      metricsPrometheusPath: '/prom',
    });
    const served = await serveApi({ meter });
    try {
      assert.equal((await get(`${served.base}/prom`)).status, 200);
      const auth = { authorization: 'Bearer from-env' };
      assert.equal((await get(`${served.base}/metrics`, auth)).status, 404, 'not served at the default path');
      assert.equal((await get(`${served.base}/metrics`)).status, 401, 'access is checked before the 404');
      assert.equal((await get(`${served.base}/m/summary`)).status, 401);
      assert.equal((await get(`${served.base}/m/summary`, { authorization: 'Bearer from-env' })).status, 200);
    } finally {
      await served.close();
    }
  });

  test('authorize(): true lets through, false is 401 without an Authorization header and 403 with one', async () => {
    const { meter } = meterWithTraffic();
    const seen: ApiRequest[] = [];
    const errors: unknown[] = [];
    const served = await serveApi({
      meter,
      token: 'ignored-when-authorize-is-given',
      authorize: async (req) => {
        seen.push(req);
        if (req.headers['x-explode'] !== undefined) throw new Error('directory down');
        return req.headers.authorization === 'Bearer admin';
      },
      onError: (e) => errors.push(e),
    });
    try {
      assert.equal((await get(`${served.base}${P}/summary`)).status, 401);
      assert.equal((await get(`${served.base}${P}/summary`, { authorization: 'Bearer guest' })).status, 403);
      assert.equal((await get(`${served.base}${P}/summary`, { authorization: 'Bearer admin' })).status, 200);
      assert.equal(seen.at(-1)?.url, `${P}/summary`);
      assert.equal(seen.at(-1)?.method, 'GET');
      const boom = await get<{ detail: string }>(`${served.base}${P}/summary`, { 'x-explode': '1' });
      assert.equal(boom.status, 500);
      assert.doesNotMatch(boom.json.detail, /directory down/, 'internal messages stay in the log');
      assert.equal((errors[0] as Error).message, 'directory down');
    } finally {
      await served.close();
    }
  });

  test('no token and no authorize: closed, with a 401 that says how to configure access', async () => {
    const { meter } = meterWithTraffic();
    const api = createMetricsApi({ meter });
    for (const headers of [{}, { authorization: 'Bearer anything' }]) {
      const res = await api.handle({ method: 'GET', url: `${P}/summary`, headers });
      assert.equal(res.status, 401);
      assert.match(String(res.body), /metrics_api_token/);
    }
    api.close();
  });

  test('options are checked at start-up, naming the option', () => {
    const { meter } = meterWithTraffic();
    assert.throws(() => createMetricsApi({ meter, prefix: 'no-slash' }), /option prefix/);
    assert.throws(() => createMetricsApi({ meter, cacheSeconds: -1 }), /option cacheSeconds/);
    assert.throws(() => createMetricsApi({ meter, token: 'has space' }), /option token: invalid$/);
    assert.throws(() => createMetricsApi({ meter, bogus: 1 } as never), /APIMETER_ERR_CONFIG_INVALID/);
    // Every problem at once, in the words of the option checks: all unknown keys of an object in one line.
    assert.throws(
      () =>
        createMetricsApi({
          meter,
          bogus: 1,
          other: 2,
          cacheEntries: 0.5,
          health: [],
          prometheus: { naming: 'prom', durationBuckets: [1, 0.5], extra: true },
        } as never),
      (e: ApimeterError) => {
        assert.deepEqual(e.problems, [
          'createMetricsApi option cacheEntries: invalid (Invalid input: expected int, received number)',
          'createMetricsApi option health: invalid (Invalid input: expected object, received array)',
          'createMetricsApi option prometheus.naming: invalid (Invalid option: expected one of "otel"|"legacy"|"airflow")',
          'createMetricsApi option prometheus.durationBuckets: invalid (expected ascending bounds)',
          'createMetricsApi option prometheus: invalid (Unrecognized key: "extra")',
          'createMetricsApi option options: invalid (Unrecognized keys: "bogus", "other")',
        ]);
        return true;
      },
    );
    assert.throws(
      () => createMetricsApi({} as never),
      /option meter: invalid \(Invalid input: expected Meter, received undefined\)/,
    );
    assert.throws(
      () => createMetricsApi({ meter, health: { p95DegradedMs: 500, p95UnhealthyMs: 100 } }),
      /metrics_health_p95_degraded_ms \(500\) must not exceed metrics_health_p95_unhealthy_ms \(100\)/,
    );
  });
});

describe('answer cache', () => {
  test('answers from memory are never cached: 10 requests, then /summary counts them', async () => {
    const clock = new ManualClock(Date.parse('2025-03-01T12:00:00Z'));
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const ep = meter.endpoint('GET', '/a')!;
    const served = await serveApi({ meter, cacheSeconds: 5 });
    try {
      const summary = () => get<SummaryJson>(`${served.base}${P}/summary`);
      const list = async (w: string) =>
        (await get<{ endpoints: { count: number }[] }>(`${served.base}${P}/endpoints?window=${w}`)).json.endpoints[0]
          .count;
      const first = await summary();
      assert.equal(first.json.count, 0);
      assert.equal(first.headers.get('cache-control'), 'no-store');
      for (let i = 0; i < 10; i++) meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
      const next = await summary();
      assert.equal(next.json.count, 10, 'not the answer of a moment ago');
      assert.equal(next.headers.get('cache-control'), 'no-store');
      assert.equal(await list('1h'), 10);
      meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
      assert.equal(await list('1h'), 11);
      assert.equal((await summary()).json.count, 11);
    } finally {
      await served.close();
    }
  });

  test('answers read from history are reused until the TTL passes on the meter clock, and say so', async () => {
    const { meter, clock, ep } = meterWithTraffic();
    const history = new MemoryHistory(300_000);
    const served = await serveApi({ meter, cacheSeconds: 5, history });
    try {
      const summary = () => get<SummaryJson>(`${served.base}${P}/summary?window=24h`);
      const first = await summary();
      assert.equal(first.json.count, 10);
      assert.equal(first.headers.get('cache-control'), 'private, max-age=5');
      assert.equal(first.headers.get('age'), null);
      meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
      clock.advance(2_000);
      const again = await summary();
      assert.equal(again.json.count, 10, 'cached');
      assert.equal(again.headers.get('cache-control'), 'private, max-age=5');
      assert.equal(again.headers.get('age'), '2', 'and how old it is');
      clock.advance(3_000);
      const fresh = await summary();
      assert.equal(fresh.json.count, 11, 'expired');
      assert.equal(fresh.headers.get('age'), null);
    } finally {
      await served.close();
    }
  });

  test('bounded in entries and bytes; expired entries go first', () => {
    let now = 0;
    const cache = new AnswerCache<{ size: number; v: number }>(1000, 3, 100, () => now);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, { size: 10, v: i });
    assert.equal(cache.size, 3);
    assert.equal(cache.get('k0'), undefined);
    assert.equal(cache.get('k9')?.v, 9);
    cache.set('big', { size: 80, v: 0 });
    assert.ok(cache.sizeBytes <= 100, `${cache.sizeBytes} bytes`);
    assert.equal(cache.get('big')?.v, 0);
    cache.set('huge', { size: 101, v: 0 });
    assert.equal(cache.get('huge'), undefined, 'an answer larger than the whole cache is not kept');
    now = 1000;
    assert.equal(cache.get('big'), undefined, 'expired');
    cache.set('fresh', { size: 1, v: 1 });
    assert.equal(cache.size, 1, 'expired entries are dropped when a new one comes');
    const off = new AnswerCache<{ size: number }>(0, 3, 100, () => 0);
    off.set('a', { size: 1 });
    assert.equal(off.get('a'), undefined);
  });
});

describe('mounting', () => {
  test('createNodeHandler as middleware: API paths answered, others passed to next (Express originalUrl honoured)', async () => {
    const { meter } = meterWithTraffic();
    const api = createMetricsApi({ meter, token: 't' });
    const handler = createNodeHandler(api);
    const server = http.createServer((req, res) => {
      // What Express does for app.use('/mounted', mw): req.url loses the mount path, originalUrl keeps it.
      if (req.url?.startsWith('/mounted/')) {
        Object.assign(req, {
          originalUrl: req.url.slice('/mounted'.length),
          url: req.url.slice('/mounted'.length + 4),
        });
      }
      handler(req, res, () => res.end('the app'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${base}/elsewhere`)).text, 'the app');
      const ok = await get<{ count: number }>(`${base}${P}/summary?window=all`, { authorization: 'Bearer t' });
      assert.equal(ok.json.count, 10);
      assert.equal(ok.headers.get('content-length'), String(Buffer.byteLength(ok.text)));
      assert.equal((await get(`${base}/mounted${P}/summary`, { authorization: 'Bearer t' })).status, 200);
      assert.equal(
        (await get(`${base}${P}/unknown`, { authorization: 'Bearer t' })).status,
        404,
        'under the prefix: ours',
      );
    } finally {
      api.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('the OpenAPI document lists every route, its parameters and its security', async () => {
    const { meter } = meterWithTraffic();
    const api = createMetricsApi({ meter, token: 't', openPrometheus: true, prefix: '/m' });
    const doc = api.openApi() as {
      paths: Record<string, { get: { parameters?: { name: string }[]; security?: unknown[] } }>;
      security?: unknown[];
      components: { schemas: Record<string, unknown> };
    };
    assert.deepEqual(Object.keys(doc.paths), [
      '/m/endpoints',
      '/m/endpoints/{endpoint}',
      '/m/consumers',
      '/m/consumers/{id}',
      '/m/summary',
      '/m/health',
      '/m/inventory',
      '/m/openapi.json',
      '/m/alerts',
      '/m/alerts/rules',
      '/m/slo',
      '/m/slo/{name}',
      '/metrics',
    ]);
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.deepEqual(doc.paths['/metrics'].get.security, [], 'open Prometheus needs no credentials');
    const names = (path: string) => doc.paths[path].get.parameters!.map((p) => p.name);
    assert.deepEqual(names('/m/endpoints'), [
      'limit',
      'offset',
      'order_by',
      'method',
      'status',
      'search',
      'format',
      'apdex_t_ms',
      'consumer',
      'window',
      'start',
      'end',
    ]);
    assert.deepEqual(names('/m/endpoints/{endpoint}'), [
      'endpoint',
      'method',
      'apdex_t_ms',
      'consumer',
      'window',
      'start',
      'end',
    ]);
    assert.deepEqual(names('/m/inventory'), ['status', 'format', 'window', 'start', 'end']);
    assert.deepEqual(names('/m/consumers'), [
      'limit',
      'offset',
      'order_by',
      'group',
      'format',
      'window',
      'start',
      'end',
    ]);
    assert.deepEqual(names('/m/consumers/{id}'), ['id', 'window', 'start', 'end']);
    for (const name of [
      'EndpointList',
      'EndpointDetail',
      'ConsumerList',
      'ConsumerDetail',
      'Summary',
      'Health',
      'Problem',
      'Inventory',
    ]) {
      assert.ok(name in doc.components.schemas, name);
    }
    api.close();
  });
});
