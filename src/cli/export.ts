import { parseArgs } from 'node:util';
import { compileRules, loadRulesFile, ruleDefaultsOf } from '../alerts/rules.js';
import type { RuleSet } from '../alerts/rules.js';
import { loadConfig } from '../core/config.js';
import type { ApimeterConfig } from '../core/config.js';
import { createError } from '../errors.js';
import { ARTIFACT_PRESETS } from '../exporters/catalogue.js';
import type { ArtifactPreset } from '../exporters/catalogue.js';
import { missingDependency } from '../exporters/optional-deps.js';
import { datadogArtifacts } from '../artifacts/datadog.js';
import { prometheusRulesYaml } from '../artifacts/prometheus-rules.js';
import type { ArtifactOptions } from '../artifacts/types.js';
import { writeArtifactFile, writeArtifacts } from '../artifacts/write.js';

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

const STDIO: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** The Grafana generator's package (a development / optional peer dependency, loaded only here). */
export const GRAFANA_SDK = ['@grafana/grafana-foundation-sdk'] as const;

const USAGE = `Usage: apimeter export <target> [options]

Writes operations artifacts generated from the metric catalogue and the alert rules and SLOs the
in-process evaluator runs (docs/dashboards.md):

  prometheus-rules [--out FILE]  Prometheus rule file: per-endpoint recording rules, the alert rules,
                                 SLO recordings and burn-rate alerts (stdout without --out)
  grafana --out DIR              Grafana dashboards (overview, endpoint, SLO) as JSON
                                 (needs npm install @grafana/grafana-foundation-sdk)
  datadog --out DIR              Datadog dashboard, monitors and SLO objects as JSON

Options:
  --config FILE      apimeter.ini to read (default $APIMETER_CONFIG, else ./apimeter.ini if present)
  --rules FILE       alert rules file (default [alerts] rules_file; empty: the default rules only)
  --naming PRESET    Prometheus names: otel or legacy (default [metrics] prometheus_naming)
  --route-format F   how the exposition writes route: openapi (/items/{id}) or colon (/items/:id)
                     (default: the preset's, colon for legacy)
  --duration-buckets B  the exposition's duration bounds in seconds, comma-separated ascending
                     (default: the preset's; legacy: prom-client's 0.005,0.01,…,10)
  --service NAME     service of SLO series and alerts (default [alerts] service)
  --out PATH         file (prometheus-rules) or directory (grafana, datadog) to write
  --force            overwrite existing files
  -h, --help         show this help`;

interface ExportArgs {
  config: ApimeterConfig;
  options: ArtifactOptions;
  rules: RuleSet;
  out: string | undefined;
  force: boolean;
}

function parse(args: string[]): ExportArgs | null {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      rules: { type: 'string' },
      naming: { type: 'string' },
      'route-format': { type: 'string' },
      'duration-buckets': { type: 'string' },
      service: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const config = loadConfig({ iniPath: values.config });
  const naming = values.naming ?? config.prometheusNaming;
  if (!(ARTIFACT_PRESETS as readonly string[]).includes(naming)) {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      `--naming ${JSON.stringify(naming)}: expected one of ${ARTIFACT_PRESETS.join(', ')}`,
    );
  }
  const service = values.service ?? config.alertsService;
  if (!/^[A-Za-z0-9_.:-]+$/.test(service)) {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      `--service ${JSON.stringify(service)}: expected letters, digits and _ . : - (it becomes a label value and a group name)`,
    );
  }
  const routeFormat = values['route-format'];
  if (routeFormat !== undefined && routeFormat !== 'openapi' && routeFormat !== 'colon') {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      `--route-format ${JSON.stringify(routeFormat)}: expected openapi or colon`,
    );
  }
  let durationBuckets: number[] | undefined;
  if (values['duration-buckets'] !== undefined) {
    durationBuckets = values['duration-buckets'].split(',').map((b) => Number(b.trim()));
    if (!durationBuckets.every((b, i) => b > 0 && Number.isFinite(b) && (i === 0 || b > durationBuckets![i - 1]))) {
      throw createError(
        'APIMETER_ERR_CONFIG_INVALID',
        `--duration-buckets ${JSON.stringify(values['duration-buckets'])}: expected ascending positive seconds, comma-separated`,
      );
    }
  }
  const rulesPath = values.rules ?? config.alertsRulesFile;
  const defaults = ruleDefaultsOf(config);
  const rules = rulesPath === '' ? compileRules(null, defaults) : loadRulesFile(rulesPath, defaults);
  return {
    config,
    options: {
      naming: naming as ArtifactPreset,
      service,
      ...(routeFormat === undefined ? {} : { routeFormat }),
      ...(durationBuckets === undefined ? {} : { durationBuckets }),
    },
    rules,
    out: values.out,
    force: values.force,
  };
}

function needOut(target: string, out: string | undefined): string {
  if (out === undefined || out === '') {
    throw createError('APIMETER_ERR_EXPORT_OUTPUT', `apimeter export ${target} needs --out DIR`);
  }
  return out;
}

async function grafana(a: ExportArgs): Promise<Record<string, string>> {
  try {
    const { grafanaDashboards } = await import('../artifacts/grafana.js');
    return grafanaDashboards(a.options);
  } catch (error) {
    throw missingDependency(error, 'apimeter export grafana', GRAFANA_SDK) ?? error;
  }
}

/** `apimeter export <target>`. Resolves the exit code; coded errors propagate to main (exit 1). */
export async function run(args: string[], io: CliIo = STDIO): Promise<number> {
  const [target, ...rest] = args;
  if (target === undefined || target === 'help' || target === '--help' || target === '-h') {
    io.stdout.write(USAGE + '\n');
    return target === undefined ? 2 : 0;
  }
  if (!['prometheus-rules', 'grafana', 'datadog'].includes(target)) {
    io.stderr.write(`apimeter export: unknown target '${target}'; expected prometheus-rules, grafana or datadog\n`);
    return 2;
  }
  const a = parse(rest);
  if (a === null) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  if (target === 'prometheus-rules') {
    const text = prometheusRulesYaml(a.rules, a.options);
    if (a.out === undefined) io.stdout.write(text);
    else {
      writeArtifactFile(a.out, text, a.force);
      io.stderr.write(`wrote ${a.out}\n`);
    }
    return 0;
  }
  const dir = needOut(target, a.out);
  const files =
    target === 'grafana'
      ? await grafana(a)
      : datadogArtifacts(a.rules, {
          prefix: a.config.statsdPrefix,
          apiPrefix: a.config.apiMetricsPrefix,
          service: a.options.service,
        }).files;
  for (const path of writeArtifacts(dir, files, a.force)) io.stderr.write(`wrote ${path}\n`);
  return 0;
}
