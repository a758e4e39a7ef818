import { createError } from '../errors.js';
import type { ApimeterError } from '../errors.js';

/** The packages apimeter's OpenTelemetry exporter loads (optional peer dependencies). */
export const OTEL_PACKAGES = [
  '@opentelemetry/api',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-metrics-otlp-http',
] as const;

/**
 * When `error` is Node failing to find one of `packages` (ERR_MODULE_NOT_FOUND / MODULE_NOT_FOUND), an
 * APIMETER_ERR_MISSING_DEPENDENCY naming what `feature` needs and the `npm install` line; else null.
 */
export function missingDependency(error: unknown, feature: string, packages: readonly string[]): ApimeterError | null {
  const e = error as NodeJS.ErrnoException | null;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return null;
  const message = String(e.message);
  const missing = packages.filter((p) => message.includes(`'${p}'`) || message.includes(`"${p}"`));
  if (missing.length === 0 && !packages.some((p) => message.includes(p))) return null;
  const named = missing.length > 0 ? missing.join(', ') : packages.join(', ');
  const coded = createError(
    'APIMETER_ERR_MISSING_DEPENDENCY',
    `${feature} needs ${packages.join(', ')} (not found: ${named}). Install them: npm install ${packages.join(' ')}`,
  );
  coded.cause = error;
  return coded;
}
