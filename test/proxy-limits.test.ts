/**
 * The proxy's client-side deadlines and its upload pool, against a real upstream on loopback: stalled
 * uploads cannot starve other requests, slow clients get 408 and are recorded as such.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';
import { createProxy, RouteMatcher } from '../src/proxy/index.js';
import type { ApimeterProxy, ProxyOptions } from '../src/proxy/index.js';

const SPEC = { openapi: '3.1.0', paths: { '/api/v2/version': { get: {} }, '/api/v2/upload': { post: {} } } };

/** Counts what it sees itself: requests, and upload requests whose body is still open. */
class Upstream {
  server = http.createServer((req, res) => this.handle(req, res));
  port = 0;
  openUploads = 0;
  maxOpenUploads = 0;
  /** Upload requests whose body never ended, by request target. */
  aborted = new Map<string, number>();
  /** Upload requests that reached the upstream, by request target. */
  seen = new Map<string, number>();

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url!.startsWith('/api/v2/upload')) {
      this.maxOpenUploads = Math.max(this.maxOpenUploads, ++this.openUploads);
      this.seen.set(req.url!, (this.seen.get(req.url!) ?? 0) + 1);
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('close', () => {
        this.openUploads--;
        if (!req.complete) this.aborted.set(req.url!, (this.aborted.get(req.url!) ?? 0) + 1);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
      return;
    }
    res.end(JSON.stringify({ version: '1' }));
  }
}

/** Opens a socket and sends a request head declaring `declared` body bytes, then `sent` bytes of it. */
function slowUpload(port: number, declared: number, sent: number, target = '/api/v2/upload'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Length: ${declared}\r\n\r\n${'x'.repeat(sent)}`,
        () => resolve(socket),
      );
    });
    socket.on('error', reject);
  });
}

/** Everything the server sends on `socket` until it closes (or `deadlineMs`, then what came so far). */
function answer(socket: net.Socket, deadlineMs: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text), deadlineMs);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

async function until(what: string, ok: () => boolean, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const snap = (meter: Meter, method: string, route: string) => meter.endpointSnapshot(method, route, 'all');

describe('proxy client limits', () => {
  const upstream = new Upstream();
  const proxies: ApimeterProxy[] = [];
  const start = async (options: Partial<ProxyOptions>) => {
    const meter = createMeter({ iniPath: false, env: {} });
    const proxy = createProxy({
      target: `http://127.0.0.1:${upstream.port}`,
      meter,
      matcher: RouteMatcher.fromDocument(SPEC),
      ...options,
    });
    proxies.push(proxy);
    return { meter, proxy, port: (await proxy.listen(0)).port };
  };
  before(() => upstream.start());
  after(async () => {
    for (const p of proxies) await p.close();
    await upstream.stop();
  });

  test('300 stalled uploads hold at most the upload pool; other requests are answered meanwhile', async () => {
    const { port, proxy } = await start({ timeoutMs: 60_000 });
    const stalled: net.Socket[] = [];
    try {
      for (let i = 0; i < 300; i++) stalled.push(await slowUpload(port, 1_000_000, 10));
      // Every upload connection the pool has is taken before the probes go out.
      await until('the upload pool to fill', () => upstream.openUploads === 64);
      const probes = await Promise.race([
        Promise.all(Array.from({ length: 4 }, () => get(port, '/api/v2/version'))),
        new Promise<string>((r) => setTimeout(() => r('probes unanswered'), 30_000)),
      ]);
      assert.deepEqual(probes, [200, 200, 200, 200]);
      assert.equal(upstream.maxOpenUploads, 64, 'uploads held max(1, connections / 4) connections');
      assert.equal(proxy.server.listenerCount('timeout'), 1);
    } finally {
      for (const s of stalled) s.destroy();
      await until('the stalled uploads to end upstream', () => upstream.openUploads === 0);
      upstream.maxOpenUploads = 0;
    }
  });

  test('a body that pauses longer than clientBodyTimeoutMs gets 408, recorded, upstream request cancelled', async () => {
    // Long enough that, even on a loaded machine, the request reaches the upstream before the deadline.
    const { port, meter } = await start({ clientBodyTimeoutMs: 1500 });
    const socket = await slowUpload(port, 1000, 10, '/api/v2/upload?paused');
    const answered = answer(socket, 10_000);
    await until('the upstream to see the request', () => upstream.seen.get('/api/v2/upload?paused') === 1);
    const text = await answered;
    assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(text, /connection: close/i);
    await until('the upstream to see its request cancelled', () => upstream.aborted.get('/api/v2/upload?paused') === 1);
    await until('the call to be recorded', () => snap(meter, 'POST', '/api/v2/upload') !== null);
    assert.deepEqual(snap(meter, 'POST', '/api/v2/upload')!.statusCodes, { '408': 1 });
    assert.equal(snap(meter, 'POST', '/api/v2/upload')!.inflight, 0);
  });

  test('a body that arrives before the deadline is forwarded whole', async () => {
    const { port, meter } = await start({ clientBodyTimeoutMs: 2000 });
    const socket = await slowUpload(port, 20, 10);
    await new Promise((r) => setTimeout(r, 100));
    socket.write('y'.repeat(10));
    const text = await answer(socket, 10_000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /\{"bytes":20\}/);
    assert.deepEqual(snap(meter, 'POST', '/api/v2/upload')!.statusCodes, { '200': 1 });
  });

  test('a body that trickles past clientRequestTimeoutMs gets 408', async () => {
    // The header deadline follows the shorter whole-request one unless given.
    const { port, meter } = await start({ clientRequestTimeoutMs: 400 });
    const socket = await slowUpload(port, 1000, 1);
    const trickle = setInterval(() => socket.writable && socket.write('z'), 50);
    const text = await answer(socket, 10_000);
    clearInterval(trickle);
    assert.match(text, /^HTTP\/1\.1 408 /);
    await until('the call to be recorded', () => snap(meter, 'POST', '/api/v2/upload') !== null);
    assert.deepEqual(snap(meter, 'POST', '/api/v2/upload')!.statusCodes, { '408': 1 });
  });

  test('request headers slower than clientHeaderTimeoutMs get 408, counted as unmatched', async () => {
    const { port, meter } = await start({ clientHeaderTimeoutMs: 300 });
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET /api/v2/version HTTP/1.1\r\nHost: x\r\n');
    const text = await answer(socket, 10_000);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.deepEqual(snap(meter, '_OTHER', UNMATCHED_ROUTE)!.statusCodes, { '408': 1 });
  });

  test('a connection that sends nothing is closed after clientHeaderTimeoutMs, without an answer or a record', async () => {
    const { port, meter } = await start({ clientHeaderTimeoutMs: 300 });
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<boolean>((resolve) => {
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 10_000);
    });
    const text = answer(socket, 10_000);
    assert.equal(await closed, true, 'the proxy closed the idle connection');
    assert.equal(await text, '');
    assert.equal(snap(meter, '_OTHER', UNMATCHED_ROUTE), undefined);
  });

  test('header timeout longer than the request timeout is refused at start', () => {
    assert.throws(
      () =>
        createProxy({
          target: 'http://127.0.0.1:1',
          meter: createMeter({ iniPath: false, env: {} }),
          clientHeaderTimeoutMs: 2000,
          clientRequestTimeoutMs: 1000,
        }),
      { code: 'APIMETER_ERR_CONFIG_INVALID' },
    );
  });
});
