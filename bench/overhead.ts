/**
 * (b) Overhead of the Fastify plugin, pinned (bench/pinned.ts): bare Fastify, the floor (one empty
 * onResponse hook), apimeter with its defaults, with the StatsD and OTLP exporters on at their default
 * intervals (StatsD 10 s, OTLP 60 s, to local sinks), detailed mode, and the peers fastify-metrics
 * (prom-client) and OpenTelemetry's HTTP instrumentation — all in one run, as ratios to bare.
 *
 *   (run by bench/run.ts: npm run bench [-- --quick] [--rounds=5] [--seconds=6])
 */
import { startExporterSinks } from './exporters.js';
import { runPinned } from './pinned.js';
import type { PinnedResult, PinnedVariant } from './pinned.js';

export const FASTIFY_VARIANTS: readonly PinnedVariant[] = [
  { framework: 'fastify', variant: 'bare', label: 'bare' },
  { framework: 'fastify', variant: 'hook', label: 'one empty onResponse hook' },
  { framework: 'fastify', variant: 'apimeter', label: 'apimeter (defaults)', budget: 0.95 },
  { framework: 'fastify', variant: 'exporters', label: 'apimeter + StatsD + OTLP', budget: 0.95 },
  { framework: 'fastify', variant: 'consumers', label: 'apimeter + consumers (X-Client-Id)' },
  { framework: 'fastify', variant: 'detailed', label: 'apimeter detailed mode' },
  { framework: 'fastify', variant: 'fastify-metrics', label: 'fastify-metrics (prom-client)' },
  { framework: 'fastify', variant: 'otel', label: 'OpenTelemetry HTTP instrumentation' },
];

export interface OverheadOptions {
  quick: boolean;
  rounds?: number;
  /** Measured seconds per round (default 6, 2 with quick). */
  seconds?: number;
  log: (line: string) => void;
}

export async function runOverhead({ quick, rounds, seconds, log }: OverheadOptions): Promise<PinnedResult> {
  const measured = seconds ?? (quick ? 2 : 6);
  const sinks = await startExporterSinks();
  try {
    return await runPinned({
      variants: FASTIFY_VARIANTS,
      rounds: rounds ?? (quick ? 1 : 5),
      seconds: measured,
      warmUpSeconds: quick || measured < 4 ? 1 : 2,
      serverArgs: (v) => (v.variant === 'exporters' ? [`--statsd=${sinks.udpPort}`, `--otel=${sinks.otlpUrl}`] : []),
      log,
    });
  } finally {
    sinks.stop();
  }
}
