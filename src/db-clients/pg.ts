import type * as Pg from 'pg';
import { requestContext } from '../core/detail.js';
import type { RequestContext } from '../core/detail.js';
import { QueryTimer } from './timer.js';

/**
 * Query counting for node-postgres (`pg`). Queries are counted at one layer only, the client's
 * `query`: `pool.query` checks a client out and calls `client.query`, so it counts there, once, and
 * so do queries on clients from `pool.connect()`. The time of a query runs from `client.query` to its
 * result; waiting for a free pool connection is not in it.
 *
 * pg-pool hands a freed client to a waiting caller from inside the code that freed it, i.e. in the
 * async context of another request; instrumented pools therefore run `connect` callbacks (pool.query
 * uses one) in the context of their caller, so that a query counts for the request that made it.
 */

/** The `pg` module, as `import pg from 'pg'` or `import * as pg from 'pg'` gives it. */
interface PgModule {
  Client: typeof Pg.Client;
  Pool: typeof Pg.Pool;
}
/** What {@link instrumentPg} accepts: a Pool, a Client (or pool client), or the `pg` module itself. */
export type PgTarget = Pg.Pool | Pg.ClientBase | PgModule;

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

interface State {
  active: boolean;
}

/**
 * Depth of wrapped `query` calls on the stack. pg's `query` runs synchronously up to the point where
 * the query is queued, so a wrapped call made from inside another (a subclass's `query` calling
 * `super.query`, a client instrumented both itself and through its prototype) is the same query:
 * only the outermost call counts.
 */
let depth = 0;

const undo = new WeakMap<object, () => void>();

/**
 * Counts the queries of `target` and their time in the current request's context (detailed mode,
 * `metrics_detailed`), reported per endpoint as queries and database time per request. `target` is a
 * `pg.Pool`, a `pg.Client` (or a client from `pool.connect()`), or the `pg` module itself, which
 * instruments every client and pool made from it. Instrumenting the same target twice changes nothing.
 * Returns a function that removes the instrumentation.
 *
 * Every call form of `query` is counted: text, text and values, a config object, with or without a
 * callback, and Submittables (`pg.Query`, cursors, streams: counted when submitted, timed until their
 * callback or their `'end'` event; a Submittable that fails without a callback counts without time).
 * A failing query counts too, with its time, and its error reaches the caller unchanged. The promise
 * form returns a promise that settles like pg's own (same value or error, same Promise class), one
 * microtask later. Outside a request a call costs one AsyncLocalStorage lookup.
 *
 * @example
 * import pg from 'pg';
 * import { instrumentPg } from 'apimeter/db';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * instrumentPg(pool); // or instrumentPg(pg) for every pool and client
 */
export function instrumentPg(target: PgTarget): () => void {
  if (typeof target !== 'object' || target === null) throw notPg();
  const done = undo.get(target);
  if (done !== undefined) return done;
  let off: () => void;
  if (isModule(target)) off = instrumentModule(target);
  else if (isPool(target)) off = instrumentPool(target);
  else if (isClient(target)) off = instrumentClient(target, { active: true });
  else throw notPg();
  const uninstrument = () => {
    if (undo.get(target) !== uninstrument) return;
    undo.delete(target);
    off();
  };
  undo.set(target, uninstrument);
  return uninstrument;
}

const notPg = () => new TypeError('apimeter/db: instrumentPg() expects a pg Pool, a pg Client or the pg module');

function isModule(t: object): t is PgModule {
  return typeof (t as PgModule).Client === 'function' && typeof (t as PgModule).Pool === 'function';
}

function isPool(t: object): t is Pg.Pool {
  return typeof (t as Pg.Pool).connect === 'function' && 'waitingCount' in t;
}

function isClient(t: object): t is Pg.ClientBase {
  return typeof (t as Pg.ClientBase).query === 'function';
}

function instrumentModule(pg: PgModule): () => void {
  const state: State = { active: true };
  const offQuery = patch(pg.Client.prototype, 'query', state, (orig) => wrapQuery(orig, state));
  const offConnect = patch(pg.Pool.prototype, 'connect', state, (orig) => wrapConnect(orig, state));
  return () => {
    state.active = false;
    offQuery();
    offConnect();
  };
}

function instrumentPool(pool: Pg.Pool): () => void {
  const state: State = { active: true };
  const offConnect = patch(pool, 'connect', state, (orig) => wrapConnect(orig, state));
  // Every client the pool makes from now on ('connect' is emitted before the client is handed out),
  // and the ones it holds already.
  const onConnect = (client: Pg.PoolClient) => void instrumentClient(client, state);
  pool.on('connect', onConnect);
  const clients = (pool as unknown as { _clients?: unknown })._clients;
  if (Array.isArray(clients)) for (const c of clients as Pg.ClientBase[]) instrumentClient(c, state);
  return () => {
    state.active = false;
    pool.removeListener('connect', onConnect);
    offConnect();
    const now = (pool as unknown as { _clients?: unknown })._clients;
    if (Array.isArray(now)) for (const c of now as Pg.ClientBase[]) restore(c, 'query', state);
  };
}

function instrumentClient(client: Pg.ClientBase, state: State): () => void {
  const off = patch(client, 'query', state, (orig) => wrapQuery(orig, state));
  return () => {
    state.active = false;
    off();
  };
}

const WRAPPER = Symbol('apimeter.db.wrapper');
/** A wrapper knows the instrumentation (state) it belongs to. */
type Wrapper = AnyFn & { [WRAPPER]?: State };

/** Replaces `obj[key]` by a wrapper of the function it resolves to; the returned function undoes it. */
function patch(obj: object, key: string, state: State, wrap: (orig: AnyFn) => AnyFn): () => void {
  const target = obj as Record<string, unknown>;
  const orig = target[key];
  if (typeof orig !== 'function') throw new TypeError(`apimeter/db: ${key} is not a function`);
  const own = Object.getOwnPropertyDescriptor(obj, key);
  const wrapper: Wrapper = wrap(orig as AnyFn);
  wrapper[WRAPPER] = state;
  // Non-enumerable, as class methods are: an instrumented client logs and serializes as before.
  Object.defineProperty(obj, key, {
    value: wrapper,
    writable: true,
    configurable: true,
    enumerable: own?.enumerable ?? false,
  });
  return () => {
    // Left alone if someone wrapped it since: our wrapper, inert once its state is off, stays in their chain.
    if (!Object.prototype.hasOwnProperty.call(obj, key) || target[key] !== wrapper) return;
    if (own === undefined) delete target[key];
    else Object.defineProperty(obj, key, own);
  };
}

/** Removes an instance's own wrapper of `state` (a pool's client): the prototype's method shows again. */
function restore(obj: object, key: string, state: State): void {
  const target = obj as Record<string, Wrapper | undefined>;
  if (Object.prototype.hasOwnProperty.call(obj, key) && target[key]?.[WRAPPER] === state) delete target[key];
}

function wrapQuery(orig: AnyFn, state: State): AnyFn {
  return function query(this: unknown, config?: unknown, values?: unknown, callback?: unknown): unknown {
    const ctx = requestContext.getStore();
    // eslint-disable-next-line prefer-rest-params
    if (ctx === undefined || depth > 0 || !state.active) return Reflect.apply(orig, this, arguments);
    ctx.queries++;
    const timer = new QueryTimer(ctx);
    // eslint-disable-next-line prefer-rest-params
    let args: ArrayLike<unknown> = arguments;
    // The query ends in a callback when given one (pg then returns no promise): as an argument, or as
    // the config's `callback`, which pg uses when no argument is a function.
    let viaCallback = true;
    if (typeof values === 'function') args = [config, timed(timer, values as AnyFn)];
    else if (typeof callback === 'function') args = [config, values, timed(timer, callback as AnyFn)];
    else if (isQueryConfig(config) && typeof config.callback === 'function')
      args = [withCallback(config, timed(timer, config.callback as AnyFn)), values];
    else viaCallback = false;
    const submittable = isSubmittable(config);
    // A Submittable's own `callback` wins over one passed with it: its 'end' event times it then.
    if (submittable && typeof config.once === 'function') config.once('end', () => timer.end());
    let result: unknown;
    depth++;
    try {
      result = Reflect.apply(orig, this, args);
    } catch (error) {
      timer.end();
      throw error;
    } finally {
      depth--;
    }
    if (submittable || viaCallback) return result;
    if (isThenable(result)) {
      return result.then(
        (value) => {
          timer.end();
          return value;
        },
        (error: unknown) => {
          timer.end();
          throw error;
        },
      );
    }
    timer.end();
    return result;
  };
}

function wrapConnect(orig: AnyFn, state: State): AnyFn {
  return function connect(this: unknown, callback?: unknown): unknown {
    // eslint-disable-next-line prefer-rest-params
    if (typeof callback !== 'function' || !state.active) return Reflect.apply(orig, this, arguments);
    return orig.call(this, pinned(requestContext.getStore(), callback as AnyFn));
  };
}

/**
 * `callback` (pg-pool's `(err, client, release)`), run in the request context `ctx` — none when
 * undefined — wherever it is called from. `run(undefined)`, not `exit()`: on Node 20 `exit` disables
 * and re-enables the storage, which costs microseconds.
 */
function pinned(ctx: RequestContext | undefined, callback: AnyFn): AnyFn {
  return function pinned(this: unknown, err: unknown, client: unknown, release: unknown): unknown {
    if (requestContext.getStore() === ctx) return callback.call(this, err, client, release);
    return requestContext.run(ctx as RequestContext, () => callback.call(this, err, client, release));
  };
}

/** The query's callback, timed, and run in the request's context (pg calls it from its socket's). */
function timed(timer: QueryTimer, callback: AnyFn): AnyFn {
  return function queryCallback(this: unknown, ...args: unknown[]): unknown {
    timer.end();
    if (requestContext.getStore() === timer.ctx) return Reflect.apply(callback, this, args);
    return requestContext.run(timer.ctx, () => Reflect.apply(callback, this, args));
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** A config object (not a Submittable, which pg does not copy). */
function isQueryConfig(v: unknown): v is Record<string, unknown> {
  return isObject(v) && typeof v.submit !== 'function';
}

function isSubmittable(v: unknown): v is Pg.Submittable & { once?: (event: string, fn: () => void) => unknown } {
  return isObject(v) && typeof v.submit === 'function';
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return isObject(v) && typeof v.then === 'function';
}

/** A copy of a query config (same prototype, same properties) whose `callback` is `callback`. */
function withCallback(config: Record<string, unknown>, callback: AnyFn): object {
  const copy = Object.create(Object.getPrototypeOf(config) as object | null, Object.getOwnPropertyDescriptors(config));
  Object.defineProperty(copy, 'callback', { value: callback, writable: true, enumerable: true, configurable: true });
  return copy as object;
}
