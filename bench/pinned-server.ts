/**
 * One server of the pinned overhead bench (bench/pinned.ts): the same small API — two parameterised
 * routes returning JSON, among a few others — on one framework, bare or with one kind of
 * instrumentation. Started by the bench under `taskset` on its own CPU, one fresh process per round.
 *
 *   node --import tsx bench/pinned-server.ts --framework=fastify --variant=apimeter
 *
 * Variants: `bare`; `hook` (one empty response hook: the floor any instrumentation pays); `apimeter`
 * (defaults); `detailed` (metrics_detailed on); `exporters` (apimeter + StatsD and OTLP exporters at
 * their default intervals, `--statsd=PORT --otel=URL`); the peers `fastify-metrics`, `otel` (OpenTelemetry's
 * HTTP instrumentation with a tracer and a meter provider, exporting nowhere), `prom-bundle`
 * (express-prom-bundle) and `hono-prometheus` (@hono/prometheus).
 *
 * `--framework=proxy`: the reverse proxy (src/proxy) in front of the `node` bare server, which runs as
 * a child process on the CPU `--upstream-cpu` names (taskset; the load generator's, so the proxy has
 * its CPU to itself as the servers of the other frameworks do): `bare` is that server alone, direct (the
 * baseline), `off` the proxy with metrics off, `apimeter` the measuring proxy (route table of the two
 * routes).
 *
 * Prints `{"port":N}`. GET /__count answers the meter's count (null without apimeter) and, for the
 * OTel peer, the spans it ended — so the bench can check every variant did its work.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import type { Meter } from '../src/core/meter.js';

const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const framework = flag('framework') ?? 'fastify';
const variant = flag('variant') ?? 'bare';
const COUNT_ROUTE = '/__count';

let spans = 0;
if (variant === 'otel') {
  // Registered before any server module is loaded, as the instrumentation's docs require.
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } =
    await import('@opentelemetry/sdk-metrics');
  const { context, trace, metrics } = await import('@opentelemetry/api');
  const { ExportResultCode } = await import('@opentelemetry/core');
  const exporter = {
    export: (batch: unknown[], done: (r: { code: number }) => void) => {
      spans += batch.length;
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] }));
  const metricExporter = {
    export: (_m: unknown, done: (r: { code: number }) => void) => done({ code: ExportResultCode.SUCCESS }),
    forceFlush: async () => {},
    shutdown: async () => {},
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
  metrics.setGlobalMeterProvider(
    new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricExporter })] }),
  );
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
}

let meter: Meter | null = null;
let closeExporters: (() => Promise<void>) | null = null;
if (
  variant === 'apimeter' ||
  variant === 'consumers' ||
  variant === 'detailed' ||
  variant === 'exporters' ||
  (framework === 'proxy' && variant === 'off')
) {
  const { createMeter } = await import('../src/core/meter.js');
  const statsd = flag('statsd');
  const otel = flag('otel');
  meter = createMeter({
    iniPath: false,
    env: {},
    metricsExcludedEndpoints: [COUNT_ROUTE],
    metricsDetailed: variant === 'detailed',
    // The load script sends X-Client-Id (50 consumers) on every request; only this variant reads it.
    metricsConsumers: variant === 'consumers',
    metricsConsumerHeader: 'x-client-id',
    metricsEnabled: variant !== 'off',
    ...(variant === 'exporters' && {
      statsdOn: true,
      statsdHost: '127.0.0.1',
      statsdPort: Number(statsd),
      otelOn: true,
    }),
  });
  if (variant === 'exporters') {
    const { startExporters } = await import('../src/exporters/start.js');
    // env: {} so OTEL_* variables of the shell running the bench cannot redirect the export.
    const exporters = await startExporters(meter, { otel: { url: otel, env: {} } });
    closeExporters = () => exporters.close();
  }
}

function counts(): string {
  const cpu = process.cpuUsage();
  const total = meter === null || variant === 'off' ? null : meter.snapshot('all').reduce((n, e) => n + e.count, 0);
  return JSON.stringify({ total, spans, cpuMicros: cpu.user + cpu.system });
}

function unknownVariant(): never {
  throw new Error(`--variant=${variant} is not available for --framework=${framework}`);
}

/** The `node` framework's plain handler (also the proxy's upstream). */
function nodeHandler(req: IncomingMessage, res: ServerResponse): void {
  const json = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const url = req.url ?? '/';
  let m: RegExpExecArray | null;
  if (url === COUNT_ROUTE) return json(200, counts());
  if ((m = HELLO.exec(url))) return json(200, JSON.stringify({ hello: m[1] }));
  if ((m = POSTS.exec(url))) return json(200, JSON.stringify({ user: m[1], post: m[2] }));
  if (url === '/health') return json(200, '{"status":"ok"}');
  return json(404, '{"detail":"Not Found"}');
}
const HELLO = /^\/hello\/([^/?]+)$/;
const POSTS = /^\/users\/([^/?]+)\/posts\/([^/?]+)$/;

/**
 * The proxy variants: the upstream (the node bare server) in a child process on `--upstream-cpu`, the
 * proxy here. GET /__count is the proxy's own (a local handler, not forwarded nor recorded) and adds
 * the upstream's CPU time to this process's: the CPU per request shown is the hop's plus the app's.
 */
async function startUpstream(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const cpu = flag('upstream-cpu');
  // Idle upstream connections are kept for 10 minutes (node's default is 5 s): under callgrind the hop
  // is so slow that a connection can sit idle past 5 s and be closed as a request goes out on it (502).
  const node = [
    process.execPath,
    '--import',
    'tsx',
    'bench/pinned-server.ts',
    '--framework=node',
    '--variant=bare',
    '--keep-alive-ms=600000',
  ];
  const [cmd, ...args] = cpu === undefined ? node : ['taskset', '-c', cpu, ...node];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill());
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) resolve((JSON.parse(out.slice(0, out.indexOf('\n'))) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`upstream exited (${code})`)));
  });
}

/** GET /__count of a proxy variant: this process's counts plus the upstream's CPU time. */
function proxyCount(upstreamPort: number, res: ServerResponse): void {
  void fetch(`http://127.0.0.1:${upstreamPort}${COUNT_ROUTE}`)
    .then((r) => r.json() as Promise<{ cpuMicros: number }>)
    .then((up) => {
      const own = JSON.parse(counts()) as { cpuMicros: number };
      own.cpuMicros += up.cpuMicros;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(own));
    });
}

async function startProxy(): Promise<http.Server> {
  const { createProxy } = await import('../src/proxy/index.js');
  const { RouteMatcher } = await import('../src/routing/openapi-matcher.js');
  const upstreamPort = await startUpstream();
  const matcher =
    variant === 'off' ? null : RouteMatcher.fromRoutes(['GET /hello/{name}', 'GET /users/{id}/posts/{postId}']);
  const p = createProxy({
    target: `http://127.0.0.1:${upstreamPort}`,
    meter: meter!,
    matcher,
    local: { owns: (url) => url === COUNT_ROUTE, handle: (_req, res) => proxyCount(upstreamPort, res) },
  });
  return p.server;
}

/**
 * The floors of a hop, for bench/instructions.ts: the least a forwarder built on each HTTP client can
 * cost (GET only, no deadlines, no error answers beyond 502, Connection/Keep-Alive dropped, nothing
 * measured). `undici-floor`: undici's Pool.dispatch with a raw-header handler; `http-floor`: node:http's
 * client on a keep-alive Agent. Not part of the pinned rows.
 */
async function startFloor(): Promise<http.Server> {
  const upstreamPort = await startUpstream();
  const host = `127.0.0.1:${upstreamPort}`;
  const hop = (name: string) => {
    const n = name.toLowerCase();
    return n === 'connection' || n === 'keep-alive' || n === 'transfer-encoding';
  };
  const requestHeaders = (req: IncomingMessage): string[] => {
    const raw = req.rawHeaders;
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (!hop(raw[i]) && raw[i].toLowerCase() !== 'host') out.push(raw[i], raw[i + 1]);
    }
    out.push('host', host);
    return out;
  };
  const fail = (res: ServerResponse) => {
    if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
    res.end();
  };
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (variant === 'undici-floor') {
    const { Pool } = await import('undici');
    const pool = new Pool(`http://${host}`, { connections: 256 });
    handler = (req, res) => {
      pool.dispatch(
        { path: req.url ?? '/', method: req.method ?? 'GET', headers: requestHeaders(req), body: null },
        {
          onConnect() {},
          onHeaders(status: number, raw: Buffer[]) {
            const out: string[] = [];
            for (let i = 0; i < raw.length; i += 2) {
              const name = raw[i].toString('latin1');
              if (!hop(name)) out.push(name, raw[i + 1].toString('latin1'));
            }
            res.writeHead(status, out);
            return true;
          },
          onData(chunk: Buffer) {
            res.write(chunk);
            return true;
          },
          onComplete() {
            res.end();
          },
          onError(err: Error) {
            process.stderr.write(`undici-floor: ${(err as { code?: string }).code ?? err.message}\n`);
            fail(res);
          },
        },
      );
    };
  } else {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    handler = (req, res) => {
      const up = http.request(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          agent,
          path: req.url,
          method: req.method,
          headers: requestHeaders(req),
        },
        (answer) => {
          const raw = answer.rawHeaders;
          const out: string[] = [];
          for (let i = 0; i < raw.length; i += 2) if (!hop(raw[i])) out.push(raw[i], raw[i + 1]);
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
        },
      );
      up.on('error', (err: Error) => {
        process.stderr.write(`http-floor: ${(err as { code?: string }).code ?? err.message}\n`);
        fail(res);
      });
      up.end();
    };
  }
  return http.createServer((req, res) => {
    if (req.url === COUNT_ROUTE) proxyCount(upstreamPort, res);
    else handler(req, res);
  });
}

let server: http.Server;
if (framework === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  if (meter !== null) {
    const { apimeter } = await import('../src/adapters/fastify.js');
    await app.register(apimeter, { meter });
  } else if (variant === 'hook') {
    app.addHook('onResponse', function emptyHook(_req, _reply, done) {
      done();
    });
  } else if (variant === 'fastify-metrics') {
    // CommonJS `exports.default`: the plugin is the default export's default.
    const { default: metricsPlugin } = (await import('fastify-metrics')) as unknown as {
      default: FastifyPluginAsync<{ endpoint: string }>;
    };
    await app.register(metricsPlugin, { endpoint: '/metrics' });
  } else if (variant !== 'bare' && variant !== 'otel') unknownVariant();
  app.get(COUNT_ROUTE, async (_req, reply) => reply.type('application/json').send(counts()));
  app.get<{ Params: { name: string } }>('/hello/:name', async (req) => ({ hello: req.params.name }));
  app.get<{ Params: { id: string; postId: string } }>('/users/:id/posts/:postId', async (req) => ({
    user: req.params.id,
    post: req.params.postId,
  }));
  app.get('/health', async () => ({ status: 'ok' }));
  app.post('/users', async (_req, reply) => reply.code(201).send({ created: true }));
  await app.ready();
  server = app.server;
} else if (framework === 'express') {
  const { default: express } = await import('express');
  const app = express();
  app.set('etag', false);
  if (meter !== null) {
    const { apimeter } = await import('../src/adapters/express.js');
    app.use(apimeter({ meter }));
  } else if (variant === 'hook') {
    app.use(function emptyHook(_req, res, next) {
      res.on('finish', () => {});
      next();
    });
  } else if (variant === 'prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true }));
  } else if (variant !== 'bare' && variant !== 'otel') unknownVariant();
  app.get(COUNT_ROUTE, (_req, res) => {
    res.type('application/json').send(counts());
  });
  app.get('/hello/:name', (req, res) => {
    res.json({ hello: req.params.name });
  });
  const users = express.Router();
  users.get('/:id/posts/:postId', (req, res) => {
    res.json({ user: req.params.id, post: req.params.postId });
  });
  users.post('/', (_req, res) => {
    res.status(201).json({ created: true });
  });
  app.use('/users', users);
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  server = http.createServer(app);
} else if (framework === 'hono') {
  const { Hono } = await import('hono');
  const { createAdaptorServer } = await import('@hono/node-server');
  const app = new Hono();
  if (meter !== null) {
    const { apimeter } = await import('../src/adapters/hono.js');
    app.use(apimeter({ meter }));
  } else if (variant === 'hook') {
    app.use(async function emptyHook(_c, next) {
      await next();
    });
  } else if (variant === 'hono-prometheus') {
    const { prometheus } = await import('@hono/prometheus');
    const { printMetrics, registerMetrics } = prometheus();
    app.use('*', registerMetrics);
    app.get('/metrics', printMetrics);
  } else if (variant !== 'bare' && variant !== 'otel') unknownVariant();
  app.get(COUNT_ROUTE, (c) => c.body(counts(), 200, { 'content-type': 'application/json' }));
  app.get('/hello/:name', (c) => c.json({ hello: c.req.param('name') }));
  app.get('/users/:id/posts/:postId', (c) => c.json({ user: c.req.param('id'), post: c.req.param('postId') }));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.post('/users', (c) => c.json({ created: true }, 201));
  server = createAdaptorServer({ fetch: app.fetch }) as http.Server;
} else if (framework === 'node') {
  if (meter !== null) {
    const { apimeter } = await import('../src/adapters/node.js');
    const routes = ['GET /hello/{name}', 'GET /users/{id}/posts/{postId}', 'GET /health', `GET ${COUNT_ROUTE}`];
    server = http.createServer(apimeter(nodeHandler, { meter, routes }));
  } else if (variant === 'hook') {
    server = http.createServer((req, res) => {
      res.on('finish', () => {});
      nodeHandler(req, res);
    });
  } else if (variant === 'bare' || variant === 'otel') server = http.createServer(nodeHandler);
  else unknownVariant();
} else if (framework === 'proxy') {
  if (variant === 'bare') server = http.createServer(nodeHandler);
  else if (variant === 'off' || variant === 'apimeter') server = await startProxy();
  else if (variant === 'undici-floor' || variant === 'http-floor') server = await startFloor();
  else unknownVariant();
} else {
  throw new Error(`unknown --framework=${framework}`);
}

const keepAliveMs = flag('keep-alive-ms');
if (keepAliveMs !== undefined) server.keepAliveTimeout = Number(keepAliveMs);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
const stop = () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(closeExporters?.()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
