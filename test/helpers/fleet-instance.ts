/**
 * One instance of the fleet tests: `node --import tsx fleet-instance.ts PG_URL SCHEMA SEED`. Records a
 * seeded workload (its own routes, counts and latencies) through `meter.recordRequest` over about two
 * seconds, writes the live tier every second, prints `{ instance, recorded: { "GET /r": [ms, …] } }` on
 * stdout once its last slot is written, and keeps running (heartbeats) until SIGTERM (clean stop, final
 * write) or SIGKILL.
 */
import { createMeter } from '../../src/core/meter.js';
import { startFleetInstance } from '../../src/fleet/instance.js';

const [url, schema, seedText] = process.argv.slice(2);
const seed = Number(seedText);
const meter = createMeter({ iniPath: false, env: {}, rings: { fineMs: 1000 } });
const fleet = await startFleetInstance(meter, {
  url,
  schema,
  intervalSeconds: 1,
  persistence: false,
  handleSignals: false,
  live: { retryMs: { min: 200, max: 1000 }, graceMs: 300 },
});

let x = seed * 7919 + 17;
const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
const routes = ['/users/{id}', '/orders', seed === 2 ? '/reports/{id}' : '/health'];
const n = 150 + seed * 120;
const recorded: Record<string, number[]> = {};
for (let i = 0; i < n; i++) {
  const route = routes[i % routes.length];
  // Lognormal, a different scale per instance, so the union's percentiles differ from each one's.
  const ms = Math.exp(
    0.5 + (1.3 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())) / 2 + seed,
  );
  meter.recordRequest({ method: 'GET', route, status: i % 17 === 0 ? 500 : 200, durationMs: ms });
  (recorded[`GET ${route}`] ??= []).push(ms);
  if (i % 40 === 39) await new Promise((r) => setTimeout(r, 120));
}
// Printed once the slots holding the records are written (the writer's `complete until` is past them).
const done = Date.now();
while (fleet.live.stats.batches === 0 || fleet.live.stats.buffered > 0 || !(Date.now() > done + 2500)) {
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(JSON.stringify({ instance: fleet.instance, recorded }) + '\n');
process.once('SIGTERM', () => void fleet.close().then(() => process.exit(0)));
setInterval(() => {}, 60_000);
