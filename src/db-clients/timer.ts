import type { RequestContext } from '../core/detail.js';

/** Adds the time since `start` (performance.now()) to a request's database time. */
export function addTime(ctx: RequestContext, start: number): void {
  const ms = performance.now() - start;
  if (ms > 0) ctx.dbMs += ms;
}

/**
 * Times one query that ends asynchronously (a pg query, a better-sqlite3 iteration): adds its time to
 * its request once, whichever way it ends first.
 */
export class QueryTimer {
  readonly start = performance.now();
  done = false;

  constructor(readonly ctx: RequestContext) {}

  end(): void {
    if (this.done) return;
    this.done = true;
    addTime(this.ctx, this.start);
  }
}
