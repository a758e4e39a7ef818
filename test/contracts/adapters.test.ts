/**
 * The adapter contract: the same traffic, sent over loopback to the same API written for Fastify,
 * Express 4, Express 5, Hono on @hono/node-server and plain node:http, must leave the same content in
 * each adapter's registry — and that content must be what the test itself sent (counts, statuses,
 * error types, exception classes, body sizes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../faults/poll.js';
import { createMeter } from '../../src/core/meter.js';
import type { Meter } from '../../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../../src/core/record.js';
import { ADAPTERS, BODY, SLOW_MS, STREAM_CHUNK, STREAM_CHUNKS } from './apps.js';
import type { RunningApp } from './apps.js';

interface Content {
  count: number;
  statusCodes: Record<string, number>;
  errorTypes: Record<string, number>;
  exceptions: [string, number, string][];
  requestBytes: { count: number; total: number; max: number | null };
  responseBytes: { count: number; total: number };
  inflight: number;
}

/** Registry content in a comparable form: everything but timings. */
function contentOf(meter: Meter): Record<string, Content> {
  const out: Record<string, Content> = {};
  for (const e of meter.snapshot('all')) {
    out[`${e.method} ${e.route}`] = {
      count: e.count,
      statusCodes: e.statusCodes,
      errorTypes: Object.fromEntries(Object.entries(e.errorTypes).filter(([, n]) => n > 0)),
      exceptions: e.exceptions.map((x) => [x.class, x.count, x.lastMessage]),
      requestBytes: { count: e.requestBytes.count, total: e.requestBytes.totalBytes, max: e.requestBytes.max },
      responseBytes: { count: e.responseBytes.count, total: e.responseBytes.totalBytes },
      inflight: e.inflight,
    };
  }
  return out;
}

const RUN_IDS = ['manual__2024-01-01T00:00:00+00:00', 'scheduled__2024-01-02T00:00:00+00:00', 'backfill__x.y-z'];
const CHUNKED_BODY = JSON.stringify({ conf: { pad: 'y'.repeat(5000) } });
const len = (s: string) => Buffer.byteLength(s);

/** What the traffic below must leave in any adapter's registry, computed from what is sent. */
function expected(): Record<string, Content> {
  const sizes = (bodies: string[]) => ({ count: bodies.length, total: bodies.reduce((n, b) => n + len(b), 0) });
  const zeroBodies = (n: number) => ({ count: n, total: 0, max: n > 0 ? 0 : null });
  const runs = RUN_IDS.map((_, i) => BODY.run(`etl.dag-${i}`));
  const posts = ['{"conf":{}}', '{"nope":1}', '{"nope":2}', '{not json', CHUNKED_BODY];
  return {
    'GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}': {
      count: 3,
      statusCodes: { '200': 3 },
      errorTypes: {},
      exceptions: [],
      requestBytes: zeroBodies(3),
      responseBytes: sizes(runs),
      inflight: 0,
    },
    'GET /api/v2/version': {
      count: 2,
      statusCodes: { '200': 1, '401': 1 },
      errorTypes: { client_error: 1 },
      exceptions: [],
      requestBytes: zeroBodies(2),
      responseBytes: sizes([BODY.version, BODY.denied]),
      inflight: 0,
    },
    'POST /api/v2/dags/{dag_id}/dagRuns': {
      count: 5,
      statusCodes: { '201': 2, '400': 3 },
      errorTypes: { validation: 2, client_error: 1 },
      exceptions: [],
      requestBytes: {
        count: 5,
        total: posts.reduce((n, b) => n + len(b), 0),
        max: len(CHUNKED_BODY),
      },
      responseBytes: sizes([BODY.created, BODY.invalid, BODY.invalid, BODY.malformed, BODY.created]),
      inflight: 0,
    },
    'GET /boom': {
      count: 2,
      statusCodes: { '500': 2 },
      errorTypes: { exception: 2 },
      exceptions: [['SchedulerUnavailableError', 2, 'scheduler <n> is down']],
      requestBytes: zeroBodies(2),
      responseBytes: sizes([BODY.internal, BODY.internal]),
      inflight: 0,
    },
    'GET /slow': {
      count: 2,
      statusCodes: { '200': 1, '499': 1 },
      errorTypes: { aborted: 1 },
      exceptions: [],
      requestBytes: zeroBodies(2),
      responseBytes: sizes([BODY.slow]),
      inflight: 0,
    },
    'GET /stream': {
      count: 1,
      statusCodes: { '200': 1 },
      errorTypes: {},
      exceptions: [],
      requestBytes: zeroBodies(1),
      responseBytes: { count: 1, total: STREAM_CHUNKS * STREAM_CHUNK.length },
      inflight: 0,
    },
    [`GET ${UNMATCHED_ROUTE}`]: {
      count: 5,
      statusCodes: { '404': 5 },
      errorTypes: { client_error: 5 },
      exceptions: [],
      requestBytes: zeroBodies(5),
      responseBytes: sizes(Array.from({ length: 5 }, () => BODY.notFound)),
      inflight: 0,
    },
  };
}

async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<[number, string]> {
  const res = await fetch(base + path, { headers });
  return [res.status, await res.text()];
}

const results = new Map<string, Record<string, Content>>();

for (const adapter of ADAPTERS) {
  describe(`adapter contract: ${adapter.name}`, () => {
    let meter: Meter;
    let app: RunningApp;
    let base: string;
    const snap = (key: string) => contentOf(meter)[key];

    before(async () => {
      meter = createMeter({ iniPath: false, env: {} });
      app = await adapter.start(meter);
      base = `http://127.0.0.1:${app.port}`;
    });
    after(() => app.close());

    test('templates through prefixes and routers mounted at a path with a parameter', async () => {
      for (let i = 0; i < RUN_IDS.length; i++) {
        const [status, body] = await get(base, `/api/v2/dags/etl.dag-${i}/dagRuns/${RUN_IDS[i]}`);
        assert.equal(status, 200);
        assert.equal(body, BODY.run(`etl.dag-${i}`));
      }
      assert.deepEqual(await get(base, '/api/v2/version'), [200, BODY.version]);
      assert.equal(snap('GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}')?.count, 3);
      for (const key of Object.keys(contentOf(meter))) assert.ok(!/etl|manual__/.test(key), key);
    });

    test('a request an app-wide auth middleware rejects is counted on its route', async () => {
      assert.deepEqual(await get(base, '/api/v2/version', { 'x-deny': '1' }), [401, BODY.denied]);
      assert.deepEqual(snap('GET /api/v2/version')?.statusCodes, { '200': 1, '401': 1 });
    });

    test('validation failures apart from malformed bodies; chunked uploads counted', async () => {
      const post = async (body: string | Readable) => {
        const res = await fetch(`${base}/api/v2/dags/d1/dagRuns`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          ...(typeof body === 'string' ? {} : { duplex: 'half' }),
        });
        await res.text();
        return res.status;
      };
      assert.equal(await post('{"conf":{}}'), 201);
      assert.equal(await post('{"nope":1}'), 400);
      assert.equal(await post('{"nope":2}'), 400);
      assert.equal(await post('{not json'), 400);
      assert.equal(await post(Readable.from([CHUNKED_BODY.slice(0, 100), CHUNKED_BODY.slice(100)])), 201);
      const s = snap('POST /api/v2/dags/{dag_id}/dagRuns');
      assert.deepEqual(s.errorTypes, { validation: 2, client_error: 1 });
      assert.equal(s.requestBytes.max, len(CHUNKED_BODY));
    });

    test('thrown errors are counted with their class and message', async () => {
      assert.deepEqual(await get(base, '/boom'), [500, BODY.internal]);
      assert.deepEqual(await get(base, '/boom'), [500, BODY.internal]);
      assert.deepEqual(snap('GET /boom')?.exceptions, [['SchedulerUnavailableError', 2, 'scheduler <n> is down']]);
    });

    test('in-flight while a request runs; a client abort is recorded once as 499 and releases it', async () => {
      const inflight = () => snap('GET /slow')?.inflight ?? meter.registry.find('GET', '/slow')?.inflight ?? 0;
      const pending = get(base, '/slow');
      assert.ok(await until(() => inflight() === 1), 'in flight while the handler runs');
      assert.deepEqual(await pending, [200, BODY.slow]);
      const req = http.get(`${base}/slow`);
      req.on('error', () => {});
      // Aborted once the request is being handled (a loaded machine may take a while to get it there).
      assert.ok(await until(() => inflight() === 1), 'the second request reached the handler');
      await sleep(SLOW_MS / 4); // mid-handler: the abort's latency must lie between start and the handler's end
      req.destroy();
      assert.ok(await until(() => snap('GET /slow')?.statusCodes['499'] === 1), 'the abort is recorded');
      await sleep(SLOW_MS * 1.5); // past the handler's end: a late second record would show
      const s = snap('GET /slow');
      assert.deepEqual(s.statusCodes, { '200': 1, '499': 1 });
      assert.equal(s.inflight, 0);
      const ep = meter.snapshot().find((e) => e.route === '/slow')!;
      // Recorded when the client left, not when the handler finished later.
      assert.ok(ep.latencyMs.min! > 5 && ep.latencyMs.min! < SLOW_MS - 50, `aborted after ${ep.latencyMs.min} ms`);
    });

    test('streamed responses without Content-Length are counted byte for byte', async () => {
      const res = await fetch(`${base}/stream`);
      const text = await res.text();
      assert.equal(res.headers.get('content-length'), null);
      assert.equal(text.length, STREAM_CHUNKS * STREAM_CHUNK.length);
      await sleep(20);
      assert.equal(snap('GET /stream')?.responseBytes.total, STREAM_CHUNKS * STREAM_CHUNK.length);
    });

    test('404s share the unmatched endpoint', async () => {
      for (let i = 0; i < 5; i++) assert.deepEqual(await get(base, `/no/such/path/${i}?q=${i}`), [404, BODY.notFound]);
      assert.equal(snap(`GET ${UNMATCHED_ROUTE}`)?.count, 5);
    });

    // A HEAD answer carries the GET's Content-Length but sends no body: OTel's
    // http.server.response.body.size counts bytes transferred, so every adapter must record 0.
    test('HEAD requests are measured apart, with no body bytes', async () => {
      const res = await fetch(`${base}/api/v2/version`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '');
      await sleep(20);
      const s = snap('HEAD /api/v2/version');
      assert.deepEqual([s?.count, s?.responseBytes], [1, { count: 1, total: 0 }]);
    });

    test('the registry holds exactly what was sent', async () => {
      await sleep(20);
      const want = expected();
      const got = contentOf(meter);
      delete got['HEAD /api/v2/version']; // checked above (and a known difference of apimeter/fastify)
      results.set(adapter.name, got);
      assert.deepEqual(got, want);
    });
  });
}

describe('adapter contract: all adapters agree', () => {
  test('every adapter produced the same registry content as Fastify', () => {
    const reference = results.get('fastify');
    assert.ok(reference, 'the Fastify run produced content');
    for (const [name, content] of results) assert.deepEqual(content, reference, `${name} differs from fastify`);
    assert.equal(results.size, ADAPTERS.length);
  });
});
