/**
 * Every coded error apimeter throws. Codes are stable; docs/errors.md lists each one (a test checks).
 */
export class ApimeterError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly string[];

  constructor(code: ErrorCode, message: string, problems: readonly string[] = []) {
    super(message);
    this.name = 'ApimeterError';
    this.code = code;
    this.problems = problems;
  }
}

export const ERROR_CODES = {
  /** One or more configuration values are invalid; `problems` has one line per value. */
  APIMETER_ERR_CONFIG_INVALID: 'invalid configuration',
  /** The INI file could not be read or parsed. */
  APIMETER_ERR_CONFIG_FILE: 'configuration file unreadable',
  /** Two sketches of different layouts were merged or deserialised into each other. */
  APIMETER_ERR_SKETCH_LAYOUT: 'sketch layout mismatch',
  /** An OpenAPI path item's `$ref` cannot be followed (another document not read, a pointer at nothing). */
  APIMETER_ERR_OPENAPI_REF: 'OpenAPI reference unresolvable',
  /** The Fastify plugin was registered a second time in one scope, with a different meter. */
  APIMETER_ERR_FASTIFY_REGISTERED: 'Fastify plugin registered twice',
  /** attachOtelProducer() was given an OpenTelemetry MetricReader it cannot add a producer to. */
  APIMETER_ERR_OTEL_READER: 'metric reader cannot take a producer',
  /** The `notifiers:` section of the alert configuration is invalid; `problems` has one line per mistake. */
  APIMETER_ERR_NOTIFIER_INVALID: 'invalid notifier configuration',
  /** A store URL that is malformed or names an unknown scheme. */
  APIMETER_ERR_STORE_URL: 'invalid store URL',
  /** The store's database driver (`better-sqlite3`, `pg`) is not installed. */
  APIMETER_ERR_STORE_DRIVER: 'store driver not installed',
  /** The SQLite database file or its directory cannot be created, opened or written. */
  APIMETER_ERR_STORE_OPEN: 'store cannot be opened',
  /** The disk holding the SQLite database is full. */
  APIMETER_ERR_STORE_FULL: 'store disk full',
  /** A store call made while the store is not (yet) connected. */
  APIMETER_ERR_STORE_UNAVAILABLE: 'store not connected',
  /** An optional package a feature needs is not installed; the message names it and the `npm install` line. */
  APIMETER_ERR_MISSING_DEPENDENCY: 'optional dependency not installed',
  /** An alert rules file is invalid; `problems` has one line per field (rule, field, value, what is expected). */
  APIMETER_ERR_ALERT_RULES_INVALID: 'invalid alert rules',
  /** The alert rules file could not be read or is not YAML. */
  APIMETER_ERR_ALERT_RULES_FILE: 'alert rules file unreadable',
  /** `apimeter export` cannot write its output: an unwritable path, or existing files without `--force`. */
  APIMETER_ERR_EXPORT_OUTPUT: 'export output not writable',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function createError(code: ErrorCode, detail: string, problems: readonly string[] = []): ApimeterError {
  return new ApimeterError(code, `${code}: ${detail}`, problems);
}
