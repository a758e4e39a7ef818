/**
 * Run with `node --expose-gc --import tsx`: feeds `N` distinct consumer ids into a meter with
 * consumers on and prints heap figures (after full GCs) as one JSON line.
 */
import { createMeter } from '../../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const heap = (): number => {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
};

const N = Number(process.argv[2] ?? 1_000_000);
const ENDPOINTS = 20;
const base0 = heap();
const meter = createMeter({ iniPath: false, env: {}, metricsConsumers: true, metricsMaxEndpoints: 50 });
const eps = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/r${i}/{id}`)!);
const consumers = meter.consumers!;
const fn = (i: number): string => `consumer-${i}-${(i * 2654435761) % 1000003}`;
const marks: Record<string, number> = {};
const start = heap();
for (let i = 0; i < N; i++) {
  const ep = eps[i % ENDPOINTS];
  meter.record(ep, 200, 1 + (i % 50), -1, -1, 0);
  consumers.observe(ep, fn, i, undefined, i % 17 === 0 ? 500 : 200, 1 + (i % 50), false);
  if (i + 1 === 10_000 || i + 1 === 100_000 || i + 1 === N) marks[String(i + 1)] = heap() - start;
}
process.stdout.write(
  JSON.stringify({
    n: N,
    bound: consumers.tracker.memoryBound(),
    meterBytes: start - base0,
    marks,
    listed: consumers.tracker.list().length,
    total: consumers.tracker.requests,
  }) + '\n',
);
