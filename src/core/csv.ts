/**
 * CSV (RFC 4180: comma-separated, CRLF line ends, fields with a comma, quote or line break quoted and
 * their quotes doubled), with OWASP's guard against CSV (formula) injection on every text cell: a cell a
 * spreadsheet could run as a formula gets a leading `'`, which spreadsheets show as text and hide.
 * Guarded are cells that start with a control character (tab, CR, LF, NUL, …) and cells whose first
 * visible character is `=`, `+`, `-`, `@` or a look-alike some spreadsheets normalise to one (full-width
 * `＝＋－＠`, small-form `﹦﹢﹣`, `−` minus sign, heavy `➕➖`), after any leading whitespace or invisible
 * characters (spaces, no-break and ideographic spaces, zero-width characters, BOM), which spreadsheets
 * skip. Numbers are written as they are.
 */
const TRIGGERS = '=+\\-@\\uFF1D\\uFF0B\\uFF0D\\uFF20\\uFE66\\uFE62\\uFE63\\u2212\\u2795\\u2796';
const SKIPPED = '\\s\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u2060-\\u2064\\ufeff';
const FORMULA_START = new RegExp(`^(?:[\\u0000-\\u001f]|[${SKIPPED}]*[${TRIGGERS}])`, 'u');
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) lines.push(row.map(csvCell).join(','));
  return lines.join('\r\n') + '\r\n';
}

export const CSV_TYPE = 'text/csv; charset=utf-8; header=present';
