/**
 * What the measuring reverse proxy adds: latency (p50/p99 of sequential requests over one kept-alive
 * connection) and throughput under load (autocannon, 50 connections), through the proxy vs straight to
 * the upstream, in the same run, with rounds alternating between the servers in a rotating order.
 * Upstream, proxies and the load generator each run in their own process; the proxy uses Airflow's
 * OpenAPI document.
 *
 * Two reference points tell how much of the gap is the proxy's own and how much is the hop itself:
 * - `tcp relay`: a byte pump (net.Socket piped both ways, no HTTP parsing): the least any proxy hop can
 *   cost, the fair ceiling of a proxy on this machine;
 * - `node:http + undici`: a minimal hand-written forwarder (node:http server, undici `request` on a
 *   Pool, response body piped), what a straightforward Node proxy gets.
 * The CPU time each process spends per request (load generator, upstream, proxy) is measured around
 * every round, so the ratios can be explained by where the CPU goes.
 *
 *   npx tsx bench/proxy.ts [--quick] [--baseline=OTHER/src/proxy/index.ts]
 *
 * `--baseline` adds the measuring proxy of another checkout (e.g. a `git worktree` of an earlier
 * commit) to the same rounds, for a before/after comparison. Prints rows, then one JSON line.
 * `--upstream`, `--proxy=PORT [--bare] [--module=FILE]`, `--relay=PORT` and `--reference=PORT` start
 * the servers.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { Client, Pool } from 'undici';
import type * as ProxyModule from '../src/proxy/index.js';
import { emitResult, fmt, median, ROOT, table } from './lib.js';

const PATHS = [
  '/api/v2/dags/example_bash_operator/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00',
  '/api/v2/dags/etl.daily-v2/dagRuns/scheduled__2024-06-30T12%3A00%3A00%2B00%3A00/taskInstances/extract/0',
  '/api/v2/version',
  '/api/v2/variables/config/prod/db_url',
  '/api/v2/dags/~/dagRuns?limit=10',
];
const CONNECTIONS = 50;

// ---------------------------------------------------------------- servers (child processes)

/** Answers the parent's `cpu` messages with this process's CPU time (user + system, µs). */
function reportCpu(): void {
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send?.({ cpuMicros: u.user + u.system });
  });
}

function announce(server: http.Server | net.Server): void {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
  reportCpu();
  process.on('SIGTERM', () => process.exit(0));
}

async function upstream(): Promise<void> {
  const body = JSON.stringify({ ok: true, detail: 'x'.repeat(200) });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  announce(server);
}

/** `bare`: the same proxy with metrics switched off and no matcher, to tell proxying from measuring. */
async function proxy(target: number, bare: boolean, module?: string): Promise<void> {
  const { createMeter } = await import('../src/core/meter.js');
  const { createProxy, RouteMatcher } = (await import(
    module === undefined ? '../src/proxy/index.js' : pathToFileURL(module).href
  )) as typeof ProxyModule;
  const meter = createMeter({ iniPath: false, env: {}, metricsEnabled: !bare });
  const spec = path.resolve(ROOT, '..', 'shared', 'fixtures', 'airflow-v2-openapi.yaml');
  const p = createProxy({
    target: `http://127.0.0.1:${target}`,
    meter,
    matcher: bare
      ? null
      : RouteMatcher.fromFile(spec, { multiSegmentParams: ['variable_key', 'pool_name', 'xcom_key'] }),
  });
  p.server.keepAliveTimeout = 60_000;
  await p.listen(0);
  process.stdout.write(JSON.stringify({ port: (p.server.address() as AddressInfo).port }) + '\n');
  reportCpu();
  process.on('SIGTERM', () => {
    const unmatched = meter
      .snapshot()
      .filter((e) => e.route === '__unmatched__')
      .reduce((n, e) => n + e.count, 0);
    process.stderr.write(unmatched > 0 ? `proxy: ${unmatched} requests matched no template\n` : '');
    void p.close().then(() => process.exit(0));
  });
}

/** A byte pump: every client connection gets its own upstream connection, piped both ways. */
async function relay(target: number): Promise<void> {
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.pipe(up).pipe(client);
    const close = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  announce(server);
}

/** The minimal hand-written forwarder: what a straightforward Node proxy does, without apimeter. */
async function reference(target: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${target}`, { connections: 256 });
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: http.IncomingHttpHeaders = { ...req.headers, host: `127.0.0.1:${target}` };
    delete headers.connection;
    delete headers['keep-alive'];
    pool
      .request({
        method: req.method as 'GET',
        path: req.url ?? '/',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
      })
      .then(
        (up) => {
          const out = { ...up.headers };
          delete out.connection;
          delete out['keep-alive'];
          delete out['transfer-encoding'];
          res.writeHead(up.statusCode, out as http.OutgoingHttpHeaders);
          up.body.pipe(res);
        },
        () => {
          res.writeHead(502).end();
        },
      );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  announce(server);
}

// ---------------------------------------------------------------- load side

interface Server {
  child: ChildProcess;
  port: number;
}

function start(args: string[]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'proxy.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`bench/proxy.ts ${args.join(' ')} exited early (${code})`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU time (µs) the child has used so far. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpuMicros: number }) => resolve(m.cpuMicros));
    child.send('cpu');
  });
}

function ownCpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** `n` sequential requests on one connection; per-request milliseconds. */
async function sequential(port: number, n: number): Promise<number[]> {
  const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 });
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await client.request({ method: 'GET', path: PATHS[i % PATHS.length] });
      await res.body.dump();
      times.push(performance.now() - t0);
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    }
  } finally {
    await client.close();
  }
  return times;
}

async function load(port: number, seconds: number): Promise<{ rps: number; completed: number; errors: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: PATHS.map((p) => ({ method: 'GET' as const, path: p })),
  });
  return { rps: r.requests.total / r.duration, completed: r.requests.total, errors: r.errors + r.timeouts + r.non2xx };
}

type Kind = 'direct' | 'relay' | 'reference' | 'bare' | 'proxied' | 'baseline';
const LABELS: Record<Kind, string> = {
  direct: 'direct to the upstream',
  relay: 'tcp relay (byte pump, no HTTP)',
  reference: 'node:http + undici forwarder',
  bare: 'apimeter proxy, metrics off',
  proxied: 'apimeter proxy, measuring',
  baseline: 'same, --baseline build',
};

/** One order per set of rounds, rotating so that each server takes each position in turn. */
function rotation(kinds: readonly Kind[], set: number): Kind[] {
  const k = set % kinds.length;
  const order = [...kinds.slice(k), ...kinds.slice(0, k)];
  return set % 2 === 1 ? order.reverse() : order;
}

interface LoadRound {
  rps: number;
  /** CPU µs per completed request: load generator (this process), upstream, and the hop (proxy). */
  loadCpu: number;
  upstreamCpu: number;
  hopCpu: number;
}

async function main(): Promise<void> {
  if (process.argv.includes('--upstream')) return upstream();
  const arg = (name: string) => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a === undefined ? undefined : Number(a.slice(name.length + 3));
  };
  const proxyTarget = arg('proxy');
  const moduleArg = process.argv.find((a) => a.startsWith('--module='))?.slice('--module='.length);
  if (proxyTarget !== undefined) return proxy(proxyTarget, process.argv.includes('--bare'), moduleArg);
  const relayTarget = arg('relay');
  if (relayTarget !== undefined) return relay(relayTarget);
  const referenceTarget = arg('reference');
  if (referenceTarget !== undefined) return reference(referenceTarget);

  const quick = process.argv.includes('--quick');
  const latencyRounds = quick ? 2 : 4;
  const perRound = quick ? 1000 : 2000;
  const loadSets = quick ? 2 : 6;
  const loadSeconds = quick ? 1 : 2.5;
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    `proxy overhead: Airflow paths through apimeter proxy (110-operation OpenAPI matcher) vs direct` +
      `${quick ? ' (--quick: indicative only)' : ''}; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  const up = await start(['--upstream']);
  // --baseline=PATH: also the measuring proxy of another checkout (its src/proxy/index.ts), for before/after.
  const baseline = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
  const KINDS: Kind[] = ['direct', 'relay', 'reference', 'bare', 'proxied'];
  if (baseline !== undefined) KINDS.push('baseline');
  const hops = await Promise.all([
    start([`--relay=${up.port}`]),
    start([`--reference=${up.port}`]),
    start([`--proxy=${up.port}`, '--bare']),
    start([`--proxy=${up.port}`]),
    ...(baseline === undefined ? [] : [start([`--proxy=${up.port}`, `--module=${path.resolve(baseline)}`])]),
  ]);
  const servers: Partial<Record<Kind, Server>> & Record<'direct', Server> = {
    direct: up,
    relay: hops[0],
    reference: hops[1],
    bare: hops[2],
    proxied: hops[3],
    baseline: hops[4],
  };
  const serverOf = (k: Kind): Server => servers[k]!;
  const failures: string[] = [];
  try {
    // Warm-up every path (JIT, connection pools).
    for (const k of KINDS) await sequential(serverOf(k).port, 500);
    const times = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
    for (let r = 0; r < latencyRounds; r++) {
      for (const k of rotation(KINDS, r)) times[k].push(...(await sequential(serverOf(k).port, perRound)));
    }
    for (const xs of Object.values(times)) xs.sort((a, b) => a - b);
    const p50 = (k: Kind) => quantile(times[k], 0.5);
    const p99 = (k: Kind) => quantile(times[k], 0.99);

    for (const k of KINDS) await load(serverOf(k).port, quick ? 0.5 : 1);
    const rounds = Object.fromEntries(KINDS.map((k) => [k, [] as LoadRound[]])) as Record<Kind, LoadRound[]>;
    for (let s = 0; s < loadSets; s++) {
      for (const k of rotation(KINDS, s)) {
        // Direct rounds have no hop: the upstream is asked once (one answer per question, in order).
        const hop = k === 'direct' ? null : serverOf(k).child;
        const u0 = await cpuOf(up.child);
        const h0 = hop === null ? 0 : await cpuOf(hop);
        const l0 = ownCpu();
        const r = await load(serverOf(k).port, loadSeconds);
        const l1 = ownCpu();
        const u1 = await cpuOf(up.child);
        const h1 = hop === null ? 0 : await cpuOf(hop);
        if (r.errors > 0) failures.push(`${k}: ${r.errors} errors/timeouts/non-2xx`);
        rounds[k].push({
          rps: r.rps,
          loadCpu: (l1 - l0) / r.completed,
          upstreamCpu: (u1 - u0) / r.completed,
          hopCpu: (h1 - h0) / r.completed,
        });
      }
    }
    const med = (k: Kind, f: (r: LoadRound) => number) => median(rounds[k].map(f));
    const directRps = med('direct', (r) => r.rps);
    // Per set, each hop's throughput over the direct round of the same set: paired, so machine drift cancels.
    const setRatios = (k: Kind) => rounds[k].map((r, i) => r.rps / rounds.direct[i].rps);
    const summary = Object.fromEntries(
      KINDS.map((k) => [
        k,
        {
          rps: med(k, (r) => r.rps),
          ratio: med(k, (r) => r.rps) / directRps,
          medianSetRatio: median(setRatios(k)),
          setRatios: setRatios(k),
          p50Ms: p50(k),
          p99Ms: p99(k),
          addedP50Ms: p50(k) - p50('direct'),
          addedP99Ms: p99(k) - p99('direct'),
          cpuMicrosPerRequest: {
            load: med(k, (r) => r.loadCpu),
            upstream: med(k, (r) => r.upstreamCpu),
            hop: med(k, (r) => r.hopCpu),
          },
        },
      ]),
    ) as Record<
      Kind,
      {
        rps: number;
        ratio: number;
        medianSetRatio: number;
        setRatios: number[];
        p50Ms: number;
        p99Ms: number;
        addedP50Ms: number;
        addedP99Ms: number;
        cpuMicrosPerRequest: { load: number; upstream: number; hop: number };
      }
    >;
    const us = (ms: number) => fmt.fixed(ms * 1000, 0) + ' µs';
    log('');
    log(
      table(
        [
          'server',
          'p50',
          'p99',
          'added p50',
          'added p99',
          'req/s (50 conn.)',
          'ratio',
          'median of sets',
          'CPU µs/req: load',
          'upstream',
          'hop',
        ],
        KINDS.map((k) => {
          const s = summary[k];
          const c = s.cpuMicrosPerRequest;
          return [
            LABELS[k],
            us(s.p50Ms),
            us(s.p99Ms),
            k === 'direct' ? '' : us(s.addedP50Ms),
            k === 'direct' ? '' : us(s.addedP99Ms),
            fmt.int(s.rps),
            fmt.fixed(s.ratio, 3),
            fmt.fixed(s.medianSetRatio, 3),
            fmt.fixed(c.load, 1),
            fmt.fixed(c.upstream, 1),
            k === 'direct' ? '' : fmt.fixed(c.hop, 1),
          ];
        }),
      ),
    );
    const proxied = summary.proxied;
    const ceiling = summary.relay.ratio;
    log(
      `  ${latencyRounds} × ${fmt.int(perRound)} sequential requests per server for latency, ${loadSets} sets of ` +
        `${loadSeconds} s load rounds; ratio = median req/s over direct's median req/s.`,
    );
    log(
      `  measuring proxy: ${fmt.fixed(proxied.ratio, 3)} of direct, ${fmt.fixed(proxied.rps / summary.relay.rps, 3)} of the ` +
        `tcp relay (the ceiling of any hop here: ${fmt.fixed(ceiling, 3)}), ` +
        `${fmt.fixed(proxied.rps / summary.reference.rps, 3)} of the node:http + undici forwarder, ` +
        `${fmt.fixed(proxied.rps / summary.bare.rps, 3)} of itself with metrics off`,
    );
    const before = baseline === undefined ? undefined : summary.baseline;
    if (before !== undefined) {
      log(
        `  --baseline build: ${fmt.fixed(before.ratio, 3)} of direct (median of sets ${fmt.fixed(before.medianSetRatio, 3)}), ` +
          `added p50/p99 ${us(before.addedP50Ms)} / ${us(before.addedP99Ms)}, ${fmt.fixed(before.cpuMicrosPerRequest.hop, 1)} µs ` +
          `CPU per request; this build/baseline: ${fmt.fixed(proxied.rps / before.rps, 3)} req/s, ` +
          `${fmt.fixed(before.cpuMicrosPerRequest.hop / proxied.cpuMicrosPerRequest.hop, 3)} CPU per request`,
      );
    }
    if (failures.length > 0) log(`FAILURES: ${failures.join('; ')}`);
    emitResult({
      bench: 'proxy',
      quick,
      samples: Object.fromEntries(KINDS.map((k) => [k, times[k].length])),
      // The figures earlier versions reported, under the same names.
      latencyMs: {
        directP50: p50('direct'),
        directP99: p99('direct'),
        proxiedP50: proxied.p50Ms,
        proxiedP99: proxied.p99Ms,
        bareProxyP50: summary.bare.p50Ms,
        bareProxyP99: summary.bare.p99Ms,
        addedP50: proxied.addedP50Ms,
        addedP99: proxied.addedP99Ms,
      },
      throughput: {
        directRps: directRps,
        proxiedRps: proxied.rps,
        bareProxyRps: summary.bare.rps,
        ratio: proxied.ratio,
        measuringRatio: proxied.rps / summary.bare.rps,
        relayRatio: summary.relay.ratio,
        referenceRatio: summary.reference.ratio,
        medianSetRatio: proxied.medianSetRatio,
        ...(before !== undefined && { baselineRatio: before.ratio, baselineMedianSetRatio: before.medianSetRatio }),
      },
      servers: summary,
      failures,
    });
  } finally {
    await Promise.all([...hops.map((h) => stop(h.child)), stop(up.child)]);
  }
}

await main();
