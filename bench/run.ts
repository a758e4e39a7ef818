/**
 * `npm run bench [-- --quick] [--rounds=N] [--seconds=S] [--only=overhead,adapters,…]`: the budgets of docs/benchmarks.md ("Budgets"), measured side by side in one run.
 *   (a) core record path, in child processes with GC flags (bench/record.ts)
 *   (b) overhead of the Fastify plugin, pinned, with exporters on, detailed mode, and peers as rows
 *       (bench/overhead.ts, bench/pinned.ts, bench/pinned-server.ts, sinks from bench/exporters.ts)
 *   (c) memory for 1,000 endpoints and under a route flood (bench/memory.ts)
 * Prints a report, a budget table, and one JSON line (also written to .bench-out/latest.json).
 * Exits 0 when figures are over budget (it is a report), 1 when a bench itself failed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fmt, ROOT, runChild, table } from './lib.js';
import type { FloodResult, TrafficResult } from './memory.js';
import { runOverhead } from './overhead.js';
import { PINNED_HEADER, pinnedTable } from './pinned.js';
import type { PinnedResult, PinnedRow } from './pinned.js';
import type { RecordResult } from './record.js';
import type { ConsumersResult } from './consumers.js';

const quick = process.argv.includes('--quick');
/** `--rounds=N`, `--seconds=S`: the pinned sections' rounds per variant and measured seconds per round. */
const argValue = (name: string): number | undefined => {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return v === undefined ? undefined : Number(v);
};
const pinnedRounds = argValue('rounds');
const pinnedSeconds = argValue('seconds');
const pinnedArgs = [
  ...(pinnedRounds === undefined ? [] : [`--rounds=${pinnedRounds}`]),
  ...(pinnedSeconds === undefined ? [] : [`--seconds=${pinnedSeconds}`]),
];
/**
 * `--only=NAME,…`: run only these sections (record, overhead, memory, consumers, and the standalone
 * benches by file name: exporters, adapters, matcher, proxy, store, alerts, ui, fleet). Skipped rows
 * of the budget table say so.
 */
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg === undefined ? null : new Set(onlyArg.split(',').map((n) => n.trim()));
const wanted = (name: string) => only === null || only.has(name);
const startedAt = new Date();
const failures: string[] = [];
const log = (line = '') => process.stdout.write(line + '\n');

const RECORD_FLAGS = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];
const MEMORY_FLAGS = ['--expose-gc'];
const quickArgs = quick ? ['--quick'] : [];
/** Range of the per-pair overhead ratios above which the overhead verdict is flagged as noisy. */
const NOISY_SPREAD = 0.3;

async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  if (!wanted(name)) {
    log(`  (${name}: skipped, not in --only)`);
    return undefined;
  }
  const t0 = Date.now();
  try {
    const result = await run();
    log(`  (${name}: ${fmt.fixed((Date.now() - t0) / 1000, 0)} s)`);
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    failures.push(`${name}: ${message}`);
    log(`  FAILED: ${message}`);
    return undefined;
  }
}

log(`apimeter benchmarks${quick ? ' (--quick: short rounds, figures are indicative only)' : ''}`);
log(
  `${startedAt.toISOString()}  node ${process.version}  ${os.platform()} ${os.arch()}  ` +
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}  load average ${os.loadavg()[0].toFixed(2)}`,
);

// ---- (a) core record path ----
log('\n(a) Core record path: meter.record() on 1,000 pre-resolved endpoints, lognormal latencies');
const record = await section('record', async () => {
  const main = await runChild<RecordResult>('record.ts', [...quickArgs, '--mode=main'], RECORD_FLAGS);
  const rotating = await runChild<RecordResult>('record.ts', [...quickArgs, '--mode=rotating'], RECORD_FLAGS);
  for (const r of [main, rotating]) {
    if (r.countCheck.sent !== r.countCheck.counted) {
      failures.push(`record (${r.mode}): meter counted ${r.countCheck.counted} of ${r.countCheck.sent} records`);
    }
    for (const [name, a] of Object.entries(r.alloc)) {
      if (a.gcsDuring > 0) failures.push(`record (${r.mode}): a GC ran while measuring ${name}'s allocation`);
    }
  }
  const rows: [string, string, RecordResult][] = [
    ['bareLoop', 'bare loop (array reads only)', main],
    ['mapLookup', 'Map.get(`${method} ${route}`) + count++', main],
    ['clockRead', 'Date.now() alone (systemClock.now)', main],
    ['record', 'meter.record, 1,000 endpoints', main],
    ['recordObject', 'meter.record via an object argument (literal per call)', main],
    ['recordOneEndpoint', 'meter.record, 1 hot endpoint', main],
    ['recordRotating', 'meter.record, slots rotating (10k req/s)', rotating],
  ];
  log(
    table(
      ['variant', 'ns/call (median)', 'min…max over rounds', 'CPU ns/call', 'bytes/call', 'GCs in window'],
      rows.map(([key, label, r]) => {
        const ns = r.nsPerCall[key];
        const a = r.alloc[key];
        return [
          label,
          fmt.fixed(ns.median, 1),
          `${fmt.fixed(Math.min(...ns.rounds), 1)}…${fmt.fixed(Math.max(...ns.rounds), 1)}`,
          fmt.fixed(r.cpuNsPerCall[key].median, 1),
          fmt.fixed(a.bytesPerCall, 2),
          String(a.gcsDuring),
        ];
      }),
    ),
  );
  log(
    `  ${main.rounds} rounds × ${fmt.int(main.callsPerRound)} calls per variant, order rotated per round; ` +
      `allocation over ${fmt.int(main.alloc.record.calls)} calls after gc(), no GC in the window.`,
  );
  log('  CPU ns/call: process CPU time per call (median), which time spent descheduled does not inflate.');
  log('  bytes/call counts V8 heap plus ArrayBuffer stores. Durations are passed as existing heap numbers, as');
  log('  reply.elapsedTime gives them; a clock read returning epoch ms makes a new 16 B heap number per call.');
  return { main, rotating };
});

// ---- (b) overhead ----
log(
  '\n(b) Overhead, pinned: Fastify bare vs apimeter (defaults, exporters on, detailed) vs one empty hook and the\n' +
    '    peers fastify-metrics and OpenTelemetry HTTP instrumentation (server on CPU 0, wrk on CPU 1; bench/pinned.ts)',
);
const overhead = await section('overhead', () =>
  runOverhead({ quick, rounds: pinnedRounds, seconds: pinnedSeconds, log }),
);
if (overhead) {
  failures.push(...overhead.failures.map((f) => `overhead: ${f}`));
  log(table(PINNED_HEADER, pinnedTable(overhead.rows)));
  log(
    `  ${overhead.pinned ? `server on CPU 0, wrk -t1 -c${overhead.connections} on CPU 1` : 'UNPINNED'}; ` +
      `${overhead.roundsPerVariant} rounds × ${overhead.seconds} s per variant (after ${overhead.warmUpSeconds} s of ` +
      'warm-up), a fresh server process per round, order rotated; exporters at their default intervals',
  );
  log(
    `  1-min load average ${fmt.fixed(os.loadavg()[0], 2)} after the section on ${os.cpus().length} CPUs ` +
      '(other processes on the machine take CPU from the pinned server and add noise)',
  );
}

// ---- (c) memory ----
log('\n(c) Memory held by the meter (V8 heap + ArrayBuffers, after full GC)');
const memory = await section('memory', async () => {
  const run = <T>(scenario: string) => runChild<T>('memory.ts', [`--scenario=${scenario}`], MEMORY_FLAGS);
  // Memory figures do not depend on CPU contention, so --quick runs the scenarios at once.
  const [minute, hour, flood] = quick
    ? await Promise.all([run<TrafficResult>('minute'), run<TrafficResult>('hour'), run<FloodResult>('flood')])
    : [await run<TrafficResult>('minute'), await run<TrafficResult>('hour'), await run<FloodResult>('flood')];
  for (const r of [minute, hour, flood]) {
    if (!r.countOk) failures.push(`memory (${r.scenario}): snapshot counted ${r.counted} of ${r.records} records`);
  }
  log(
    table(
      ['scenario', 'endpoints', 'records', 'heap', 'ArrayBuffers', 'total', 'per endpoint', "snapshot('1h')"],
      [
        ['1,000 endpoints, traffic in the last minute', minute],
        ['1,000 endpoints, steady traffic for an hour', hour],
      ].map(([label, r]) => {
        const t = r as TrafficResult;
        return [
          label as string,
          fmt.int(t.endpoints),
          fmt.int(t.records),
          fmt.mb(t.heapBytes),
          fmt.mb(t.arrayBufferBytes),
          fmt.mb(t.totalBytes),
          `${fmt.fixed(t.bytesPerEndpoint / 1000, 1)} kB`,
          `${fmt.fixed(t.snapshotMs['1h'], 0)} ms`,
        ];
      }),
    ),
  );
  for (const [label, t] of [
    ['last minute', minute],
    ['full hour', hour],
  ] as const) {
    const s = t.sketchBuckets;
    log(
      `  ${label}: ${fmt.int(s.slotsAllocated)} slot tallies (${fmt.int(t.totalBytes / (s.slotsAllocated + t.endpoints))} B ` +
        `per tally or endpoint); sketch buckets held: ${fmt.int(s.totalLatency)} all-time latency, ` +
        `${fmt.int(s.fineSlotsLatency)} in 10 s slots, ${fmt.int(s.coarseSlotsLatency)} in 60 s slots, ` +
        `${fmt.int(s.sizeSketches)} in size sketches`,
    );
  }
  log(`  flood of 100,000 distinct route templates against a cap of ${flood.cap}:`);
  log(
    table(
      ['distinct routes', 'registry size', 'held'],
      [
        ['0 (cap filled)', '', fmt.mb(flood.atCapBytes)],
        ...flood.checkpoints.map((c) => [fmt.int(c.routes), fmt.int(c.registrySize), fmt.mb(c.totalBytes)]),
        [
          '+100,000 unmatched raw paths',
          fmt.int(flood.afterUnmatchedScan.registrySize),
          fmt.mb(flood.afterUnmatchedScan.totalBytes),
        ],
      ].map((r) => ['  ' + r[0], r[1], r[2]]),
    ),
  );
  log(
    `  ${fmt.int(flood.overflowedEndpoints)} routes refused by the cap, ` +
      `${fmt.int(flood.overflowedRecords)} records in the overflow endpoint`,
  );
  return { minute, hour, flood };
});

// ---- (c2) consumers: identification + heavy hitters per request, memory, top-K accuracy ----
log('\n(c2) Consumers: identification + Space-Saving update added to meter.record (bench/consumers.ts)');
const consumers = await section('consumers', () => runChild<ConsumersResult>('consumers.ts', quickArgs, RECORD_FLAGS));
if (consumers) {
  const base = consumers.nsPerCall.record.median;
  log(
    table(
      ['variant', 'ns/request', 'added to record', 'bytes/request'],
      Object.entries(consumers.nsPerCall).map(([name, v]) => [
        name,
        fmt.fixed(v.median, 0),
        name === 'record' ? '' : fmt.fixed(v.median - base, 0),
        fmt.fixed(consumers.alloc[name].bytesPerCall, 1),
      ]),
    ),
  );
  log(
    `  memory, 1,000 endpoints × top-20: ${fmt.mb(consumers.memory.bytes)} (bound ${fmt.mb(consumers.memory.bound)})`,
  );
  log(`  top-K accuracy (Zipf 1.1): ${JSON.stringify(consumers.accuracy)}`);
  log(`  1-min load average ${fmt.fixed(os.loadavg()[0], 2)} on ${os.cpus().length} CPUs`);
}

// ---- (d…) standalone benches of the exporters, adapters, matcher and proxy ----
// Each prints its own tables; they run one after another so they do not load the machine together.
const STANDALONE: [string, string, string[]][] = [
  ['(d) Exporters: CPU per flush for 1,000 endpoints', 'exporters.ts', ['--flushes', quick ? '4' : '12']],
  [
    '(e) Adapters and proxy, pinned: Express, Hono, node:http bare vs apimeter vs one empty hook and peers; the proxy vs direct',
    'adapters.ts',
    [...quickArgs, ...pinnedArgs],
  ],
  ['(f) OpenAPI matcher: ns per lookup on the Airflow spec', 'matcher.ts', quickArgs],
  ['(g) Reverse proxy: added latency and throughput ratio', 'proxy.ts', quickArgs],
  ['(h) History store: snapshot write, event-loop stall, history query', 'store.ts', quickArgs],
  // 30 stored days of 1,000 endpoints take many minutes to write: the run stores 3 (docs/benchmarks.md).
  [
    '(i) Alerts: evaluation tick, SLO over stored history',
    'alerts.ts',
    ['--days', quick ? '1' : '3', '--rounds', quick ? '3' : '5'],
  ],
  ['(j) Web page: weight, first render with 1,000 endpoints, polling cost', 'ui.ts', quickArgs],
  // 10 instances × 1,000 endpoints of live tier; 30 stored days of 100 endpoints each (docs/scaling.md).
  ['(k) Fleet view: live-tier write per instance, apimeter serve queries', 'fleet.ts', quickArgs],
];
const standalone: Record<string, unknown> = {};
for (const [title, file, args] of STANDALONE) {
  if (!existsSync(path.join(ROOT, 'bench', file)) || !wanted(file.replace(/\.ts$/, ''))) continue;
  log(`\n${title} (bench/${file})`);
  const { code, result } = await runStandalone(file, args);
  if (code !== 0) failures.push(`bench/${file} exited with ${code}`);
  standalone[file.replace(/\.ts$/, '')] = result;
}

/**
 * Runs a standalone bench, printing its output as it comes except its last line (the JSON result),
 * which is returned instead so that its figures reach the budget table and the JSON line.
 */
function runStandalone(file: string, args: readonly string[]): Promise<{ code: number | string; result: unknown }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', file), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pending = '';
    let held: string | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        if (held !== null) log(held);
        held = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
      }
    });
    child.on('close', (code, signal) => {
      const last = (pending || held) ?? '';
      if (pending && held !== null) log(held);
      let result: unknown = null;
      try {
        result = JSON.parse(last);
      } catch {
        if (last) log(last);
      }
      resolve({ code: code ?? signal ?? 'unknown', result });
    });
    child.on('error', () => resolve({ code: 'spawn error', result: null }));
  });
}

// ---- budgets ----
interface Row {
  metric: string;
  value: number;
  shown: string;
  budget: string;
  /** null: informative, no budget. */
  ok: boolean | null;
  /** Appended to the status, e.g. when the figure is too noisy to judge the budget. */
  note?: string;
}
const rows: Row[] = [];
const add = (
  metric: string,
  value: number | undefined,
  shown: (v: number) => string,
  budget: string,
  ok: (v: number) => boolean,
) => {
  if (value === undefined || !Number.isFinite(value)) {
    if (only !== null) rows.push({ metric, value: NaN, shown: 'not run (--only)', budget, ok: null });
    else rows.push({ metric, value: NaN, shown: 'failed', budget, ok: false });
    return;
  }
  rows.push({ metric, value, shown: shown(value), budget, ok: ok(value) });
};
const info = (metric: string, value: number | undefined, shown: (v: number) => string) => {
  const known = value !== undefined && Number.isFinite(value);
  // Like add(): a section left out by --only is "not run", not a failure.
  const missing = only !== null ? 'not run (--only)' : 'failed';
  rows.push({ metric, value: known ? value : NaN, shown: known ? shown(value) : missing, budget: '—', ok: null });
};
/**
 * When wall time per call exceeds CPU time per call by more than 15 %, the process was descheduled
 * for a good part of the rounds: the ns row is then marked noisy, with its CPU-time figure.
 */
const flagDescheduled = (r: RecordResult | undefined, key: string) => {
  if (r === undefined) return;
  const wall = r.nsPerCall[key].median;
  const cpu = r.cpuNsPerCall[key].median;
  if (wall > cpu * 1.15) rows[rows.length - 1].note = `noisy: CPU ${fmt.fixed(cpu, 0)} ns`;
};
const ns = (v: number) => `${fmt.fixed(v, 0)} ns`;
const bytes = (v: number) => `${fmt.fixed(v, 1)} B`;
add('record: ns/record, 1,000 endpoints', record?.main.nsPerCall.record.median, ns, '≤ 300 ns', (v) => v <= 300);
flagDescheduled(record?.main, 'record');
add('record: bytes/record, steady state', record?.main.alloc.record.bytesPerCall, bytes, '~0 (≤ 1 B)', (v) => v <= 1);
add(
  'record: ns/record incl. slot rotation',
  record?.rotating.nsPerCall.recordRotating.median,
  ns,
  '≤ 300 ns',
  (v) => v <= 300,
);
flagDescheduled(record?.rotating, 'recordRotating');
add(
  'record: bytes/record incl. slot rotation',
  record?.rotating.alloc.recordRotating.bytesPerCall,
  bytes,
  '~0 (≤ 1 B)',
  (v) => v <= 1,
);
const pinnedRows = (label: string, measured: readonly PinnedRow[] | undefined) => {
  for (const r of measured ?? []) {
    if (r.variant === 'bare') continue;
    const metric = `${label}: ${r.framework} ${r.label} / bare`;
    const budget = r.budget;
    if (budget === undefined) info(metric, r.ratio, (v) => fmt.fixed(v, 3));
    else
      add(
        metric,
        r.ratio,
        (v) => fmt.fixed(v, 3),
        `≥ ${fmt.fixed(budget, 2)}`,
        (v) => v >= budget,
      );
    const spread = Math.max(...r.roundRatios) - Math.min(...r.roundRatios);
    if (spread > NOISY_SPREAD) rows[rows.length - 1].note = 'noisy';
  }
};
pinnedRows('overhead', overhead?.rows);
add('memory: 1,000 endpoints, last minute', memory?.minute.totalBytes, fmt.mb, '< 10 MB', (v) => v < 10e6);
add('memory: 1,000 endpoints, full hour', memory?.hour.totalBytes, fmt.mb, '< 10 MB', (v) => v < 10e6);
add(
  'flood: listed endpoints after 200k paths',
  memory?.flood.registrySize,
  fmt.int,
  '≤ cap + 11',
  (v) => v <= (memory?.flood.cap ?? 0) + 11,
);
add('flood: growth 10k → 100k routes', memory?.flood.plateauGrowthBytes, fmt.mb, 'flat (< 1 MB)', (v) => v < 1e6);
info(
  'flood: held after flood (cap filled: ' + (memory ? fmt.mb(memory.flood.atCapBytes) : '?') + ')',
  memory?.flood.afterUnmatchedScan.totalBytes,
  fmt.mb,
);
// Consumers (docs/consumers.md, "Cost"): what identification + both Space-Saving updates add to record.
const consumersAdded = (variant: string) =>
  consumers == null || consumers.nsPerCall[variant] === undefined
    ? undefined
    : consumers.nsPerCall[variant].median - consumers.nsPerCall.record.median;
// header-fresh: the header path with a new header string per request, as node:http gives them.
for (const variant of ['header', 'header-fresh', 'function']) {
  add(`consumers: ns added to record, ${variant}`, consumersAdded(variant), ns, '< 150 ns', (v) => v < 150);
  // A difference of two medians: noisy when either process was descheduled (wall > CPU + 15 %).
  const descheduled = ['record', variant].filter((v) => {
    const wall = consumers?.nsPerCall[v]?.median;
    const cpu = consumers?.cpuNsPerCall?.[v]?.median;
    // (null for `*-fresh`, whose rounds include building the headers: not judged.)
    return typeof wall === 'number' && typeof cpu === 'number' && wall > cpu * 1.15;
  });
  if (descheduled.length > 0 && consumers) rows[rows.length - 1].note = `noisy: ${descheduled.join(', ')} descheduled`;
  // `*-fresh` allocation is measured on reused headers, i.e. it is the header row again.
  if (variant === 'header-fresh') continue;
  add(
    `consumers: bytes/request, ${variant}`,
    consumers?.alloc[variant]?.bytesPerCall,
    bytes,
    '~0 (≤ 1 B)',
    (v) => v <= 1,
  );
}
for (const variant of ['churn', 'jwt', 'jwt-fresh', 'apikey'])
  info(`consumers: ns added to record, ${variant}`, consumersAdded(variant), ns);
info('consumers: memory, 1,000 endpoints × top-20', consumers?.memory.bytes, fmt.mb);

const flushCpu = (standalone.exporters as { cpuMsPerFlush?: Record<string, number> } | null | undefined)?.cpuMsPerFlush;
if (standalone.exporters !== undefined) {
  const ms = (v: number) => `${fmt.fixed(v, 1)} ms`;
  info('exporters: CPU/flush, 1,000 endpoints, StatsD', flushCpu?.['statsd values'], ms);
  info('exporters: CPU/flush, 1,000 endpoints, DogStatsD', flushCpu?.['dogstatsd distribution (scale 4)'], ms);
  info('exporters: CPU/flush, 1,000 endpoints, OTLP', flushCpu?.['otel collect + OTLP/JSON encode'], ms);
}
pinnedRows('adapters', (standalone.adapters as PinnedResult | null | undefined)?.rows);
interface ProxyServer {
  medianSetRatio: number;
  addedP50Ms: number;
  addedP99Ms: number;
  cpuMicrosPerRequest: { hop: number };
}
const proxy = standalone.proxy as { servers?: Record<string, ProxyServer | undefined> } | null | undefined;
if (standalone.proxy !== undefined) {
  const s = proxy?.servers ?? {};
  const us = (v: number) => `${fmt.fixed(v * 1000, 0)} µs`;
  const ratio = (v: number) => fmt.fixed(v, 3);
  info('proxy: added latency p50', s.proxied?.addedP50Ms, us);
  info('proxy: added latency p99', s.proxied?.addedP99Ms, us);
  // Paired with the direct round of the same set: machine drift between sets cancels out.
  info('proxy: throughput through/direct (sets)', s.proxied?.medianSetRatio, ratio);
  info('proxy: same, tcp relay (ceiling of a hop)', s.relay?.medianSetRatio, ratio);
  info('proxy: same, node:http + undici forwarder', s.reference?.medianSetRatio, ratio);
  info('proxy: hop CPU/request, apimeter / tcp relay', s.proxied?.cpuMicrosPerRequest.hop, (v) =>
    s.relay === undefined
      ? `${fmt.fixed(v, 1)} µs`
      : `${fmt.fixed(v, 1)} / ${fmt.fixed(s.relay.cpuMicrosPerRequest.hop, 1)} µs`,
  );
}

const alerts = standalone.alerts as
  { days?: number; tick?: { medianMs: number }; slo?: { medianMs: number } } | null | undefined;
if (standalone.alerts !== undefined) {
  add(
    'alerts: evaluation tick, 1,000 endpoints',
    alerts?.tick?.medianMs,
    (v) => `${fmt.fixed(v, 1)} ms`,
    '< 20 ms',
    (v) => v < 20,
  );
  info(
    `alerts: SLO over ${alerts?.days ?? '?'} stored days, 1,000 endpoints`,
    alerts?.slo?.medianMs,
    (v) => `${fmt.fixed(v, 0)} ms`,
  );
}
const ui = standalone.ui as { gzip_kb?: number; overview_ms?: number; polling_cpu_percent?: number } | null | undefined;
if (standalone.ui !== undefined) {
  add(
    'web page: weight (gzip)',
    ui?.gzip_kb,
    (v) => `${fmt.fixed(v, 1)} kB`,
    '< 150 kB',
    (v) => v < 150,
  );
  add(
    'web page: overview first render, 1,000 endpoints',
    ui?.overview_ms,
    (v) => `${fmt.fixed(v, 0)} ms`,
    '< 1 s',
    (v) => v < 1000,
  );
  add(
    'web page: polling every 5 s, server CPU',
    ui?.polling_cpu_percent,
    (v) => `${fmt.fixed(v, 2)} %`,
    '< 1 %',
    (v) => v < 1,
  );
}

log('\nBudgets (docs/benchmarks.md)');
log(
  table(
    ['metric', 'value', 'budget', 'status'],
    rows.map((r) => [
      r.metric,
      r.shown,
      r.budget,
      (r.shown === 'failed' ? 'FAILED' : r.ok === null ? 'info' : r.ok ? 'OK' : 'OVER') +
        (r.note ? ` (${r.note})` : ''),
    ]),
  ),
);
const over = rows.filter((r) => r.ok === false && r.shown !== 'failed').length;
if (over > 0) log(`${over} figure(s) over budget.`);
if (failures.length > 0) {
  log('\nBench failures (figures above are not trustworthy):');
  for (const f of failures) log(`  - ${f}`);
}

const durationSeconds = (Date.now() - startedAt.getTime()) / 1000;
const json = {
  bench: 'apimeter',
  date: startedAt.toISOString(),
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
  cpus: os.cpus().length,
  quick,
  durationSeconds,
  budgets: rows.map(({ metric, value, budget, ok, note }) => ({ metric, value, budget, ok, note: note ?? null })),
  record: record ?? null,
  overhead: overhead ?? null,
  memory: memory ?? null,
  ...standalone,
  failures,
};
const line = JSON.stringify(json);
await mkdir(path.join(ROOT, '.bench-out'), { recursive: true });
await writeFile(path.join(ROOT, '.bench-out', 'latest.json'), line + '\n');
log(`\n(${fmt.fixed(durationSeconds, 0)} s; JSON below and in .bench-out/latest.json)`);
log(line);
process.exitCode = failures.length > 0 ? 1 : 0;
