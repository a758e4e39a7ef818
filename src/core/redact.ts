/** Query parameter names whose values are secrets: `api_key`, `access_token`, `X-Signature`, `sig`, … */
const SECRET_PARAM = /key|token|secret|passw|auth|signature|^sig$|credential/i;

/**
 * The URL with its credentials hidden, for logs and /health: userinfo becomes `***`
 * (`http://apikey:s3cret@host/` → `http://***@host/`) and so do the values of query parameters whose
 * names look secret (`?api_key=…`, `token`, `secret`, `password`, `auth`, `signature`, `sig`,
 * `credential`). Text that does not parse as a URL is returned with any `user:pass@` removed.
 *
 * @example
 * redactUrl('https://user:pw@collector:4318/v1/metrics?api_key=abc&x=1');
 * // 'https://***@collector:4318/v1/metrics?api_key=***&x=1'
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, '//***@');
  }
  let out = url;
  if (parsed.username !== '' || parsed.password !== '') out = out.replace(/\/\/[^/@]*@/, '//***@');
  const q = out.indexOf('?');
  if (q >= 0) {
    const hash = out.indexOf('#', q);
    const end = hash < 0 ? out.length : hash;
    const query = out
      .slice(q + 1, end)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 0) return pair;
        let name = pair.slice(0, eq);
        try {
          name = decodeURIComponent(name.replace(/\+/g, ' '));
        } catch {
          // keep the raw name
        }
        return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=***` : pair;
      })
      .join('&');
    out = `${out.slice(0, q + 1)}${query}${out.slice(end)}`;
  }
  return out;
}
