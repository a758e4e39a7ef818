import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { openStore } from '../store/open.js';
import { retentionCutoff } from '../store/retention.js';
import type { RetentionCount, RetentionProgress } from '../store/retention.js';
import type { RollupReport } from '../store/rollup.js';

/** Rollups cover hours that ended at least this long ago (as the snapshot task's default). */
const ROLLUP_LAG_MS = 10 * 60_000;

const USAGE = `Usage: apimeter cleanup [--retention-days N] [--dry-run] [--no-rollup] [--ini FILE]

Applies retention to the store [metrics] api_metrics_store_url names: deletes snapshot and rollup rows
older than N days (default [metrics] api_metrics_retention_days; the cutoff is rounded down to a UTC
midnight), 5,000 rows per statement, with progress on stderr. Then rolls completed hours and days up.
--dry-run only counts what would be deleted and changes nothing.`;

export interface CleanupIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
}

const n = (x: number) => x.toLocaleString('en-US');

/** The removal summary: one line per table and bucket length. */
export function formatRemoved(counts: readonly RetentionCount[]): string[] {
  const width = Math.max(0, ...counts.map((c) => c.table.length));
  const nWidth = Math.max(0, ...counts.map((c) => n(c.rows).length));
  return counts.map(
    (c) =>
      `  ${c.table.padEnd(width)}  ${String(c.bucketSeconds).padStart(5)} s buckets  ${n(c.rows).padStart(nWidth)}`,
  );
}

function progressWriter(stderr: CleanupIo['stderr']): { update(p: RetentionProgress): void; end(): void } {
  let open = false;
  return {
    update(p) {
      const line = `deleting ${p.table} (${p.bucketSeconds} s buckets): ${n(p.deleted)} / ${n(p.rows)} rows`;
      if (stderr.isTTY === true) {
        // One line per table, redrawn in place until the table is done.
        const done = p.deleted >= p.rows;
        stderr.write(`\r\u001b[2K${line}${done ? '\n' : ''}`);
        open = !done;
      } else stderr.write(line + '\n');
    },
    end() {
      if (open) stderr.write('\n');
      open = false;
    },
  };
}

function formatRollups(report: RollupReport): string {
  const h = report.tiers[3600];
  const d = report.tiers[86400];
  const until = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : 'nothing yet');
  return (
    `rolled up ${n(h.periods)} hours (${n(h.rows)} rows) and ${n(d.periods)} days (${n(d.rows)} rows); ` +
    `hourly rollups complete until ${until(report.watermarks[3600])}, daily until ${until(report.watermarks[86400])}` +
    (report.pending ? ' (stopped early; run again)' : '')
  );
}

/**
 * `apimeter cleanup`: applies retention to the snapshot store once (and rolls completed hours and days
 * up), printing what it removed. Resolves the exit code (2 for usage errors).
 */
export async function run(
  args: string[],
  now: number = Date.now(),
  io: CleanupIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'retention-days': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'no-rollup': { type: 'boolean', default: false },
      ini: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  const config = loadConfig({ iniPath: values.ini });
  const raw = values['retention-days'];
  const days = raw === undefined ? config.apiMetricsRetentionDays : Number(raw);
  if (!Number.isInteger(days) || days < 1) {
    io.stderr.write(`apimeter cleanup: --retention-days must be a whole number of days, at least 1 (got ${raw})\n`);
    return 2;
  }
  const cutoff = retentionCutoff(now, days);
  const dryRun = values['dry-run'];
  const store = await openStore(config.apiMetricsStoreUrl);
  try {
    const progress = progressWriter(io.stderr);
    const counts = await store.deleteBefore(cutoff, { dryRun, onProgress: (p) => progress.update(p) });
    progress.end();
    const total = counts.reduce((sum, c) => sum + c.rows, 0);
    const when = new Date(cutoff).toISOString();
    const head = dryRun
      ? `would remove ${n(total)} rows older than ${when} (${days} days) from ${store.kind}`
      : `removed ${n(total)} rows older than ${when} (${days} days) from ${store.kind}`;
    io.stdout.write([head + (counts.length > 0 ? ':' : ''), ...formatRemoved(counts)].join('\n') + '\n');
    if (dryRun) io.stdout.write('dry run: nothing was changed (rollups not run)\n');
    else if (!values['no-rollup']) io.stdout.write(formatRollups(await store.rollup(now - ROLLUP_LAG_MS)) + '\n');
    return 0;
  } finally {
    await store.close();
  }
}
