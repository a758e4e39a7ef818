/** Exception messages and stacks as detailed mode keeps them: variable parts and secrets removed. */

/** Characters of a raw message looked at, and of a normalized message kept. */
const MESSAGE_SCAN = 1000;
export const MESSAGE_KEEP = 160;

// `password=…`, `token: …`, `Bearer …`: the value after a credential's name, whatever its length.
const CREDENTIAL =
  /\b(pass(?:word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|auth(?:orization)?|cookie|session(?:id)?|sid)(\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;]+)|\b(bearer|basic)(\s+)([^\s,;]+)/gi;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/g;
const QUOTED = /'[^']*'|"[^"]*"|`[^`]*`/g;
// Long runs of letters and digits mixing both (tokens, hashes, keys): likely ids or secrets.
const TOKEN = /\b(?=[A-Za-z0-9_\-+/=]*\d)(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{16,}/g;
const HEX = /\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b/gi;
const NUMBER = /(?<![A-Za-z])[-+]?\d+([.,:]\d+)*/g;
// Control characters, replacement characters and lone surrogates: binary junk in a message.
const JUNK =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * An exception message with its variable parts replaced, so that messages differing only by ids group
 * together and no id, token, address or quoted value is kept: `Dag 'etl_42' run 17 not found` →
 * `Dag '?' run <n> not found`. Bounded work (the first 1,000 characters) and length (160).
 */
export function normalizeMessage(message: unknown): string {
  let s = typeof message === 'string' ? message : typeof message === 'number' ? String(message) : '';
  if (s.length > MESSAGE_SCAN) s = s.slice(0, MESSAGE_SCAN);
  s = s
    .replace(JUNK, '?')
    .replace(CREDENTIAL, (_m, k1?: string, s1?: string, _v1?: string, k2?: string, s2?: string) =>
      k1 !== undefined ? `${k1}${s1}<redacted>` : `${k2}${s2}<redacted>`,
    )
    .replace(UUID, '<uuid>')
    .replace(EMAIL, '<email>')
    .replace(QUOTED, (q) => q[0] + '?' + q[0])
    .replace(TOKEN, '<token>')
    .replace(HEX, '<hex>')
    .replace(NUMBER, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > MESSAGE_KEEP ? s.slice(0, MESSAGE_KEEP - 1) + '…' : s;
}

/**
 * `metrics_error_messages = full`: a message kept as written except for `key=value` credentials
 * (`password=…`, `Bearer …`), control characters and lone surrogates, with the same bounds as
 * {@link normalizeMessage} (the first 1,000 characters looked at, 160 kept). Ids stay, so messages
 * group less: detailed mode folds distinct messages past its cap into `(other)`.
 */
export function cleanMessage(message: unknown): string {
  let s = typeof message === 'string' ? message : typeof message === 'number' ? String(message) : '';
  if (s.length > MESSAGE_SCAN) s = s.slice(0, MESSAGE_SCAN);
  s = s
    .replace(JUNK, '?')
    .replace(CREDENTIAL, (_m, k1?: string, s1?: string, _v1?: string, k2?: string, s2?: string) =>
      k1 !== undefined ? `${k1}${s1}<redacted>` : `${k2}${s2}<redacted>`,
    )
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > MESSAGE_KEEP ? s.slice(0, MESSAGE_KEEP - 1) + '…' : s;
}

/** Stack frames kept per sample, and characters per frame. */
const STACK_FRAMES = 12;
const FRAME_CHARS = 300;

/**
 * The frames of a stack trace (`at f (file:line:col)` lines), without its first line: that line
 * repeats the message, which may hold ids or secrets; the normalized message is kept apart.
 */
export function stackFrames(error: unknown): string[] {
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (typeof stack !== 'string') return [];
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('at ')) continue;
    frames.push(t.length > FRAME_CHARS ? t.slice(0, FRAME_CHARS) : t.replace(JUNK, '?'));
    if (frames.length === STACK_FRAMES) break;
  }
  return frames;
}
