/**
 * 20,000 distinct junk paths through the reverse proxy, with and without heuristic normalization
 * (`--normalize`), pipelined over 8 keep-alive loopback connections: the registry stays within the
 * cap, the heap after GC stays flat between 20,000 and 100,000 paths, no 5xx, and the declared routes
 * still record under their templates. See path-flood.ts for the paths and the bounds.
 *
 * 20,000, not 100,000: every request crosses client, proxy and upstream, all in this process, and on a
 * loaded 2-CPU machine that is ~600 requests/s. The paths are well-formed (the proxy answers a
 * malformed target with a 400 and closes the connection, which makes a pipelined flood crawl); a
 * second test sends 500 malformed ones one connection at a time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMeter } from '../../src/core/meter.js';
import { createProxy, Normalizer, RouteMatcher } from '../../src/proxy/index.js';
import { CAP, checkFlood, flood, junkPath } from './path-flood.js';

const TOTAL = 20_000;
const EARLY = 5_000;
/** 15,000 paths each leaving a string (≥ 46 bytes) would be ≥ 0.7 MB, an entry per path ≥ 1.5 MB. */
const HEAP_MAX = 2 * 1024 * 1024;

for (const normalize of [false, true]) {
  test(`proxy (normalize ${normalize}): 20,000 junk paths`, { timeout: 120_000 }, async (t) => {
    const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: CAP });
    const upstream = http.createServer((_req, res) => void res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const proxy = createProxy({
      target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      meter,
      matcher: RouteMatcher.fromRoutes(['GET /known/{id}', 'POST /orders']),
      ...(normalize ? { normalizer: new Normalizer({ maxTemplates: CAP }) } : {}),
    });
    const { port } = await proxy.listen(0);
    try {
      const result = await flood(port, (i) => junkPath(i, true), 16, EARLY, TOTAL);
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/known/${40 + i}`)).status, 200);
      for (let i = 0; i < 2; i++)
        assert.equal((await fetch(`${base}/orders`, { method: 'POST', body: '{}' })).status, 200);
      const declared = [
        { method: 'GET', route: '/known/{id}', count: 3 },
        { method: 'POST', route: '/orders', count: 2 },
      ];
      t.diagnostic(checkFlood(meter, result, declared, normalize, 0, TOTAL, HEAP_MAX));
    } finally {
      await proxy.close();
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  });
}

test('proxy: 500 paths with malformed targets, one connection at a time: 400s, never a 5xx', async () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: CAP });
  const upstream = http.createServer((_req, res) => void res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = createProxy({ target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, meter });
  const { port } = await proxy.listen(0);
  try {
    const { statuses } = await flood(port, junkPath, 1, 100, 500);
    assert.deepEqual([...statuses.keys()].sort(), [200, 400]);
    assert.equal((statuses.get(200) ?? 0) + (statuses.get(400) ?? 0), 500);
    assert.equal(
      meter.snapshot().reduce((sum, e) => sum + e.count, 0),
      500,
    );
  } finally {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  }
});
