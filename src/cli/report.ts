import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { createMeter } from '../core/meter.js';
import { parseDuration } from '../alerts/duration.js';
import { compileRules, loadRulesFile, ruleDefaultsOf } from '../alerts/rules.js';
import { sloCsv, sloJson, sloMarkdown } from '../alerts/report.js';
import { evaluateSlo } from '../alerts/slo.js';
import type { SloStatus } from '../alerts/slo.js';
import { MeterSource } from '../alerts/source.js';
import { openStore } from '../store/open.js';
import { StoreHistory } from '../store/history.js';
import { bucketSecondsFor } from '../store/snapshot-task.js';
import type { CliIo } from './alerts.js';
import { runInventoryReport } from './report-inventory.js';

const USAGE = `Usage: apimeter report slo [--period 30d | --from TIME --to TIME] [--format md|json|csv]
                          [--rules FILE] [--ini FILE]
       apimeter report inventory [--window 30d] [--format md|json|csv] (--openapi FILE | --url URL)
                                 (apimeter report inventory --help)

Computes every SLO of the rules file ([alerts] rules_file, or --rules) from the store
[metrics] api_metrics_store_url names: objective, SLI, error budget left, burn rate and time to
exhaustion. --period reports the last period (default: each SLO's own); --from/--to any past range
the store holds (ISO 8601). md prints a table to paste into a review.`;

function time(name: string, raw: string): number {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new RangeError(`--${name} must be an ISO 8601 time (got ${raw})`);
  return ms;
}

/** `apimeter report slo`. Resolves the exit code. */
export async function run(
  args: string[],
  now: number = Date.now(),
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [what, ...rest] = args;
  if (what === undefined || what === '--help' || what === '-h' || what === 'help') {
    io.stdout.write(USAGE + '\n');
    return what === undefined ? 2 : 0;
  }
  if (what === 'inventory') return runInventoryReport(rest, now, io);
  if (what !== 'slo') {
    io.stderr.write(`apimeter report: unknown report '${what}'; expected slo or inventory\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      period: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string', default: 'md' },
      rules: { type: 'string' },
      ini: { type: 'string' },
    },
    strict: true,
  });
  const format = values.format;
  if (format !== 'md' && format !== 'json' && format !== 'csv') {
    io.stderr.write(`apimeter report slo: --format must be md, json or csv (got ${format})\n`);
    return 2;
  }
  let range: { from: number; to: number } | undefined;
  try {
    const to = values.to === undefined ? now : time('to', values.to);
    if (values.from !== undefined) range = { from: time('from', values.from), to };
    else if (values.period !== undefined) {
      const ms = parseDuration(values.period);
      if (!(ms > 0)) throw new RangeError(`--period must be a duration such as 7d or 30d (got ${values.period})`);
      range = { from: to - ms, to };
    } else if (values.to !== undefined) throw new RangeError('--to needs --from or --period');
    if (range !== undefined && !(range.from < range.to)) throw new RangeError('the range must start before it ends');
  } catch (error) {
    io.stderr.write(`apimeter report slo: ${(error as Error).message}\n`);
    return 2;
  }
  const config = loadConfig({ iniPath: values.ini });
  const file = values.rules ?? config.alertsRulesFile;
  const rules = file === '' ? compileRules({}, ruleDefaultsOf(config)) : loadRulesFile(file, ruleDefaultsOf(config));
  if (rules.slos.length === 0) {
    io.stderr.write(
      `apimeter report slo: no SLOs defined (${file === '' ? 'set [alerts] rules_file or --rules' : file})\n`,
    );
    return 1;
  }
  const store = await openStore(config.apiMetricsStoreUrl);
  try {
    const history = new StoreHistory(store, { stepMs: bucketSecondsFor(config.apiMetricsSnapshotInterval) * 1000 });
    await history.refresh();
    const meter = createMeter({ config, clock: { now: () => now } });
    const source = new MeterSource(meter, history, false);
    const statuses: SloStatus[] = [];
    for (const slo of rules.slos)
      statuses.push(await evaluateSlo(slo, source, now, range ?? { from: now - slo.periodMs, to: now }));
    const out =
      format === 'json'
        ? JSON.stringify(
            { generated_at: new Date(now).toISOString(), store: store.kind, slos: statuses.map(sloJson) },
            null,
            2,
          ) + '\n'
        : format === 'csv'
          ? sloCsv(statuses)
          : `SLO report from ${store.kind}, ${range === undefined ? `each SLO over its period to ${new Date(now).toISOString()}` : `${new Date(range.from).toISOString()} to ${new Date(range.to).toISOString()}`}\n\n` +
            sloMarkdown(statuses);
    io.stdout.write(out);
    return 0;
  } finally {
    await store.close();
  }
}
