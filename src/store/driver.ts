import { createError } from '../errors.js';
import type { ApimeterError } from '../errors.js';

/** The optional peer dependencies a store loads, with the major version apimeter is tested with. */
const DRIVERS = {
  'better-sqlite3': { major: 12, store: 'The SQLite store (the default history store)' },
  pg: { major: 8, store: 'The PostgreSQL store' },
} as const;

export type DriverName = keyof typeof DRIVERS;

/** The coded error for a driver that is not installed: names the package and the command that installs it. */
export function driverMissing(name: DriverName, cause?: unknown): ApimeterError {
  const d = DRIVERS[name];
  const error = createError(
    'APIMETER_ERR_STORE_DRIVER',
    `${d.store} needs the package '${name}', which is not installed. Install it with: npm install ${name}@${d.major}` +
      ` (or turn history off: [metrics] api_metrics_persistence = false)`,
  );
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** Whether `error` says that `name` itself (not something it imports) could not be found. */
export function isMissing(error: unknown, name: DriverName): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND') return false;
  return typeof e.message === 'string' && (e.message.includes(`'${name}'`) || e.message.includes(`"${name}"`));
}

/**
 * Checks that `name` resolves from apimeter's own location, without loading it (the SQLite store loads
 * its driver in a worker thread, where a failure would surface as a bare worker error).
 */
export function checkDriver(name: DriverName, resolve: (specifier: string) => string = import.meta.resolve): void {
  try {
    resolve(name);
  } catch (error) {
    throw isMissing(error, name) ? driverMissing(name, error) : error;
  }
}

/** `import(name)`, with a missing package turned into {@link driverMissing}. */
export async function importDriver<T>(name: DriverName, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw isMissing(error, name) ? driverMissing(name, error) : error;
  }
}
