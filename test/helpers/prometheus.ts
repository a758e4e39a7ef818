import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** OpenMetrics exemplar (` # {labels} value [timestamp]`), if the line has one. */
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

export interface Family {
  name: string;
  type: string;
  help: string;
  unit?: string;
  samples: Sample[];
}

const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count'],
};

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

const NUMBER = /^(?:[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+)|\+Inf|-Inf|NaN)$/i;
const toNumber = (v: string) => (v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v));

/** `{a="x",b="y"}` at the start of `rest` → the labels (values unescaped) and the text after the brace. */
function parseLabels(rest: string, line: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  while (rest[i] !== '}') {
    const eq = rest.indexOf('=', i);
    const key = rest.slice(i, eq);
    assert.match(key, /^[a-zA-Z_][a-zA-Z0-9_]*$/, `label name in ${line}`);
    assert.equal(rest[eq + 1], '"', `label value quoted in ${line}`);
    let j = eq + 2;
    let raw = '';
    while (rest[j] !== '"') {
      if (rest[j] === '\\') {
        raw += rest.slice(j, j + 2);
        j += 2;
      } else raw += rest[j++];
      assert.ok(j < rest.length, `unterminated label value in ${line}`);
    }
    labels[key] = unescape(raw);
    i = j + 1;
    if (rest[i] === ',') i++;
  }
  return [labels, rest.slice(i + 1)];
}

/** `name{a="x",b="y"} value [# {exemplar labels} value [timestamp]]` → a sample. An independent reading of the format. */
function parseSample(line: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
  assert.ok(m, `not a sample line: ${line}`);
  const [, name, rest0] = m;
  let labels: Record<string, string> = {};
  let rest = rest0;
  if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, line);
  let exemplar: Sample['exemplar'];
  const hash = rest.indexOf(' # ');
  if (hash !== -1) {
    const [exLabels, after] = parseLabels(rest.slice(hash + 3), line);
    assert.ok(after.startsWith(' '), `exemplar value in ${line}`);
    const [v, ts, ...extra] = after.slice(1).split(' ');
    assert.equal(extra.length, 0, `exemplar in ${line}`);
    assert.match(v, NUMBER, `exemplar value in ${line}`);
    if (ts !== undefined) assert.match(ts, NUMBER, `exemplar timestamp in ${line}`);
    const chars = Object.entries(exLabels).reduce((n, [k, val]) => n + [...k].length + [...val].length, 0);
    assert.ok(chars <= 128, `exemplar labels over 128 characters in ${line}`);
    exemplar = { labels: exLabels, value: toNumber(v), ...(ts === undefined ? {} : { timestamp: Number(ts) }) };
    rest = rest.slice(0, hash);
  }
  const value = rest.trim();
  assert.match(value, NUMBER, `value in ${line}`);
  return { name, labels, value: toNumber(value), ...(exemplar === undefined ? {} : { exemplar }) };
}

/**
 * Parses an exposition and checks its structure: HELP and TYPE (and UNIT for OpenMetrics) come once per
 * family, before its samples; every sample belongs to the family announced last (no interleaving);
 * text ends with a line feed, OpenMetrics with `# EOF`.
 */
export function parseExposition(text: string, format: 'text' | 'openmetrics'): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  const lines = text.slice(0, -1).split('\n');
  if (format === 'openmetrics') assert.equal(lines.pop(), '# EOF');
  const families = new Map<string, Family>();
  let current: Family | undefined;
  let pending: Partial<Family> = {};
  for (const line of lines) {
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      assert.ok(!families.has(name), `family ${name} declared twice (interleaved?)`);
      if (pending.name !== undefined && pending.name !== name)
        assert.fail(`metadata of ${pending.name} without samples`);
      pending.name = name;
      if (kind === 'HELP') pending.help = unescape(rest);
      else if (kind === 'TYPE') pending.type = rest;
      else pending.unit = rest;
      if (
        pending.help !== undefined &&
        pending.type !== undefined &&
        (format === 'text' || line.startsWith('# HELP'))
      ) {
        current = { name, type: pending.type, help: pending.help, unit: pending.unit, samples: [] };
        families.set(name, current);
        pending = {};
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const sample = parseSample(line);
    assert.ok(current, `sample before any family: ${line}`);
    if (sample.exemplar !== undefined) {
      assert.equal(format, 'openmetrics', `exemplars exist in OpenMetrics only: ${line}`);
      assert.ok(/_(bucket|total)$/.test(sample.name), `exemplar on a ${sample.name} line`);
    }
    const ok = SUFFIXES[current.type].some((s) =>
      format === 'text' && current!.type === 'counter'
        ? sample.name === current!.name
        : sample.name === current!.name + s,
    );
    assert.ok(ok, `${sample.name} is not part of family ${current.name} (${current.type})`);
    current.samples.push(sample);
  }
  return families;
}

/** Labels without `le`, as a key. */
export const seriesKey = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le'));

/**
 * The value of `<name><sample>` per series of a family (for `_bucket`, its `+Inf` bucket), keyed by the
 * series' labels in their written order with `le` left out, sorted: `{ 'method=GET,status_code=200': 3 }`.
 */
export function seriesValues(f: Family, name: string, sample: string): Record<string, number> {
  return Object.fromEntries(
    f.samples
      .filter((s) => s.name === `${name}${sample}` && (sample !== '_bucket' || s.labels.le === '+Inf'))
      .map((s) => [
        Object.entries(s.labels)
          .filter(([k]) => k !== 'le')
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
        s.value,
      ])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
