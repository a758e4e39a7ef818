/** ISO 8601, or null for a missing or invalid date (toISOString would throw). */
export function iso(date: Date | undefined): string | null {
  return date === undefined || Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Up to 4 significant digits, no exponent for everyday magnitudes: 0.125 → "0.125", 1234.5 → "1235". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) >= 1e9 || Math.abs(value) < 1e-4)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}
