/**
 * One proxied request: the undici dispatch handler that relays the upstream's answer, and the
 * response's `close` listener that records it. Plus the header rules of a proxy hop.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { HeaderReader } from '../core/detail/context.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { errorCodeOrClass, parseContentLength, recordAborted, recordAnswer } from '../core/outcome.js';
import { ErrorKind } from '../core/record.js';
import { noteConsumer } from '../core/consumers.js';

/** What a call needs from its proxy. */
export interface ProxyContext {
  readonly meter: Meter;
  readonly timeoutMs: number;
}

// RFC 9110 §7.6.1: connection-specific fields, never forwarded (plus fields the Connection header names).
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export class ClientAbort extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientAbort';
  }
}

/**
 * One proxied request, as undici's dispatch handler. It implements undici 7's own handler interface
 * (`onConnect`, `onHeaders` with the raw header list, `onData`, `onComplete`, `onError`): the
 * controller interface (`onResponseStart`…) is an adapter over it that parses every answer's headers
 * (and trailers) into an object first, which the proxy would only turn back into a list. Listeners are
 * methods reading it as `this`-bound state: no closure per callback.
 */
export class ProxyCall implements Dispatcher.DispatchHandler {
  done = false;
  upstreamError: Error | null = null;
  /** The proxy destroyed the response after an upstream failure mid-body. */
  failed = false;
  requestBytes: number;
  responseBytes = 0;
  /** Cancels the upstream request (undici's `abort`, once the request is on a connection). */
  abort: ((reason: Error) => void) | null = null;
  /** Resumes the upstream body after `onData` paused it. */
  resumeBody: (() => void) | null = null;
  waitingDrain = false;
  /**
   * The answer's first body chunk, held until the end of the tick its head came in: an answer that
   * ends in that tick (most) is then written with one `res.end(chunk)` rather than write + end.
   */
  firstChunk: Buffer | null = null;
  /** The head is written but not sent: flushHead has not run yet. */
  headPending = false;
  /** Detailed mode: the upstream's raw answer headers (rate-limit quota), kept until the call is recorded. */
  upstreamHeaders: Buffer[] | null = null;
  /** The request target as forwarded (origin form, before the target's base path). */
  target = '';

  constructor(
    readonly proxy: ProxyContext,
    readonly ep: EndpointStats | null,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly startedAt: number,
  ) {
    // Chunked uploads start at 0 and are counted as forwarded (countedBody).
    const declared = req.headers['content-length'];
    this.requestBytes = declared === undefined ? 0 : parseContentLength(declared);
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abort = abort;
    if (this.done) abort(new ClientAbort());
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusMessage: string): boolean {
    if (statusCode < 200) return true; // 1xx informational answers are not relayed
    const res = this.res;
    if (res.destroyed) return true;
    this.resumeBody = resume;
    const out = endToEndRaw(raw);
    if (this.proxy.meter.detailed) this.upstreamHeaders = raw;
    if (statusMessage) res.writeHead(statusCode, statusMessage, out);
    else res.writeHead(statusCode, out);
    // The head goes out with the first body chunk, in one write, when that chunk (or the end) comes in
    // the same tick, as it does for most answers; else at the end of this tick, so that a slow stream
    // still shows its status at once. A separate write for the head costs a syscall per response.
    this.headPending = true;
    process.nextTick(flushHead, this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.responseBytes += chunk.length;
    if (this.headPending && this.responseBytes === chunk.length) {
      this.firstChunk = chunk;
      return true;
    }
    const held = this.firstChunk;
    if (held !== null) {
      this.firstChunk = null;
      this.res.write(held);
    }
    if (this.res.write(chunk) && !this.waitingDrain) return true;
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      this.res.once('drain', onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    const held = this.firstChunk;
    if (held === null) this.res.end();
    else {
      this.firstChunk = null;
      this.res.end(held);
    }
  }

  onError(error: Error): void {
    if (error instanceof ClientAbort || this.done) return;
    this.upstreamError = error;
    const res = this.res;
    if (res.headersSent) {
      // The status is out already: cut the response so the client sees it incomplete.
      this.failed = true;
      res.destroy();
      return;
    }
    const code = (error as { code?: unknown }).code;
    const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    const status = timeout ? 504 : 502;
    const body = JSON.stringify({
      detail: timeout
        ? `Gateway Timeout: the upstream did not answer within ${this.proxy.timeoutMs} ms`
        : `Bad Gateway: ${typeof code === 'string' ? code : error.message}`,
    });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Cancels the upstream request, if it is on a connection (else `onConnect` does, seeing `done`). */
  cancel(): void {
    this.abort?.(new ClientAbort());
  }
}

/**
 * End of the tick in which the upstream's head arrived: sends it, with the first body chunk if one
 * came, unless the answer ended in that tick.
 */
function flushHead(call: ProxyCall): void {
  const res = call.res;
  call.headPending = false;
  if (res.writableEnded || res.destroyed) return;
  const held = call.firstChunk;
  if (held !== null) {
    call.firstChunk = null;
    if (!res.write(held) && !call.waitingDrain) {
      call.waitingDrain = true;
      // The next chunk pauses the upstream body (onData) until the client drains.
      res.once('drain', onResponseDrain);
    }
  } else if (call.responseBytes === 0) res.flushHeaders();
}

function onResponseDrain(this: ServerResponse & { [kCall]?: ProxyCall }): void {
  const call = this[kCall];
  if (call === undefined) return;
  call.waitingDrain = false;
  call.resumeBody?.();
}

/**
 * Lengths of the fixed hop-by-hop names (`te` 2, `trailer`/`upgrade` 7, `connection`/`keep-alive` 10,
 * `proxy-connection` 16, `transfer-encoding` 17, `proxy-authenticate` 18, `proxy-authorization` 19):
 * a field of any other length is end-to-end unless the Connection header names it, so most names are
 * never lower-cased.
 */
const HOP_LENGTHS = new Uint8Array(32);
for (const name of HOP_BY_HOP) HOP_LENGTHS[name.length] = 1;

/** True when `name` (any case) is one of the fixed hop-by-hop fields. */
function isHopByHop(name: string): boolean {
  return name.length < 32 && HOP_LENGTHS[name.length] === 1 && HOP_BY_HOP.has(name.toLowerCase());
}

/**
 * The end-to-end fields of an upstream answer (undici's raw list: name, value, … as Buffers) as the
 * flat list `writeHead` takes: hop-by-hop fields and those the Connection header names are left out.
 * Names keep the upstream's case; bytes are read as latin1, as they are written.
 */
export function endToEndRaw(raw: readonly Buffer[]): HeaderList {
  const out: HeaderList = [];
  let listed: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (isHopByHop(name)) {
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        listed = connectionTokens(raw[i + 1].toString('latin1'), listed);
      }
      continue;
    }
    out.push(name, raw[i + 1].toString('latin1'));
  }
  return listed === null ? out : withoutListed(out, listed);
}

/** `list` without the fields `listed` names (lower-case). */
function withoutListed(list: HeaderList, listed: Set<string>): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < list.length; i += 2) {
    if (!listed.has(list[i].toLowerCase())) out.push(list[i], list[i + 1]);
  }
  return out;
}

/** A reader of the upstream's raw answer headers by lower-case name (detailed mode). */
function rawHeaderReader(raw: readonly Buffer[]): HeaderReader {
  return (name) => {
    let found: string | string[] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length !== name.length || raw[i].toString('latin1').toLowerCase() !== name) continue;
      const value = raw[i + 1].toString('latin1');
      found = found === undefined ? value : typeof found === 'string' ? [found, value] : [...found, value];
    }
    return found;
  };
}

/** `headers` without the hop-by-hop fields, as an object (the upgrade path writes it out by hand). */
export function stripHopByHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = connectionTokens(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (listed !== null && listed.has(name))) continue;
    out[name] = value;
  }
  return out;
}

/** Header fields as name, value, name, value… (a field with several values appears once per value). */
export type HeaderList = string[];

function push(out: HeaderList, name: string, value: string | string[]): void {
  if (typeof value === 'string') out.push(name, value);
  else for (const v of value) out.push(name, v);
}

/**
 * The request's fields for the upstream, as a flat list: end-to-end fields except `Expect` (node:http
 * answered `100-continue` already), `Host` replaced by `host` unless it is null, and X-Forwarded-For
 * (appended to), -Proto and -Host (kept when the client sent them) when `xForwarded`.
 */
export function upstreamHeaderList(req: IncomingMessage, host: string | null, xForwarded: boolean): HeaderList {
  const headers = req.headers;
  const out: HeaderList = [];
  const listed = connectionTokens(headers.connection);
  let forwardedFor: string | string[] | undefined;
  let hasProto = false;
  let hasHost = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (listed !== null && listed.has(name))) continue;
    if (name === 'expect' || (name === 'host' && host !== null)) continue;
    if (xForwarded) {
      if (name === 'x-forwarded-for') {
        forwardedFor = value;
        continue;
      }
      if (name === 'x-forwarded-proto') hasProto = true;
      else if (name === 'x-forwarded-host') hasHost = true;
    }
    push(out, name, value);
  }
  if (host !== null) out.push('host', host);
  if (xForwarded) {
    const ip = clientAddress(req);
    out.push(
      'x-forwarded-for',
      forwardedFor === undefined
        ? ip
        : `${Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor}, ${ip}`,
    );
    if (!hasProto) out.push('x-forwarded-proto', (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
    if (!hasHost && headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  }
  return out;
}

/**
 * The extra field names a Connection header lists, added to `into` (a new set when null), or `into`
 * when it lists none beyond the fixed hop-by-hop set (`keep-alive`, `close`: nearly every request and
 * response, so no Set for them).
 */
function connectionTokens(value: string | string[] | undefined, into: Set<string> | null = null): Set<string> | null {
  if (value === undefined) return into;
  if (typeof value === 'string' && !value.includes(',')) {
    const token = value.trim().toLowerCase();
    if (token === '' || token === 'close' || HOP_BY_HOP.has(token)) return into;
  }
  const set = into ?? new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') set.add(token);
  }
  return set;
}

function clientAddress(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export function onResponseClose(this: ServerResponse & { [kCall]?: ProxyCall }): void {
  const call = this[kCall];
  if (call === undefined || call.done) return;
  call.done = true;
  const aborted = !this.writableFinished && !call.failed;
  if (aborted) call.cancel();
  const { meter } = call.proxy;
  const ep = call.ep;
  if (ep === null) return;
  meter.end(ep);
  const duration = performance.now() - call.startedAt;
  // Detailed mode: credentials presented (read from the client's headers, values never kept), the
  // upstream's 401/403/429 and rate-limit headers, 5xx samples. The proxy runs no application code, so
  // there is no request context to fill while the call runs: it is opened now.
  const headers = call.req.headers;
  const ctx = meter.detailed ? meter.openContext((name) => headers[name]) : null;
  const upstream = call.upstreamHeaders;
  call.upstreamHeaders = null;
  const reader = upstream === null ? undefined : rawHeaderReader(upstream);
  if (aborted) {
    recordAborted(meter, ep, duration, call.requestBytes, ctx, undefined, reader);
    noteConsumer(meter, ep, null, call.req, headers, 499, duration, ErrorKind.Aborted);
    return;
  }
  const error = call.upstreamError;
  if (error !== null) {
    const cls = errorCodeOrClass(error);
    recordAnswer(
      meter,
      ep,
      this.statusCode,
      duration,
      call.requestBytes,
      call.responseBytes,
      ErrorKind.Exception,
      error,
      cls,
      ctx,
      reader,
    );
    noteConsumer(meter, ep, null, call.req, headers, this.statusCode, duration, ErrorKind.Exception);
    return;
  }
  recordAnswer(
    meter,
    ep,
    this.statusCode,
    duration,
    call.requestBytes,
    call.responseBytes,
    ErrorKind.None,
    undefined,
    undefined,
    ctx,
    reader,
  );
  noteConsumer(meter, ep, null, call.req, headers, this.statusCode, duration, ErrorKind.None);
}

export const kCall = Symbol('apimeter.proxy.call');

export function addForwarded(headers: Record<string, string | string[]>, req: IncomingMessage): void {
  const ip = clientAddress(req);
  const prior = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior === undefined ? ip : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${ip}`;
  headers['x-forwarded-proto'] ??= (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (req.headers.host !== undefined) headers['x-forwarded-host'] ??= req.headers.host;
}

/** A chunked upload, forwarded as it arrives and counted on the way (no Content-Length to read). */
export async function* countedBody(req: IncomingMessage, call: ProxyCall): AsyncGenerator<Buffer> {
  for await (const chunk of req) {
    call.requestBytes += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
}

/** Measures `res` as `call`: recorded when the response closes. */
export function track(res: ServerResponse, call: ProxyCall): void {
  (res as ServerResponse & { [kCall]?: ProxyCall })[kCall] = call;
  res.on('close', onResponseClose);
}
