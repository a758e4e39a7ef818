/**
 * The server of `npm run soak`'s steady scenario (bench/soak.ts starts it): Fastify with apimeter, the
 * StatsD and OTLP exporters sending to the sinks named on the command line (flushing every 2 s and 5 s,
 * so a soak of minutes sees hundreds of flushes), and SQLite history in a temporary directory (snapshot
 * every 10 s). Every `--sample-s` seconds it prints one JSON line: heap after a full GC, RSS, and the
 * event-loop delay (p99, max) since the previous line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Fastify from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import { startExporters } from '../src/exporters/start.js';
import { startPersistence } from '../src/store/persistence.js';

const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sampleMs = Number(flag('sample-s') ?? 15) * 1000;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-soak-'));
const meter = createMeter({
  iniPath: false,
  env: {},
  statsdOn: true,
  statsdHost: '127.0.0.1',
  statsdPort: Number(flag('statsd')),
  statsdFlushIntervalMs: 2000,
  otelOn: true,
  otelIntervalMilliseconds: 5000,
});
const app = Fastify({ logger: false });
await app.register(apimeter, { meter });
for (let i = 0; i < 50; i++) app.get(`/r${i}/:id`, async (req) => ({ id: (req.params as { id: string }).id }));
app.get('/boom', async () => {
  throw new Error('soak failure 42');
});
const exporters = await startExporters(meter, { otel: { url: flag('otel'), env: {} } });
const persistence = await startPersistence(meter, {
  enabled: true,
  url: `sqlite:${path.join(dir, 'soak.db')}`,
  handleSignals: false,
  task: { intervalSeconds: 10 },
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ port: Number(new URL(address).port) }) + '\n');

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const timer = setInterval(() => {
  gc();
  gc();
  const m = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({
      heapMb: m.heapUsed / 2 ** 20,
      rssMb: m.rss / 2 ** 20,
      eldP99Ms: delay.percentile(99) / 1e6,
      eldMaxMs: delay.max / 1e6,
      statsd: exporters.statsd?.health().state ?? null,
      otel: exporters.otel?.health().state ?? null,
      store: meter.componentHealth().find((c) => c.name.startsWith('store'))?.state ?? null,
    }) + '\n',
  );
  delay.reset();
}, sampleMs);

process.on('SIGTERM', () => {
  clearInterval(timer);
  void Promise.all([app.close(), exporters.close(), persistence?.close()]).finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
