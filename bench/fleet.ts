/**
 * The fleet view (`apimeter serve`) on real PostgreSQL: `npx tsx bench/fleet.ts [--instances 10]
 * [--endpoints 1000] [--history-endpoints 100] [--hourly all|edges] [--rounds 5] [--quick] [--no-warm]`.
 *
 * - write: one instance's live-tier write per interval for `--endpoints` active endpoints (every endpoint
 *   recorded 20 requests in the slot): CPU ms of the writing process (collect + serialize + INSERT), rows,
 *   bytes on the wire (tally JSON + key columns) and as PostgreSQL stores them (pg_column_size).
 * - start: `serve` reading 5 minutes of the live tier of `--instances` × `--endpoints` (30 slots of 10 s).
 * - endpoints5m: `GET /endpoints?window=5m&limit=1000` on that fleet (budget 300 ms).
 * - summary30d: `GET /summary?window=30d` over 30 stored days of `--instances` × `--history-endpoints`
 *   (daily rollups for whole days, 5-minute rows at the edges, and hourly rows for every hour with
 *   `--hourly all`, the default, as 30 days of rollups leave them, or only around the whole days with
 *   `--hourly edges`; budget 1 s). Rows are seeded server-side from a few encoded templates; `all` holds
 *   720 hourly rows per instance and endpoint (7.2 M rows for 10 × 1,000: the default stores
 *   100 endpoints per instance). Serve merges the sealed 30 days ahead (warm30d); `--no-warm` leaves the
 *   first 30-day request to do it (that first answer is the cold cost, the later ones the cached one).
 *   Each answer's series is checked against its count (how many requests the points hold).
 *
 * Every figure is printed with the machine's load average (`uptime`). The last stdout line is JSON.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { ERROR_FIELD, statusClassOf, Tally } from '../src/core/tally.js';
import { openLiveTier } from '../src/fleet/live-tier.js';
import type { LiveRow } from '../src/fleet/live-tier.js';
import { LiveWriter } from '../src/fleet/live-writer.js';
import { startServe } from '../src/fleet/serve.js';
import { COLUMNS, encodeRow } from '../src/store/row.js';
import { lognormal, rng } from './lib.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const QUICK = process.argv.includes('--quick');
const INSTANCES = Number(arg('instances', '10'));
const ENDPOINTS = Number(arg('endpoints', '1000'));
const HISTORY_ENDPOINTS = Number(arg('history-endpoints', QUICK ? '20' : '100'));
const ROUNDS = Number(arg('rounds', QUICK ? '3' : '5'));
const HOURLY = arg('hourly', 'all');
if (HOURLY !== 'all' && HOURLY !== 'edges') throw new Error('--hourly all|edges');
const PG_URL = arg('pg', 'postgres://postgres@127.0.0.1:5432/test');
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const FINE = 10_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Math.round(x * 10) / 10;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const log = (s: string) => process.stdout.write(s + '\n');

const indexer = new Sketch(LATENCY_SKETCH);
function tally(r: () => number, requests: number): Tally {
  const t = new Tally();
  for (let k = 0; k < requests; k++) {
    const status = r() < 0.03 ? 500 : 200;
    const d = lognormal(r, 25, 1);
    t.add(status, statusClassOf(status), status === 500 ? ERROR_FIELD[0] : -1, d, indexer.indexOf(d), 300, 1200);
  }
  return t;
}

const schema = `apimeter_bench_fleet_${process.pid}`;
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
const tier = await openLiveTier({ url: PG_URL, schema, max: 2 });
const result: Record<string, unknown> = { instances: INSTANCES, endpoints: ENDPOINTS };

try {
  // ---- write cost of one instance per interval ----
  {
    const clock = new ManualClock(Math.floor(Date.now() / FINE) * FINE);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    // Its own one-connection pool: the PostgreSQL backend serving it is one process whose CPU time
    // /proc shows (the server runs on this machine).
    const own = await openLiveTier({ url: PG_URL, schema, max: 1 });
    const backend = Number((await own.pool.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0].p);
    const serverCpuMs = () => {
      try {
        const f = readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1].split(' ');
        return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, at USER_HZ = 100
      } catch {
        return NaN;
      }
    };
    const writer = new LiveWriter({ meter, tier: own, instance: 'bench-writer', intervalSeconds: 10, graceMs: 0 });
    let server0 = 0;
    const r = rng(7);
    const eps = Array.from({ length: ENDPOINTS }, (_, e) => meter.endpoint('GET', `/r${e}/{id}`)!);
    const cpu: number[] = [];
    const wall: number[] = [];
    let rows = 0;
    let jsonBytes = 0;
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const ep of eps)
        for (let k = 0; k < 20; k++) meter.record(ep, r() < 0.03 ? 500 : 200, lognormal(r, 25, 1), 300, 1200, 0);
      clock.advance(FINE);
      const before = writer.stats.written;
      if (round === 1) server0 = serverCpuMs();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await writer.runOnce();
      const c = process.cpuUsage(c0);
      // The first round warms the code up.
      if (round > 0) {
        cpu.push((c.user + c.system) / 1000);
        wall.push(performance.now() - t0);
      }
      rows = writer.stats.written - before;
    }
    const serverMs = (serverCpuMs() - server0) / ROUNDS;
    const lastFine = Math.floor(clock.now() / FINE) - 1;
    for (const ep of eps) jsonBytes += JSON.stringify(ep.slotTally('fine', lastFine)?.toJSON() ?? null).length;
    const { rows: sized } = await admin.query<{ b: string; n: string }>(
      `SELECT SUM(pg_column_size(l.*)) AS b, COUNT(*) AS n FROM "${schema}".api_metric_live l
        WHERE instance = 'bench-writer' AND bucket_start = (SELECT MAX(bucket_start) FROM "${schema}".api_metric_live WHERE instance = 'bench-writer')`,
    );
    result.write = {
      cpuMs: round(median(cpu)),
      cpuMaxMs: round(Math.max(...cpu)),
      wallMs: round(median(wall)),
      rows,
      tallyJsonBytes: jsonBytes,
      storedBytes: Number(sized[0].b),
      serverCpuMs: round(serverMs),
      load: load(),
    };
    log(`write, one instance, ${ENDPOINTS} active endpoints per 10 s interval (load ${load()}):`);
    log(
      `  CPU ${round(median(cpu))} ms (max ${round(Math.max(...cpu))}), wall ${round(median(wall))} ms, ${rows} rows, ` +
        `${(jsonBytes / 1024).toFixed(0)} KiB of tally JSON, ${(Number(sized[0].b) / 1024).toFixed(0)} KiB as stored; ` +
        `PostgreSQL backend CPU ${round(serverMs)} ms per interval`,
    );
    await writer.stop();
    await admin.query(`DELETE FROM "${schema}".api_metric_live WHERE instance = 'bench-writer'`);
    await admin.query(`DELETE FROM "${schema}".api_metric_instances WHERE instance = 'bench-writer'`);
  }

  // ---- 5 minutes of live tier for the fleet ----
  const now = Date.now();
  const lastSlot = Math.floor(now / FINE) - 1;
  const slots = 30;
  const r = rng(11);
  const pool = Array.from({ length: 40 }, () => JSON.stringify(tally(r, 20).toJSON()));
  const header = (i: number, completeUntil: number) => ({
    instance: `bench-${i}`,
    version: 'bench',
    host: 'bench',
    pid: 0,
    role: 'process',
    startedAt: now - 31 * DAY,
    intervalMs: FINE,
    completeUntil,
    durableUntil: Math.floor(now / (5 * MIN)) * 5 * MIN,
    stoppedAt: null,
    dropped: 0,
  });
  const seedStart = performance.now();
  for (let i = 0; i < INSTANCES; i++) {
    for (let s = lastSlot - slots + 1; s <= lastSlot; s++) {
      const rows: LiveRow[] = [];
      for (let e = 0; e < ENDPOINTS; e++) {
        rows.push({
          method: 'GET',
          route: `/r${e}/{id}`,
          bucketStart: s * FINE,
          bucketMs: FINE,
          count: 20,
          tally: pool[(e + s + i) % pool.length],
        });
      }
      await tier.writeBatch(header(i, (s + 1) * FINE), rows);
    }
  }
  const liveRows = INSTANCES * ENDPOINTS * slots;
  /** Requests the fleet's 5-minute window holds at `t`: its first minute is the 5th before the current one. */
  const expectedAt = (t: number) => {
    const first = (Math.floor(t / MIN) - 4) * MIN;
    let n = 0;
    for (let s = lastSlot - slots + 1; s <= lastSlot; s++) if (s * FINE >= first) n += INSTANCES * ENDPOINTS * 20;
    return n;
  };
  log(`seeded ${liveRows} live rows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  // ---- 30 days of durable rows for the fleet ----
  const end = Math.floor(now / (5 * MIN)) * 5 * MIN;
  const from = end - 30 * DAY;
  const h0 = Math.ceil(from / HOUR) * HOUR;
  const d0 = Math.ceil(from / DAY) * DAY;
  const d1 = Math.floor(end / DAY) * DAY;
  const h1 = Math.floor(end / HOUR) * HOUR;
  const range = (a: number, b: number, step: number) =>
    Array.from({ length: Math.max(0, Math.round((b - a) / step)) }, (_, i) => a + i * step);
  const raw = Array.from({ length: 10 }, () => tally(r, 40));
  const merge = (parts: Tally[]) => parts.reduce((t, p) => t.merge(p), new Tally());
  const hourly = Array.from({ length: 5 }, (_, i) => merge(Array.from({ length: 12 }, (_, k) => raw[(i + k) % 10])));
  const daily = Array.from({ length: 3 }, (_, i) => merge(Array.from({ length: 24 }, (_, k) => hourly[(i + k) % 5])));
  /**
   * Inserts instances × starts × endpoints rows server-side: each tally variant is encoded once into a
   * template row, and PostgreSQL crosses the templates with the instances, bucket starts and endpoints
   * (tally variant (endpoint + instance + bucket index) mod variants, as the rows' content is irrelevant
   * to the cost of reading them). Client-side INSERTs of 640,000 rows took 16 minutes on the shared machine.
   */
  const insert = async (table: string, starts: number[], seconds: number, ts: Tally[]) => {
    if (starts.length === 0) return 0;
    const tpl = `"${schema}".bench_tpl`;
    await admin.query(`DROP TABLE IF EXISTS ${tpl}`);
    await admin.query(`CREATE TABLE ${tpl} (LIKE "${schema}".${table} INCLUDING DEFAULTS)`);
    await admin.query(`ALTER TABLE ${tpl} ADD COLUMN variant INTEGER`);
    for (let k = 0; k < ts.length; k++) {
      const row = encodeRow(
        { instance: '', method: 'GET', route: '', bucketStart: 0, bucketSeconds: seconds, tally: ts[k] },
        JSON.stringify(ts[k].toJSON()),
      );
      await admin.query(
        `INSERT INTO ${tpl} (${COLUMNS.join(', ')}, variant) VALUES (${COLUMNS.map((_, c) => `$${c + 1}`).join(', ')}, ${k})`,
        row,
      );
    }
    const rest = COLUMNS.filter((c) => !['instance', 'endpoint', 'bucket_start'].includes(c));
    const chunk = Math.max(1, Math.floor(200_000 / (INSTANCES * HISTORY_ENDPOINTS)));
    for (let k = 0; k < starts.length; k += chunk) {
      await admin.query(
        `INSERT INTO "${schema}".${table} (instance, endpoint, bucket_start, ${rest.join(', ')})
         SELECT 'bench-' || i, '/r' || e || '/{id}', b.s, ${rest.map((c) => `t.${c}`).join(', ')}
           FROM generate_series(0, $1::int - 1) i CROSS JOIN generate_series(0, $2::int - 1) e
           CROSS JOIN unnest($3::bigint[]) WITH ORDINALITY AS b(s, n)
           JOIN ${tpl} t ON t.variant = (e + i + (b.s / ($4::bigint * 1000))) % $5`,
        [INSTANCES, HISTORY_ENDPOINTS, starts.slice(k, k + chunk), seconds, ts.length],
      );
    }
    await admin.query(`DROP TABLE ${tpl}`);
    return INSTANCES * HISTORY_ENDPOINTS * starts.length;
  };
  const histStart = performance.now();
  let historyRows = 0;
  historyRows += await insert(
    'api_metric_snapshots',
    [...range(from, h0, 5 * MIN), ...range(h1, end, 5 * MIN)],
    300,
    raw,
  );
  // The rollups leave hourly rows for every hour (`--hourly all`, as a store whose rollups ran for 30 days
  // holds them: a 30-day series reads them) or only around the whole days (`--hourly edges`, the bench's
  // first layout, enough for /endpoints but a 30-day series then finds most hours empty).
  const hours = HOURLY === 'all' ? range(h0, h1, HOUR) : [...range(h0, d0, HOUR), ...range(d1, h1, HOUR)];
  historyRows += await insert('api_metric_rollups', hours, 3600, hourly);
  historyRows += await insert('api_metric_rollups', range(d0, d1, DAY), 86_400, daily);
  await admin.query(
    `UPDATE "${schema}".api_metric_rollup_state SET done_until = CASE bucket_seconds WHEN 3600 THEN $1::bigint ELSE $2::bigint END`,
    [h1, d1],
  );
  log(
    `seeded ${historyRows} durable rows (30 days, ${INSTANCES} × ${HISTORY_ENDPOINTS} endpoints, hourly rows: ${HOURLY}) in ${((performance.now() - histStart) / 1000).toFixed(1)} s`,
  );

  // Each instance writes again (no rows), as its next interval would: serve finds it live, not gone
  // (nothing is sealed, so nothing cached, while no instance is expected), however long seeding took.
  for (let i = 0; i < INSTANCES; i++) await tier.writeBatch(header(i, (lastSlot + 1) * FINE), []);

  // ---- serve ----
  const t0 = performance.now();
  const wc0 = process.cpuUsage();
  const serve = await startServe({
    url: PG_URL,
    schema,
    port: 0,
    token: 't',
    alerts: false,
    intervalSeconds: 10,
    pollMs: 3_600_000,
    waitForLoad: true,
    warmHistory: !process.argv.includes('--no-warm'),
    meter: { iniPath: false, env: { APIMETER__API__METRICS_API_CACHE_SECONDS: '0' } },
  });
  const startMs = performance.now() - t0;
  result.start = { ms: Math.round(startMs), rows: serve.mirror.stats.rows, load: load() };
  log(`serve start: read ${serve.mirror.stats.rows} live rows in ${(startMs / 1000).toFixed(1)} s (load ${load()})`);
  /** Wall time and this process's CPU time (user + system: serve's share, less sensitive to the load). */
  const ask = async (url: string) => {
    const t = performance.now();
    const c0 = process.cpuUsage();
    const answer = await serve.handle({ method: 'GET', url, headers: { authorization: 'Bearer t' } });
    const c = process.cpuUsage(c0);
    const ms = performance.now() - t;
    if (answer.status !== 200) throw new Error(`${url}: ${answer.status} ${String(answer.body).slice(0, 300)}`);
    return { ms, cpuMs: (c.user + c.system) / 1000, body: JSON.parse(String(answer.body)) as Record<string, unknown> };
  };
  const times5m: number[] = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    const at = Date.now();
    const { ms, body } = await ask('/api/v2/metrics/endpoints?window=5m&limit=1000');
    const expected = expectedAt(at);
    const counted = (body.endpoints as { count: number }[]).reduce((n, e) => n + e.count, 0);
    if (counted !== expected) throw new Error(`fleet count ${counted}, expected ${expected}`);
    if (i > 0) times5m.push(ms);
  }
  result.endpoints5m = { medianMs: round(median(times5m)), maxMs: round(Math.max(...times5m)), load: load() };
  log(
    `GET /endpoints?window=5m&limit=1000, ${INSTANCES} × ${ENDPOINTS}: ${round(median(times5m))} ms median (max ${round(Math.max(...times5m))}) (load ${load()})`,
  );
  // Serve merges the sealed 30 days ahead (SealedHistory.warm); the 30-day answers below follow it.
  const w0 = performance.now();
  await serve.warmed();
  const wc = process.cpuUsage(wc0);
  const warmMs = performance.now() - w0;
  const warmCpuMs = Math.round((wc.user + wc.system) / 1000);
  result.warm30d = { ms: Math.round(warmMs), cpuMs: warmCpuMs, blocks: serve.history.stats.misses, load: load() };
  log(
    `serve warm-up of the sealed 30 days: ${serve.history.stats.misses} blocks in ${Math.round(warmMs)} ms, CPU ${warmCpuMs} ms from serve's start (live-tier read included; load ${load()})`,
  );
  const times30: number[] = [];
  const cpu30: number[] = [];
  for (let i = 0; i < Math.max(2, Math.ceil(ROUNDS / 2)); i++) {
    const { ms, cpuMs, body } = await ask('/api/v2/metrics/summary?window=30d');
    cpu30.push(cpuMs);
    if ((body.fleet as { contributed: string[] }).contributed.length !== INSTANCES)
      throw new Error('instances missing');
    times30.push(ms);
    const points = (body.series as { step_seconds: number; points: { count: number }[] }).points;
    const inSeries = points.reduce((n, p) => n + p.count, 0);
    log(
      `  /summary?window=30d #${i + 1}: ${Math.round(ms)} ms, CPU ${Math.round(cpuMs)} ms (blocks cached ${serve.history.stats.hits}, merged ${serve.history.stats.misses}); ` +
        `series ${points.length} points of ${(body.series as { step_seconds: number }).step_seconds} s holding ${inSeries} of the ${String(body.count)} requests`,
    );
  }
  result.summary30d = {
    medianMs: Math.round(median(times30)),
    maxMs: Math.round(Math.max(...times30)),
    cpuMs: Math.round(median(cpu30)),
    historyRows,
    endpoints: HISTORY_ENDPOINTS,
    load: load(),
  };
  log(
    `GET /summary?window=30d, ${INSTANCES} × ${HISTORY_ENDPOINTS} endpoints, ${historyRows} stored rows: ${Math.round(median(times30))} ms median (max ${Math.round(Math.max(...times30))}) (load ${load()})`,
  );
  const mem = process.memoryUsage();
  result.memory = { rssMiB: Math.round(mem.rss / 2 ** 20), heapMiB: Math.round(mem.heapUsed / 2 ** 20) };
  log(
    `serve process after the reads: RSS ${Math.round(mem.rss / 2 ** 20)} MiB, heap ${Math.round(mem.heapUsed / 2 ** 20)} MiB`,
  );
  await serve.close();
} finally {
  await tier.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}
process.stdout.write(JSON.stringify(result) + '\n');
