/**
 * Detailed mode (`metrics_detailed`) in the metrics API, over real HTTP: the `detail` object of
 * /endpoints/{endpoint}, the listing's extra columns, the summary totals, validated against the API's own
 * OpenAPI document — and, with detailed mode off, answers without any of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EndpointDetailJson, EndpointListJson, EndpointStatsJson, SummaryJson } from '../src/api/index.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Answer, Served } from './helpers/api.js';
import { detailTraffic, plainTraffic, ROUTE, T0, trace } from './helpers/detail-traffic.js';
import type { DetailTraffic } from './helpers/detail-traffic.js';

const P = '/api/v2/metrics';
const ORDERS = `${P}/endpoints/${encodeURIComponent(ROUTE)}`;
const iso = (ms: number) => new Date(ms).toISOString();
const DETAIL_FIELDS = ['auth_attempts', 'auth_failures', 'rate_limited', 'db_queries', 'db_queries_per_request'];
const SUMMARY_FIELDS = ['auth_attempts', 'auth_failures', 'rate_limited', 'db_queries', 'db_query_ms'];

describe('metrics API: detailed mode', () => {
  let fx: DetailTraffic;
  let served: Served;
  let validate: (name: string, value: unknown) => void;

  async function call<T>(path: string, schema?: string): Promise<Answer<T>> {
    const answer = await get<T>(served.base + path);
    assert.equal(answer.status, 200, `${path}: ${answer.text}`);
    if (schema !== undefined) validate(schema, answer.json);
    return answer;
  }

  before(async () => {
    fx = detailTraffic();
    served = await serveApi({ meter: fx.meter, cacheSeconds: 0 });
    validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
  });
  after(() => served?.close());

  test('/endpoints/{endpoint}: auth, rate limit, database, errors and exemplars, both methods merged', async () => {
    const { json } = await call<EndpointDetailJson>(ORDERS, 'EndpointDetail');
    const d = json.detail!;
    assert.equal(d.requests, 15);
    assert.deepEqual(d.auth, {
      attempts: 13,
      failures: 3,
      failure_rate: 3 / 13,
      by_type: [
        { type: 'bearer', success: 6, failure: 2 },
        { type: 'basic', success: 3, failure: 0 },
        { type: 'api_key', success: 1, failure: 0 },
        { type: 'session', success: 0, failure: 1 },
      ],
    });
    assert.deepEqual(d.rate_limit, {
      limited: 2,
      limit: 50,
      remaining: 0,
      reported_at: iso(T0 + 1000),
      lowest_remaining_share: 0,
    });
    assert.equal(d.db.queries, 12);
    assert.equal(d.db.query_ms, 27);
    assert.equal(d.db.queries_per_request_mean, 12 / 15);
    const qpr = d.db.queries_per_request;
    assert.deepEqual([qpr.count, qpr.min, qpr.max], [15, 0, 2]);
    assert.ok(Math.abs(qpr.mean! - 12 / 15) < 1e-12);
    const dms = d.db.db_ms_per_request;
    assert.deepEqual([dms.count, dms.min, dms.max, dms.mean], [8, 1, 5, 27 / 8]);
    assert.deepEqual(d.error_messages, [
      { class: 'Error', message: 'Order <n> not found for user <uuid>', count: 2, last_at: iso(T0 + 500) },
    ]);
    assert.equal(d.error_samples.length, 2);
    for (const s of d.error_samples) {
      assert.deepEqual(
        { ...s, frames: [] },
        {
          at: iso(T0 + 500),
          status: 500,
          class: 'Error',
          message: 'Order <n> not found for user <uuid>',
          frames: [],
          trace_id: trace(5)[0],
        },
      );
      assert.ok(s.frames.length > 0 && s.frames.every((f) => f.startsWith('at ')), 'stack frames only');
    }
    assert.deepEqual(
      d.exemplars.map((e) => [e.value_ms, e.trace_id, e.span_id, e.at]),
      [
        [3, ...trace(1), iso(T0)],
        [12, ...trace(2), iso(T0)],
        [20, ...trace(5), iso(T0 + 500)],
        [40, ...trace(3), iso(T0)],
        [300, ...trace(4), iso(T0)],
      ],
    );
    // The flat window counts, merged and per method.
    assert.deepEqual(pick(json), {
      auth_attempts: 13,
      auth_failures: 3,
      rate_limited: 2,
      db_queries: 12,
      db_queries_per_request: 0.8,
    });
    assert.deepEqual(
      json.by_method.map((m) => [m.method, pick(m)]),
      [
        ['GET', { auth_attempts: 9, auth_failures: 2, rate_limited: 1, db_queries: 9, db_queries_per_request: 0.9 }],
        ['POST', { auth_attempts: 4, auth_failures: 1, rate_limited: 1, db_queries: 3, db_queries_per_request: 0.6 }],
      ],
    );
  });

  test('method=GET: only that method, quota and exemplars of its own', async () => {
    const { json } = await call<EndpointDetailJson>(`${ORDERS}?method=GET`, 'EndpointDetail');
    const d = json.detail!;
    assert.equal(d.requests, 10);
    assert.deepEqual(d.auth.by_type, [
      { type: 'bearer', success: 6, failure: 2 },
      { type: 'api_key', success: 1, failure: 0 },
    ]);
    assert.deepEqual(d.rate_limit, {
      limited: 1,
      limit: 100,
      remaining: 7,
      reported_at: iso(T0),
      lowest_remaining_share: 0.07,
    });
    assert.deepEqual([d.db.queries, d.db.query_ms, d.db.db_ms_per_request.count], [9, 24, 5]);
    assert.equal(d.exemplars.length, 5);
    const post = (await call<EndpointDetailJson>(`${ORDERS}?method=POST`, 'EndpointDetail')).json.detail!;
    assert.deepEqual(post.exemplars, []);
    assert.deepEqual(post.error_samples, []);
  });

  test('/summary: totals over every endpoint in the range', async () => {
    const { json } = await call<SummaryJson>(`${P}/summary`, 'Summary');
    assert.deepEqual(pick(json, SUMMARY_FIELDS), {
      auth_attempts: 13,
      auth_failures: 3,
      rate_limited: 2,
      db_queries: 12,
      db_query_ms: 27,
    });
  });

  test('/endpoints: the new columns, sortable, in JSON and CSV', async () => {
    const list = async (order: string) =>
      (await call<EndpointListJson>(`${P}/endpoints?order_by=${order}`, 'EndpointList')).json.endpoints.map(
        (e) => e.method,
      );
    assert.deepEqual(await list('-db_queries_per_request'), ['GET', 'POST']);
    assert.deepEqual(await list('db_queries_per_request'), ['POST', 'GET']);
    assert.deepEqual(await list('-auth_failures'), ['GET', 'POST']);
    assert.deepEqual(await list('auth_failures'), ['POST', 'GET']);
    assert.deepEqual(await list('-rate_limited'), ['GET', 'POST'], 'a tie goes by route, then method');
    const { json } = await call<EndpointListJson>(`${P}/endpoints`, 'EndpointList');
    assert.deepEqual(pick(json.endpoints.find((e) => e.method === 'POST')!), {
      auth_attempts: 4,
      auth_failures: 1,
      rate_limited: 1,
      db_queries: 3,
      db_queries_per_request: 0.6,
    });
    const csv = await call<undefined>(`${P}/endpoints?format=csv&order_by=method`);
    const [header, getRow, postRow] = csv.text.split('\r\n');
    assert.match(header, /,inflight,auth_attempts,auth_failures,rate_limited,db_queries,db_queries_per_request$/);
    assert.match(getRow, /,9,2,1,9,0\.9$/);
    assert.match(postRow, /,4,1,1,3,0\.6$/);
  });

  test('window counts follow the range; since-start data stays', async () => {
    fx.clock.advance(180_000);
    const { json } = await call<EndpointDetailJson>(`${ORDERS}?window=1m`, 'EndpointDetail');
    const d = json.detail!;
    assert.deepEqual([d.requests, d.auth.attempts, d.rate_limit.limited, d.db.queries], [0, 0, 0, 0]);
    assert.equal(d.db.queries_per_request_mean, null);
    assert.equal(d.auth.by_type.length, 4, 'since start-up');
    assert.equal(d.db.queries_per_request.count, 15, 'since start-up');
    const summary = (await call<SummaryJson>(`${P}/summary?window=1m`, 'Summary')).json;
    assert.deepEqual(pick(summary, SUMMARY_FIELDS), {
      auth_attempts: 0,
      auth_failures: 0,
      rate_limited: 0,
      db_queries: 0,
      db_query_ms: 0,
    });
  });
});

describe('metrics API: detailed mode off', () => {
  let served: Served;
  before(async () => {
    served = await serveApi({ meter: plainTraffic(), cacheSeconds: 0 });
  });
  after(() => served?.close());

  test('no detail object, no detailed fields or columns anywhere; the new order_by keys sort nothing', async () => {
    const detail = (await get<EndpointDetailJson>(`${served.base}${ORDERS}`)).json;
    assert.equal('detail' in detail, false);
    for (const stats of [detail, ...detail.by_method]) assertNoDetail(stats);
    const list = (await get<EndpointListJson>(`${served.base}${P}/endpoints?order_by=-auth_failures`)).json;
    assert.deepEqual(
      list.endpoints.map((e) => e.method),
      ['GET', 'POST'],
      'no values: ties by route, then method',
    );
    for (const stats of list.endpoints) assertNoDetail(stats);
    const summary = (await get<SummaryJson>(`${served.base}${P}/summary`)).json;
    for (const f of SUMMARY_FIELDS) assert.equal(f in summary, false, f);
    const csv = (await get(`${served.base}${P}/endpoints?format=csv`)).text;
    assert.match(csv.split('\r\n')[0], /,response_bytes_max,inflight$/);
  });
});

function pick(o: object, keys: readonly string[] = DETAIL_FIELDS): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));
}

function assertNoDetail(stats: EndpointStatsJson | EndpointDetailJson): void {
  for (const f of DETAIL_FIELDS) assert.equal(f in stats, false, `${f} in ${JSON.stringify(stats).slice(0, 80)}`);
}
