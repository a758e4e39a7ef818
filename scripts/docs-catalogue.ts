/**
 * Writes the metric tables of docs/prometheus.md and docs/exporters.md from the metric catalogue
 * (src/exporters/catalogue.ts), between `<!-- catalogue:<table>:start -->` and `<!-- catalogue:<table>:end -->`
 * markers: `npm run docs:catalogue`. test/docs.test.ts fails when the docs differ from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { CATALOGUE, metricsOf, otelOf, prometheusOf, statsdOf } from '../src/exporters/catalogue.js';
import type { MetricKey, PrometheusPreset } from '../src/exporters/catalogue.js';

const code = (s: string) => `\`${s}\``;

/** `a`, `b` (+ `c`): conditional names are written in parentheses in the catalogue. */
function names(list: readonly string[]): string {
  const plain = list.filter((n) => !n.startsWith('('));
  const extra = list.filter((n) => n.startsWith('(')).map((n) => n.slice(1, -1));
  return plain.map(code).join(', ') + (extra.length > 0 ? ` (+ ${extra.map(code).join(', ')})` : '');
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const STATSD_TYPE = {
  c: '`c`',
  g: '`g`',
  ms: '`ms` (`d` in distribution mode)',
  h: '`ms` / `h` (`d` in distribution mode)',
};

function prometheusTable(detailed: boolean): string {
  return table(
    [detailed ? 'name' : 'name (default `otel` preset)', 'type', 'labels', 'what'],
    metricsOf('prometheus', detailed).map((k) => {
      const m = prometheusOf(k);
      return [code(m.names.otel), m.type, names(m.labels.otel), m.doc];
    }),
  );
}

function legacyTable(): string {
  const renamed = metricsOf('prometheus').filter(
    (k) =>
      prometheusOf(k).names.otel !== prometheusOf(k).names.legacy ||
      prometheusOf(k).names.otel !== prometheusOf(k).names.airflow,
  );
  const spelled = (k: MetricKey, preset: PrometheusPreset) => {
    const m = prometheusOf(k);
    const labels = m.labels[preset].filter((n) => !n.startsWith('('));
    return code(`${m.names[preset]}{${labels.join(',')}}`);
  };
  return table(
    ['`otel` (default)', '`legacy`', '`airflow`'],
    renamed.map((k) => [spelled(k, 'otel'), spelled(k, 'legacy'), spelled(k, 'airflow')]),
  );
}

function statsdTable(detailed: boolean): string {
  return table(
    ['metric', 'type (StatsD / DogStatsD)', 'dimensions', 'what'],
    metricsOf('statsd', detailed).map((k) => {
      const m = statsdOf(k);
      return [code(`api.${m.suffix}`), STATSD_TYPE[m.type], names(m.tags), m.doc];
    }),
  );
}

function otelTable(detailed: boolean): string {
  return table(
    ['metric', 'kind', 'unit', 'attributes', 'what'],
    metricsOf('otel', detailed).map((k) => {
      const m = otelOf(k);
      const name = m.prefixed ? `<otel_prefix>.${m.name}` : m.name;
      return [code(name), m.kind, code(m.unit), names(['http.route', 'http.request.method', ...m.attributes]), m.doc];
    }),
  );
}

/** Every generated table by marker name, per doc. */
export const CATALOGUE_TABLES: Record<string, Record<string, () => string>> = {
  'prometheus.md': {
    prometheus: () => prometheusTable(false),
    'prometheus-detailed': () => prometheusTable(true),
    'prometheus-legacy': legacyTable,
  },
  'exporters.md': {
    statsd: () => statsdTable(false),
    'statsd-detailed': () => statsdTable(true),
    otel: () => otelTable(false),
    'otel-detailed': () => otelTable(true),
  },
};

/** Every catalogue metric appears in some generated table (guards a table left out above). */
export const CATALOGUED = Object.keys(CATALOGUE) as MetricKey[];

/** `text` with each marked table replaced by the catalogue's, formatted as `prettier --write` would. */
export async function withCatalogueTables(doc: string, text: string): Promise<string> {
  let out = text;
  for (const [name, render] of Object.entries(CATALOGUE_TABLES[doc])) {
    const start = `<!-- catalogue:${name}:start -->`;
    const end = `<!-- catalogue:${name}:end -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`docs/${doc}: markers ${start} … ${end} missing`);
    out = `${out.slice(0, a + start.length)}\n\n${render()}\n\n${out.slice(b)}`;
  }
  const options = (await resolveConfig(docPath(doc))) ?? {};
  return format(out, { ...options, parser: 'markdown' });
}

export const docPath = (doc: string): string => fileURLToPath(new URL(`../docs/${doc}`, import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const doc of Object.keys(CATALOGUE_TABLES)) {
    const path = docPath(doc);
    const before = readFileSync(path, 'utf8');
    const after = await withCatalogueTables(doc, before);
    if (after !== before) {
      writeFileSync(path, after);
      console.log(`docs/${doc}: tables rewritten`);
    }
  }
}
