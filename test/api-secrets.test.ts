/**
 * Credentials never leave the request. Real HTTP requests to a Fastify app in detailed mode carry a
 * Bearer token, Basic credentials, an API key and a session cookie, and a handler throws an exception
 * whose message holds a token: none of those values may appear in any answer of the metrics API, the
 * Prometheus exposition (both formats), StatsD / DogStatsD datagrams, or an OTLP export.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import { startOtelExporter } from '../src/exporters/otel.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { EndpointDetailJson } from '../src/api/index.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';
import { eventually, startOtlpReceiver } from './helpers/exporters.js';

const BEARER = 'sk_live_SECRET123abcdefXYZ7890';
const PASSWORD = 'hunter2-Pa55word';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const API_KEY = 'key_SECRETKEY987654321';
const COOKIE = 'sess_SECRETCOOKIE456789';
const EMAIL = 'alice.secret@example.com';
/** Every credential, and distinctive parts of them (a value cut or re-encoded must not leak either). */
const SECRETS = [BEARER, 'SECRET123', PASSWORD, 'Pa55word', BASIC, API_KEY, 'SECRETKEY', COOKIE, 'SECRETCOOKIE', EMAIL];

function assertClean(where: string, text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains ${JSON.stringify(secret)}`);
}

describe('no credential reaches any output (detailed mode, real HTTP)', () => {
  let app: FastifyInstance;
  let meter: Meter;
  let served: Served;

  before(async () => {
    meter = createMeter({ metricsDetailed: true, iniPath: false, env: {} });
    app = Fastify({ logger: false });
    await app.register(apimeter, { meter });
    app.get('/orders/:id', async (req, reply) => {
      if (req.headers.authorization === 'Bearer wrong') return reply.code(401).send({ detail: 'bad token' });
      return { id: (req.params as { id: string }).id };
    });
    app.get('/boom', async () => {
      throw new Error(`upstream refused token ${BEARER} (password ${PASSWORD}) for ${EMAIL}`);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const headerSets: Record<string, string>[] = [
      { authorization: `Bearer ${BEARER}` },
      { authorization: `Basic ${BASIC}` },
      { 'x-api-key': API_KEY },
      { cookie: `theme=dark; session=${COOKIE}` },
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${BEARER}`, 'x-api-key': API_KEY, cookie: `session=${COOKIE}` },
    ];
    for (const headers of headerSets) {
      for (const path of ['/orders/17', '/boom']) {
        const res = await fetch(base + path, { headers });
        await res.arrayBuffer();
      }
    }
    served = await serveApi({ meter, cacheSeconds: 0, openPrometheus: true });
  });

  after(async () => {
    await served?.close();
    await app?.close();
  });

  test('the requests were recorded in detail (the check below is not vacuous)', async () => {
    const { json } = await get<EndpointDetailJson>(`${served.base}/api/v2/metrics/endpoints/%2Forders%2F%7Bid%7D`);
    assert.deepEqual(
      json.detail!.auth.by_type.map((t) => t.type),
      ['bearer', 'basic', 'api_key', 'session'],
    );
    const boom = (await get<EndpointDetailJson>(`${served.base}/api/v2/metrics/endpoints/%2Fboom`)).json;
    assert.equal(boom.detail!.error_samples.length, 5);
    assert.equal(boom.detail!.error_messages[0].count, 6);
    assert.match(boom.detail!.error_messages[0].message, /^upstream refused token <token>/);
  });

  test('metrics API answers: /endpoints (JSON and CSV), /endpoints/{endpoint}, /summary', async () => {
    const p = `${served.base}/api/v2/metrics`;
    for (const path of [
      '/endpoints?window=all',
      '/endpoints?format=csv',
      '/endpoints/%2Forders%2F%7Bid%7D',
      '/endpoints/%2Fboom?window=all',
      '/summary',
    ]) {
      const answer = await get(p + path);
      assert.equal(answer.status, 200, path);
      assertClean(path, answer.text);
    }
  });

  test('/metrics in text 0.0.4 and OpenMetrics', async () => {
    for (const accept of ['text/plain', 'application/openmetrics-text']) {
      const answer = await get(`${served.base}/metrics`, { accept });
      assert.equal(answer.status, 200);
      assert.match(answer.text, /apimeter_auth_attempts_total/);
      assertClean(`/metrics (${accept})`, answer.text);
    }
  });

  test('StatsD and DogStatsD datagrams', async () => {
    for (const dialect of ['statsd', 'datadog'] as const) {
      const transport = new MemoryTransport();
      const statsd = createStatsdExporter(meter, { transport, dialect, flushIntervalMs: 0, onStateChange: () => {} });
      await statsd.flush();
      await statsd.close();
      const text = transport.datagrams.join('\n');
      assert.match(text, /auth\.count/);
      assertClean(dialect, text);
    }
  });

  test('OTLP export', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const otel = await startOtelExporter(meter, { url: receiver.url, intervalMs: 3_600_000, env: {} });
      await otel.forceFlush();
      await eventually(() => receiver.bodies.length > 0, 'an OTLP request');
      await otel.close();
      const text = JSON.stringify(receiver.bodies);
      assert.match(text, /apimeter\.auth\.attempts/);
      assertClean('OTLP', text);
    } finally {
      await receiver.close();
    }
  });
});

/** Every output of a meter as text: metrics API answers (JSON, CSV), /metrics, StatsD, DogStatsD, OTLP. */
async function everyOutput(meter: Meter, routes: string[]): Promise<Record<string, string>> {
  const served = await serveApi({ meter, cacheSeconds: 0, openPrometheus: true });
  const out: Record<string, string> = {};
  try {
    const p = `${served.base}/api/v2/metrics`;
    const paths = ['/endpoints?window=all', '/endpoints?format=csv', '/summary', '/health'];
    for (const r of routes) paths.push(`/endpoints/${encodeURIComponent(r)}?window=all`);
    for (const path of paths) {
      const answer = await get(p + path);
      assert.ok(answer.status < 500, `${path}: ${answer.status}`);
      out[path] = answer.text;
    }
    for (const accept of ['text/plain', 'application/openmetrics-text']) {
      out[`/metrics ${accept}`] = (await get(`${served.base}/metrics`, { accept })).text;
    }
  } finally {
    await served.close();
  }
  for (const dialect of ['statsd', 'datadog'] as const) {
    const transport = new MemoryTransport();
    const statsd = createStatsdExporter(meter, { transport, dialect, flushIntervalMs: 0, onStateChange: () => {} });
    await statsd.flush();
    await statsd.close();
    out[dialect] = transport.datagrams.join('\n');
  }
  const receiver = await startOtlpReceiver();
  try {
    const otel = await startOtelExporter(meter, { url: receiver.url, intervalMs: 3_600_000, env: {} });
    await otel.forceFlush();
    await eventually(() => receiver.bodies.length > 0, 'an OTLP request');
    await otel.close();
    out.otlp = JSON.stringify(receiver.bodies);
  } finally {
    await receiver.close();
  }
  return out;
}

/** A Fastify app whose routes throw the given errors, each requested `times` times over real HTTP. */
async function throwAll(meter: Meter, errors: Record<string, () => Error>, times = 3): Promise<number[]> {
  const app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  for (const [route, make] of Object.entries(errors)) {
    app.get(route, async () => {
      throw make();
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const statuses: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      for (const route of Object.keys(errors)) {
        const res = await fetch(base + route);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }
  } finally {
    await app.close();
  }
  return statuses;
}

// Free-text secrets: no `key=value` shape, so the built-in rules keep them (see docs/detailed.md).
const FREE_TEXT = {
  '/login': () => new Error('user alice supplied wrong passphrase correcthorsebatterystaple'),
  '/reset': () => new Error('password for bob is Tr0ub4dor'),
};
const FREE_SECRETS = ['correcthorsebatterystaple', 'Tr0ub4dor'];

function leaks(outputs: Record<string, string>, secrets: string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(outputs)) {
    for (const s of secrets) if (text.includes(s)) found.push(`${where}: ${s}`);
  }
  return found;
}

describe('free-text secrets in exception messages (redactMessage, metrics_error_messages)', () => {
  const routes = Object.keys(FREE_TEXT);

  test('without a hook the built-in rules keep them (the limit docs/detailed.md states)', async () => {
    const meter = createMeter({ metricsDetailed: true, iniPath: false, env: {} });
    await throwAll(meter, FREE_TEXT);
    const found = leaks(await everyOutput(meter, routes), FREE_SECRETS);
    assert.ok(
      found.some((f) => f.includes('correcthorsebatterystaple')),
      'passphrase kept without a hook',
    );
    assert.ok(
      found.some((f) => f.includes('Tr0ub4dor')),
      'password kept without a hook',
    );
  });

  for (const detailed of [false, true]) {
    test(`a redactMessage hook removes both from every output (detailed ${detailed})`, async () => {
      const seen: unknown[] = [];
      const meter = createMeter({
        metricsDetailed: detailed,
        iniPath: false,
        env: {},
        redactMessage: (m, error) => {
          seen.push(error);
          return m.replace(/(passphrase|password for \w+ is) \S+/gi, '$1 <redacted>');
        },
      });
      await throwAll(meter, FREE_TEXT);
      const outputs = await everyOutput(meter, routes);
      assert.deepEqual(leaks(outputs, FREE_SECRETS), []);
      // The rest of the message is still kept, and the hook saw the thrown errors.
      const login = JSON.parse(outputs[`/endpoints/${encodeURIComponent('/login')}?window=all`]) as {
        exceptions: { class: string; last_message: string }[];
      };
      assert.equal(login.exceptions[0].last_message, 'user alice supplied wrong passphrase <redacted>');
      assert.ok(seen.length >= 6 && seen.every((e) => e instanceof Error));
    });
  }

  test('a hook that throws: the request is unharmed, the message dropped and counted in /health', async () => {
    const meter = createMeter({
      metricsDetailed: true,
      iniPath: false,
      env: {},
      redactMessage: () => {
        throw new Error('hook bug');
      },
    });
    const statuses = await throwAll(meter, FREE_TEXT);
    assert.deepEqual(
      statuses,
      statuses.map(() => 500),
    );
    const outputs = await everyOutput(meter, routes);
    assert.deepEqual(leaks(outputs, [...FREE_SECRETS, 'alice', 'hook bug']), []);
    const health = JSON.parse(outputs['/health']) as {
      components: { name: string; state: string; counters?: Record<string, number> }[];
    };
    const c = health.components.find((x) => x.name === 'message_redaction');
    assert.equal(c?.state, 'degraded');
    // 2 routes × 3 requests; record() and finishContext() see the same exception once.
    assert.equal(c?.counters?.failures, 6);
  });

  test('metrics_error_messages = none: classes kept, no message text in any output', async () => {
    class LedgerError extends Error {
      override name = 'LedgerError';
    }
    const errors = {
      ...FREE_TEXT,
      '/ledger': () => new LedgerError('ledger zebrafish quokka mismatch'),
    };
    const meter = createMeter({ metricsDetailed: true, metricsErrorMessages: 'none', iniPath: false, env: {} });
    await throwAll(meter, errors);
    const outputs = await everyOutput(meter, Object.keys(errors));
    assert.deepEqual(
      leaks(outputs, [...FREE_SECRETS, 'alice', 'supplied', 'passphrase', 'bob', 'zebrafish', 'quokka']),
      [],
    );
    const ledger = JSON.parse(outputs[`/endpoints/${encodeURIComponent('/ledger')}?window=all`]) as {
      exceptions: { class: string; count: number; last_message: string }[];
    };
    assert.deepEqual(
      ledger.exceptions.map((e) => [e.class, e.count, e.last_message]),
      [['LedgerError', 3, '']],
    );
  });

  test('metrics_error_messages = full keeps ids but still redacts key=value credentials', async () => {
    const meter = createMeter({ metricsErrorMessages: 'full', iniPath: false, env: {} });
    await throwAll(meter, { '/order': () => new Error('order 4711 failed: token=abcdef123456 \u0000') }, 1);
    const { json } = await (async () => {
      const served = await serveApi({ meter, cacheSeconds: 0 });
      try {
        return await get<{ exceptions: { last_message: string }[] }>(
          `${served.base}/api/v2/metrics/endpoints/%2Forder?window=all`,
        );
      } finally {
        await served.close();
      }
    })();
    assert.equal(json.exceptions[0].last_message, 'order 4711 failed: token=<redacted> ?');
  });
});
