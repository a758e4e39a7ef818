import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter, apimeterApi } from '../../src/adapters/fastify.js';
import { noteQuery } from '../../src/core/detail.js';
import { createMeter } from '../../src/core/meter.js';
import type { Meter, MeterOptions } from '../../src/core/meter.js';
import { freeTcpPort } from './exporters.js';

const works = (bin: string) => {
  const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
};

/** For `describe(…, { skip })`: false, or why promtool / prometheus tests cannot run. */
export const PROMTOOL_SKIP: string | false = works('promtool')
  ? false
  : 'promtool is not installed (Debian package prometheus)';
export const PROMETHEUS_SKIP: string | false = works('prometheus')
  ? false
  : 'prometheus is not installed (Debian package prometheus)';

/** `promtool check rules FILE`: exit status and output. */
export function promtoolCheckRules(file: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * A test API measured by apimeter, served with the metrics API's /metrics open to Prometheus. Every
 * route exercises one panel family: errors, auth, rate limits, database queries, body sizes.
 */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly meter: Meter;
  readonly host: string;
  /** Sends one round of traffic; `fail` requests answer 500. */
  round(fail: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestApp(options: MeterOptions): Promise<TestApp> {
  const meter = createMeter({
    iniPath: false,
    env: {},
    metricsExcludedEndpoints: ['/metrics', '/api/v2/metrics'],
    ...options,
  });
  const app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/items/:id', async (req, reply) => {
    if (req.headers.authorization === 'Bearer bad') return reply.code(401).send({ error: 'no' });
    return { id: (req.params as { id: string }).id, padding: 'x'.repeat(300) };
  });
  app.post('/items', async (req) => ({ got: JSON.stringify(req.body).length }));
  app.get('/fail', async (_req, reply) => reply.code(500).send({ error: 'down' }));
  app.get('/limited', async (_req, reply) =>
    reply.code(429).header('RateLimit-Limit', '10').header('RateLimit-Remaining', '0').send({ error: 'slow down' }),
  );
  app.get('/db', async () => {
    noteQuery(3);
    noteQuery(4);
    return { rows: 2 };
  });
  await app.register(apimeterApi, { meter, token: 'artifacts-token', openPrometheus: true });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const send = async (path: string, init?: RequestInit) => {
    await (await fetch(base + path, init)).arrayBuffer();
  };
  return {
    app,
    meter,
    host: new URL(base).host,
    async round(fail: number) {
      await send('/items/1', { headers: { authorization: 'Bearer good' } });
      await send('/items/2', { headers: { authorization: 'Bearer bad' } });
      await send('/items', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'y'.repeat(500) }),
      });
      await send('/limited');
      await send('/db');
      for (let i = 0; i < fail; i++) await send('/fail');
    },
    close: () => app.close(),
  };
}

export interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  readonly url: string;
  query(promql: string): Promise<VectorResult[]>;
  /** GET a path of the HTTP API (`/api/v1/alerts`), its `data`. */
  api<T>(path: string): Promise<T>;
  log(): string;
  stop(): Promise<void>;
}

/** A real Prometheus scraping `targets` (job → host:port) every second and evaluating `ruleFiles` every second. */
export async function startPrometheus(
  targets: Record<string, string>,
  rules: Record<string, string>,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-artifacts-prom-'));
  for (const [name, text] of Object.entries(rules)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      ...Object.keys(rules).map((n) => `  - ${join(dir, n)}`),
      'scrape_configs:',
      ...Object.entries(targets).flatMap(([job, host]) => [
        `  - job_name: ${job}`,
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['${host}']`,
      ]),
      '',
    ].join('\n'),
  );
  const port = await freeTcpPort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      assert.fail(`prometheus did not start:\n${log}`);
    }
    await sleep(100);
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(url + path);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    assert.equal(body.status, 'success', `${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    api,
    query: async (promql) =>
      (await api<{ result: VectorResult[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result,
    log: () => log,
    stop,
  };
}
