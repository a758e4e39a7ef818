/**
 * Overhead of each adapter under load: the same small API on Fastify, Express 4, Express 5, Hono
 * (@hono/node-server) and plain node:http, bare and instrumented, each in its own server process.
 * autocannon loads one at a time; after a discarded warm-up, pairs of rounds alternate bare and
 * instrumented (swapping which goes first), interleaved across adapters. Per adapter: the median of
 * the paired instrumented/bare req/s ratios (the budget figure), and the same for server CPU per
 * request (bare/instrumented).
 *
 *   npx tsx bench/adapters.ts [--quick] [--only=express5,hono]
 *
 * Prints one row per adapter, then one JSON line. The same script is the server when started with
 * `--serve=<adapter> [--instrumented]` (it prints `{"port":N}`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { emitResult, fmt, median, ROOT, table } from './lib.js';

// fastify-detailed: the Fastify app with `metrics_detailed` on (request context, auth inference,
// rate-limit headers, trace lookup) and an Authorization header on every request — detailed mode's cost.
const ADAPTERS = ['fastify', 'fastify-detailed', 'express4', 'express5', 'hono', 'node'] as const;
type AdapterName = (typeof ADAPTERS)[number];

const COUNT_ROUTE = '/__count';
const TARGET = '/hello/bench';
const CONNECTIONS = 50;

// ---------------------------------------------------------------- server side

async function serve(name: AdapterName, instrumented: boolean): Promise<void> {
  const { createMeter } = await import('../src/core/meter.js');
  const meter = instrumented
    ? createMeter({
        iniPath: false,
        env: {},
        metricsExcludedEndpoints: [COUNT_ROUTE],
        metricsDetailed: name === 'fastify-detailed',
      })
    : null;
  const counts = () => {
    const cpu = process.cpuUsage();
    const total = meter === null ? null : meter.snapshot('all').reduce((n, e) => n + e.count, 0);
    return JSON.stringify({ total, cpuMicros: cpu.user + cpu.system });
  };
  let server: http.Server;
  if (name === 'fastify' || name === 'fastify-detailed') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    if (meter !== null) {
      const { apimeter } = await import('../src/adapters/fastify.js');
      await app.register(apimeter, { meter });
    }
    app.get(COUNT_ROUTE, async (_req, reply) => reply.type('application/json').send(counts()));
    app.get<{ Params: { name: string } }>('/hello/:name', async (req) => ({ hello: req.params.name }));
    app.get('/health', async () => ({ status: 'ok' }));
    app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));
    app.get<{ Params: { id: string; postId: string } }>('/users/:id/posts/:postId', async (req) => req.params);
    app.post('/users', async (_req, reply) => reply.code(201).send({ created: true }));
    await app.ready();
    server = app.server;
  } else if (name === 'express4' || name === 'express5') {
    const express = name === 'express4' ? (await import('express4')).default : (await import('express')).default;
    const app = express();
    app.set('etag', false);
    if (meter !== null) {
      const { apimeter } = await import('../src/adapters/express.js');
      app.use(apimeter({ meter }));
    }
    app.get(COUNT_ROUTE, (_req, res) => {
      res.type('application/json').send(counts());
    });
    app.get('/hello/:name', (req, res) => {
      res.json({ hello: req.params.name });
    });
    app.get('/health', (_req, res) => {
      res.json({ status: 'ok' });
    });
    const users = express.Router();
    users.get('/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    users.get('/:id/posts/:postId', (req, res) => {
      res.json(req.params);
    });
    users.post('/', (_req, res) => {
      res.status(201).json({ created: true });
    });
    app.use('/users', users);
    server = http.createServer(app);
  } else if (name === 'hono') {
    const { Hono } = await import('hono');
    const { createAdaptorServer } = await import('@hono/node-server');
    const app = new Hono();
    if (meter !== null) {
      const { apimeter } = await import('../src/adapters/hono.js');
      app.use(apimeter({ meter }));
    }
    app.get(COUNT_ROUTE, (c) => c.body(counts(), 200, { 'content-type': 'application/json' }));
    app.get('/hello/:name', (c) => c.json({ hello: c.req.param('name') }));
    app.get('/health', (c) => c.json({ status: 'ok' }));
    app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
    app.get('/users/:id/posts/:postId', (c) => c.json(c.req.param()));
    app.post('/users', (c) => c.json({ created: true }, 201));
    server = createAdaptorServer({ fetch: app.fetch }) as http.Server;
  } else {
    const json = (res: ServerResponse, status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? '/';
      if (url === COUNT_ROUTE) return json(res, 200, counts());
      let m: RegExpExecArray | null;
      if ((m = /^\/hello\/([^/?]+)/.exec(url))) return json(res, 200, JSON.stringify({ hello: m[1] }));
      if (url === '/health') return json(res, 200, '{"status":"ok"}');
      if ((m = /^\/users\/([^/?]+)$/.exec(url))) return json(res, 200, JSON.stringify({ id: m[1] }));
      return json(res, 404, '{"detail":"Not Found"}');
    };
    if (meter !== null) {
      const { apimeter } = await import('../src/adapters/node.js');
      const routes = [
        'GET /hello/{name}',
        'GET /health',
        'GET /users/{id}',
        'GET /users/{id}/posts/{postId}',
        'POST /users',
      ];
      server = http.createServer(apimeter(handler, { meter, routes: [...routes, `GET ${COUNT_ROUTE}`] }));
    } else server = http.createServer(handler);
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------- load side

interface Server {
  child: ChildProcess;
  port: number;
}

function start(name: AdapterName, instrumented: boolean): Promise<Server> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', path.join('bench', 'adapters.ts'), `--serve=${name}`];
    if (instrumented) args.push('--instrumented');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${name} server exited early (${code})`)));
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

async function counters(port: number): Promise<{ total: number | null; cpuMicros: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}${COUNT_ROUTE}`)).json()) as {
    total: number | null;
    cpuMicros: number;
  };
}

interface Round {
  which: 'bare' | 'instrumented';
  rps: number;
  cpuMicrosPerRequest: number;
  completed: number;
  counted?: number;
}

export interface AdapterResult {
  adapter: AdapterName;
  bareRps: number;
  instrumentedRps: number;
  /** median(instrumented req/s) / median(bare req/s) */
  ratio: number;
  /** instrumented/bare req/s of each pair of adjacent rounds */
  pairRatios: number[];
  /** median of pairRatios: the budget figure (machine drift between pairs cancels out) */
  medianPairRatio: number;
  /** median(bare CPU µs/request) / median(instrumented CPU µs/request) */
  cpuRatio: number;
  /** bare/instrumented server CPU per request of each pair */
  pairCpuRatios: number[];
  /** median of pairCpuRatios: what a CPU-bound server keeps, least sensitive to the load generator */
  medianPairCpuRatio: number;
  bareCpuMicrosPerRequest: number;
  instrumentedCpuMicrosPerRequest: number;
  failures: string[];
}

interface Subject {
  name: AdapterName;
  servers: { bare: Server; instrumented: Server };
  rounds: Round[];
  failures: string[];
}

async function runRound(subject: Subject, which: 'bare' | 'instrumented', seconds: number, keep: boolean) {
  const s = subject.servers[which];
  const before = await counters(s.port);
  const r = await autocannon({
    url: `http://127.0.0.1:${s.port}${TARGET}`,
    connections: CONNECTIONS,
    duration: seconds,
    // The same header on both servers of a pair; only the detailed one reads it (auth inference).
    ...(subject.name === 'fastify-detailed' && { headers: { authorization: 'Bearer bench-token' } }),
  });
  await sleep(100);
  const after = await counters(s.port);
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    subject.failures.push(`${which}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  }
  const round: Round = {
    which,
    rps: r.requests.total / r.duration,
    completed: r.requests.total,
    cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / r.requests.total,
  };
  if (which === 'instrumented') {
    round.counted = (after.total ?? 0) - (before.total ?? 0);
    if (round.counted < r.requests.total || round.counted > r.requests.sent) {
      subject.failures.push(`meter counted ${round.counted}, autocannon completed ${r.requests.total}`);
    }
  }
  if (keep) subject.rounds.push(round);
}

function summarise(subject: Subject): AdapterResult {
  const of = (which: 'bare' | 'instrumented') => subject.rounds.filter((r) => r.which === which);
  const bare = of('bare');
  const instrumented = of('instrumented');
  const bareRps = median(bare.map((r) => r.rps));
  const instrumentedRps = median(instrumented.map((r) => r.rps));
  const bareCpu = median(bare.map((r) => r.cpuMicrosPerRequest));
  const instrumentedCpu = median(instrumented.map((r) => r.cpuMicrosPerRequest));
  const pairRatios = bare.map((b, i) => instrumented[i].rps / b.rps);
  const pairCpuRatios = bare.map((b, i) => b.cpuMicrosPerRequest / instrumented[i].cpuMicrosPerRequest);
  return {
    adapter: subject.name,
    bareRps,
    instrumentedRps,
    ratio: instrumentedRps / bareRps,
    pairRatios,
    medianPairRatio: median(pairRatios),
    cpuRatio: bareCpu / instrumentedCpu,
    pairCpuRatios,
    medianPairCpuRatio: median(pairCpuRatios),
    bareCpuMicrosPerRequest: bareCpu,
    instrumentedCpuMicrosPerRequest: instrumentedCpu,
    failures: subject.failures,
  };
}

/**
 * Every adapter's bare and instrumented servers are measured in pairs of adjacent rounds (which goes
 * first alternates), and the pairs are interleaved across adapters — pair 1 of every adapter, then
 * pair 2 of every adapter, … — so a slow spell of the machine is shared out instead of landing on one
 * adapter. Per adapter, the budget figure is the median of its paired ratios.
 */
async function measureAll(subjects: Subject[], quick: boolean, log: (s: string) => void): Promise<AdapterResult[]> {
  const roundSeconds = quick ? 0.6 : 1.5;
  const warmSeconds = quick ? 0.3 : 1;
  const pairs = quick ? 2 : 7;
  for (const subject of subjects) {
    await runRound(subject, 'bare', warmSeconds, false);
    await runRound(subject, 'instrumented', warmSeconds, false);
  }
  for (let p = 0; p < pairs; p++) {
    const order: ('bare' | 'instrumented')[] = p % 2 === 0 ? ['bare', 'instrumented'] : ['instrumented', 'bare'];
    // Rotate which adapter starts, too.
    for (let k = 0; k < subjects.length; k++) {
      const subject = subjects[(k + p) % subjects.length];
      for (const which of order) await runRound(subject, which, roundSeconds, true);
    }
  }
  const results = subjects.map(summarise);
  for (const r of results) {
    log(
      `  ${r.adapter.padEnd(9)} bare ${fmt.int(r.bareRps).padStart(7)} req/s  instrumented ${fmt.int(r.instrumentedRps).padStart(7)} req/s` +
        `  pairs ${r.pairRatios.map((x) => fmt.fixed(x, 2)).join(' ')}  CPU pairs ${r.pairCpuRatios.map((x) => fmt.fixed(x, 2)).join(' ')}`,
    );
  }
  return results;
}

async function main(): Promise<void> {
  const serveArg = process.argv.find((a) => a.startsWith('--serve='));
  if (serveArg !== undefined) {
    await serve(serveArg.slice('--serve='.length) as AdapterName, process.argv.includes('--instrumented'));
    return;
  }
  const quick = process.argv.includes('--quick');
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const names = ADAPTERS.filter((a) => only === undefined || only.includes(a));
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    `adapter overhead: GET ${TARGET}, ${CONNECTIONS} connections, bare vs instrumented in separate processes` +
      `${quick ? ' (--quick: indicative only)' : ''}; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  // Every server starts at once (an idle server costs nothing); then one is under load at a time.
  const servers = await Promise.all(
    names.map(async (name) => {
      const [bare, instrumented] = await Promise.all([start(name, false), start(name, true)]);
      return { bare, instrumented };
    }),
  );
  let results: AdapterResult[] = [];
  try {
    const subjects = names.map((name, i) => ({ name, servers: servers[i], rounds: [], failures: [] }));
    results = await measureAll(subjects, quick, log);
  } finally {
    await Promise.all(servers.flatMap((s) => [stop(s.bare), stop(s.instrumented)]));
  }
  log('');
  log(
    table(
      [
        'adapter',
        'bare req/s',
        'instr. req/s',
        'ratio',
        'median of pairs',
        'spread',
        'CPU µs/req bare',
        'instr.',
        'CPU ratio',
        'median of pairs',
        'budget ≥ 0.90',
      ],
      results.map((r) => {
        const spread = Math.max(...r.pairRatios) - Math.min(...r.pairRatios);
        const verdict = r.medianPairRatio >= 0.9 ? 'ok' : 'under';
        return [
          r.adapter,
          fmt.int(r.bareRps),
          fmt.int(r.instrumentedRps),
          fmt.fixed(r.ratio, 3),
          fmt.fixed(r.medianPairRatio, 3),
          fmt.fixed(spread, 2),
          fmt.fixed(r.bareCpuMicrosPerRequest, 1),
          fmt.fixed(r.instrumentedCpuMicrosPerRequest, 1),
          fmt.fixed(r.cpuRatio, 3),
          fmt.fixed(r.medianPairCpuRatio, 3),
          r.failures.length > 0 ? 'FAILED: ' + r.failures[0] : verdict + (spread > 0.3 ? ' (noisy)' : ''),
        ];
      }),
    ),
  );
  log(
    '  budget on the median of paired ratios; CPU ratio = bare/instrumented server CPU per request, the ratio a ' +
      'CPU-bound server keeps, less sensitive to the load generator sharing the CPUs.',
  );
  emitResult({ bench: 'adapters', quick, results });
}

await main();
