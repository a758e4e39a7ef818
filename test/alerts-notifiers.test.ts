import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  AlertmanagerNotifier,
  LogNotifier,
  MemoryNotifier,
  SlackNotifier,
  WebhookNotifier,
  createNotifiers,
} from '../src/alerts/notifiers/index.js';
import { backoffDelay, retryAfterMs } from '../src/alerts/notifiers/http-helpers.js';
import { ResendFilter } from '../src/alerts/notifiers/resend.js';
import type { AlertEvent, Notifier } from '../src/alerts/types.js';
import { redactUrl } from '../src/core/redact.js';
import { ApimeterError } from '../src/errors.js';
import { ALERTMANAGER_SKIP, startAlertmanager } from './helpers/alertmanager.js';
import type { GettableAlert, RunningAlertmanager } from './helpers/alertmanager.js';

const STARTS = new Date('2026-12-03T09:00:00.000Z');

function event(over: Partial<AlertEvent> = {}): AlertEvent {
  const rule = over.rule ?? 'HighErrorRate';
  return {
    rule,
    endpoint: 'GET /dags/{dag_id}',
    state: 'firing',
    severity: 'page',
    labels: { alertname: rule, endpoint: 'GET /dags/{dag_id}', severity: 'page', service: 'airflow', team: 'data' },
    annotations: { summary: '5xx 12.5% > 5%', description: '12.5% of GET /dags/{dag_id} answered 5xx' },
    value: 0.125,
    threshold: 0.05,
    startsAt: STARTS,
    ...over,
  };
}

const resolved = (e: AlertEvent, endsAt = new Date(STARTS.getTime() + 300_000)): AlertEvent => ({
  ...e,
  state: 'resolved',
  endsAt,
});

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the test server does with the n-th request (0-based): answer with a status, or hold it unanswered. */
type Answer = (n: number, req: Received) => number | 'hold';

interface HookServer {
  url: string;
  received: Received[];
  /** Responses held unanswered. */
  held: ServerResponse[];
  /** Answers every held request with `status`. */
  release(status: number): void;
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP server on loopback that records every request's body. */
async function hookServer(answer: Answer = () => 200): Promise<HookServer> {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      const n = received.push(r) - 1;
      for (const w of waiters.splice(0)) w();
      const a = answer(n, r);
      if (a === 'hold') held.push(res);
      else res.writeHead(a, { 'content-type': 'text/plain' }).end(a >= 400 ? `failure number ${n}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    held,
    release(status) {
      for (const res of held.splice(0)) res.writeHead(status).end();
    },
    async waitFor(count) {
      const deadline = Date.now() + 10_000;
      while (received.length < count) {
        assert.ok(Date.now() < deadline, `server got ${received.length} of ${count} requests`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves with 'rejected: …' instead of throwing, so a test can assert notify() never rejects. */
const settle = (p: Promise<void>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => `rejected: ${String(e)}`,
  );

const noJitter = () => 0;

class Lines extends Writable {
  text = '';
  fail: Error | null = null;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.fail !== null) return done(this.fail);
    this.text += chunk.toString();
    done();
  }
}

describe('redactUrl', () => {
  test('hides userinfo and secret-looking query values, keeps the rest as written', () => {
    assert.equal(
      redactUrl('https://user:hunter2@example.com:8443/hook/x?token=abc&page=2&api_key=k1&X-Amz-Signature=s#frag'),
      'https://***@example.com:8443/hook/x?token=***&page=2&api_key=***&X-Amz-Signature=***#frag',
    );
    assert.equal(
      redactUrl('http://example.com/a?password=p&sessionid=z&q'),
      'http://example.com/a?password=***&sessionid=***&q',
    );
    assert.equal(redactUrl('http://example.com/plain'), 'http://example.com/plain');
    assert.equal(redactUrl('not a url ?secret=1'), 'not a url ?secret=***');
    assert.equal(redactUrl('http://user@host/'), 'http://***@host/');
  });
});

// A hung delivery must fail the test, not stall the run.
describe('webhook notifier against a real HTTP server', { timeout: 20_000 }, () => {
  test('POSTs {version, events} with the configured headers; notify resolves once delivered', async () => {
    const server = await hookServer();
    const hook = new WebhookNotifier({ url: `${server.url}/alerts`, headers: { Authorization: 'Bearer s3cret' } });
    try {
      const sent = [event(), event({ rule: 'SlowP95', severity: 'ticket', value: 812.5, threshold: 500 })];
      assert.equal(await settle(hook.notify(sent)), 'resolved');
      assert.equal(server.received.length, 1);
      const [req] = server.received;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/alerts');
      assert.equal(req.headers.authorization, 'Bearer s3cret');
      assert.match(req.headers['content-type']!, /^application\/json/);
      const body = JSON.parse(req.body) as { version: number; events: Record<string, unknown>[] };
      assert.equal(body.version, 1);
      assert.deepEqual(
        body.events.map((e) => [e.rule, e.state, e.severity, e.value, e.threshold, e.startsAt, e.endsAt]),
        [
          ['HighErrorRate', 'firing', 'page', 0.125, 0.05, '2026-12-03T09:00:00.000Z', null],
          ['SlowP95', 'firing', 'ticket', 812.5, 500, '2026-12-03T09:00:00.000Z', null],
        ],
      );
      assert.deepEqual(body.events[0].labels, sent[0].labels);
      assert.deepEqual(body.events[0].annotations, sent[0].annotations);
      assert.equal(body.events[0].endpoint, 'GET /dags/{dag_id}');
      assert.deepEqual(hook.health(), { state: 'ok', lastError: null, pending: 0 });
      assert.deepEqual(hook.stats, { delivered: 1, failed: 0, dropped: 0, retries: 0 });

      // Resolved carries endsAt.
      await hook.notify([resolved(sent[0])]);
      const second = JSON.parse(server.received[1].body) as { events: Record<string, unknown>[] };
      assert.equal(second.events[0].state, 'resolved');
      assert.equal(second.events[0].endsAt, '2026-12-03T09:05:00.000Z');
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('a 500 is retried after a backoff and then delivered; health shows the error until the success', async () => {
    const server = await hookServer((n) => (n === 0 ? 500 : 200));
    const errors: string[] = [];
    const hook = new WebhookNotifier({
      url: `${server.url}/alerts?token=qwerty`,
      backoffMs: 5,
      random: noJitter,
      onError: (m) => errors.push(m),
    });
    try {
      assert.equal(await settle(hook.notify([event()])), 'resolved');
      assert.equal(server.received.length, 2);
      assert.equal(server.received[0].body, server.received[1].body, 'the same body is re-sent');
      assert.deepEqual(hook.stats, { delivered: 1, failed: 0, dropped: 0, retries: 1 });
      const health = hook.health();
      assert.equal(health.state, 'ok');
      assert.equal(health.pending, 0);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /HTTP 500: failure number 0/);
      assert.equal(health.lastError, errors[0], 'the last error stays visible after recovering');
      assert.ok(!errors[0].includes('qwerty'), errors[0]);
      assert.ok(errors[0].includes('token=***'), errors[0]);
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('a 4xx other than 408/429 is not retried', async () => {
    const server = await hookServer(() => 400);
    const hook = new WebhookNotifier({ url: server.url, backoffMs: 1, random: noJitter });
    try {
      await hook.notify([event()]);
      assert.equal(server.received.length, 1);
      assert.deepEqual(hook.stats, { delivered: 0, failed: 1, dropped: 0, retries: 0 });
      assert.equal(hook.health().state, 'failing');
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('a server that never answers: each attempt times out, notify resolves (never rejects), health is failing', async () => {
    const server = await hookServer(() => 'hold');
    const hook = new WebhookNotifier({
      url: `http://alice:pa55word@${server.url.slice('http://'.length)}/hook`,
      timeoutMs: 150,
      maxAttempts: 3,
      backoffMs: 1,
      random: noJitter,
    });
    try {
      const outcome = settle(hook.notify([event()]));
      await server.waitFor(1);
      assert.equal(hook.health().pending, 1, 'the body is pending while its attempts run');
      assert.equal(
        server.received[0].headers.authorization,
        `Basic ${Buffer.from('alice:pa55word').toString('base64')}`,
      );
      assert.equal(await outcome, 'resolved');
      assert.equal(server.received.length, 3);
      const health = hook.health();
      assert.equal(health.state, 'failing');
      assert.equal(health.pending, 0);
      assert.match(health.lastError!, /timed out after 150 ms/);
      assert.ok(!health.lastError!.includes('pa55word'), health.lastError!);
      assert.ok(health.lastError!.includes('http://***@127.0.0.1'), health.lastError!);
      assert.deepEqual(hook.stats, { delivered: 0, failed: 1, dropped: 0, retries: 2 });
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('a refused connection is retried and given up; notify resolves', async () => {
    const server = await hookServer();
    const url = server.url;
    await server.close(); // nothing listens on that port any more
    const hook = new WebhookNotifier({ url, maxAttempts: 2, backoffMs: 1, random: noJitter });
    try {
      assert.equal(await settle(hook.notify([event()])), 'resolved');
      assert.equal(hook.health().state, 'failing');
      assert.match(hook.health().lastError!, /ECONNREFUSED/);
      assert.deepEqual(hook.stats, { delivered: 0, failed: 1, dropped: 0, retries: 1 });
    } finally {
      await hook.close();
    }
  });

  test('bounded queue: past queueSize the oldest waiting body is dropped and counted', async () => {
    const server = await hookServer((n) => (n === 0 ? 'hold' : 200));
    const hook = new WebhookNotifier({ url: server.url, queueSize: 2, timeoutMs: 10_000 });
    try {
      const rules = ['R1', 'R2', 'R3', 'R4', 'R5'];
      const first = settle(hook.notify([event({ rule: rules[0] })]));
      await server.waitFor(1); // R1 is in flight, held by the server
      const rest = rules.slice(1).map((rule) => settle(hook.notify([event({ rule })])));
      // R2 and R3 were the oldest waiting when R4 and R5 arrived: dropped, their notify resolved.
      assert.deepEqual(await Promise.all(rest.slice(0, 2)), ['resolved', 'resolved']);
      assert.equal(hook.stats.dropped, 2);
      assert.equal(hook.health().pending, 3, 'R1 in flight, R4 and R5 waiting');
      server.release(200);
      assert.deepEqual(await Promise.all([first, ...rest]), Array(5).fill('resolved'));
      const delivered = server.received.map(
        (r) => (JSON.parse(r.body) as { events: { rule: string }[] }).events[0].rule,
      );
      assert.deepEqual(delivered, ['R1', 'R4', 'R5']);
      assert.deepEqual(hook.stats, { delivered: 3, failed: 0, dropped: 2, retries: 0 });
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('queueSize 0: a body is sent when nothing is in flight, dropped while one is', async () => {
    const server = await hookServer((n) => (n === 0 ? 'hold' : 200));
    const hook = new WebhookNotifier({ url: server.url, queueSize: 0 });
    try {
      const first = settle(hook.notify([event({ rule: 'A' })]));
      await server.waitFor(1);
      assert.equal(await settle(hook.notify([event({ rule: 'B' })])), 'resolved');
      server.release(200);
      await first;
      assert.deepEqual(hook.stats, { delivered: 1, failed: 0, dropped: 1, retries: 0 });
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('an onError hook that throws does not stop deliveries', async () => {
    const server = await hookServer((n) => (n === 0 ? 503 : 200));
    const hook = new WebhookNotifier({
      url: server.url,
      backoffMs: 1,
      onError: () => {
        throw new Error('hook bug');
      },
    });
    try {
      assert.equal(await settle(hook.notify([event()])), 'resolved');
      assert.deepEqual(hook.stats, { delivered: 1, failed: 0, dropped: 0, retries: 1 });
    } finally {
      await hook.close();
      await server.close();
    }
  });

  test('close() gives up what cannot be delivered within one timeout; notify after close resolves at once', async () => {
    const server = await hookServer(() => 'hold');
    const hook = new WebhookNotifier({ url: server.url, timeoutMs: 200, maxAttempts: 50, backoffMs: 1 });
    const outcomes = [settle(hook.notify([event({ rule: 'A' })])), settle(hook.notify([event({ rule: 'B' })]))];
    await server.waitFor(1);
    await hook.close();
    assert.deepEqual(await Promise.all(outcomes), ['resolved', 'resolved']);
    assert.equal(hook.stats.failed, 2);
    assert.ok(server.received.length <= 2, `${server.received.length} attempts after close, at most one per body`);
    assert.equal(await settle(hook.notify([event({ rule: 'C' })])), 'resolved');
    assert.equal(hook.stats.dropped, 1);
    assert.equal(hook.health().pending, 0);
    await server.close();
  });

  test('still-firing instances are re-sent only after repeatIntervalMs; transitions always', async () => {
    const server = await hookServer();
    let now = STARTS.getTime();
    const hook = new WebhookNotifier({ url: server.url, repeatIntervalMs: 60_000, now: () => now });
    const bodies = () => server.received.map((r) => (JSON.parse(r.body) as { events: AlertEvent[] }).events.length);
    try {
      const e = event();
      await hook.notify([e]);
      now += 30_000;
      await hook.notify([e]); // still firing, too early
      now += 31_000;
      await hook.notify([e, event({ rule: 'Other' })]); // repeat due + a new instance
      now += 1_000;
      await hook.notify([resolved(e)]);
      assert.deepEqual(bodies(), [1, 2, 1]);
    } finally {
      await hook.close();
      await server.close();
    }
  });
});

describe('backoff', () => {
  test('doubles per retry up to the cap; jitter spans the upper half; Retry-After is a floor, capped too', () => {
    // attempt → base 100 × 2^(attempt−1), capped at 1000; random 0 gives half of it, random → 1 all of it.
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 100, 1000, 0)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((a) => backoffDelay(a, 100, 1000, 0.999999)).map(Math.round),
      [100, 200, 400, 800, 1000],
    );
    assert.equal(backoffDelay(1, 100, 1000, 0, 700), 700);
    assert.equal(backoffDelay(1, 100, 1000, 0, 60_000), 1000);
  });

  test('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-03T09:00:00Z');
    assert.equal(retryAfterMs('3', now), 3000);
    assert.equal(retryAfterMs('Thu, 03 Dec 2026 09:00:10 GMT', now), 10_000);
    assert.equal(retryAfterMs(undefined, now), 0);
    assert.equal(retryAfterMs('soon', now), 0);
  });
});

describe('malformed events', () => {
  test('every notifier resolves and reports instead of throwing', async () => {
    const bad = { ...event(), labels: null, startsAt: 'yesterday' } as unknown as AlertEvent;
    const out = new Lines();
    const notifiers: Notifier[] = [
      new WebhookNotifier({ url: 'http://127.0.0.1:9/' }),
      new SlackNotifier({ url: 'http://127.0.0.1:9/' }),
      new AlertmanagerNotifier({ url: 'http://127.0.0.1:9/' }),
      new LogNotifier({ stream: out }),
    ];
    for (const n of notifiers) {
      let outcome: string;
      try {
        outcome = await settle(n.notify([bad]));
      } catch (error) {
        outcome = `threw: ${String(error)}`;
      }
      assert.equal(outcome, 'resolved', n.name);
      assert.equal(n.health().state, 'failing', n.name);
      assert.match(n.health().lastError!, /^cannot format events: /, n.name);
      await n.close();
    }
    assert.equal(out.text, '');
  });
});

describe('ResendFilter', () => {
  test('a new startsAt is a new firing; resolved always passes; 0 = never repeat', () => {
    let now = 0;
    const filter = new ResendFilter(0, () => now);
    const e = event();
    assert.equal(filter.select([e]).length, 1);
    now += 10 * 3_600_000;
    assert.equal(filter.select([e]).length, 0);
    assert.equal(filter.select([{ ...e, startsAt: new Date(STARTS.getTime() + 1) }]).length, 1);
    assert.equal(filter.select([resolved(e)]).length, 1);
    assert.equal(filter.size, 0);
    assert.equal(filter.select([resolved(e)]).length, 1, 'a resolved event never seen firing still passes');
  });

  test('instances no longer passed are forgotten after the stale time', () => {
    let now = 0;
    const filter = new ResendFilter(60_000, () => now);
    filter.select([event({ rule: 'Gone' })]);
    now += 16 * 60_000;
    filter.select([event({ rule: 'Kept' })]);
    assert.equal(filter.size, 1);
  });
});

describe('Slack notifier', () => {
  test('text (and optional blocks) in the Slack incoming-webhook shape; the URL path stays out of errors', async () => {
    const server = await hookServer((n) => (n === 2 ? 500 : 200));
    const secretPath = '/services/T0000/B0000/XXXXXXXXSECRET';
    const slack = new SlackNotifier({ url: server.url + secretPath, maxAttempts: 1 });
    const withBlocks = new SlackNotifier({ url: server.url + secretPath, blocks: true });
    try {
      const e = event();
      await slack.notify([e, resolved(event({ rule: 'SlowP95', severity: 'ticket', annotations: {} }))]);
      const body = JSON.parse(server.received[0].body) as Record<string, unknown>;
      assert.equal(server.received[0].url, secretPath);
      assert.deepEqual(Object.keys(body), ['text']);
      assert.equal(
        body.text,
        ':red_circle: [FIRING] HighErrorRate GET /dags/{dag_id} — 5xx 12.5% &gt; 5%\n' +
          ':large_green_circle: [RESOLVED] SlowP95 GET /dags/{dag_id} — 0.125 (threshold 0.05)',
      );

      await withBlocks.notify([event({ rule: 'Lat', severity: 'info' })]);
      const blocksBody = JSON.parse(server.received[1].body) as {
        text: string;
        blocks: { type: string; text: { type: string; text: string } }[];
      };
      assert.equal(blocksBody.text, ':large_blue_circle: [FIRING] Lat GET /dags/{dag_id} — 5xx 12.5% &gt; 5%');
      assert.deepEqual(blocksBody.blocks, [
        {
          type: 'section',
          text: { type: 'mrkdwn', text: `${blocksBody.text}\n12.5% of GET /dags/{dag_id} answered 5xx` },
        },
      ]);

      await slack.notify([event({ rule: 'Failing' })]); // the server answers 500
      const health = slack.health();
      assert.equal(health.state, 'failing');
      assert.ok(!health.lastError!.includes('SECRET'), health.lastError!);
      assert.equal(health.lastError, `POST ${server.url}/***: HTTP 500: failure number 2`);
    } finally {
      await slack.close();
      await withBlocks.close();
      await server.close();
    }
  });

  test('more than 50 events are split into messages of at most 50 lines', async () => {
    const server = await hookServer();
    const slack = new SlackNotifier({ url: server.url, blocks: true });
    try {
      await slack.notify(Array.from({ length: 60 }, (_, i) => event({ rule: `R${i}` })));
      const lines = server.received.map((r) => (JSON.parse(r.body) as { text: string }).text.split('\n').length);
      assert.deepEqual(lines, [50, 10]);
    } finally {
      await slack.close();
      await server.close();
    }
  });
});

describe('log notifier', () => {
  test('one JSON line per transition with the event fields; a still-firing repeat is not logged again', async () => {
    const out = new Lines();
    const log = new LogNotifier({ stream: out, now: () => STARTS.getTime() + 1000 });
    const e = event();
    await log.notify([e, event({ rule: 'Other', value: Number.NaN })]);
    await log.notify([e]); // still firing
    await log.notify([resolved(e)]);
    const lines = out.text.split('\n');
    assert.equal(lines.pop(), '', 'ends with a line feed');
    assert.equal(lines.length, 3);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(parsed[0], {
      time: '2026-12-03T09:00:01.000Z',
      msg: 'alert firing',
      rule: 'HighErrorRate',
      endpoint: 'GET /dags/{dag_id}',
      state: 'firing',
      severity: 'page',
      value: 0.125,
      threshold: 0.05,
      labels: e.labels,
      annotations: e.annotations,
      startsAt: '2026-12-03T09:00:00.000Z',
      endsAt: null,
    });
    assert.equal(parsed[1].value, null, 'NaN as null');
    assert.deepEqual([parsed[2].state, parsed[2].endsAt], ['resolved', '2026-12-03T09:05:00.000Z']);
    assert.equal(log.health().state, 'ok');
  });

  test('a failing stream makes health failing; notify still resolves', async () => {
    const out = new Lines();
    out.fail = new Error('disk full');
    const log = new LogNotifier({ stream: out });
    assert.equal(await settle(log.notify([event()])), 'resolved');
    assert.deepEqual(log.health(), { state: 'failing', lastError: 'write: disk full', pending: 0 });
  });
});

describe('memory notifier', () => {
  test('records every call as given', async () => {
    const memory = new MemoryNotifier();
    const e = event();
    await memory.notify([e]);
    await memory.notify([e, resolved(e)]);
    assert.equal(memory.calls.length, 2);
    assert.deepEqual(
      memory.events.map((x) => x.state),
      ['firing', 'firing', 'resolved'],
    );
    memory.failure = 'boom';
    assert.deepEqual(memory.health(), { state: 'failing', lastError: 'boom', pending: 0 });
    await memory.close();
    assert.equal(memory.closed, true);
  });
});

describe('Alertmanager notifier (protocol, against a loopback server)', () => {
  test('POSTs postable alerts to {url}/api/v2/alerts, re-sends while firing at most every interval, endsAt on resolve', async () => {
    const server = await hookServer();
    let now = STARTS.getTime() + 10_000;
    const am = new AlertmanagerNotifier({
      url: `${server.url}/am/`,
      resendIntervalMs: 60_000,
      generatorUrl: 'http://apimeter.local/ui',
      now: () => now,
    });
    try {
      const e = event({ labels: { ...event().labels, 'team-name': 'data', empty: '' } });
      await am.notify([e]);
      now += 20_000;
      await am.notify([e]); // within the resend interval: nothing sent
      now += 45_000;
      await am.notify([e]); // resent
      now += 5_000;
      await am.notify([resolved(e, new Date(now))]);
      assert.deepEqual(
        server.received.map((r) => r.url),
        ['/am/api/v2/alerts', '/am/api/v2/alerts', '/am/api/v2/alerts'],
      );
      const batches = server.received.map((r) => JSON.parse(r.body) as Record<string, unknown>[]);
      const firstSent = STARTS.getTime() + 10_000;
      assert.deepEqual(batches[0], [
        {
          labels: {
            alertname: 'HighErrorRate',
            endpoint: 'GET /dags/{dag_id}',
            severity: 'page',
            service: 'airflow',
            team: 'data',
            team_name: 'data',
          },
          annotations: e.annotations,
          startsAt: STARTS.toISOString(),
          endsAt: new Date(firstSent + 4 * 60_000).toISOString(),
          generatorURL: 'http://apimeter.local/ui',
        },
      ]);
      assert.equal(batches[1][0].endsAt, new Date(firstSent + 65_000 + 4 * 60_000).toISOString());
      assert.equal(batches[2][0].endsAt, new Date(firstSent + 70_000).toISOString());
    } finally {
      await am.close();
      await server.close();
    }
  });
});

describe('a real Prometheus Alertmanager', { skip: ALERTMANAGER_SKIP }, () => {
  let alertmanager: RunningAlertmanager;
  before(async () => {
    alertmanager = await startAlertmanager();
  });
  after(async () => {
    await alertmanager?.stop();
  });

  const mine = (alerts: GettableAlert[], rule: string) => alerts.filter((a) => a.labels.alertname === rule);

  test('a firing alert appears with its labels and annotations; resolved, it is no longer active', async () => {
    const am = new AlertmanagerNotifier({ url: alertmanager.url, generatorUrl: 'http://apimeter.local/ui' });
    try {
      const startsAt = new Date(Date.now() - 60_000);
      startsAt.setMilliseconds(0);
      const e = event({
        rule: 'NotifierTestHighErrorRate',
        startsAt,
        labels: { ...event().labels, alertname: 'NotifierTestHighErrorRate', 'team-name': 'data' },
      });
      await am.notify([e]);
      assert.deepEqual(am.health(), { state: 'ok', lastError: null, pending: 0 }, alertmanager.log());

      const list = await alertmanager.waitForAlerts((a) => mine(a, e.rule).length === 1, 'the firing alert');
      const [got] = mine(list, e.rule);
      const { 'team-name': teamName, ...plain } = e.labels;
      assert.deepEqual(got.labels, { ...plain, team_name: teamName });
      assert.deepEqual(got.annotations, e.annotations);
      assert.equal(got.status.state, 'active');
      assert.equal(new Date(got.startsAt).getTime(), startsAt.getTime());
      assert.ok(new Date(got.endsAt).getTime() > Date.now(), `endsAt ${got.endsAt} is ahead while firing`);
      assert.equal(got.generatorURL, 'http://apimeter.local/ui');

      const endsAt = new Date(Date.now() - 1000);
      await am.notify([resolved(e, endsAt)]);
      assert.equal(am.health().state, 'ok', am.health().lastError ?? '');
      await alertmanager.waitForAlerts(
        (a) => mine(a, e.rule).length === 0,
        'the resolved alert to leave the active list',
      );
      assert.deepEqual(am.stats, { delivered: 2, failed: 0, dropped: 0, retries: 0 });
    } finally {
      await am.close();
    }
  });

  test('createNotifiers builds a working Alertmanager notifier from YAML-shaped config', async () => {
    const [am] = createNotifiers([{ type: 'alertmanager', name: 'am', url: alertmanager.url, timeout_ms: 2000 }]);
    try {
      const e = event({
        rule: 'NotifierTestFromConfig',
        labels: { ...event().labels, alertname: 'NotifierTestFromConfig' },
      });
      await am.notify([e]);
      const list = await alertmanager.waitForAlerts((a) => mine(a, e.rule).length === 1, 'the alert sent via config');
      assert.equal(mine(list, e.rule)[0].labels.service, 'airflow');
    } finally {
      await am.close();
    }
  });
});

describe('createNotifiers', () => {
  test('builds each type with its name (defaults: the type, then type-2)', async () => {
    const notifiers: Notifier[] = createNotifiers([
      { type: 'log', stream: 'stdout' },
      { type: 'webhook', url: 'http://127.0.0.1:9/a', headers: { Authorization: 'Bearer x' }, timeout_ms: 1000 },
      { type: 'webhook', url: 'http://127.0.0.1:9/b', max_attempts: 2, queue_size: 10, repeat_interval_ms: 0 },
      { type: 'slack', name: 'ops-slack', url: 'https://hooks.slack.com/services/T/B/X', blocks: true },
      { type: 'alertmanager', url: 'http://127.0.0.1:9093', resend_interval_ms: 30_000, generator_url: 'http://x/ui' },
    ]);
    try {
      assert.deepEqual(
        notifiers.map((n) => [n.name, n.constructor.name]),
        [
          ['log', 'LogNotifier'],
          ['webhook', 'WebhookNotifier'],
          ['webhook-2', 'WebhookNotifier'],
          ['ops-slack', 'SlackNotifier'],
          ['alertmanager', 'AlertmanagerNotifier'],
        ],
      );
      assert.deepEqual(createNotifiers(undefined), []);
      assert.deepEqual(createNotifiers([]), []);
    } finally {
      await Promise.all(notifiers.map((n) => n.close()));
    }
  });

  test('every mistake is one problem line naming the notifier, field and value, secrets hidden', () => {
    let error: unknown;
    try {
      createNotifiers([
        { type: 'pager' },
        { type: 'webhook', name: 'ops', url: 'http://user:hunter2@exa mple.com/?token=t0k3n', timeout_ms: 'fast' },
        { type: 'webhook', url: 'http://ok.example.com', headers: { Authorization: 42 }, extra: true },
        { type: 'slack', url: 'hooks.slack.com/services/T/B/SLACKSECRET' },
        { type: 'alertmanager', name: 'ops', url: 'http://am:9093', resend_interval_ms: 10 },
        'log',
      ]);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ApimeterError);
    assert.equal(error.code, 'APIMETER_ERR_NOTIFIER_INVALID');
    assert.deepEqual(error.problems, [
      'notifiers[0] type: "pager": expected one of log, webhook, slack, alertmanager',
      'notifiers[1] ("ops") url: "http://***@exa mple.com/?token=***": expected an http(s) URL',
      'notifiers[1] ("ops") timeout_ms: "fast": expected number, received string',
      'notifiers[2] headers.Authorization: "***": expected string, received number',
      'notifiers[2] extra: unknown field',
      'notifiers[3] url: "***": expected an http(s) URL',
      'notifiers[4] ("ops") resend_interval_ms: 10: Too small: expected number to be >=1000',
      'notifiers[5]: "log": expected an object with a type (got a string)',
    ]);
    for (const secret of ['hunter2', 't0k3n', 'SLACKSECRET']) assert.ok(!error.message.includes(secret), secret);
    assert.match(error.message, /^APIMETER_ERR_NOTIFIER_INVALID: 8 notifier problems:\n {2}- notifiers\[0\]/);
  });

  test('duplicate names and a non-list section', () => {
    assert.throws(
      () =>
        createNotifiers([
          { type: 'log', name: 'a' },
          { type: 'log', name: 'a' },
        ]),
      (e: ApimeterError) => {
        assert.deepEqual(e.problems, ['notifiers[1] name: "a": already used by notifiers[0]']);
        return true;
      },
    );
    assert.throws(
      () => createNotifiers({ type: 'log' }),
      (e: ApimeterError) => e.code === 'APIMETER_ERR_NOTIFIER_INVALID' && /expected a list/.test(e.message),
    );
  });
});
