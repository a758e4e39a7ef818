/**
 * The SQLite store's worker thread: owns the better-sqlite3 connection and answers the main thread's
 * calls one at a time, in order. Every synchronous SQLite call (writes, reads, rollups, deletes) runs
 * here, so none of them stalls the application's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteEngine } from './sqlite-engine.js';

export interface WorkerCall {
  id: number;
  op: string;
  args: unknown[];
}

export type WorkerReply =
  { id: number; value: unknown } | { id: number; error: { message: string; name: string; code?: string } };

const port = parentPort!;
const { path } = workerData as { path: string };

function reply(id: number, fn: () => unknown): void {
  let message: WorkerReply;
  try {
    message = { id, value: fn() };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    message = { id, error: { message: e.message, name: e.name, code: (e as { code?: string }).code } };
  }
  port.postMessage(message);
}

/** The calls the main thread may make (SqliteEngine's public methods). */
const OPS = new Set([
  'migrate',
  'write',
  'readRows',
  'mergeRows',
  'newestBucketEnd',
  'watermarks',
  'firstSource',
  'step',
  'count',
  'deleteChunk',
  'readConsumers',
  'readAlertState',
  'writeAlertState',
  'close',
]);

let engine: SqliteEngine | undefined;
// id 0 answers the opening (and migration) of the database.
reply(0, () => {
  engine = new SqliteEngine(new Database(path));
  return null;
});

port.on('message', ({ id, op, args }: WorkerCall) => {
  reply(id, () => {
    if (engine === undefined) throw new Error('the SQLite store failed to open');
    if (!OPS.has(op)) throw new Error(`unknown SQLite store call ${op}`);
    const fn = (engine as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
    return fn.apply(engine, args);
  });
  // After the answer is posted: the worker ends once its port is closed.
  if (op === 'close') port.close();
});
