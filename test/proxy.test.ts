/**
 * The reverse proxy against a real upstream on loopback: streaming both ways, keep-alive reuse,
 * hop-by-hop headers, X-Forwarded-*, WebSocket pass-through, a slow and a dead upstream, bad requests,
 * and the exact templates, statuses and counts recorded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { createMetricsApi } from '../src/api/index.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';
import { createProxy, metricsApiHandler, RouteMatcher } from '../src/proxy/index.js';
import type { ApimeterProxy } from '../src/proxy/index.js';
import { rawRequest } from './helpers/http.js';

const SPEC = {
  openapi: '3.1.0',
  paths: {
    '/api/v2/version': { get: {} },
    '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}': { get: {} },
    '/api/v2/headers': { get: {} },
    '/api/v2/stream': { get: {} },
    '/api/v2/upload': { post: {} },
    '/api/v2/hang': { get: {} },
    '/api/v2/stall': { get: {} },
    '/api/v2/ws': { get: {} },
  },
};

const STREAM_PARTS = 4;
const STREAM_GAP_MS = 200;

/** The upstream API: what the proxy stands in front of. */
class Upstream {
  server: http.Server;
  wss: WebSocketServer;
  connections = 0;
  requests = 0;
  port = 0;
  firstUploadChunk: (() => void) | null = null;
  streamDoneAt = 0;
  hangClosed = 0;
  hangOpened = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', () => this.connections++);
    this.wss = new WebSocketServer({ server: this.server, path: '/api/v2/ws' });
    this.wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const path = (req.url ?? '').split('?')[0];
    const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
      const body = JSON.stringify(value);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...extra,
      });
      res.end(body);
    };
    if (path === '/api/v2/version') return json(200, { version: '3.2.1' });
    if (path.startsWith('/api/v2/dags/')) return json(200, { path });
    if (path === '/api/v2/headers') {
      // Hop-by-hop fields of this hop, which the proxy must not pass on to its client.
      res.setHeader('connection', 'keep-alive, x-upstream-hop');
      res.setHeader('x-upstream-hop', 'secret');
      res.setHeader('proxy-authenticate', 'Basic realm="upstream"');
      res.setHeader('x-upstream-end', 'kept');
      return json(200, { headers: req.headers, url: req.url });
    }
    if (path === '/api/v2/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const tick = () => {
        if (res.destroyed) return;
        res.write(`part-${i}\n`);
        if (++i < STREAM_PARTS) setTimeout(tick, STREAM_GAP_MS);
        else {
          this.streamDoneAt = performance.now();
          res.end();
        }
      };
      tick();
      return;
    }
    if (path === '/api/v2/upload') {
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        if (bytes === 0) this.firstUploadChunk?.();
        bytes += c.length;
      });
      req.on('end', () => json(200, { bytes, chunked: req.headers['transfer-encoding'] === 'chunked' }));
      return;
    }
    if (path === '/api/v2/stall') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part, then silence');
      return; // the body never ends
    }
    if (path === '/api/v2/hang') {
      this.hangOpened++;
      res.on('close', () => this.hangClosed++);
      return; // never answers
    }
    return json(404, { detail: 'Not Found' });
  }
}

function request(
  port: number,
  path: string,
  options: http.RequestOptions = {},
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const snap = (meter: Meter, method: string, route: string) => meter.endpointSnapshot(method, route, 'all');

/** Polls until `check` holds, failing after `timeoutMs` (the proxy records when the response closes). */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('reverse proxy', () => {
  const upstream = new Upstream();
  let meter: Meter;
  let proxy: ApimeterProxy;
  let port: number;

  before(async () => {
    await upstream.start();
    meter = createMeter({ iniPath: false, env: {} });
    proxy = createProxy({
      target: `http://127.0.0.1:${upstream.port}`,
      meter,
      matcher: RouteMatcher.fromDocument(SPEC),
      local: metricsApiHandler(createMetricsApi({ meter, cacheSeconds: 0, token: 'proxy-test-token' })),
      timeoutMs: 400,
    });
    port = (await proxy.listen(0)).port;
  });
  after(async () => {
    await proxy.close();
    await upstream.stop();
  });

  test('forwards requests and records them under their OpenAPI template', async () => {
    const runs = ['manual__2024-01-01T00%3A00%3A00%2B00%3A00', 'scheduled__2024-01-02', 'r3'];
    for (const run of runs) {
      const res = await request(port, `/api/v2/dags/etl.daily/dagRuns/${run}?limit=5`);
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { path: `/api/v2/dags/etl.daily/dagRuns/${run}` });
    }
    const v = await request(port, '/api/v2/version');
    assert.deepEqual([v.status, JSON.parse(v.body)], [200, { version: '3.2.1' }]);
    const s = snap(meter, 'GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}')!;
    assert.equal(s.count, 3);
    assert.deepEqual(s.statusCodes, { '200': 3 });
    assert.equal(
      s.responseBytes.totalBytes,
      runs.reduce((n, r) => n + JSON.stringify({ path: `/api/v2/dags/etl.daily/dagRuns/${r}` }).length, 0),
    );
    assert.equal(snap(meter, 'GET', '/api/v2/version')!.count, 1);
    // Unknown paths are forwarded (the upstream answers 404) and share the unmatched endpoint.
    const nope = await request(port, '/api/v2/nope/123');
    assert.equal(nope.status, 404);
    assert.deepEqual(snap(meter, 'GET', UNMATCHED_ROUTE)!.statusCodes, { '404': 1 });
    for (const e of meter.snapshot()) assert.ok(!/etl|manual|nope/.test(e.route), e.route);
  });

  test('strips hop-by-hop headers both ways and adds X-Forwarded-*', async () => {
    const res = await request(port, '/api/v2/headers', {
      headers: {
        connection: 'keep-alive, x-client-hop',
        'x-client-hop': 'secret',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'x-end-to-end': 'kept',
        'x-forwarded-for': '203.0.113.7',
        host: 'api.example.test',
      },
    });
    assert.equal(res.status, 200);
    const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    for (const name of ['x-client-hop', 'keep-alive', 'te', 'proxy-authorization', 'transfer-encoding', 'upgrade']) {
      assert.equal(seen[name], undefined, `${name} reached the upstream`);
    }
    assert.notEqual(seen.connection, 'keep-alive, x-client-hop');
    assert.equal(seen['x-end-to-end'], 'kept');
    assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'api.example.test');
    assert.equal(seen.host, `127.0.0.1:${upstream.port}`);
    assert.equal(res.headers['x-upstream-hop'], undefined);
    assert.equal(res.headers['proxy-authenticate'], undefined);
    assert.equal(res.headers['x-upstream-end'], 'kept');
  });

  test('streams a slow chunked response chunk by chunk, before the upstream finishes', async () => {
    const arrivals: number[] = [];
    let text = '';
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/api/v2/stream', agent: false }, (res) => {
          assert.equal(res.headers['content-length'], undefined);
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            arrivals.push(performance.now());
            text += c;
          });
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    assert.equal(text, Array.from({ length: STREAM_PARTS }, (_, i) => `part-${i}\n`).join(''));
    assert.ok(arrivals.length >= STREAM_PARTS - 1, `${arrivals.length} chunks arrived`);
    assert.ok(arrivals[0] < upstream.streamDoneAt - STREAM_GAP_MS, 'the first chunk arrived before the upstream ended');
    await sleep(10);
    assert.equal(snap(meter, 'GET', '/api/v2/stream')!.responseBytes.totalBytes, text.length);
  });

  test('streams a chunked upload to the upstream as it is sent', async () => {
    const first = 'a'.repeat(1000);
    const rest = 'b'.repeat(50_000);
    const reached = new Promise<void>((resolve) => (upstream.firstUploadChunk = resolve));
    const body = new PassThrough();
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/api/v2/upload', method: 'POST', agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      body.pipe(req);
    });
    body.write(first);
    // The rest is sent only once the upstream has the first part: a buffering proxy would hang here.
    await Promise.race([reached, sleep(2000).then(() => assert.fail('the upstream never saw the first chunk'))]);
    body.end(rest);
    const res = await response;
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { bytes: first.length + rest.length, chunked: true });
    const s = snap(meter, 'POST', '/api/v2/upload')!;
    assert.equal(s.requestBytes.totalBytes, first.length + rest.length);
  });

  test('reuses kept-alive upstream connections', async () => {
    const before = upstream.connections;
    for (let i = 0; i < 30; i++) assert.equal((await request(port, '/api/v2/version')).status, 200);
    await Promise.all(Array.from({ length: 10 }, () => request(port, '/api/v2/version')));
    assert.ok(upstream.connections - before <= 10, `${upstream.connections - before} new upstream connections`);
    const sequential = upstream.connections;
    for (let i = 0; i < 20; i++) await request(port, '/api/v2/version');
    assert.equal(upstream.connections, sequential, 'sequential requests opened no new connection');
  });

  test('sends a small answer in one write: head and body together', async () => {
    // A head flushed on its own costs a syscall per response (a third of the proxy's throughput).
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const seen: string[] = [];
      socket.on('data', (c: Buffer) => {
        seen.push(c.toString('latin1'));
        if (seen.join('').endsWith('"3.2.1"}')) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(seen));
      socket.write('GET /api/v2/version HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    assert.equal(chunks.length, 1, `the answer came in ${chunks.length} pieces`);
    assert.match(chunks[0], /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"version":"3\.2\.1"\}$/);
  });

  test('a silent upstream gets a 504 within the timeout, recorded as such', async () => {
    const t0 = performance.now();
    const res = await request(port, '/api/v2/hang');
    const took = performance.now() - t0;
    assert.equal(res.status, 504);
    assert.ok(took >= 390 && took < 1500, `504 after ${took.toFixed(0)} ms`);
    await until(
      () => snap(meter, 'GET', '/api/v2/hang')?.count === 1 && upstream.hangClosed === 1,
      'the 504 to be recorded and the upstream request abandoned',
    );
    const s = snap(meter, 'GET', '/api/v2/hang')!;
    assert.deepEqual(s.statusCodes, { '504': 1 });
    assert.deepEqual(
      s.exceptions.map((e) => [e.class, e.count]),
      [['UND_ERR_HEADERS_TIMEOUT', 1]],
    );
    assert.equal(upstream.hangClosed, 1, 'the upstream request was abandoned');
  });

  test('an upstream that stalls mid-body has the response cut after the timeout, recorded with the cause', async () => {
    const outcome = await new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/api/v2/stall', agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(`end ${text}`));
          res.on('error', () => resolve(`cut ${res.statusCode} ${text}`));
          res.on('aborted', () => resolve(`cut ${res.statusCode} ${text}`));
        })
        .on('error', (e) => resolve(`error ${e.message}`));
    });
    assert.equal(outcome, 'cut 200 first part, then silence');
    await until(() => snap(meter, 'GET', '/api/v2/stall')?.count === 1, 'the cut response to be recorded');
    const s = snap(meter, 'GET', '/api/v2/stall')!;
    assert.deepEqual(s.statusCodes, { '200': 1 });
    assert.deepEqual(
      s.exceptions.map((e) => e.class),
      ['UND_ERR_BODY_TIMEOUT'],
    );
    assert.equal(s.inflight, 0);
  });

  test('a client that goes away is recorded once as 499 and the upstream request is cancelled', async () => {
    const opened = upstream.hangOpened;
    const req = http.get({ host: '127.0.0.1', port, path: '/api/v2/hang', agent: false });
    req.on('error', () => {});
    await until(() => upstream.hangOpened > opened, 'the upstream to have the request');
    req.destroy();
    await until(
      () => snap(meter, 'GET', '/api/v2/hang')!.statusCodes['499'] === 1 && upstream.hangClosed === 2,
      'the abort to be recorded and the upstream request cancelled',
    );
    const s = snap(meter, 'GET', '/api/v2/hang')!;
    assert.deepEqual(s.statusCodes, { '499': 1, '504': 1 });
    assert.equal(s.inflight, 0);
    assert.equal(upstream.hangClosed, 2);
  });

  test('passes WebSocket upgrades through', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v2/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const echoes: string[] = [];
    for (const text of ['hello', 'x'.repeat(70_000)]) {
      const echoed = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
      ws.send(text);
      echoes.push(await echoed);
    }
    assert.deepEqual(echoes, ['hello', 'x'.repeat(70_000)]);
    ws.close();
    await new Promise((r) => ws.once('close', r));
    const s = snap(meter, 'GET', '/api/v2/ws')!;
    assert.deepEqual(s.statusCodes, { '101': 1 });
    assert.equal(s.inflight, 0);
  });

  test('bad request targets and oversized headers are answered cleanly and counted as unmatched', async () => {
    const before = snap(meter, 'GET', UNMATCHED_ROUTE)?.count ?? 0;
    const upstreamBefore = upstream.requests;
    const bad = await rawRequest(port, 'GET /api/v2/dags/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    const nul = await rawRequest(port, 'GET /api/v2/dags/a%00b HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(nul, /^HTTP\/1\.1 400 /);
    const long = await rawRequest(port, `GET /api/v2/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(long, /^HTTP\/1\.1 414 /);
    const huge = await rawRequest(
      port,
      `GET /api/v2/version HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const garbage = await rawRequest(port, 'NOT A REQUEST\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.equal(upstream.requests, upstreamBefore, 'none of them reached the upstream');
    assert.equal(snap(meter, 'GET', UNMATCHED_ROUTE)!.count - before, 3);
    assert.deepEqual(snap(meter, '_OTHER', UNMATCHED_ROUTE)!.statusCodes, { '400': 1, '431': 1 });
    assert.equal((await request(port, '/api/v2/version')).status, 200, 'the proxy still serves');
  });

  test('serves the metrics API beside the proxied one, without forwarding or recording it', async () => {
    const upstreamBefore = upstream.requests;
    assert.equal((await request(port, '/api/v2/metrics/endpoints')).status, 401, 'the API keeps its token check');
    const res = await request(port, '/api/v2/metrics/endpoints?window=all', {
      headers: { authorization: 'Bearer proxy-test-token' },
    });
    assert.equal(res.status, 200);
    const list = JSON.parse(res.body) as { endpoints?: { route: string }[] } | { route: string }[];
    const routes = (Array.isArray(list) ? list : (list.endpoints ?? [])).map((e) => e.route);
    assert.ok(routes.includes('/api/v2/version'), JSON.stringify(routes).slice(0, 200));
    assert.equal(upstream.requests, upstreamBefore);
    for (const e of meter.snapshot()) assert.ok(!e.route.startsWith('/api/v2/metrics'), e.route);
  });
});

describe('reverse proxy in front of a dead upstream', () => {
  test('answers 502 and records it with the connection error', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const meter = createMeter({ iniPath: false, env: {} });
    const proxy = createProxy({
      target: `http://127.0.0.1:${deadPort}`,
      meter,
      matcher: RouteMatcher.fromDocument(SPEC),
    });
    const { port } = await proxy.listen(0);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(port, '/api/v2/version');
        assert.equal(res.status, 502);
        assert.match(JSON.parse(res.body).detail as string, /ECONNREFUSED/);
      }
      const s = snap(meter, 'GET', '/api/v2/version')!;
      assert.deepEqual(s.statusCodes, { '502': 3 });
      assert.equal(s.errorTypes.exception, 3);
      assert.deepEqual(
        s.exceptions.map((e) => e.class),
        ['ECONNREFUSED'],
      );
      // Upgrades too.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v2/ws`);
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', () => resolve(-1));
      });
      assert.equal(status, 502);
      ws.terminate();
      assert.deepEqual(snap(meter, 'GET', '/api/v2/ws')!.statusCodes, { '502': 1 });
    } finally {
      await proxy.close();
    }
  });
});

describe('apimeter proxy (the command)', () => {
  const main = new URL('../src/cli/main.ts', import.meta.url).pathname;
  const airflow = new URL('./fixtures/airflow-v2-openapi.yaml', import.meta.url).pathname;
  const cli = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', main, 'proxy', ...args], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const finished = (child: ReturnType<typeof cli>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('proxies with the Airflow document, serves the metrics API, stops cleanly on SIGTERM', async () => {
    const upstream = new Upstream();
    await upstream.start();
    const child = cli([
      '--target',
      `http://127.0.0.1:${upstream.port}`,
      '--openapi',
      airflow,
      '--multi-segment',
      'variable_key,pool_name',
      '--port',
      '0',
    ]);
    const done = finished(child);
    try {
      const [url, token] = await new Promise<[string, string]>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /apimeter proxy: (http:\/\/\S+) → [^]*generated token (\S+)\)/.exec(out);
          if (m) resolve([m[1], m[2]]);
        });
        child.once('close', () => reject(new Error(`exited early: ${out}`)));
      });
      const port = Number(new URL(url).port);
      assert.equal((await request(port, '/api/v2/version')).status, 200);
      assert.equal(
        (await request(port, '/api/v2/dags/etl.daily/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00')).status,
        200,
      );
      const list = await request(port, '/api/v2/metrics/endpoints', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(list.status, 200);
      assert.match(list.body, /\/api\/v2\/dags\/\{dag_id\}\/dagRuns\/\{dag_run_id\}/);
      assert.match(list.body, /\/api\/v2\/version/);
      child.kill('SIGTERM');
      const { code, stdout } = await done;
      assert.equal(code, 0);
      assert.match(stdout, /110 operations from .*airflow-v2-openapi\.yaml/);
    } finally {
      child.kill('SIGKILL');
      await upstream.stop();
    }
  });

  test('usage errors exit 2, bad values and unreadable documents exit 1', async () => {
    assert.equal((await finished(cli([]))).code, 2);
    assert.equal((await finished(cli(['--target', 'http://x', '--bogus']))).code, 2);
    const badPort = await finished(cli(['--target', 'http://127.0.0.1:1', '--port', 'abc']));
    assert.deepEqual([badPort.code, /--port/.test(badPort.stderr)], [1, true]);
    const noDoc = await finished(cli(['--target', 'http://127.0.0.1:1', '--openapi', '/nonexistent.yaml']));
    assert.deepEqual([noDoc.code, /nonexistent\.yaml/.test(noDoc.stderr)], [1, true]);
    const badTarget = await finished(cli(['--target', 'ftp://x']));
    assert.equal(badTarget.code, 1);
    const help = await finished(cli(['--help']));
    assert.deepEqual([help.code, /--openapi FILE/.test(help.stdout)], [0, true]);
  });
});
