import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LATENCY_SKETCH, relativeErrorBound, SIZE_SKETCH } from '../src/index.js';
import type { EndpointDetailJson, EndpointListJson, EndpointStatsJson, SummaryJson } from '../src/api/index.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Answer, Served } from './helpers/api.js';
import { buildFixture, exact, GROUPS, NOW, ROUTES, since, T0 } from './helpers/api-fixture.js';
import type { Fixture, Sent } from './helpers/api-fixture.js';

const BOUND = relativeErrorBound(LATENCY_SKETCH);
const TOKEN = 'test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const P = '/api/v2/metrics';

/** |estimate − exact| within the sketch's bound (plus float slack). */
function near(actual: number | null, expected: number | null, bound: number, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: null, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) <= bound * expected + 1e-9, `${what}: ${actual} vs exact ${expected}`);
}

/** Checks one endpoint's figures against the requests the fixture sent to it. */
function checkStats(stats: EndpointStatsJson, sent: readonly Sent[], seconds: number, what: string): void {
  const e = exact(sent);
  assert.equal(stats.count, e.count, `${what} count`);
  assert.deepEqual(stats.status_codes, e.codes, `${what} status codes`);
  assert.equal(stats.status_classes['5xx'], e.fiveXx, `${what} 5xx`);
  assert.equal(stats.latency_ms.count, e.count, `${what} latency count`);
  for (const k of ['p50', 'p90', 'p95', 'p99'] as const) near(stats.latency_ms[k], e[k], BOUND, `${what} ${k}`);
  assert.equal(stats.latency_ms.min, e.min, `${what} min is exact`);
  assert.equal(stats.latency_ms.max, e.max, `${what} max is exact`);
  near(stats.latency_ms.mean, e.mean, 1e-12, `${what} mean`);
  near(stats.rate_per_second, seconds > 0 ? e.count / seconds : 0, 1e-12, `${what} rate`);
  const errors = sent.filter((s) => s.status >= 400).length;
  assert.equal(stats.errors, errors, `${what} errors`);
  const share = (lo: number) =>
    e.count === 0 ? 0 : sent.filter((s) => s.status >= lo && s.status < lo + 100).length / e.count;
  near(stats.error_rate_5xx, share(500), 1e-12, `${what} 5xx share`);
  near(stats.error_rate_4xx, share(400), 1e-12, `${what} 4xx share`);
  assert.equal(
    stats.response_bytes.total,
    sent.reduce((a, s) => a + s.responseBytes, 0),
    `${what} response bytes`,
  );
}

describe('metrics API over real HTTP (framework-free handler on node:http)', () => {
  let fx: Fixture;
  let served: Served;
  let validate: (name: string, value: unknown) => void;
  const errors: unknown[] = [];

  /** GET with the token; 200 JSON answers are validated against the API's own OpenAPI schemas. */
  async function call<T>(path: string, schema?: string, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const answer = await get<T>(served.base + path, { ...AUTH, ...headers });
    assert.notEqual(answer.status, 500, `${path} answered 500: ${answer.text}`);
    if (answer.json !== undefined) {
      if (answer.status >= 400 && answer.status !== 503) validate('Problem', answer.json);
      else if (schema !== undefined) validate(schema, answer.json);
    }
    return answer;
  }

  before(async () => {
    fx = buildFixture();
    served = await serveApi({ meter: fx.meter, token: TOKEN, cacheSeconds: 0, onError: (e) => errors.push(e) });
    const doc = await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`, AUTH);
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    validate = schemaValidator(doc.json);
  });
  after(async () => {
    await served?.close();
    assert.deepEqual(errors, [], 'no unexpected error reached onError');
  });

  const WINDOWS = [
    ['1m', T0 + 2_980_000, 50],
    ['5m', T0 + 2_760_000, 270],
    ['15m', T0 + 2_160_000, 870],
    ['1h', T0, 3030],
    ['all', T0, 3030],
  ] as const;

  test('GET /endpoints: every window counts exactly what was sent in it; percentiles within the sketch bound', async () => {
    for (const [window, from, seconds] of WINDOWS) {
      const { status, json } = await call<EndpointListJson>(
        `${P}/endpoints?window=${window}&limit=1000`,
        'EndpointList',
      );
      assert.equal(status, 200);
      assert.equal(json.range.window, window);
      assert.equal(json.range.from, new Date(from).toISOString(), `${window} from`);
      assert.equal(json.range.to, new Date(NOW).toISOString());
      assert.equal(json.range.seconds, seconds, `${window} seconds`);
      assert.equal(json.total_entries, 7);
      for (const stats of json.endpoints) {
        const mine = since(fx.sent, from).filter((s) => s.method === stats.method && s.route === stats.route);
        checkStats(stats, mine, seconds, `${window} ${stats.method} ${stats.route}`);
      }
    }
  });

  test('size percentiles come with window=all only, within the size sketch bound', async () => {
    const { json } = await call<EndpointListJson>(
      `${P}/endpoints?window=all&method=GET&search=%7Bdag_id%7D`,
      'EndpointList',
    );
    const sizes = fx.sent.filter((s) => s.route === ROUTES.one).map((s) => s.responseBytes);
    assert.equal(json.endpoints[0].response_bytes.p50 !== null, true);
    near(json.endpoints[0].response_bytes.p50, 500, relativeErrorBound(SIZE_SKETCH), 'size p50');
    assert.equal(json.endpoints[0].response_bytes.count, sizes.length);
    const { json: short } = await call<EndpointListJson>(`${P}/endpoints?window=5m`, 'EndpointList');
    assert.ok(short.endpoints.every((e) => e.response_bytes.p50 === null));
  });

  test('start/end: a range inside the last 70 s reads 10 s slots, an older one 60 s slots', async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    // 49:50–50:10 holds the group at 50:00 only.
    let { json } = await call<EndpointListJson>(
      `${P}/endpoints?start=${iso(T0 + 2_990_000)}&end=${iso(T0 + 3_010_000)}`,
      'EndpointList',
    );
    assert.equal(json.range.resolution_seconds, 10);
    assert.equal(json.range.window, null);
    const at5000 = fx.sent.filter((s) => s.at === GROUPS[4]);
    assert.equal(
      json.endpoints.reduce((a, e) => a + e.count, 0),
      at5000.length,
    );
    // 40:00–41:00 (an offset spelled with an unencoded "+", which arrives as a space) holds minute 40 only.
    ({ json } = await call<EndpointListJson>(
      `${P}/endpoints?start=2025-03-01T14:40:00+02:00&end=2025-03-01T12:41:00Z&order_by=route`,
      'EndpointList',
    ));
    assert.equal(json.range.resolution_seconds, 60);
    assert.equal(json.range.from, iso(T0 + 2_400_000));
    assert.equal(json.range.to, iso(T0 + 2_460_000));
    for (const e of json.endpoints) {
      const mine = fx.sent.filter((s) => s.at === GROUPS[1] && s.method === e.method && s.route === e.route);
      checkStats(e, mine, 60, `minute 40 ${e.method} ${e.route}`);
    }
    // Mid-slot bounds are snapped outward: 40:30–41:30 reads minutes 40 and 41.
    ({ json } = await call<EndpointListJson>(`${P}/endpoints?start=${iso(T0 + 2_430_000)}&end=${iso(T0 + 2_490_000)}`));
    assert.equal(json.range.from, iso(T0 + 2_400_000));
    assert.equal(json.range.to, iso(T0 + 2_520_000));
    // start alone runs to now.
    ({ json } = await call<EndpointListJson>(`${P}/endpoints?start=${iso(T0 + 2_820_000)}`));
    assert.equal(
      json.endpoints.reduce((a, e) => a + e.count, 0),
      since(fx.sent, T0 + 2_820_000).length,
    );
  });

  test('pagination: limit, offset, total_entries; a huge limit is capped at 1000', async () => {
    const all = (await call<EndpointListJson>(`${P}/endpoints?window=all&order_by=route`, 'EndpointList')).json;
    assert.equal(all.limit, 100);
    assert.equal(all.endpoints.length, 7);
    const pages: string[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const { json } = await call<EndpointListJson>(
        `${P}/endpoints?window=all&order_by=route&limit=3&offset=${offset}`,
      );
      assert.equal(json.total_entries, 7);
      assert.equal(json.offset, offset);
      pages.push(...json.endpoints.map((e) => `${e.method} ${e.route}`));
    }
    assert.deepEqual(
      pages,
      all.endpoints.map((e) => `${e.method} ${e.route}`),
    );
    const past = (await call<EndpointListJson>(`${P}/endpoints?offset=50`)).json;
    assert.deepEqual(past.endpoints, []);
    assert.equal(past.total_entries, 7);
    const huge = await call<EndpointListJson>(`${P}/endpoints?limit=${'9'.repeat(40)}`, 'EndpointList');
    assert.equal(huge.status, 200);
    assert.equal(huge.json.limit, 1000);
  });

  test('order_by: every column, ascending and descending; endpoints without a value last', async () => {
    const doc = (await call<Record<string, unknown>>(`${P}/openapi.json`)).json as {
      paths: Record<string, { get: { parameters: { name: string; schema: { enum?: string[] } }[] } }>;
    };
    const orderEnum = doc.paths[`${P}/endpoints`].get.parameters.find((p) => p.name === 'order_by')!.schema.enum!;
    const columns = orderEnum.filter((k) => !k.startsWith('-'));
    assert.ok(columns.length >= 25, `${columns.length} columns`);
    const valueOf = (e: EndpointStatsJson, c: string): number | string | null => {
      const lat = e.latency_ms as Record<string, number | null>;
      if (c in lat && c !== 'count') return lat[c];
      if (c.startsWith('status_')) return e.status_classes[c.slice(7) as '2xx'];
      if (c in e.error_types) return e.error_types[c as 'aborted'];
      const m = /^(request|response)_bytes_(total|mean|max)$/.exec(c);
      if (m) return e[`${m[1]}_bytes` as 'request_bytes'][m[2] as 'total'];
      // Detailed mode's columns are absent from answers of a meter without it: no value.
      return (e as unknown as Record<string, number | string | undefined>)[c] ?? null;
    };
    for (const column of columns) {
      for (const desc of [false, true]) {
        const { status, json } = await call<EndpointListJson>(
          `${P}/endpoints?window=1m&order_by=${desc ? '-' : ''}${column}`,
        );
        assert.equal(status, 200, column);
        assert.equal(json.order_by, `${desc ? '-' : ''}${column}`);
        const values = json.endpoints.map((e) => valueOf(e, column));
        const present = values.filter((v) => v !== null);
        assert.deepEqual(
          values.slice(present.length),
          Array(values.length - present.length).fill(null),
          `${column}: nulls last`,
        );
        for (let i = 1; i < present.length; i++) {
          const [a, b] = [present[i - 1], present[i]];
          assert.ok(desc ? a >= b : a <= b, `${desc ? '-' : ''}${column}: ${String(a)} then ${String(b)}`);
        }
      }
    }
    // A numeric sort, not a text sort: counts 9 < 10 < 100 would be 10, 100, 9 as text.
    const counts = (await call<EndpointListJson>(`${P}/endpoints?window=all&order_by=count`)).json.endpoints.map(
      (e) => e.count,
    );
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
    );
  });

  test('filters: method, status code and class, search', async () => {
    const list = async (q: string) =>
      (
        await call<EndpointListJson>(`${P}/endpoints?window=all&order_by=route&${q}`, 'EndpointList')
      ).json.endpoints.map((e) => `${e.method} ${e.route}`);
    assert.deepEqual(await list('method=post'), ['POST /dags']);
    assert.deepEqual(await list('method=GET,POST&search=DAG_ID'), ['GET /dags/{dag_id}']);
    assert.deepEqual(await list('status=409'), ['POST /dags']);
    assert.deepEqual(await list('status=5xx'), ['GET /dags']);
    assert.deepEqual(await list('status=404'), ['GET /dags', 'GET /dags/{dag_id}']);
    assert.deepEqual(await list('status=204,409'), [
      'DELETE +1+1',
      'DELETE -2',
      'POST /dags',
      'DELETE =cmd|"calc",x\ny',
      'DELETE @SUM(A1)',
    ]);
    assert.deepEqual(await list('search=%22calc%22'), ['DELETE =cmd|"calc",x\ny']);
    assert.deepEqual(await list('search=nothing-matches'), []);
    // In a window where /dags/{dag_id} answered no 404: minute 40 alone, where i % 4 === 0 gave 404s — pick 1m
    // and a code nobody sent.
    assert.deepEqual(await list('status=418'), []);
  });

  test('CSV: header row, RFC 4180 escaping, formula guard; names otherwise exactly as recorded', async () => {
    for (const headers of [{}, { accept: 'text/csv' }] as Record<string, string>[]) {
      const q = 'accept' in headers ? '' : '&format=csv';
      const res = await call<undefined>(`${P}/endpoints?window=all&order_by=route${q}`, undefined, headers);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8/);
      assert.equal(res.headers.get('x-total-count'), '7');
      const lines = res.text.split('\r\n');
      assert.equal(lines.at(-1), '');
      assert.match(
        lines[0],
        /^method,route,count,errors,error_rate_5xx,error_rate_4xx,rate_per_second,min,mean,p50,p90,p95,p99,max,/,
      );
      const rows = lines.slice(1, -1);
      assert.equal(rows.length, 7, 'records end with CRLF; the LF inside one route is quoted data');
      const text = res.text;
      assert.ok(text.includes("\r\nDELETE,'+1+1,1,"), 'a "+" start gets a quote');
      assert.ok(text.includes("\r\nDELETE,'-2,1,"), 'a "-" start gets a quote');
      assert.ok(text.includes("\r\nDELETE,'@SUM(A1),1,"), 'an "@" start gets a quote');
      assert.ok(text.includes('\r\nDELETE,"\'=cmd|""calc"",x\ny",1,'), 'quotes doubled, comma and newline quoted');
      assert.ok(text.includes('\r\nGET,/dags,'), 'ordinary names are written as recorded');
    }
    const json = (
      await call<EndpointListJson>(`${P}/endpoints?window=all&format=json`, 'EndpointList', { accept: 'text/csv' })
    ).json;
    assert.ok(
      json.endpoints.some((e) => e.route === ROUTES.weird),
      'format=json wins over Accept, names exact in JSON',
    );
  });

  test('GET /endpoints/{endpoint}: all methods merged or one, exceptions, a time series that adds up', async () => {
    const path = `${P}/endpoints/${encodeURIComponent(ROUTES.list)}`;
    const { status, json } = await call<EndpointDetailJson>(`${path}?window=1h`, 'EndpointDetail');
    assert.equal(status, 200);
    const mine = fx.sent.filter((s) => s.route === ROUTES.list);
    assert.equal(json.route, ROUTES.list);
    assert.equal(json.method, null);
    assert.deepEqual(json.methods, ['GET', 'POST']);
    checkStats({ ...json, method: 'GET' }, mine, 3030, 'detail merged');
    assert.deepEqual(
      json.by_method.map((m) => [m.method, m.count]),
      [
        ['GET', mine.filter((s) => s.method === 'GET').length],
        ['POST', mine.filter((s) => s.method === 'POST').length],
      ],
    );
    const exceptions = mine.filter((s) => s.status === 500 && s.kind === 1);
    assert.deepEqual(
      json.exceptions.map((e) => [e.class, e.count]),
      [['DbError', exceptions.length]],
    );
    assert.equal(json.exceptions[0].last_message, 'lost row <n>', 'normalized: numbers replaced');
    assert.equal(json.series.step_seconds, 60);
    assert.equal(json.series.points.length, 51, 'minutes 0..50, empty ones included');
    assert.equal(
      json.series.points.reduce((a, p) => a + p.count, 0),
      mine.length,
    );
    for (const p of json.series.points) {
      const inMinute = mine.filter((s) => Math.floor((s.at - T0) / 60_000) === (Date.parse(p.start) - T0) / 60_000);
      assert.equal(p.count, inMinute.length, p.start);
      near(p.p95, exact(inMinute).p95, BOUND, `${p.start} p95`);
    }

    const post = (await call<EndpointDetailJson>(`${path}?method=post&window=5m`, 'EndpointDetail')).json;
    assert.equal(post.method, 'POST');
    checkStats(
      { ...post, method: 'POST' },
      since(mine, T0 + 2_760_000).filter((s) => s.method === 'POST'),
      270,
      'POST 5m',
    );
    assert.equal(post.series.step_seconds, 60);
    assert.equal(post.series.points.length, 5);

    const fine = (await call<EndpointDetailJson>(`${path}?window=1m`, 'EndpointDetail')).json;
    assert.equal(fine.series.step_seconds, 10);
    assert.deepEqual(
      fine.series.points.map((p) => p.count),
      // Fine slots 49:40 … 50:30: the group at 50:00 and the one at now.
      [0, 0, mine.filter((s) => s.at === GROUPS[4]).length, 0, 0, mine.filter((s) => s.at === NOW).length],
    );

    // Unencoded slashes work too, and so do hostile names once encoded.
    assert.equal((await call<EndpointDetailJson>(`${P}/endpoints//dags/{dag_id}`, 'EndpointDetail')).status, 200);
    const weird = await call<EndpointDetailJson>(
      `${P}/endpoints/${encodeURIComponent(ROUTES.weird)}`,
      'EndpointDetail',
    );
    assert.equal(weird.json.route, ROUTES.weird);
  });

  test('unknown endpoint or method: 404 with a clear detail', async () => {
    const res = await call<{ detail: string }>(`${P}/endpoints/${encodeURIComponent('/nope/{x}')}`);
    assert.equal(res.status, 404);
    assert.match(
      res.json.detail,
      /no endpoint "\/nope\/\{x\}" has been recorded; GET \/api\/v2\/metrics\/endpoints lists/,
    );
    const put = await call<{ detail: string }>(`${P}/endpoints/%2Fdags?method=PUT`);
    assert.equal(put.status, 404);
    assert.match(put.json.detail, /has no PUT requests recorded \(it has GET, POST\)/);
    const route = await call<{ detail: string }>(`${P}/nope`);
    assert.equal(route.status, 404);
    assert.match(route.json.detail, /no metrics API route at "\/api\/v2\/metrics\/nope"; routes: /);
  });

  test('GET /summary: totals, merged percentiles, top lists, and the previous period from the ring', async () => {
    const { json } = await call<SummaryJson>(`${P}/summary?window=5m&top=2`, 'Summary');
    const cur = since(fx.sent, T0 + 2_760_000);
    const e = exact(cur);
    assert.equal(json.count, e.count);
    assert.equal(json.endpoints, 7);
    assert.equal(json.active_endpoints, 7);
    near(json.availability, (e.count - e.fiveXx) / e.count, 1e-12, 'availability is a fraction');
    near(json.error_rate_5xx, e.fiveXx / e.count, 1e-12, 'error_rate_5xx');
    near(json.error_rate_4xx, cur.filter((s) => s.status >= 400 && s.status < 500).length / e.count, 1e-12, '4xx');
    for (const k of ['p50', 'p95', 'p99'] as const) near(json.latency_ms[k], e[k], BOUND, `summary ${k}`);
    assert.equal(json.top.by_count.length, 2);
    assert.deepEqual(
      json.top.by_count.map((t) => [t.method, t.route]),
      [
        ['GET', '/dags'],
        ['GET', '/dags/{dag_id}'],
      ],
    );
    const rates = json.top.by_error_rate_5xx.map((t) => t.error_rate_5xx);
    assert.deepEqual(
      rates,
      [...rates].sort((a, b) => b - a),
    );
    const worst = [...new Set(cur.map((s) => `${s.method} ${s.route}`))]
      .map((key) => {
        const sent = cur.filter((s) => `${s.method} ${s.route}` === key);
        return [key, sent.filter((s) => s.status >= 500).length / sent.length] as const;
      })
      .sort((a, b) => b[1] - a[1]);
    assert.ok(worst[0][1] > worst[1][1], 'the fixture has one worst endpoint');
    assert.equal(`${json.top.by_error_rate_5xx[0].method} ${json.top.by_error_rate_5xx[0].route}`, worst[0][0]);
    near(json.top.by_error_rate_5xx[0].error_rate_5xx, worst[0][1], 1e-12, 'worst 5xx rate');
    const slowest = ['GET /dags', 'POST /dags', 'GET /dags/{dag_id}', `DELETE ${ROUTES.weird}`]
      .map((key) => [key, exact(cur.filter((s) => `${s.method} ${s.route}` === key)).p95 ?? -1] as const)
      .sort((a, b) => b[1] - a[1])[0];
    assert.equal(`${json.top.by_p95[0].method} ${json.top.by_p95[0].route}`, slowest[0]);
    near(json.top.by_p95[0].p95, slowest[1], BOUND, 'slowest p95');

    const prevSent = fx.sent.filter((s) => s.at === GROUPS[2]);
    const prev = json.comparison.previous!;
    assert.equal(json.comparison.reason, null);
    assert.equal(prev.from, new Date(T0 + 41 * 60_000).toISOString());
    assert.equal(prev.to, new Date(T0 + 46 * 60_000).toISOString());
    assert.equal(prev.count, prevSent.length);
    near(prev.p95, exact(prevSent).p95, BOUND, 'previous p95');
    assert.equal(json.comparison.change!.count.absolute, e.count - prevSent.length);
    near(
      json.comparison.change!.count.percent,
      (100 * (e.count - prevSent.length)) / prevSent.length,
      1e-12,
      'change %',
    );

    const hour = (await call<SummaryJson>(`${P}/summary?window=1h`, 'Summary')).json;
    assert.equal(hour.comparison.previous, null);
    assert.match(
      hour.comparison.reason!,
      /older than the in-memory ring reaches \(60 minutes\); comparing it needs history/,
    );
    assert.equal(
      (await call<SummaryJson>(`${P}/summary?window=all`)).json.comparison.reason,
      'window=all has no previous period',
    );
    assert.match((await call<SummaryJson>(`${P}/summary?window=1m`)).json.comparison.reason!, /10-second ring/);
    const huge = (await call<SummaryJson>(`${P}/summary?top=100000`, 'Summary')).json;
    assert.equal(huge.top.by_count.length, 7);
  });

  test('bad input: 400 whose detail names the parameter (and the allowed values); never a 500', async () => {
    const cases: [string, string, RegExp?][] = [
      ['/endpoints?limit=abc', 'limit', /must be a whole number/],
      ['/endpoints?limit=0', 'limit', /at least 1/],
      ['/endpoints?limit=-5', 'limit'],
      ['/endpoints?limit=1.5', 'limit'],
      ['/endpoints?offset=-1', 'offset'],
      [`/endpoints?offset=${'9'.repeat(30)}`, 'offset', /at most/],
      ['/endpoints?order_by=nope', 'order_by', /allowed: method, route, count/],
      ['/endpoints?order_by=--count', 'order_by'],
      ['/endpoints?window=2h', 'window', /allowed: 1m, 5m, 15m, 1h, all, 6h, 24h, 7d, 30d/],
      ['/endpoints?window=', 'window'],
      ['/endpoints?window=24h', 'window', /needs persisted history .*api_metrics_persistence/],
      ['/endpoints?status=600', 'status', /allowed: a status code from 100 to 599/],
      ['/endpoints?status=6xx', 'status'],
      ['/endpoints?status=200,,404', 'status'],
      ['/endpoints?method=FETCH', 'method', /allowed: .*GET/],
      ['/endpoints?format=xml', 'format', /allowed: json, csv/],
      [`/endpoints?search=${'x'.repeat(201)}`, 'search', /at most 200/],
      ['/endpoints?start=yesterday', 'start', /ISO 8601/],
      ['/endpoints?start=2025-02-30T00:00:00Z', 'start', /not a real date-time/],
      ['/endpoints?start=2025-03-01T12:40:00', 'start', /needs a zone/],
      ['/endpoints?end=2025-03-01T12:40:00Z', 'start', /end needs a start/],
      ['/endpoints?start=2025-03-01T12:45:00Z&end=2025-03-01T12:40:00Z', 'end', /after start/],
      ['/endpoints?start=2030-01-01T00:00:00Z', 'start', /in the future/],
      ['/endpoints?start=2025-03-01T10:00:00Z', 'start', /older than memory reaches .*api_metrics_persistence/],
      ['/endpoints?window=5m&start=2025-03-01T12:40:00Z', 'window', /either window or start\/end/],
      ['/endpoints?limt=5', 'limt', /unknown query parameter "limt"; this route accepts limit, offset/],
      ['/endpoints?limit=1&limit=2', 'limit', /given 2 times/],
      ['/endpoints/%E0%A4%A', 'endpoint', /URL encoding/],
      ['/endpoints/%2Fdags?method=FOO', 'method'],
      ['/summary?top=0', 'top'],
      ['/summary?window=12m', 'window'],
      ['/health?window=all', 'window', /allowed: 1m, 5m, 15m, 1h/],
      ['/health?verbose=1', 'verbose'],
      [`/endpoints?${'a=1&'.repeat(1100)}`, 'query', /query string is/],
    ];
    for (const [path, parameter, detail] of cases) {
      const res = await call<{ detail: string; parameter: string; status: number }>(P + path);
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.equal(res.json.parameter, parameter, path);
      assert.equal(res.json.status, 400);
      assert.ok(res.json.detail.startsWith(`${parameter}: `), `${path}: ${res.json.detail}`);
      if (detail) assert.match(res.json.detail, detail, path);
    }
  });

  test('hostile input never gets a 500', async () => {
    const values = [
      '%00',
      '%ZZ',
      '%F0%9F%92%A9',
      "'; DROP TABLE x; --",
      '<script>',
      '\u202e',
      '9'.repeat(500),
      '-',
      '',
      '%',
      '+',
    ];
    const names = [
      'limit',
      'offset',
      'order_by',
      'window',
      'status',
      'method',
      'search',
      'format',
      'start',
      'end',
      'top',
      '__proto__',
      'constructor',
    ];
    for (const route of [
      '/endpoints',
      '/endpoints/%2Fdags',
      '/summary',
      '/health',
      '/endpoints/%25',
      '/endpoints/__proto__',
    ]) {
      for (const name of names) {
        for (const value of values) {
          const res = await get(`${served.base}${P}${route}?${name}=${value}`, AUTH);
          assert.ok([200, 400, 404].includes(res.status), `${route}?${name}=${value}: ${res.status} ${res.text}`);
        }
      }
    }
    const long = await get(`${served.base}${P}/endpoints/${'a'.repeat(5000)}`, AUTH);
    assert.equal(long.status, 404);
    const post = await fetch(`${served.base}${P}/summary`, { method: 'POST', headers: AUTH });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${served.base}${P}/summary`, { method: 'HEAD', headers: AUTH });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});
