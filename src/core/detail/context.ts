import type * as AsyncHooks from 'node:async_hooks';
import { nodeBuiltin } from '../runtime.js';

/**
 * Detailed mode (`metrics_detailed`): adapters open a {@link RequestContext} per request and run the
 * rest of the request inside it (AsyncLocalStorage), so database wrappers and the application can add
 * to it from anywhere without being handed the request. With detailed mode off none of this runs.
 */

/** Reads one request or response header (lower-case name); adapters wrap their framework's headers. */
export type HeaderReader = (name: string) => string | string[] | number | null | undefined;

/** Per-request state of detailed mode. Never holds a credential: only which kind was presented. */
export class RequestContext {
  /** Index into AUTH_TYPES of the credentials presented; -1 when none. */
  authType = -1;
  /** Outcome reported by the application: 1 success, 0 failure, -1 not reported (inferred from status). */
  authSuccess = -1;
  queries = 0;
  dbMs = 0;
  /** Rate-limit quota reported by the application or read from the response headers; -1 unknown. */
  rateLimit = -1;
  rateRemaining = -1;
  /** The application reported this request as rate-limited (whatever its status). */
  rateLimited = false;
  traceId: string | undefined = undefined;
  spanId: string | undefined = undefined;
}

/** What adapters and database wrappers use of the context store: AsyncLocalStorage's run and getStore. */
export type ContextStore<T> = Pick<AsyncHooks.AsyncLocalStorage<T>, 'run' | 'getStore'>;

/**
 * The stand-in where the runtime has no AsyncLocalStorage: the context is the current one only
 * while `fn` runs synchronously (what runs after an await is not attributed to the request).
 */
class SyncContextStore<T> {
  private current: T | undefined = undefined;
  run<R>(store: T, fn: (...args: unknown[]) => R, ...args: unknown[]): R {
    const previous = this.current;
    this.current = store;
    try {
      return fn(...args);
    } finally {
      this.current = previous;
    }
  }
  getStore(): T | undefined {
    return this.current;
  }
}

// Reached through the runtime (runtime.ts), not a static import, so that the core loads where
// node:async_hooks does not exist; workerd exposes AsyncLocalStorage as a global.
const AsyncLocalStorageClass =
  nodeBuiltin<typeof AsyncHooks>('node:async_hooks')?.AsyncLocalStorage ??
  (globalThis as { AsyncLocalStorage?: typeof AsyncHooks.AsyncLocalStorage }).AsyncLocalStorage;

/** The context of the request being served, if any; shared by every meter in the process. */
export const requestContext: ContextStore<RequestContext> =
  AsyncLocalStorageClass !== undefined
    ? new AsyncLocalStorageClass<RequestContext>()
    : new SyncContextStore<RequestContext>();

/** The current request's context, or undefined outside a request or with detailed mode off. */
export function currentContext(): RequestContext | undefined {
  return requestContext.getStore();
}

/** Adds one database query of `ms` to the current request (no-op outside one). For database wrappers. */
export function noteQuery(ms: number): void {
  const ctx = requestContext.getStore();
  if (ctx !== undefined) {
    ctx.queries++;
    if (ms > 0) ctx.dbMs += ms;
  }
}
