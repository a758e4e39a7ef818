import type * as NodeCrypto from 'node:crypto';
import { nodeBuiltin } from '../runtime.js';

/**
 * Who is calling: one consumer id per request, from (in this order) the application's function, a
 * configured header, the `sub` of a bearer JWT, an API-key header. Ids taken from credentials (JWT
 * subjects, API keys) are replaced by a keyed hash (HMAC-SHA256 with `metrics_consumer_secret`,
 * truncated to 96 bits, base64url), so no raw credential is kept anywhere; only the function and the
 * plain header give readable names. Bad input (a malformed JWT, a function that throws or returns a
 * non-string) gives {@link UNKNOWN_CONSUMER}; an over-long or control-character header or function
 * answer is returned as it is, marked {@link ConsumerIdentifier.unchecked}, and the tracker counts it as
 * unknown (it checks an id once, before the id takes a counter). Never throws.
 */

export const UNKNOWN_CONSUMER = 'unknown';
/** The share of requests outside the tracked top K, in answers. */
export const OTHER_CONSUMER = 'other';

/** Request headers as node:http gives them (lower-case names), or a Fetch `Headers`. */
export type RequestHeaders =
  { readonly [name: string]: string | string[] | undefined } | { get(name: string): string | null };

/** The application's consumer function: returns the consumer's id (a name it chooses). */
export type ConsumerFunction<R = never> = (request: R) => unknown;

export interface IdentifyRules {
  /** Lower-case header whose value is the consumer id, '' for none. */
  header: string;
  /** Read `sub` of `Authorization: Bearer <JWT>`. */
  jwt: boolean;
  /** Lower-case headers holding an API key (hashed). */
  apiKeyHeaders: readonly string[];
  /** Longest id kept from a header or function; longer is `unknown`. */
  maxLength: number;
  /** HMAC key for credential-derived ids. */
  secret: string;
}

/** Longest Authorization header looked at (a JWT with a large payload stays well under it). */
const MAX_AUTH_LENGTH = 8192;
/** Longest API key looked at. */
const MAX_KEY_LENGTH = 1024;

type Hmac = (text: string) => string;

function makeHmac(secret: string): Hmac | null {
  const crypto = nodeBuiltin<typeof NodeCrypto>('node:crypto');
  if (crypto === undefined || secret === '') return null;
  return (text) => crypto.createHmac('sha256', secret).update(text).digest('base64url').slice(0, 16);
}

function headerOf(headers: RequestHeaders, name: string): unknown {
  // node:http's plain object first (one keyed load when the header is there); a Fetch `Headers` has
  // no such own property and is asked through `get`.
  const value = (headers as Record<string, unknown>)[name];
  if (value !== undefined) return value;
  const get = (headers as { get?: unknown }).get;
  return typeof get === 'function' ? (get as (n: string) => string | null).call(headers, name) : undefined;
}

/**
 * Hashed ids of recently seen credential header values, so that a caller's HMAC (and JWT decoding) is
 * computed once rather than per request: at most {@link CREDENTIAL_CACHE} values of at most
 * {@link CACHED_LENGTH} characters per map (two maps: bearer tokens, API keys), emptied when full;
 * values that give no id are not kept. The raw values are keys of these maps in process memory only (as
 * the requests holding them are); they reach no answer, row, export or log.
 */
export const CREDENTIAL_CACHE = 256;
export const CACHED_LENGTH = 2048;

/** `text` as an id: 1..max characters, no control characters; else null. */
export function cleanId(text: string, max: number): string | null {
  const n = text.length;
  if (n === 0 || n > max) return null;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return null;
  }
  return text;
}

export class ConsumerIdentifier {
  /** Requests identified as unknown because the function threw or returned a non-string, or input was bad. */
  failures = 0;
  /**
   * Set by {@link identify}: the id it returned is unchecked input (a header's value, a function's
   * string), which the tracker checks with {@link cleanId} only when the id holds no counter yet, i.e.
   * once rather than per request. Ids it made itself (unknown, keyed hashes) are not.
   */
  unchecked = false;
  private readonly hmac: Hmac | null;
  /** Authorization header → id. */
  private readonly bearerIds = new Map<string, string>();
  /** API-key header value → id. */
  private readonly keyIds = new Map<string, string>();

  private readonly rules: IdentifyRules;

  constructor(rules: IdentifyRules) {
    // Header names as property keys V8 has interned: a keyed load with an interned constant key is a
    // pointer compare and a named load; a key built at run time (toLowerCase) is compared as a string.
    this.rules = {
      ...rules,
      header: interned(rules.header),
      apiKeyHeaders: rules.apiKeyHeaders.map(interned),
    };
    this.hmac = makeHmac(rules.secret);
  }

  /** True when credential-derived ids can be hashed on this runtime. */
  get hashing(): boolean {
    return this.hmac !== null;
  }

  /** The consumer of one request. `fn` (the adapter's or the meter's function) comes first. */
  identify<R>(fn: ConsumerFunction<R> | null, request: R, headers: RequestHeaders | undefined): string {
    this.unchecked = false;
    if (fn !== null) {
      let out: unknown;
      try {
        out = fn(request);
      } catch {
        out = undefined;
      }
      if (typeof out === 'string') {
        this.unchecked = true;
        return out;
      }
      this.failures++;
      return UNKNOWN_CONSUMER;
    }
    if (headers === undefined) return UNKNOWN_CONSUMER;
    try {
      return this.fromHeaders(headers);
    } catch {
      this.failures++;
      return UNKNOWN_CONSUMER;
    }
  }

  private fromHeaders(headers: RequestHeaders): string {
    const rules = this.rules;
    if (rules.header !== '') {
      const value = headerOf(headers, rules.header);
      if (typeof value === 'string') {
        this.unchecked = true;
        return value;
      }
      if (value !== undefined && value !== null) return this.bad();
    }
    // Without node:crypto no id can be derived from a credential: those requests are unknown.
    if (this.hmac === null) return UNKNOWN_CONSUMER;
    if (rules.jwt) {
      const auth = headerOf(headers, 'authorization');
      if (typeof auth === 'string' && auth.length <= MAX_AUTH_LENGTH) {
        const known = this.bearerIds.get(auth);
        if (known !== undefined) return known;
        const sub = jwtSubject(auth);
        if (sub !== null) return remember(this.bearerIds, auth, this.hashed('sub', sub));
      }
    }
    const keys = rules.apiKeyHeaders;
    for (let n = 0; n < keys.length; n++) {
      const key = headerOf(headers, keys[n]);
      if (typeof key === 'string' && key.length > 0) {
        if (key.length > MAX_KEY_LENGTH) return this.bad();
        return this.keyIds.get(key) ?? remember(this.keyIds, key, this.hashed('key', key));
      }
    }
    return UNKNOWN_CONSUMER;
  }

  private bad(): string {
    this.failures++;
    return UNKNOWN_CONSUMER;
  }

  private hashed(kind: 'sub' | 'key', secretish: string): string {
    return `${kind}:${this.hmac!(`${kind}\0${secretish}`)}`;
  }
}

/** The interned copy of `text` (the key an object literal gets). */
function interned(text: string): string {
  return text === '' ? '' : Object.keys({ [text]: 0 })[0];
}

/** `id`, kept as the id of `raw` when `raw` is short enough. */
function remember(cache: Map<string, string>, raw: string, id: string): string {
  if (raw.length <= CACHED_LENGTH) {
    if (cache.size >= CREDENTIAL_CACHE) cache.clear();
    cache.set(raw, id);
  }
  return id;
}

/**
 * The `sub` claim of `Bearer <header>.<payload>.<signature>`, decoded (base64url JSON), not verified;
 * null when the header is not a bearer JWT, the payload is not JSON or `sub` is not a non-empty string.
 */
export function jwtSubject(authorization: string): string | null {
  if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  const token = authorization.slice(7).trim();
  const a = token.indexOf('.');
  const b = a < 0 ? -1 : token.indexOf('.', a + 1);
  if (a <= 0 || b < 0 || token.indexOf('.', b + 1) !== -1) return null;
  const payload = token.slice(a + 1, b);
  if (payload.length === 0 || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(base64UrlDecode(payload));
  } catch {
    return null;
  }
  const sub = (claims as { sub?: unknown } | null)?.sub;
  return typeof sub === 'string' && sub.length > 0 && sub.length <= 1024 ? sub : null;
}

function base64UrlDecode(text: string): string {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
