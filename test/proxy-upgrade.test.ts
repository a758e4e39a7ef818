/**
 * Upgrade requests through the proxy when the upstream refuses them, and under the metrics prefix:
 * nothing is piped without a 101, and the metrics API is answered locally.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createMetricsApi } from '../src/api/index.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { createProxy, metricsApiHandler, RouteMatcher } from '../src/proxy/index.js';
import type { ApimeterProxy } from '../src/proxy/index.js';

const TOKEN = 'upgrade-test-token';
const UPGRADE =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';

/** Everything the server sends on a fresh connection for `payload`, until it closes or `deadlineMs`. */
function exchange(port: number, payload: string, deadlineMs = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, deadlineMs);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.write(payload);
  });
}

describe('proxy upgrades that are not switched', () => {
  // A plain node:http upstream with no upgrade handler answers Upgrade requests as ordinary ones and
  // keeps the connection open.
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const body = req.url === '/api/v2/chunked' ? null : JSON.stringify({ detail: 'Not Found' });
    if (body === null) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.write('no ');
      res.end('socket here');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  let meter: Meter;
  let proxy: ApimeterProxy;
  let port: number;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    meter = createMeter({ iniPath: false, env: {} });
    proxy = createProxy({
      target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      meter,
      matcher: RouteMatcher.fromDocument({ openapi: '3.1.0', paths: { '/api/v2/ws': { get: {} } } }),
      local: metricsApiHandler(createMetricsApi({ meter, cacheSeconds: 0, token: TOKEN })),
    });
    port = (await proxy.listen(0)).port;
  });
  after(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  test('a refused upgrade is relayed, then the connection is closed: later requests never reach the upstream', async () => {
    seen.length = 0;
    const { text, closed } = await exchange(
      port,
      `GET /api/v2/ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n\r\n` +
        // Pipelined behind the refused upgrade: must not pass through unmeasured.
        `GET /api/v2/metrics/summary HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v2/ws?again HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.ok(closed, 'the proxy closed the connection');
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.ok(text.endsWith('{"detail":"Not Found"}'), text);
    assert.equal((text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one answer only');
    assert.deepEqual(seen, ['GET /api/v2/ws']);
    assert.deepEqual(meter.endpointSnapshot('GET', '/api/v2/ws', 'all')!.statusCodes, { '404': 1 });
  });

  test('a refused upgrade with a chunked body is relayed whole, then closed', async () => {
    seen.length = 0;
    const { text, closed } = await exchange(port, `GET /api/v2/chunked HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n\r\n`);
    assert.ok(closed);
    assert.match(text, /^HTTP\/1\.1 404 /);
    assert.ok(text.endsWith('0\r\n\r\n'), text);
    assert.deepEqual(seen, ['GET /api/v2/chunked']);
  });

  test('an Upgrade request under the metrics prefix is answered by the metrics API, not forwarded', async () => {
    seen.length = 0;
    const { text, closed } = await exchange(
      port,
      `GET /api/v2/metrics/summary HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n${UPGRADE}\r\n\r\n`,
    );
    assert.ok(closed);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"totals"|"requests"|"count"/);
    assert.deepEqual(seen, []);
    const refused = await exchange(port, `GET /api/v2/metrics/summary HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n\r\n`);
    assert.match(refused.text, /^HTTP\/1\.1 401 /);
    assert.deepEqual(seen, []);
  });
});
