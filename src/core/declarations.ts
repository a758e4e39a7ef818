/**
 * The inventory's source of truth: every operation the application declares (a Fastify route, an
 * Express or Hono route, an OpenAPI document's operation, a route-table entry), whether or not it was
 * ever called. The registry lists an endpoint only on its first record; this list holds the declared
 * ones from start-up, with what the declaration says about them (`deprecated`, `operationId`).
 *
 * Filled through {@link Meter.declare} by the adapters, and by providers read when the list is asked
 * for (the Express router stack, Hono's `app.routes`: routes added after the middleware).
 */

/** What a declaration may say about an operation besides its method and template. */
export interface DeclarationMeta {
  operationId?: string;
  /** The document (or route schema) marks the operation deprecated. */
  deprecated?: boolean;
  /** Who declared it: `fastify`, `express`, `hono`, `openapi`, `routes`. */
  source?: string;
}

/** One declared operation. `method` is upper case, or `*` for a route that answers every method. */
export interface DeclaredOperation {
  readonly method: string;
  readonly route: string;
  operationId: string | undefined;
  deprecated: boolean;
  readonly sources: string[];
}

/** A consumer's share of one endpoint's requests (what the consumers feature answers). */
export interface ConsumerShare {
  consumer: string;
  requests: number;
}

/**
 * Who called an endpoint over `[from, to)` (ms since the epoch), most requests first: the hook the
 * consumers feature plugs into (see {@link Declarations.setTopConsumers}). `endpoint` is `METHOD route`.
 */
export type TopConsumers = (
  endpoint: string,
  range: { from: number; to: number },
) => readonly ConsumerShare[] | Promise<readonly ConsumerShare[]>;

/** Declarations kept at most (an application's routes; a runaway generator is cut here). */
export const MAX_DECLARATIONS = 20_000;

export class Declarations {
  private readonly byKey = new Map<string, DeclaredOperation>();
  private readonly providers = new Set<() => void>();
  private consumers: TopConsumers | null = null;
  /** Declarations refused past {@link MAX_DECLARATIONS}. */
  dropped = 0;
  /**
   * Sees the raw path of every request no route matched (`meter.unmatched`), for the inventory's
   * undocumented candidates; null until the inventory installs one. Must not throw.
   */
  unmatchedObserver: ((method: string, path: string) => void) | null = null;

  /** Adds (or completes) a declaration: `deprecated` once set stays set; the first operationId wins. */
  add(method: string, route: string, meta: DeclarationMeta = {}): void {
    const key = method + ' ' + route;
    let op = this.byKey.get(key);
    if (op === undefined) {
      if (this.byKey.size >= MAX_DECLARATIONS) {
        this.dropped++;
        return;
      }
      op = { method, route, operationId: undefined, deprecated: false, sources: [] };
      this.byKey.set(key, op);
    }
    if (meta.deprecated === true) op.deprecated = true;
    if (op.operationId === undefined && typeof meta.operationId === 'string' && meta.operationId !== '') {
      op.operationId = meta.operationId.slice(0, 200);
    }
    if (meta.source !== undefined && !op.sources.includes(meta.source)) op.sources.push(meta.source);
  }

  /**
   * A function run before every {@link list}, which declares what it finds (with `meter.declare`):
   * for route tables that are complete only after the middleware was created. Returns its remover.
   */
  addProvider(provider: () => void): () => void {
    this.providers.add(provider);
    return () => this.providers.delete(provider);
  }

  /** Every declared operation, in order of declaration (providers run first; one that throws is skipped). */
  list(): DeclaredOperation[] {
    for (const p of this.providers) {
      try {
        p();
      } catch {
        // a route table that cannot be read adds nothing
      }
    }
    return [...this.byKey.values()];
  }

  /** The declaration of `METHOD route`, if any (providers not run). */
  get(method: string, route: string): DeclaredOperation | undefined {
    return this.byKey.get(method + ' ' + route);
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Installs the consumers feature's answer to "who called this endpoint" (deprecated-but-called
   * endpoints of the inventory list their top callers). Null removes it; without one the inventory
   * answers an empty list.
   */
  setTopConsumers(fn: TopConsumers | null): void {
    this.consumers = fn;
  }

  /** The top consumers of `endpoint` (`METHOD route`) over the range, or [] without a provider. Never rejects. */
  async topConsumers(endpoint: string, range: { from: number; to: number }): Promise<ConsumerShare[]> {
    if (this.consumers === null) return [];
    try {
      const out = await this.consumers(endpoint, range);
      return Array.isArray(out)
        ? out.filter((c) => c !== null && typeof c === 'object' && typeof c.consumer === 'string').slice(0, 10)
        : [];
    } catch {
      return [];
    }
  }
}
