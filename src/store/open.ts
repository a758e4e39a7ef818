import type { ApimeterConfig } from '../core/config.js';
import type { SnapshotStore } from './store.js';

/**
 * Opens the store `api_metrics_store_url` names, migrated: `postgres://…` / `postgresql://…`, `sqlite:PATH`,
 * or empty for the default SQLite file `./data/apimeter.db`. Only the driver used is loaded.
 */
export async function openStore(url: string): Promise<SnapshotStore> {
  if (/^postgres(?:ql)?:\/\//.test(url)) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore({ url });
  }
  const { openSqliteStore, DEFAULT_SQLITE_PATH } = await import('./sqlite.js');
  return openSqliteStore(url === '' ? DEFAULT_SQLITE_PATH : url.slice('sqlite:'.length));
}

/** {@link openStore} for a meter's configuration. */
export function openConfiguredStore(config: ApimeterConfig): Promise<SnapshotStore> {
  return openStore(config.apiMetricsStoreUrl);
}
