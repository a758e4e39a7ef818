/**
 * Endpoint globs over `METHOD /template`: `*` matches any run of characters (slashes included), `?`
 * one character; everything else is literal (`{dag_id}` included). A pattern that starts with `/`
 * matches every method: `/api/v2/dags/*` is `* /api/v2/dags/*`.
 *
 * @example
 * globMatcher('* /api/v2/dags/*')('GET /api/v2/dags/{dag_id}'); // true
 */
export function globMatcher(pattern: string): (endpoint: string) => boolean {
  const full = pattern.startsWith('/') ? `* ${pattern}` : pattern;
  let source = '';
  for (const ch of full) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 's');
  return (endpoint) => re.test(endpoint);
}

/** One matcher for a list of globs (any of them). */
export function globsMatcher(patterns: readonly string[]): (endpoint: string) => boolean {
  const matchers = patterns.map(globMatcher);
  return (endpoint) => matchers.some((m) => m(endpoint));
}
