/**
 * The one helper that starts a real Prometheus (Debian package `prometheus`, 2.42 here) for tests: a
 * generated configuration on loopback, a temporary storage directory, scrapes and rule evaluation every
 * `interval`; queried over its HTTP API. Used by the scrape, native-histogram and artifact tests.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** `promtool check metrics` on an exposition: exit status and output (lint problems are on stderr). */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
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
  /** Polls `promql` until `check` accepts its result, or fails with the last result and the log. */
  until(promql: string, check: (result: VectorResult[]) => boolean, what: string, ms?: number): Promise<VectorResult[]>;
  log(): string;
  stop(): Promise<void>;
}

export interface PrometheusTarget {
  /** host:port */
  readonly host: string;
  readonly path?: string;
}

export interface PrometheusOptions {
  /** Rule files by name → content, evaluated every interval. */
  readonly rules?: Record<string, string>;
  /** Extra command-line flags, e.g. `--enable-feature=native-histograms`. */
  readonly flags?: readonly string[];
  /** Scrape and evaluation interval (default `1s`). */
  readonly interval?: string;
}

/** A real Prometheus scraping `targets` (job → host:port or { host, path }). Stop it with `stop()`. */
export async function startPrometheus(
  targets: Record<string, string | PrometheusTarget>,
  options: PrometheusOptions = {},
): Promise<RunningPrometheus> {
  const rules = options.rules ?? {};
  const interval = options.interval ?? '1s';
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-prometheus-'));
  for (const [name, text] of Object.entries(rules)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(Object.keys(rules).length > 0
        ? ['rule_files:', ...Object.keys(rules).map((n) => `  - ${join(dir, n)}`)]
        : []),
      'scrape_configs:',
      ...Object.entries(targets).flatMap(([job, t]) => {
        const { host, path } = typeof t === 'string' ? { host: t, path: undefined } : t;
        return [
          `  - job_name: ${job}`,
          `    metrics_path: ${path ?? '/metrics'}`,
          '    static_configs:',
          `      - targets: ['${host}']`,
        ];
      }),
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
      ...(options.flags ?? []),
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
      const text = log;
      await stop();
      assert.fail(`prometheus did not start:\n${text}`);
    }
    await sleep(100);
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(url + path);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    assert.equal(body.status, 'success', `${path}: ${body.error}`);
    return body.data;
  };
  const query = async (promql: string) =>
    (await api<{ result: VectorResult[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result;
  return {
    url,
    api,
    query,
    async until(promql, check, what, ms = 20_000) {
      const end = Date.now() + ms;
      let last: VectorResult[] = [];
      while (Date.now() < end) {
        last = await query(promql);
        if (check(last)) return last;
        await sleep(250);
      }
      assert.fail(`${what}: ${promql} gave ${JSON.stringify(last)}\nprometheus log:\n${log.slice(-2000)}`);
    },
    log: () => log,
    stop,
  };
}
