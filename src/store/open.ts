import type { ApimeterConfig } from '../core/config.js';
import { createError } from '../errors.js';
import { DEFAULT_SQLITE_PATH } from './sqlite.js';
import type { PostgresStoreOptions } from './postgres.js';
import type { SnapshotStore } from './store.js';

export type StoreTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string };

/** The URL with any password replaced, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/**
 * Which store `url` names, checked without connecting: `postgres://…` / `postgresql://…` (a valid URL),
 * `sqlite:PATH`, or empty for {@link DEFAULT_SQLITE_PATH}. Throws `APIMETER_ERR_STORE_URL` otherwise.
 */
export function parseStoreUrl(url: string): StoreTarget {
  if (url === '') return { kind: 'sqlite', path: DEFAULT_SQLITE_PATH };
  if (/^postgres(?:ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw createError('APIMETER_ERR_STORE_URL', `'${redact(url)}' is not a valid PostgreSQL URL`);
    }
    if (parsed.hostname === '' && !parsed.searchParams.has('host')) {
      throw createError('APIMETER_ERR_STORE_URL', `'${redact(url)}' names no host (postgres://user@host:5432/db)`);
    }
    return { kind: 'postgres', url };
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw createError('APIMETER_ERR_STORE_URL', `'sqlite:' names no file (sqlite:./data/apimeter.db)`);
    return { kind: 'sqlite', path };
  }
  throw createError(
    'APIMETER_ERR_STORE_URL',
    `'${redact(url)}': expected empty (SQLite at ${DEFAULT_SQLITE_PATH}), sqlite:PATH, postgres:// or postgresql://`,
  );
}

/** Opens the store `target` names, migrated. Only the driver used is loaded. */
export async function openTarget(
  target: StoreTarget,
  postgres: Omit<PostgresStoreOptions, 'url'> = {},
): Promise<SnapshotStore> {
  if (target.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore({ ...postgres, url: target.url });
  }
  const { openSqliteStore } = await import('./sqlite.js');
  return openSqliteStore(target.path);
}

/**
 * Opens the store `api_metrics_store_url` names, migrated: `postgres://…` / `postgresql://…`, `sqlite:PATH`,
 * or empty for the default SQLite file `./data/apimeter.db`. Only the driver used is loaded. A bad URL
 * rejects with `APIMETER_ERR_STORE_URL`, a driver that is not installed with `APIMETER_ERR_STORE_DRIVER`.
 */
export async function openStore(url: string): Promise<SnapshotStore> {
  return openTarget(parseStoreUrl(url));
}

/** {@link openStore} for a meter's configuration. */
export function openConfiguredStore(config: ApimeterConfig): Promise<SnapshotStore> {
  return openStore(config.apiMetricsStoreUrl);
}
