/** Query parameter names whose values are treated as secrets (matched anywhere in the name, any case). */
const SECRET_PARAM = /token|secret|key|pass|pwd|auth|sig|credential|session|code/i;
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i;

/**
 * The URL with its userinfo and the values of secret-looking query parameters replaced by `***`, for
 * messages, log lines and health fields. Works on text that is not a valid URL too (it never throws),
 * and leaves everything else as written. Secrets in the path (a Slack webhook's) are not recognised:
 * callers that know of one hide the path themselves.
 *
 * @example
 * redactUrl('https://user:pw@example.com/hook?token=abc&x=1'); // 'https://***@example.com/hook?token=***&x=1'
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? '' : url.slice(hash);
  const query = beforeHash.indexOf('?');
  const base = (query === -1 ? beforeHash : beforeHash.slice(0, query)).replace(USERINFO, '$1***@');
  if (query === -1) return base + fragment;
  const params = beforeHash
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      return SECRET_PARAM.test(decodeName(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=***` : pair;
    });
  return `${base}?${params.join('&')}${fragment}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
