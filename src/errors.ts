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
  /** attachOtelProducer() was given an OpenTelemetry MetricReader it cannot add a producer to. */
  APIMETER_ERR_OTEL_READER: 'metric reader cannot take a producer',
  /** An alert rules file is invalid; `problems` has one line per field (rule, field, value, what is expected). */
  APIMETER_ERR_ALERT_RULES_INVALID: 'invalid alert rules',
  /** The alert rules file could not be read or is not YAML. */
  APIMETER_ERR_ALERT_RULES_FILE: 'alert rules file unreadable',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function createError(code: ErrorCode, detail: string, problems: readonly string[] = []): ApimeterError {
  return new ApimeterError(code, `${code}: ${detail}`, problems);
}
