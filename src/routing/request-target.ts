/** Request targets as received: validity checks and percent-decoding, shared by the matcher and the proxy. */

/**
 * Checks a request target before matching: it must be a path (`/…`), with valid percent-encoding and
 * no control characters once decoded. Returns null when fine, else a short reason.
 */
export function checkRequestPath(target: string): string | null {
  if (target.charCodeAt(0) !== 47) return 'the request target is not a path';
  let end = target.indexOf('?');
  if (end === -1) end = target.length;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === 37 /* % */) {
      if (!isHex(target.charCodeAt(i + 1)) || !isHex(target.charCodeAt(i + 2))) return 'malformed percent-encoding';
      i += 2;
    } else if (c < 0x21 || c === 0x7f) return 'control character in path';
  }
  if (target.includes('%')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(target.slice(0, end));
    } catch {
      return 'percent-encoding is not UTF-8';
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return 'encoded control character in path';
  }
  return null;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** decodeURIComponent, or the raw text when it is not valid percent-encoding (it then matches no literal). */
export function decodeSegment(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** `http://host/path?q` (absolute-form, as sent to forward proxies) → `/path?q`. */
export function originForm(target: string): string {
  if (target === '*') return target;
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return target;
  }
}
