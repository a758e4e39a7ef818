import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { ErrorKind } from '../src/index.js';
import { startDemo } from '../demo/main.js';
import type { RunningDemo } from '../demo/main.js';

const HAVE_PROMETHEUS = !spawnSync('prometheus', ['--version']).error;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus server scraping the demo's /metrics every second, queried over its HTTP API with
 * the PromQL an operator would write.
 */
describe(
  'a real Prometheus server scrapes the demo',
  { skip: HAVE_PROMETHEUS ? false : 'prometheus is not installed' },
  () => {
    let demo: RunningDemo;
    let prometheus: ChildProcess;
    let promUrl: string;
    let dir: string;
    let log = '';

    async function query(promql: string): Promise<VectorResult[]> {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; data: { result: VectorResult[] }; error?: string };
      assert.equal(body.status, 'success', body.error);
      return body.data.result;
    }

    /** Polls until `check` passes on the query's result (by route), or fails with the last result. */
    async function until(promql: string, check: (byRoute: Map<string, number>) => boolean, what: string) {
      const deadline = Date.now() + 20_000;
      let last = new Map<string, number>();
      while (Date.now() < deadline) {
        last = new Map((await query(promql)).map((r) => [r.metric.route ?? '', Number(r.value[1])]));
        if (check(last)) return last;
        await sleep(250);
      }
      assert.fail(`${what}: ${promql} gave ${JSON.stringify([...last])}\nprometheus log:\n${log.slice(-2000)}`);
    }

    before(async () => {
      demo = await startDemo({
        port: 0,
        db: ':memory:',
        traffic: false,
        reportEvery: 0,
        latencyScale: 0,
        faultRate: 0,
        log: () => {},
        meter: { iniPath: false, env: {} },
      });
      dir = mkdtempSync(join(tmpdir(), 'apimeter-prometheus-'));
      const target = new URL(demo.url).host;
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: demo',
          '    metrics_path: /metrics',
          '    static_configs:',
          `      - targets: ['${target}']`,
          '',
        ].join('\n'),
      );
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus.stdout!.on('data', (c: Buffer) => (log += c.toString()));
      prometheus.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ready = await fetch(`${promUrl}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline || prometheus.exitCode !== null) assert.fail(`prometheus did not start:\n${log}`);
        await sleep(100);
      }
    });

    after(async () => {
      if (prometheus !== undefined && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus.once('exit', resolve));
        prometheus.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
      }
      await demo?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('request counts by route match the traffic sent; histogram_quantile lands in the expected bucket', async (t) => {
      const api = `${demo.url}/api/v2`;
      const send = async (path: string, n: number) => {
        for (let i = 0; i < n; i++) await (await fetch(api + path)).arrayBuffer();
      };
      // Known durations on a synthetic endpoint: 30 ms lies in the (0.025, 0.05] bucket.
      const known = demo.meter.endpoint('GET', '/synthetic/known')!;
      const record = (n: number) => {
        for (let i = 0; i < n; i++) demo.meter.record(known, 200, 30, -1, -1, ErrorKind.None);
      };

      await send('/dags', 20);
      await send('/dags/no_such_dag', 5);
      record(10);
      const total = 'sum by (route) (http_server_requests_total{job="demo"})';
      await until(
        total,
        (m) => m.get('/api/v2/dags') === 20 && m.get('/api/v2/dags/{dag_id}') === 5 && m.get('/synthetic/known') === 10,
        'first scrape',
      );

      // More traffic after Prometheus has the first values, so rate() sees an increase.
      await send('/dags', 30);
      record(90);
      const counts = await until(
        total,
        (m) => m.get('/api/v2/dags') === 50 && m.get('/synthetic/known') === 100,
        'second scrape',
      );
      assert.equal(counts.get('/api/v2/dags/{dag_id}'), 5);
      assert.ok(
        ![...counts.keys()].some((r) => r.startsWith('/api/v2/metrics') || r === '/metrics'),
        'scrapes are not measured',
      );

      const p50 = await until(
        'histogram_quantile(0.5, sum by (le, route) (rate(http_server_request_duration_seconds_bucket{job="demo"}[1m])))',
        (m) => Number.isFinite(m.get('/synthetic/known')),
        'histogram_quantile',
      );
      const q = p50.get('/synthetic/known')!;
      assert.ok(q > 0.025 && q <= 0.05, `p50 ${q} s outside the (0.025, 0.05] bucket that holds 30 ms`);
      t.diagnostic(`${total} = ${JSON.stringify(Object.fromEntries(counts))}`);
      t.diagnostic(`histogram_quantile(0.5, …rate(…[1m])) for /synthetic/known = ${q} s`);
      const up = await query('up{job="demo"}');
      assert.equal(up[0].value[1], '1');
      const errors = await query('sum by (route, error_type) (http_server_errors_total{job="demo"})');
      assert.deepEqual(
        errors.map((r) => [r.metric.route, r.metric.error_type, r.value[1]]),
        [['/api/v2/dags/{dag_id}', 'client_error', '5']],
      );
    });
  },
);
