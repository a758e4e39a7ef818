import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { PG_URL, pgSkip } from './faults/postgres.js';
import { until } from './faults/poll.js';
import { exactQuantile } from './helpers/datasets.js';

const tsx = ['--import', 'tsx'];
const instanceScript = new URL('./helpers/fleet-instance.ts', import.meta.url).pathname;
const cli = new URL('../src/cli/main.ts', import.meta.url).pathname;
const TOKEN = 'fleet-test-token';
const INTERVAL_MS = 1000;

interface Started {
  child: ChildProcess;
  /** The first line the process printed. */
  line: Promise<string>;
}

function start(args: string[], env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, [...tsx, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const line = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${err.slice(0, 2000)}`)));
  });
  return { child, line };
}

function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill(signal);
  });
}

interface Ep {
  method: string;
  route: string;
  count: number;
  latency_ms: Record<string, number | null>;
}
interface Inst {
  instance: string;
  requests: number;
  share: number;
  state: string;
}
interface Body {
  endpoints: Ep[];
  instances: Inst[];
  requests: number;
  fleet: { contributed: string[]; complete: boolean; lagging: { instance: string }[] };
}

async function get(base: string, path: string): Promise<{ status: number; body: Body; headers: Headers }> {
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Body, headers: res.headers };
}

test(
  'fleet: three instance processes and apimeter serve; counts add up, percentiles are the union sketch, a stopped instance is reported',
  { skip: pgSkip, timeout: 120_000 },
  async () => {
    const schema = `apimeter_fleet_${process.pid}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const procs: ChildProcess[] = [];
    try {
      // Started together: they race to migrate the empty schema (one advisory lock).
      const instances = [0, 1, 2].map((seed) => start([instanceScript, PG_URL, schema, String(seed)]));
      procs.push(...instances.map((i) => i.child));
      const reports = (await Promise.all(instances.map((i) => i.line))).map(
        (l) => JSON.parse(l) as { instance: string; recorded: Record<string, number[]> },
      );
      const serve = start(
        [cli, 'serve', '--store', PG_URL, '--schema', schema, '--port', '0', '--interval', '1', '--gone-seconds', '60'],
        { APIMETER__API__METRICS_API_TOKEN: TOKEN, APIMETER__API__METRICS_API_CACHE_SECONDS: '0' },
      );
      procs.push(serve.child);
      const base = /at (http:\/\/[^/\s]+)/.exec(await serve.line)![1];
      const prefix = '/api/v2/metrics';

      // The union of what the instances recorded, computed here from the durations they sent.
      const union = new Map<string, number[]>();
      for (const r of reports)
        for (const [k, v] of Object.entries(r.recorded)) union.set(k, [...(union.get(k) ?? []), ...v]);
      const sent = [...union.values()].reduce((n, v) => n + v.length, 0);

      let answer: Body | undefined;
      assert.ok(
        await until(async () => {
          answer = (await get(base, `${prefix}/endpoints?window=5m&limit=1000`)).body;
          return answer.endpoints?.reduce((n: number, e: Ep) => n + e.count, 0) === sent;
        }, 20_000),
        `fleet count reaches what the instances sent (${sent}); last answer: ${JSON.stringify(answer).slice(0, 500)}`,
      );
      assert.ok(answer !== undefined);
      const bound = relativeErrorBound(LATENCY_SKETCH);
      assert.equal(answer.endpoints.length, union.size);
      for (const e of answer.endpoints) {
        const durations = union.get(`${e.method} ${e.route}`)!;
        assert.ok(durations !== undefined, JSON.stringify(e).slice(0, 300));
        assert.equal(e.count, durations.length);
        const sorted = [...durations].sort((a, b) => a - b);
        for (const [q, key] of [
          [0.5, 'p50'],
          [0.95, 'p95'],
          [0.99, 'p99'],
        ] as const) {
          const exact = exactQuantile(sorted, q);
          const got = e.latency_ms[key];
          assert.ok(typeof got === 'number', `${key} of ${JSON.stringify(e).slice(0, 400)}`);
          assert.ok(Math.abs(got - exact) <= bound * exact + 1e-9, `${e.route} ${key}: ${got} vs exact ${exact}`);
        }
      }
      const ids = reports.map((r) => r.instance).sort();
      assert.deepEqual([...answer.fleet.contributed].sort(), ids);
      assert.equal(answer.fleet.complete, true);
      assert.deepEqual(answer.fleet.lagging, []);

      // The Prometheus exposition is the fleet's: its request counters add up to what the instances sent.
      const exposition = await (
        await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).text();
      const counted = [...exposition.matchAll(/^http_server_requests_total\{.*\} (\d+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      assert.equal(counted, sent);
      // Alerts and SLOs are evaluated over the fleet meter and answered by the same routes.
      assert.equal((await get(base, `${prefix}/alerts`)).status, 200);
      assert.equal((await get(base, `${prefix}/slo`)).status, 200);

      // One instance's answer is that instance's traffic only.
      const one = reports[1];
      const scoped = (await get(base, `${prefix}/endpoints?window=5m&instance=${encodeURIComponent(one.instance)}`))
        .body;
      const mine = Object.values(one.recorded).reduce((n, v) => n + v.length, 0);
      assert.equal(
        scoped.endpoints.reduce((n: number, e: Ep) => n + e.count, 0),
        mine,
      );
      assert.deepEqual(scoped.fleet.contributed, [one.instance]);
      assert.equal((await get(base, `${prefix}/summary?window=5m&instance=nope`)).status, 404);

      // /instances: every instance, its share of the traffic.
      const listed = (await get(base, `${prefix}/instances?window=5m`)).body;
      assert.equal(listed.requests, sent);
      assert.deepEqual(listed.instances.map((i) => i.instance).sort(), ids);
      for (const i of listed.instances) {
        const r = reports.find((x) => x.instance === i.instance)!;
        const n = Object.values(r.recorded).reduce((s, v) => s + v.length, 0);
        assert.equal(i.requests, n);
        assert.ok(Math.abs(i.share - n / sent) < 1e-12);
        assert.equal(i.state, 'live');
      }

      // Killed (no final write): reported lagging once it has missed 3 intervals, plus a poll.
      const killedAt = Date.now();
      await stop(instances[2].child, 'SIGKILL');
      let lagging: { instance: string }[] = [];
      assert.ok(
        await until(
          async () => {
            lagging = (await get(base, `${prefix}/summary?window=5m`)).body.fleet.lagging;
            return lagging.some((l) => l.instance === reports[2].instance);
          },
          3 * INTERVAL_MS + 4000,
        ),
        'the killed instance is reported lagging',
      );
      const seen = Date.now() - killedAt;
      assert.ok(seen <= 3 * INTERVAL_MS + 4000, `reported after ${seen} ms`);
      const summary = await get(base, `${prefix}/summary?window=5m`);
      assert.equal(summary.body.fleet.complete, false);
      assert.equal(summary.headers.get('x-apimeter-fleet-complete'), 'false');
      assert.match(summary.headers.get('x-apimeter-fleet-lagging') ?? '', new RegExp(reports[2].instance));

      // Stopped cleanly: its final write is in and it says so.
      await stop(instances[0].child, 'SIGTERM');
      assert.ok(
        await until(async () => {
          const b = (await get(base, `${prefix}/instances`)).body;
          return b.instances.find((i) => i.instance === reports[0].instance)?.state === 'stopped';
        }, 10_000),
        'the stopped instance is reported stopped',
      );
      // Nothing the killed and stopped instances wrote is lost from the fleet answer.
      const after = (await get(base, `${prefix}/endpoints?window=5m&limit=1000`)).body;
      assert.equal(
        after.endpoints.reduce((n: number, e: Ep) => n + e.count, 0),
        sent,
      );
    } finally {
      await Promise.all(procs.map((p) => stop(p)));
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
    }
  },
);
