import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { openStore } from '../store/open.js';

const DAY = 86_400_000;

const USAGE = `Usage: apimeter cleanup [--retention-days N] [--dry-run] [--ini FILE]

Deletes snapshots older than N days (default [metrics] api_metrics_retention_days) from the store
[metrics] api_metrics_store_url names. --dry-run only counts them.`;

/**
 * `apimeter cleanup`: applies retention to the snapshot store once and prints what it removed.
 * Resolves the exit code (2 for usage errors).
 */
export async function run(args: string[], now: number = Date.now()): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'retention-days': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      ini: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const config = loadConfig({ iniPath: values.ini });
  const raw = values['retention-days'];
  const days = raw === undefined ? config.apiMetricsRetentionDays : Number(raw);
  if (!Number.isInteger(days) || days < 1) {
    process.stderr.write(
      `apimeter cleanup: --retention-days must be a whole number of days, at least 1 (got ${raw})\n`,
    );
    return 2;
  }
  const cutoff = now - days * DAY;
  const store = await openStore(config.apiMetricsStoreUrl);
  try {
    const dryRun = values['dry-run'];
    const n = await store.deleteBefore(cutoff, { dryRun });
    const when = new Date(cutoff).toISOString();
    process.stdout.write(
      dryRun
        ? `would remove ${n} snapshot rows older than ${when} (${days} days) from ${store.kind}\n`
        : `removed ${n} snapshot rows older than ${when} (${days} days) from ${store.kind}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
