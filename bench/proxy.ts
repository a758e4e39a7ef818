/**
 * What the measuring reverse proxy adds: latency (p50/p99 of sequential requests over one kept-alive
 * connection, through the proxy vs straight to the upstream, interleaved in the same run) and
 * throughput under load (autocannon, 50 connections, proxied vs direct, alternating rounds).
 * Upstream and proxy run in their own processes; the proxy uses Airflow's OpenAPI document.
 *
 *   npx tsx bench/proxy.ts [--quick]
 *
 * Prints rows, then one JSON line. `--upstream` and `--proxy=PORT` start the two servers.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { emitResult, fmt, median, ROOT, table } from './lib.js';

const PATHS = [
  '/api/v2/dags/example_bash_operator/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00',
  '/api/v2/dags/etl.daily-v2/dagRuns/scheduled__2024-06-30T12%3A00%3A00%2B00%3A00/taskInstances/extract/0',
  '/api/v2/version',
  '/api/v2/variables/config/prod/db_url',
  '/api/v2/dags/~/dagRuns?limit=10',
];

async function upstream(): Promise<void> {
  const body = JSON.stringify({ ok: true, detail: 'x'.repeat(200) });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

/** `bare`: the same proxy with metrics switched off and no matcher, to tell proxying from measuring. */
async function proxy(target: number, bare: boolean): Promise<void> {
  const { createMeter } = await import('../src/core/meter.js');
  const { createProxy, RouteMatcher } = await import('../src/proxy/index.js');
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
  const { port } = await p.listen(0);
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.on('SIGTERM', () => {
    const unmatched = meter
      .snapshot()
      .filter((e) => e.route === '__unmatched__')
      .reduce((n, e) => n + e.count, 0);
    process.stderr.write(unmatched > 0 ? `proxy: ${unmatched} requests matched no template\n` : '');
    void p.close().then(() => process.exit(0));
  });
}

function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'proxy.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
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

async function load(port: number, seconds: number): Promise<{ rps: number; errors: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 50,
    duration: seconds,
    requests: PATHS.map((p) => ({ method: 'GET' as const, path: p })),
  });
  return { rps: r.requests.total / r.duration, errors: r.errors + r.timeouts + r.non2xx };
}

async function main(): Promise<void> {
  if (process.argv.includes('--upstream')) return upstream();
  const proxyArg = process.argv.find((a) => a.startsWith('--proxy='));
  if (proxyArg !== undefined) return proxy(Number(proxyArg.slice('--proxy='.length)), process.argv.includes('--bare'));

  const quick = process.argv.includes('--quick');
  const latencyRounds = quick ? 2 : 3;
  const perRound = quick ? 1000 : 2500;
  const loadPairs = quick ? 2 : 3;
  const loadSeconds = quick ? 1 : 2.5;
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    `proxy overhead: Airflow paths through apimeter proxy (110-operation OpenAPI matcher) vs direct` +
      `${quick ? ' (--quick: indicative only)' : ''}; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  const up = await start(['--upstream']);
  const px = await start([`--proxy=${up.port}`]);
  const bare = await start([`--proxy=${up.port}`, '--bare']);
  const ports = { direct: up.port, proxied: px.port, bare: bare.port };
  type Which = keyof typeof ports;
  const rotations: Which[][] = [
    ['direct', 'bare', 'proxied'],
    ['proxied', 'bare', 'direct'],
    ['bare', 'proxied', 'direct'],
  ];
  const failures: string[] = [];
  try {
    // Warm-up every path (JIT, connection pools).
    for (const port of Object.values(ports)) await sequential(port, 300);
    const times: Record<Which, number[]> = { direct: [], proxied: [], bare: [] };
    for (let r = 0; r < latencyRounds; r++) {
      for (const which of rotations[r % rotations.length])
        times[which].push(...(await sequential(ports[which], perRound)));
    }
    for (const xs of Object.values(times)) xs.sort((a, b) => a - b);
    const lat = {
      directP50: quantile(times.direct, 0.5),
      directP99: quantile(times.direct, 0.99),
      proxiedP50: quantile(times.proxied, 0.5),
      proxiedP99: quantile(times.proxied, 0.99),
      bareProxyP50: quantile(times.bare, 0.5),
      bareProxyP99: quantile(times.bare, 0.99),
    };

    for (const port of Object.values(ports)) await load(port, quick ? 0.5 : 1);
    const rps: Record<Which, number[]> = { direct: [], proxied: [], bare: [] };
    for (let p = 0; p < loadPairs; p++) {
      for (const which of rotations[p % rotations.length]) {
        const r = await load(ports[which], loadSeconds);
        if (r.errors > 0) failures.push(`${which}: ${r.errors} errors/timeouts/non-2xx`);
        rps[which].push(r.rps);
      }
    }
    const throughput = {
      directRps: median(rps.direct),
      proxiedRps: median(rps.proxied),
      bareProxyRps: median(rps.bare),
      /** through the measuring proxy / direct */
      ratio: median(rps.proxied) / median(rps.direct),
      /** measuring proxy / the same proxy with metrics off: the cost of measuring alone */
      measuringRatio: median(rps.proxied) / median(rps.bare),
    };
    const us = (ms: number) => fmt.fixed(ms * 1000, 0) + ' µs';
    log('');
    log(
      table(
        ['measure', 'direct', 'through proxy', 'added'],
        [
          [
            'latency p50 (sequential, 1 connection)',
            us(lat.directP50),
            us(lat.proxiedP50),
            us(lat.proxiedP50 - lat.directP50),
          ],
          ['latency p99', us(lat.directP99), us(lat.proxiedP99), us(lat.proxiedP99 - lat.directP99)],
          [
            'throughput (50 connections)',
            `${fmt.int(throughput.directRps)} req/s`,
            `${fmt.int(throughput.proxiedRps)} req/s`,
            `ratio ${fmt.fixed(throughput.ratio, 3)}`,
          ],
          ['  same proxy, metrics off: p50 / p99', '', `${us(lat.bareProxyP50)} / ${us(lat.bareProxyP99)}`, ''],
          [
            '  same proxy, metrics off: throughput',
            '',
            `${fmt.int(throughput.bareProxyRps)} req/s`,
            `measuring/off ${fmt.fixed(throughput.measuringRatio, 3)}`,
          ],
        ],
      ),
    );
    if (failures.length > 0) log(`FAILURES: ${failures.join('; ')}`);
    emitResult({
      bench: 'proxy',
      quick,
      samples: { direct: times.direct.length, proxied: times.proxied.length, bare: times.bare.length },
      latencyMs: { ...lat, addedP50: lat.proxiedP50 - lat.directP50, addedP99: lat.proxiedP99 - lat.directP99 },
      throughput,
      rounds: rps,
      failures,
    });
  } finally {
    await Promise.all([stop(px.child), stop(bare.child), stop(up.child)]);
  }
}

await main();
