/**
 * The Fastify app the overhead bench loads: a hello-world route among a few others, so routing is not
 * trivially one route. `--instrumented` registers apimeter with its defaults. `--statsd=PORT` and
 * `--otel=URL` (which imply `--instrumented`) also start the real exporters (`startExporters`): StatsD
 * over UDP to 127.0.0.1:PORT and OTLP/HTTP to URL, each flushing every `--flush-ms` (default 1,000: ten
 * and sixty times more often than the defaults, so their cost shows within a round); `--timer-mode=…`
 * sets `statsd_timer_mode` (default `values`). Listens on 127.0.0.1 with an ephemeral port and prints
 * `{"port":N}` on stdout.
 *
 * GET /__count answers the meter's total count (null when bare) so the bench can check that the
 * instrumented server really measured the load it was given, and the process's CPU time; it is
 * excluded from the metrics itself.
 */
import Fastify from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { startExporters } from '../src/exporters/start.js';
import type { Exporters } from '../src/exporters/start.js';

const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const statsdPort = flag('statsd');
const otelUrl = flag('otel');
const flushMs = Number(flag('flush-ms') ?? 1000);
const timerMode = flag('timer-mode') as 'values' | 'sampled' | 'distribution' | undefined;
const instrumented = process.argv.includes('--instrumented') || statsdPort !== undefined || otelUrl !== undefined;
const COUNT_ROUTE = '/__count';

const app = Fastify({ logger: false });
let meter: Meter | null = null;
let exporters: Exporters | null = null;
if (instrumented) {
  meter = createMeter({
    iniPath: false,
    env: {},
    metricsExcludedEndpoints: [COUNT_ROUTE],
    ...(statsdPort !== undefined && {
      statsdOn: true,
      statsdHost: '127.0.0.1',
      statsdPort: Number(statsdPort),
      statsdFlushIntervalMs: flushMs,
      ...(timerMode !== undefined && { statsdTimerMode: timerMode }),
    }),
    ...(otelUrl !== undefined && { otelOn: true, otelIntervalMilliseconds: flushMs }),
  });
  await app.register(apimeter, { meter });
  // env: {} so OTEL_* variables of the shell running the bench cannot redirect the export.
  exporters = await startExporters(meter, { otel: { url: otelUrl, env: {} } });
}

app.get(COUNT_ROUTE, async () => {
  // CPU time of this process, so the bench can compare CPU per request (less sensitive to a noisy machine).
  const cpu = process.cpuUsage();
  const cpuMicros = cpu.user + cpu.system;
  if (meter === null) return { total: null, cpuMicros, endpoints: {}, exports: null };
  // The public snapshot, not internal counters: it is what users of the meter see.
  const endpoints: Record<string, number> = {};
  let total = 0;
  for (const ep of meter.snapshot('all')) {
    endpoints[`${ep.method} ${ep.route}`] = ep.count;
    total += ep.count;
  }
  // Flushes done so far, so the bench can check the exporters really ran during the rounds.
  const exports = exporters && {
    statsdFlushes: exporters.statsd?.health().counters?.flushes ?? null,
    statsdDatagrams: exporters.statsd?.counters.datagramsSent ?? null,
    otelExports: exporters.otel?.health().counters?.exports ?? null,
    otelFailures: exporters.otel?.health().counters?.exportFailures ?? null,
  };
  return { total, cpuMicros, endpoints, exports };
});

app.get<{ Params: { name: string } }>('/hello/:name', async (request) => ({ hello: request.params.name }));
app.get('/health', async () => ({ status: 'ok' }));
app.get<{ Params: { id: string } }>('/users/:id', async (request) => ({ id: request.params.id, name: 'Ada' }));
app.get<{ Params: { id: string; postId: string } }>('/users/:id/posts/:postId', async (request) => ({
  user: request.params.id,
  post: request.params.postId,
}));
app.post('/users', async (_request, reply) => reply.code(201).send({ created: true }));
app.put<{ Params: { id: string } }>('/users/:id', async (request) => ({ updated: request.params.id }));
app.delete('/users/:id', async (_request, reply) => reply.code(204).send());
app.get('/static/*', async () => 'static');

const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ port: Number(new URL(address).port) }) + '\n');

const stop = () => {
  Promise.all([app.close(), exporters?.close()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
