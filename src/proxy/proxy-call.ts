/**
 * One proxied request: the undici dispatch handler that relays the upstream's answer, and the
 * response's `close` listener that records it. Plus the header rules of a proxy hop.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorClassOf, errorMessageOf, parseContentLength } from '../adapters/shared.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ErrorKind } from '../core/record.js';

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

/** One proxied request. Listeners are methods reading it as `this`-bound state: no closure per callback. */
export class ProxyCall implements Dispatcher.DispatchHandler {
  done = false;
  upstreamError: Error | null = null;
  /** The proxy destroyed the response after an upstream failure mid-body. */
  failed = false;
  requestBytes: number;
  responseBytes = 0;
  controller: Dispatcher.DispatchController | null = null;
  private waitingDrain = false;

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

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new ClientAbort());
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx informational answers are not relayed
    const res = this.res;
    if (res.destroyed) return;
    const out = stripHopByHop(headers) as OutgoingHttpHeaders;
    if (statusMessage) res.writeHead(statusCode, statusMessage, out);
    else res.writeHead(statusCode, out);
    // Headers go out now, not with the first body chunk: a slow stream shows its status at once.
    res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.responseBytes += chunk.length;
    if (!this.res.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.controller?.resume();
  };

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
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
}

export function stripHopByHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const listed = connection === undefined ? null : connectionTokens(connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (listed !== null && listed.has(name))) continue;
    out[name] = value;
  }
  return out;
}

function connectionTokens(value: string | string[]): Set<string> {
  const set = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') set.add(token);
  }
  return set;
}

export function onResponseClose(this: ServerResponse & { [kCall]?: ProxyCall }): void {
  const call = this[kCall];
  if (call === undefined || call.done) return;
  call.done = true;
  const aborted = !this.writableFinished && !call.failed;
  if (aborted) call.controller?.abort(new ClientAbort());
  const { meter } = call.proxy;
  const ep = call.ep;
  if (ep === null) return;
  meter.end(ep);
  const duration = performance.now() - call.startedAt;
  if (aborted) {
    meter.record(ep, 499, duration, call.requestBytes, -1, ErrorKind.Aborted);
    return;
  }
  const error = call.upstreamError;
  if (error !== null) {
    const code = (error as { code?: unknown }).code;
    const cls = typeof code === 'string' ? code : errorClassOf(error);
    meter.record(
      ep,
      this.statusCode,
      duration,
      call.requestBytes,
      call.responseBytes,
      ErrorKind.Exception,
      cls,
      errorMessageOf(error),
    );
    return;
  }
  meter.record(ep, this.statusCode, duration, call.requestBytes, call.responseBytes, ErrorKind.None);
}

export const kCall = Symbol('apimeter.proxy.call');

export function addForwarded(headers: Record<string, string | string[]>, req: IncomingMessage): void {
  let ip = req.socket.remoteAddress ?? '';
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
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
