import type BetterSqlite3 from 'better-sqlite3';
import { requestContext } from '../core/detail.js';
import { addTime, QueryTimer } from './timer.js';

type Database = BetterSqlite3.Database;
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Methods = Record<string, AnyFn>;

/** Statement methods that execute the statement; each call is one query. */
const EXECUTE = ['run', 'get', 'all'] as const;

const undo = new WeakMap<object, () => void>();

/**
 * Counts the statements `db` executes and their time in the current request's context (detailed
 * mode, `metrics_detailed`), reported per endpoint as queries and database time per request. Each call
 * of `run`, `get`, `all` or `iterate` on a statement from `db.prepare` is one query, and so is each
 * `db.exec` and `db.pragma`. better-sqlite3 is synchronous: a query's time is its call's duration;
 * for `iterate`, counted once, the time until the iterator is done or returned (loop body included). A
 * statement that throws counts too, with its time, and the error propagates unchanged.
 *
 * Instrument right after opening: statements prepared before are not counted. Statements keep
 * working as before (`pluck()`, `raw()`, `expand()`, `bind()` return the same statement, and
 * `db.transaction(fn)` counts the statements `fn` runs, not its BEGIN and COMMIT). Instrumenting the
 * same database twice changes nothing. Returns a function that removes the instrumentation.
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { instrumentSqlite } from 'apimeter/db';
 * const db = new Database('app.db');
 * instrumentSqlite(db);
 */
export function instrumentSqlite(db: Database): () => void {
  if (typeof db?.prepare !== 'function' || typeof db.exec !== 'function') {
    throw new TypeError('apimeter/db: instrumentSqlite() expects a better-sqlite3 Database');
  }
  const done = undo.get(db);
  if (done !== undefined) return done;
  const state = { active: true };
  const target = db as unknown as Methods;
  const orig = { prepare: target.prepare, exec: target.exec, pragma: target.pragma };
  // The statement methods, wrapped once per database on the first prepare and shared by its statements.
  let wrapped: Methods | undefined;

  const prepare = function prepare(this: unknown): unknown {
    // eslint-disable-next-line prefer-rest-params
    const stmt = Reflect.apply(orig.prepare, this, arguments) as Methods;
    if (!state.active) return stmt;
    const w = (wrapped ??= wrapStatementMethods(Object.getPrototypeOf(stmt) as Methods, state));
    // Assigned, not defined: plain stores are nearly free, where four defineProperty calls add up to
    // a fifth to a prepare (measured); the price is that the methods are enumerable own properties.
    stmt.run = w.run;
    stmt.get = w.get;
    stmt.all = w.all;
    stmt.iterate = w.iterate;
    return stmt;
  };
  define(target, 'prepare', prepare);
  const exec = timedCall(orig.exec, state);
  define(target, 'exec', exec);
  const pragma = typeof orig.pragma === 'function' ? timedCall(orig.pragma, state) : undefined;
  if (pragma !== undefined) define(target, 'pragma', pragma);

  const uninstrument = () => {
    if (undo.get(db) !== uninstrument) return;
    undo.delete(db);
    // Statements prepared meanwhile keep their (now inert) wrappers.
    state.active = false;
    for (const [name, fn] of [
      ['prepare', prepare],
      ['exec', exec],
      ['pragma', pragma],
    ] as const) {
      if (fn !== undefined && Object.prototype.hasOwnProperty.call(db, name) && target[name] === fn) {
        delete target[name];
      }
    }
  };
  undo.set(db, uninstrument);
  return uninstrument;
}

/** An own, non-enumerable method (as prototype methods are: the object logs as before). */
function define(obj: object, name: string, fn: AnyFn): void {
  Object.defineProperty(obj, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

function wrapStatementMethods(proto: Methods, state: { active: boolean }): Methods {
  const methods: Methods = {};
  for (const name of EXECUTE) methods[name] = timedCall(proto[name], state);
  methods.iterate = timedIterate(proto.iterate, state);
  return methods;
}

/** One query per call, timed by the call's duration. */
function timedCall(orig: AnyFn, state: { active: boolean }): AnyFn {
  return function timedCall(this: unknown): unknown {
    const ctx = requestContext.getStore();
    // eslint-disable-next-line prefer-rest-params
    if (ctx === undefined || !state.active) return Reflect.apply(orig, this, arguments);
    ctx.queries++;
    const start = performance.now();
    try {
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(orig, this, arguments);
    } finally {
      addTime(ctx, start);
    }
  };
}

/**
 * One query per `iterate()`, timed from the call until the iterator is done, throws or is returned
 * (`break` out of a for…of loop returns it): the loop body is in that time. An iterator left
 * unfinished counts without time.
 */
function timedIterate(orig: AnyFn, state: { active: boolean }): AnyFn {
  return function iterate(this: unknown): unknown {
    const ctx = requestContext.getStore();
    // eslint-disable-next-line prefer-rest-params
    if (ctx === undefined || !state.active) return Reflect.apply(orig, this, arguments);
    ctx.queries++;
    const timer = new QueryTimer(ctx);
    let it: Methods;
    try {
      // eslint-disable-next-line prefer-rest-params
      it = Reflect.apply(orig, this, arguments) as Methods;
    } catch (error) {
      timer.end();
      throw error;
    }
    // Own methods on the native iterator: the caller gets the very object better-sqlite3 made.
    // Assigned, not defined: defineProperty costs more per iterate() and an iterator is not enumerated.
    it.next = timedStep(it.next, timer, false);
    if (typeof it.return === 'function') it.return = timedStep(it.return, timer, true);
    return it;
  };
}

function timedStep(orig: AnyFn, timer: QueryTimer, last: boolean): AnyFn {
  return function step(this: unknown): unknown {
    let result: unknown;
    try {
      // eslint-disable-next-line prefer-rest-params
      result = Reflect.apply(orig, this, arguments);
    } catch (error) {
      timer.end();
      throw error;
    }
    if (last || (result as IteratorResult<unknown> | undefined)?.done === true) timer.end();
    return result;
  };
}
