import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';

/** The part of `dns.promises.Resolver` used here (tests pass their own). */
export interface DnsResolver {
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
  cancel(): void;
}

export interface HostResolverOptions {
  /** How long a resolved address is used before the host is looked up again, ms. Default 60,000. */
  dnsTtlMs?: number;
  /** Give up on a lookup after this many ms. Default 5,000. */
  lookupTimeoutMs?: number;
  /** DNS servers (`'10.0.0.2'`, `'127.0.0.1:5353'`) for the c-ares resolver; default the system's (resolv.conf). */
  dnsServers?: string[];
  /** Replaces the c-ares resolver (tests). */
  resolver?: DnsResolver;
  /**
   * The system lookup (getaddrinfo: /etc/hosts, search domains, mDNS), tried when DNS has no answer.
   * It runs on libuv's thread pool, so at most one runs at a time per function, however long it hangs.
   * Default dns.promises.lookup.
   */
  lookup?: (host: string) => Promise<LookupAddress[]>;
}

const systemLookup = (host: string) => dns.promises.lookup(host, { all: true });

/** System lookups still running, per lookup function: each holds one libuv pool thread until it returns. */
const running = new WeakMap<object, Promise<unknown>>();

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Resolves one exporter host without filling libuv's 4-thread pool (which `fs`, `zlib` and `crypto` share
 * with `dns.lookup`): DNS goes through c-ares (`dns.promises.Resolver`, sockets on the event loop, its own
 * timeout), A records first; only when DNS has no answer does it ask the system's getaddrinfo (for names
 * in /etc/hosts or needing search domains), and never while an earlier system lookup of the same
 * function still hangs. The answer is kept for `dnsTtlMs`, and concurrent callers share one lookup.
 */
export class HostResolver {
  private cached: LookupAddress | null = null;
  private resolvedAt = -Infinity;
  private pending: Promise<LookupAddress> | null = null;
  private readonly ttl: number;
  private readonly timeout: number;
  private readonly resolver: DnsResolver;
  private readonly systemLookup: (host: string) => Promise<LookupAddress[]>;

  constructor(options: HostResolverOptions = {}) {
    this.ttl = options.dnsTtlMs ?? 60_000;
    this.timeout = Math.max(1, options.lookupTimeoutMs ?? 5_000);
    this.systemLookup = options.lookup ?? systemLookup;
    if (options.resolver !== undefined) {
      this.resolver = options.resolver;
    } else {
      const resolver = new dns.promises.Resolver({ timeout: Math.max(1, Math.ceil(this.timeout / 2)), tries: 1 });
      if (options.dnsServers !== undefined) resolver.setServers(options.dnsServers);
      this.resolver = resolver;
    }
  }

  /** The address of `host` (an IP literal as is), from the cache while it is fresh. Rejects with an ENOTFOUND/ETIMEOUT-coded error. */
  resolve(host: string): Promise<LookupAddress> {
    const family = net.isIP(host);
    if (family !== 0) return Promise.resolve({ address: host, family });
    if (this.cached !== null && Date.now() - this.resolvedAt < this.ttl) return Promise.resolve(this.cached);
    this.pending ??= this.lookupNow(host)
      .then((found) => {
        this.cached = found;
        this.resolvedAt = Date.now();
        return found;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  /** The last good address, if any (kept when a later lookup fails). */
  get last(): LookupAddress | null {
    return this.cached;
  }

  /**
   * A `lookup` for `net.connect` / `http.Agent` options (same signature as dns.lookup), so HTTP clients
   * resolve through this resolver instead of the thread pool.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOptions | number | ((...args: never[]) => void),
    callback?: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const cb = (typeof options === 'function' ? options : callback) as (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void;
    const all = typeof options === 'object' && options !== null && options.all === true;
    this.resolve(hostname).then(
      (found) => (all ? cb(null, [found]) : cb(null, found.address, found.family)),
      (error: NodeJS.ErrnoException) => cb(error, all ? [] : '', undefined),
    );
  };

  private async lookupNow(host: string): Promise<LookupAddress> {
    const dnsError = await this.viaDns(host).then(
      (found) => found,
      (error: Error) => error,
    );
    if (!(dnsError instanceof Error)) return dnsError;
    // DNS has no answer: the name may be in /etc/hosts or need a search domain. One system lookup at a time.
    const key = this.systemLookup;
    if (running.has(key)) {
      throw coded(`lookup ${host}: ${dnsError.message}; a system lookup is still pending`, 'EAI_AGAIN');
    }
    const attempt = this.systemLookup(host);
    running.set(key, attempt);
    attempt.then(
      () => running.delete(key),
      () => running.delete(key),
    );
    const all = await this.withTimeout(attempt, host);
    const pick = all.find((a) => a.family === 4) ?? all[0];
    if (pick === undefined) throw coded(`lookup ${host}: no address`, 'ENOTFOUND');
    return pick;
  }

  private async viaDns(host: string): Promise<LookupAddress> {
    const v4 = await this.withTimeout(this.resolver.resolve4(host), host).catch((error: Error) => error);
    if (Array.isArray(v4) && v4.length > 0) return { address: v4[0], family: 4 };
    if ((v4 as NodeJS.ErrnoException).code === 'ETIMEOUT') throw v4 as Error;
    const v6 = await this.withTimeout(this.resolver.resolve6(host), host);
    if (v6.length > 0) return { address: v6[0], family: 6 };
    throw coded(`lookup ${host}: no address`, 'ENOTFOUND');
  }

  private withTimeout<T>(work: Promise<T>, host: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(coded(`lookup ${host} timed out after ${this.timeout} ms`, 'ETIMEOUT'));
      }, this.timeout);
      timer.unref();
    });
    work.catch(() => undefined); // a late rejection after the timeout is not unhandled
    return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
  }
}
