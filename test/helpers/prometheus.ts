import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
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

/** `name{a="x",b="y"} value` → a sample; label values unescaped. An independent reading of the format. */
function parseSample(line: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
  assert.ok(m, `not a sample line: ${line}`);
  const [, name, rest0] = m;
  let rest = rest0;
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
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
    rest = rest.slice(i + 1);
  }
  const value = rest.trim();
  assert.match(value, /^(?:[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+)|\+Inf|-Inf|NaN)$/i, `value in ${line}`);
  return { name, labels, value: value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value) };
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
