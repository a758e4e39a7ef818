/**
 * Database queries per request (detailed mode, `metrics_detailed`): wrappers for `pg` and
 * better-sqlite3 that count each request's queries and their time, and {@link noteQuery} for any
 * other driver. Neither driver is loaded by this module: each is only typed against.
 */
export { instrumentPg } from './pg.js';
export type { PgTarget } from './pg.js';
export { instrumentSqlite } from './sqlite.js';
export { noteQuery } from '../core/detail.js';
