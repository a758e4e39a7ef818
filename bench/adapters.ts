/**
 * (e) Overhead of the Express, Hono (@hono/node-server) and node:http adapters and of the reverse
 * proxy, pinned (bench/pinned.ts): per framework bare, one empty hook (the floor), apimeter with its
 * defaults, and the framework's Prometheus peer (express-prom-bundle, @hono/prometheus) — ratios to
 * bare, one run. The proxy rows put the proxy (metrics off, then measuring) in front of the node bare
 * server, whose CPU is the load generator's: ratios to that server taking the load directly.
 * Fastify's rows are bench/overhead.ts.
 *
 *   npx tsx bench/adapters.ts [--quick] [--rounds=5] [--seconds=6] [--only=express,hono,node,proxy]
 *
 * Prints one row per variant, then one JSON line.
 */
import { emitResult, table } from './lib.js';
import { PINNED_HEADER, pinnedTable, runPinned } from './pinned.js';
import type { PinnedVariant } from './pinned.js';

export const ADAPTER_VARIANTS: readonly PinnedVariant[] = [
  { framework: 'express', variant: 'bare', label: 'bare' },
  { framework: 'express', variant: 'hook', label: "one empty middleware + 'finish' listener" },
  { framework: 'express', variant: 'apimeter', label: 'apimeter (defaults)', budget: 0.95 },
  { framework: 'express', variant: 'prom-bundle', label: 'express-prom-bundle (prom-client)' },
  { framework: 'hono', variant: 'bare', label: 'bare' },
  { framework: 'hono', variant: 'hook', label: 'one empty middleware' },
  { framework: 'hono', variant: 'apimeter', label: 'apimeter (defaults)', budget: 0.95 },
  { framework: 'hono', variant: 'hono-prometheus', label: '@hono/prometheus (prom-client)' },
  { framework: 'node', variant: 'bare', label: 'bare' },
  { framework: 'node', variant: 'hook', label: "one 'finish' listener" },
  { framework: 'node', variant: 'apimeter', label: 'apimeter (defaults)', budget: 0.95 },
  { framework: 'proxy', variant: 'bare', label: 'direct to the upstream (node bare)' },
  { framework: 'proxy', variant: 'off', label: 'apimeter proxy, metrics off' },
  { framework: 'proxy', variant: 'apimeter', label: 'apimeter proxy, measuring', budget: 0.42 },
];

const quick = process.argv.includes('--quick');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? (quick ? 1 : 5));
const seconds = Number(process.argv.find((a) => a.startsWith('--seconds='))?.slice(10) ?? (quick ? 2 : 6));
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const log = (line: string) => process.stdout.write(line + '\n');

const result = await runPinned({
  variants: ADAPTER_VARIANTS.filter((v) => only === undefined || only.includes(v.framework)),
  rounds,
  seconds,
  warmUpSeconds: quick || seconds < 4 ? 1 : 2,
  log,
});
log(table(PINNED_HEADER, pinnedTable(result.rows)));
log(
  `  ${result.pinned ? 'server on CPU 0, wrk -t1 -c' + result.connections + ' on CPU 1' : 'UNPINNED'}; ` +
    `${result.roundsPerVariant} rounds × ${result.seconds} s per variant, a fresh server process per round`,
);
for (const f of result.failures) log(`  FAILURE: ${f}`);
emitResult({ bench: 'adapters', quick, ...result });
process.exitCode = result.failures.length > 0 ? 1 : 0;
