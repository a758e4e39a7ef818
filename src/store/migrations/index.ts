/**
 * Versioned schema changes, applied in order at start-up and recorded in `schema_migrations`. Never
 * edit a released migration: add the next version. `{schema}` is replaced by the table prefix
 * (`"name".` for a PostgreSQL schema, empty otherwise).
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api_metric_snapshots',
    sqlite: [
      `CREATE TABLE api_metric_snapshots (
        instance TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        bucket_start INTEGER NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        request_count INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        status_codes TEXT NOT NULL,
        avg_duration_ms REAL,
        p50_duration_ms REAL,
        p95_duration_ms REAL,
        p99_duration_ms REAL,
        min_duration_ms REAL,
        max_duration_ms REAL,
        request_bytes INTEGER NOT NULL,
        response_bytes INTEGER NOT NULL,
        request_bytes_max INTEGER NOT NULL,
        response_bytes_max INTEGER NOT NULL,
        tally TEXT NOT NULL,
        PRIMARY KEY (instance, method, endpoint, bucket_start, bucket_seconds)
      )`,
      'CREATE INDEX api_metric_snapshots_bucket ON api_metric_snapshots (bucket_start)',
    ],
    postgres: [
      `CREATE TABLE {schema}api_metric_snapshots (
        instance TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        bucket_start BIGINT NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        request_count BIGINT NOT NULL,
        error_count BIGINT NOT NULL,
        status_codes JSONB NOT NULL,
        avg_duration_ms DOUBLE PRECISION,
        p50_duration_ms DOUBLE PRECISION,
        p95_duration_ms DOUBLE PRECISION,
        p99_duration_ms DOUBLE PRECISION,
        min_duration_ms DOUBLE PRECISION,
        max_duration_ms DOUBLE PRECISION,
        request_bytes BIGINT NOT NULL,
        response_bytes BIGINT NOT NULL,
        request_bytes_max BIGINT NOT NULL,
        response_bytes_max BIGINT NOT NULL,
        tally JSONB NOT NULL,
        PRIMARY KEY (instance, method, endpoint, bucket_start, bucket_seconds)
      )`,
      'CREATE INDEX api_metric_snapshots_bucket ON {schema}api_metric_snapshots (bucket_start)',
    ],
  },
  {
    version: 2,
    name: 'api_metric_rollups',
    sqlite: [
      `CREATE TABLE api_metric_rollups (
        instance TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        bucket_start INTEGER NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        request_count INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        status_codes TEXT NOT NULL,
        avg_duration_ms REAL,
        p50_duration_ms REAL,
        p95_duration_ms REAL,
        p99_duration_ms REAL,
        min_duration_ms REAL,
        max_duration_ms REAL,
        request_bytes INTEGER NOT NULL,
        response_bytes INTEGER NOT NULL,
        request_bytes_max INTEGER NOT NULL,
        response_bytes_max INTEGER NOT NULL,
        tally TEXT NOT NULL,
        PRIMARY KEY (instance, method, endpoint, bucket_start, bucket_seconds)
      )`,
      'CREATE INDEX api_metric_rollups_bucket ON api_metric_rollups (bucket_seconds, bucket_start)',
      'CREATE TABLE api_metric_rollup_state (bucket_seconds INTEGER PRIMARY KEY, done_until INTEGER NOT NULL)',
      'INSERT INTO api_metric_rollup_state (bucket_seconds, done_until) VALUES (3600, 0), (86400, 0)',
    ],
    postgres: [
      `CREATE TABLE {schema}api_metric_rollups (
        instance TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        bucket_start BIGINT NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        request_count BIGINT NOT NULL,
        error_count BIGINT NOT NULL,
        status_codes JSONB NOT NULL,
        avg_duration_ms DOUBLE PRECISION,
        p50_duration_ms DOUBLE PRECISION,
        p95_duration_ms DOUBLE PRECISION,
        p99_duration_ms DOUBLE PRECISION,
        min_duration_ms DOUBLE PRECISION,
        max_duration_ms DOUBLE PRECISION,
        request_bytes BIGINT NOT NULL,
        response_bytes BIGINT NOT NULL,
        request_bytes_max BIGINT NOT NULL,
        response_bytes_max BIGINT NOT NULL,
        tally JSONB NOT NULL,
        PRIMARY KEY (instance, method, endpoint, bucket_start, bucket_seconds)
      )`,
      'CREATE INDEX api_metric_rollups_bucket ON {schema}api_metric_rollups (bucket_seconds, bucket_start)',
      'CREATE TABLE {schema}api_metric_rollup_state (bucket_seconds INTEGER PRIMARY KEY, done_until BIGINT NOT NULL)',
      'INSERT INTO {schema}api_metric_rollup_state (bucket_seconds, done_until) VALUES (3600, 0), (86400, 0)',
    ],
  },
  {
    // The tally in pack.ts's binary form (Tally.freeze) beside the JSON: merges read it without parsing
    // JSON. Rows written before this migration have it NULL and are read from `tally`.
    version: 3,
    name: 'tally_packed',
    sqlite: [
      'ALTER TABLE api_metric_snapshots ADD COLUMN tally_packed BLOB',
      'ALTER TABLE api_metric_rollups ADD COLUMN tally_packed BLOB',
    ],
    postgres: [
      'ALTER TABLE {schema}api_metric_snapshots ADD COLUMN tally_packed BYTEA',
      'ALTER TABLE {schema}api_metric_rollups ADD COLUMN tally_packed BYTEA',
    ],
  },
  {
    // The alert evaluator's instances (src/alerts/state-store.ts storeAlertState), one row per key.
    version: 4,
    name: 'apimeter_alert_state',
    sqlite: [
      'CREATE TABLE apimeter_alert_state (state_key TEXT PRIMARY KEY, saved_at INTEGER NOT NULL, state TEXT NOT NULL)',
    ],
    postgres: [
      'CREATE TABLE {schema}apimeter_alert_state (state_key TEXT PRIMARY KEY, saved_at BIGINT NOT NULL, state TEXT NOT NULL)',
    ],
  },
  {
    // The live tier of the fleet view (src/fleet/): PostgreSQL only, a fleet shares one database.
    version: 5,
    name: 'api_metric_live',
    sqlite: [],
    postgres: [
      `CREATE TABLE {schema}api_metric_live (
        instance TEXT NOT NULL,
        bucket_start BIGINT NOT NULL,
        method TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        bucket_ms INTEGER NOT NULL,
        seq BIGINT NOT NULL,
        request_count BIGINT NOT NULL,
        tally TEXT NOT NULL,
        PRIMARY KEY (instance, bucket_start, method, endpoint)
      )`,
      'CREATE INDEX api_metric_live_seq ON {schema}api_metric_live (instance, seq)',
      'CREATE INDEX api_metric_live_bucket ON {schema}api_metric_live (bucket_start)',
      `CREATE TABLE {schema}api_metric_instances (
        instance TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        role TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        interval_ms INTEGER NOT NULL,
        seq BIGINT NOT NULL,
        last_write_at BIGINT NOT NULL,
        complete_until BIGINT NOT NULL,
        durable_until BIGINT NOT NULL,
        stopped_at BIGINT,
        dropped BIGINT NOT NULL
      )`,
    ],
  },
  {
    // Per-consumer rows per snapshot interval (src/store/consumer-rows.ts): the top K consumers of the
    // interval and `other` for the rest. A consumer's totals row has method and endpoint '' and carries
    // errors_5xx and the latency sketch (JSON, CONSUMER_LATENCY_SKETCH); its per-endpoint rows carry
    // requests and errors only (latency NULL).
    version: 6,
    name: 'api_metric_consumers',
    sqlite: [
      `CREATE TABLE api_metric_consumers (
        instance TEXT NOT NULL,
        bucket_start INTEGER NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        consumer TEXT NOT NULL,
        method TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        errors_5xx INTEGER NOT NULL,
        latency TEXT,
        PRIMARY KEY (instance, bucket_start, consumer, method, endpoint)
      )`,
      'CREATE INDEX api_metric_consumers_window ON api_metric_consumers (bucket_start, consumer)',
    ],
    postgres: [
      `CREATE TABLE {schema}api_metric_consumers (
        instance TEXT NOT NULL,
        bucket_start BIGINT NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        consumer TEXT NOT NULL,
        method TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        errors_5xx BIGINT NOT NULL,
        latency TEXT,
        PRIMARY KEY (instance, bucket_start, consumer, method, endpoint)
      )`,
      'CREATE INDEX api_metric_consumers_window ON {schema}api_metric_consumers (bucket_start, consumer)',
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
