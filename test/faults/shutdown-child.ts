/**
 * The README's shutdown, as an application runs it: a node:http server measured by apimeter, StatsD and
 * OTLP exporters, persistence to SQLite, and closeOnSignal. Prints `ready <port>` once listening.
 * Environment: STATSD_PORT, OTLP_URL, STORE_URL.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeOnSignal, createMeter, startExporters } from '../../src/index.js';
import { apimeter } from '../../src/adapters/node.js';
import { startPersistence } from '../../src/store/index.js';

const meter = createMeter({
  iniPath: false,
  env: {},
  statsdOn: true,
  statsdHost: '127.0.0.1',
  statsdPort: Number(process.env.STATSD_PORT),
  otelOn: true,
});
const exporters = await startExporters(meter, {
  otel: { url: process.env.OTLP_URL, temporality: 'delta', intervalMs: 60_000 },
});
const persistence = await startPersistence(meter, {
  enabled: true,
  url: process.env.STORE_URL,
  handleSignals: false,
});
const server = http.createServer(
  apimeter(
    (req, res) => {
      // Slow enough that requests are in flight when the signal comes.
      void sleep(5 + Math.floor(Math.random() * 20)).then(() => res.end('ok'));
    },
    { meter, routes: ['GET /work/{id}'] },
  ),
);
closeOnSignal(server, exporters, persistence, { timeoutMs: 10_000 });
server.listen(0, '127.0.0.1', () => {
  console.log(`ready ${(server.address() as { port: number }).port}`);
});
