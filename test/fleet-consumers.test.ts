import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Sketch } from '../src/core/sketch.js';
import { CONSUMER_LATENCY_SKETCH } from '../src/core/consumers/tracker.js';
import { openLiveTier } from '../src/fleet/live-tier.js';
import { startServe } from '../src/fleet/serve.js';
import { openPostgresStore } from '../src/store/postgres.js';
import type { ConsumerRow } from '../src/store/consumer-rows.js';
import type { ConsumerDetailJson, ConsumerListJson } from '../src/api/consumer-schemas.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const P = '/api/v2/metrics';
const MIN = 60_000;
const STEP = 5 * MIN;

/** One consumer's rows of one interval: its totals row (latencies) and one row per endpoint. */
function consumerRows(
  instance: string,
  bucketStart: number,
  consumer: string,
  endpoints: { route: string; requests: number; errors: number }[],
  latencies: number[],
): ConsumerRow[] {
  const latency = new Sketch(CONSUMER_LATENCY_SKETCH);
  for (const l of latencies) latency.record(l);
  const base = { instance, bucketStart, bucketSeconds: STEP / 1000, consumer };
  const requests = endpoints.reduce((n, e) => n + e.requests, 0);
  const errors = endpoints.reduce((n, e) => n + e.errors, 0);
  return [
    { ...base, method: '', route: '', requests, errors, serverErrors: errors, latency },
    ...endpoints.map((e) => ({
      ...base,
      method: 'GET',
      route: e.route,
      requests: e.requests,
      errors: e.errors,
      serverErrors: 0,
      latency: null,
    })),
  ];
}

test(
  'serve: consumer windows from the stored consumer rows, merged across instances or scoped with instance=',
  { skip: pgSkip },
  async () => {
    const schema = `apimeter_test_fleet_consumers_${process.pid}`;
    const store = await openPostgresStore({ url: PG_URL, schema });
    const tier = await openLiveTier({ url: PG_URL, schema });
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    let serve: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      const now = Date.now();
      const t1 = Math.floor((now - 3 * 60 * MIN) / STEP) * STEP;
      const t2 = t1 + STEP;
      const latA = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
      const latB = [200, 300, 400, 500, 600];
      await store.writeSnapshot([], {
        consumers: [
          ...consumerRows('a', t1, 'acme', [{ route: '/dags', requests: 10, errors: 1 }], latA),
          ...consumerRows('b', t1, 'acme', [{ route: '/dags', requests: 3, errors: 0 }], latB.slice(0, 3)),
          ...consumerRows(
            'b',
            t2,
            'acme',
            [
              { route: '/dags', requests: 1, errors: 0 },
              { route: '/pools', requests: 1, errors: 1 },
            ],
            latB.slice(3),
          ),
          ...consumerRows('b', t2, 'zeta', [{ route: '/pools', requests: 4, errors: 0 }], [5, 6, 7, 8]),
        ],
      });
      // Both instances known to the fleet (their live-tier rows), persisted up to now.
      for (const instance of ['a', 'b']) {
        await tier.writeBatch(
          {
            instance,
            version: 'test',
            host: 'h',
            pid: 1,
            role: 'process',
            startedAt: now - 4 * 60 * MIN,
            intervalMs: 10_000,
            completeUntil: now,
            durableUntil: Math.floor(now / STEP) * STEP,
            stoppedAt: null,
            dropped: 0,
          },
          [],
        );
      }
      serve = await startServe({
        url: PG_URL,
        schema,
        port: 0,
        token: 't',
        alerts: false,
        waitForLoad: true,
        warmHistory: false,
        meter: { iniPath: false, env: {}, metricsConsumers: true, metricsConsumerTop: 10 },
      });
      const ask = async (url: string, token = 't') => {
        const answer = await serve!.handle({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
        return { status: answer.status, json: JSON.parse(String(answer.body)) as Record<string, unknown> };
      };

      // The whole fleet: both instances' rows merged.
      const fleet = await ask(`${P}/consumers?window=24h`);
      assert.equal(fleet.status, 200, JSON.stringify(fleet.json));
      const list = fleet.json as unknown as ConsumerListJson;
      assert.equal(list.range.source, 'store');
      assert.equal(list.range.requests, 15 + 4);
      const byId = new Map(list.consumers.map((c) => [c.id, c]));
      assert.deepEqual([...byId.keys()].sort(), ['acme', 'zeta']);
      assert.equal(byId.get('acme')!.requests, 15);
      assert.equal(byId.get('acme')!.errors, 2);
      assert.equal(byId.get('acme')!.endpoints_used, 2);
      // Percentiles of the merged sketches equal those of a sketch of the union of both instances' requests.
      const union = new Sketch(CONSUMER_LATENCY_SKETCH);
      for (const l of [...latA, ...latB]) union.record(l);
      for (const [q, key] of [
        [0.5, 'p50'],
        [0.95, 'p95'],
      ] as const) {
        const got = byId.get('acme')!.latency_ms[key]!;
        assert.ok(Math.abs(got - union.quantile(q)) < 0.001, `${key} ${got} vs ${union.quantile(q)}`);
      }
      assert.deepEqual((fleet.json.fleet as { contributed: string[] }).contributed.sort(), ['a', 'b']);

      const detail = await ask(`${P}/consumers/acme?window=7d`);
      assert.equal(detail.status, 200, JSON.stringify(detail.json));
      const d = detail.json as unknown as ConsumerDetailJson;
      assert.equal(d.requests, 15);
      assert.deepEqual(
        d.endpoints.map((e) => [e.route, e.requests, e.errors]),
        [
          ['/dags', 14, 1],
          ['/pools', 1, 1],
        ],
      );

      // One instance: its rows only.
      const onlyA = await ask(`${P}/consumers?window=24h&instance=a`);
      assert.equal(onlyA.status, 200, JSON.stringify(onlyA.json));
      const a = onlyA.json as unknown as ConsumerListJson;
      assert.deepEqual(
        a.consumers.map((c) => [c.id, c.requests]),
        [['acme', 10]],
      );
      const onlyB = (await ask(`${P}/consumers/acme?window=24h&instance=b`)).json as unknown as ConsumerDetailJson;
      assert.equal(onlyB.requests, 5);

      // Since start-up (the default window) serve has nothing in memory: a 400 naming the stored windows.
      const memory = await ask(`${P}/consumers`);
      assert.equal(memory.status, 400);
      assert.match(String(memory.json.detail), /no consumer figures in memory.*window=6h/);
      assert.equal((await ask(`${P}/consumers/acme?window=all&instance=a`)).status, 400);
      // Access is checked first.
      assert.equal((await ask(`${P}/consumers`, 'wrong')).status, 403);
    } finally {
      await serve?.close();
      await tier.close();
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  },
);
