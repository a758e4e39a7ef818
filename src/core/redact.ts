/**
 * Masking credentials in URLs before they are shown (banners, log lines, error messages). Pure: no
 * I/O, usable from the CLI, the proxy and the exporters alike.
 */

/** What a masked part reads as. */
export const REDACTED = '***';

// Names whose values are credentials, as words of the name (`api_key`, `accessToken`, `X-Amz-Signature`,
// `client_secret`, `sig`, `password`…), so that `monkey` or `keyword` are not taken for one.
const SECRET_WORD =
  /(?:^|_)(?:pass|passwd|password|pwd|passphrase|secret|token|key|apikey|sig|signature|auth|authorization|credential|credentials|session|sessionid|cookie|jwt|accesstoken|authtoken|privatekey)(?:_|$)/;

/** True when a query parameter (or header) of this name carries a credential. */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
  return SECRET_WORD.test(words);
}

/**
 * `url` as text with its credentials masked: the whole userinfo (user name and password) and the value of every query parameter
 * whose name looks like a credential. Text that does not parse as a URL is masked the same way by
 * pattern, so a malformed value in an error message does not leak either. Everything else is kept as
 * written (no normalisation), so the result still reads like the input.
 *
 * @example
 * redactUrl('http://admin:PW@10.0.0.5:8080/api?api_key=abc&page=2');
 * // 'http://***@10.0.0.5:8080/api?api_key=***&page=2'
 * redactUrl(new URL('https://tok@otel.example/v1/metrics')); // 'https://***@otel.example/v1/metrics'
 */
export function redactUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  return maskQuery(maskUserinfo(text));
}

/**
 * `//user:pass@` and `//user@` → `//***@`, anywhere in the text (it may be a message). The user name
 * goes too: it is often the credential itself (`https://TOKEN@host`, `http://apikey:…@`).
 */
function maskUserinfo(text: string): string {
  return text.replace(/(\/\/)([^/?#@\s]*)@/g, (_all, scheme: string, userinfo: string) =>
    userinfo === '' ? `${scheme}@` : `${scheme}${REDACTED}@`,
  );
}

function maskQuery(text: string): string {
  const q = text.indexOf('?');
  if (q === -1) return text;
  const hash = text.indexOf('#', q);
  const end = hash === -1 ? text.length : hash;
  const query = text
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      return isSecretName(name) && eq < pair.length - 1 ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join('&');
  return text.slice(0, q + 1) + query + text.slice(end);
}
