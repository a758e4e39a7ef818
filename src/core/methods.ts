/** HTTP methods kept as themselves (OpenTelemetry's list); every other method becomes `_OTHER`. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

export const OTHER_METHOD = '_OTHER';

/**
 * The known methods of OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (a comma-separated, case-sensitive list
 * that replaces the default one, as the HTTP semantic conventions define it), or null when the variable
 * is unset or lists nothing.
 */
export function knownMethodsFrom(value: string | undefined): ReadonlySet<string> | null {
  if (value === undefined) return null;
  const methods = value
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '' && m.length <= 64);
  return methods.length > 0 ? new Set(methods) : null;
}

/**
 * Bounded set of method labels: a client sending `FOO` or 10 kB of letters cannot add series. With
 * `known` (OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS) exactly those methods, case-sensitive, are kept.
 */
export function normalizeMethod(method: string | undefined, known: ReadonlySet<string> | null = null): string {
  if (method === undefined) return OTHER_METHOD;
  if (known !== null) return known.has(method) ? method : OTHER_METHOD;
  if (KNOWN_METHODS.has(method)) return method;
  if (method.length <= 7) {
    const upper = method.toUpperCase();
    if (KNOWN_METHODS.has(upper)) return upper;
  }
  return OTHER_METHOD;
}
