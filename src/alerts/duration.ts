/** Durations as Prometheus writes them: `30s`, `5m`, `1h30m`, `7d`, `2w` (units ms, s, m, h, d, w). */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** Milliseconds of a duration string, or NaN when it is not one (`-5m`, `5`, `1.5h`, `` are not). */
export function parseDuration(text: string): number {
  if (!DURATION.test(text)) return NaN;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(PART)) ms += Number(n) * UNITS[unit];
  return ms;
}

/** The shortest Prometheus-style spelling of `ms`: 300000 → `5m`, 5400000 → `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNITS[unit];
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
