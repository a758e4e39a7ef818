/**
 * A `node:cluster` application as the fleet helper is meant to be used:
 * `node --import tsx fleet-cluster.ts PG_URL SCHEMA`. The primary forks three workers that share one
 * listening port; each worker is an instance (`startFleetInstance`: durable snapshots and live tier, one
 * migration however many start together). The primary sends requests to the shared port, runs `serve`
 * in-process and prints one JSON line: what the workers counted and what the fleet view answered.
 */
import cluster from 'node:cluster';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apimeter } from '../../src/adapters/node.js';
import { createMeter } from '../../src/core/meter.js';
import { startFleetInstance } from '../../src/fleet/instance.js';
import { startServe } from '../../src/fleet/serve.js';

const [url, schema] = process.argv.slice(2);
const WORKERS = 3;
const REQUESTS = 240;

if (cluster.isWorker) {
  const meter = createMeter({ iniPath: false, env: {}, rings: { fineMs: 1000 } });
  const fleet = await startFleetInstance(meter, {
    url,
    schema,
    intervalSeconds: 1,
    handleSignals: false,
    persistence: { task: { intervalSeconds: 60 } },
    live: { graceMs: 300, retryMs: { min: 200, max: 1000 } },
  });
  const server = createServer(apimeter((_req, res) => void res.end('ok'), { meter, routes: ['GET /a', 'GET /b'] }));
  server.listen(Number(process.env.FLEET_PORT), '127.0.0.1', () =>
    process.send!({ ready: fleet.instance, role: fleet.role }),
  );
  process.on('message', (m: { ask?: string }) => {
    if (m.ask === 'count') {
      const n = meter.registry.endpoints().reduce((s, ep) => s + meter.reader.cumulative(ep).count, 0);
      process.send!({ instance: fleet.instance, count: n });
    }
    if (m.ask === 'stop') void fleet.close().then(() => server.close(() => process.exit(0)));
  });
} else {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  cluster.setupPrimary({ execArgv: ['--import', 'tsx'], args: [url, schema] });
  const workers = Array.from({ length: WORKERS }, () => cluster.fork({ FLEET_PORT: String(port) }));
  const started = await Promise.all(
    workers.map((w) => new Promise<{ ready: string; role: string }>((resolve) => w.once('message', resolve))),
  );
  // A new connection per request: the primary hands connections to the workers in turn.
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  let ok = 0;
  for (let i = 0; i < REQUESTS; i++) if ((await get(i % 2 === 0 ? '/a' : '/b')) === 200) ok++;
  const counts = await Promise.all(
    workers.map(
      (w) =>
        new Promise<{ instance: string; count: number }>((resolve) => {
          w.once('message', resolve);
          w.send({ ask: 'count' });
        }),
    ),
  );
  const serve = await startServe({
    url,
    schema,
    intervalSeconds: 1,
    port: 0,
    token: 't',
    alerts: false,
    meter: { iniPath: false, env: {} },
  });
  const ask = async (path: string) =>
    JSON.parse(
      String((await serve.handle({ method: 'GET', url: path, headers: { authorization: 'Bearer t' } })).body),
    ) as { endpoints: { count: number }[]; instances: { instance: string; role: string; requests: number }[] };
  const sum = (a: { endpoints: { count: number }[] }) => a.endpoints.reduce((s, e) => s + e.count, 0);
  const deadline = Date.now() + 20_000;
  let fleetCount = 0;
  while (Date.now() < deadline && (fleetCount = sum(await ask('/api/v2/metrics/endpoints?window=5m'))) < ok) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const perInstance: Record<string, number> = {};
  for (const c of counts) {
    perInstance[c.instance] = sum(
      await ask(`/api/v2/metrics/endpoints?window=5m&instance=${encodeURIComponent(c.instance)}`),
    );
  }
  const listed = await ask('/api/v2/metrics/instances');
  await serve.close();
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          w.send({ ask: 'stop' });
        }),
    ),
  );
  process.stdout.write(
    JSON.stringify({ started, sent: REQUESTS, ok, counts, fleetCount, perInstance, instances: listed.instances }) +
      '\n',
  );
  process.exit(0);
}
