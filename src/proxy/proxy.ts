import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { MetricsApi } from '../api/api.js';
import { createNodeHandler } from '../api/node.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { parseContentLength, recordAnswer } from '../core/outcome.js';
import { ErrorKind } from '../core/record.js';
import { noteConsumer, useConsumerFunction } from '../core/consumers.js';
import { redactUrl } from '../core/redact.js';
import { createError } from '../errors.js';
import { EndpointResolver } from '../routing/endpoint-resolver.js';
import type { Normalizer } from '../routing/normalizer.js';
import type { RouteMatcher } from '../routing/openapi-matcher.js';
import { awaitBody, clientTimeout, onSocketTimeout } from './proxy-body.js';
import type { BodyHost } from './proxy-body.js';
import { countedBody, ProxyCall, track, upstreamHeaderList } from './proxy-call.js';
import { passUpgrade } from './proxy-upgrade.js';
import type { UpgradeHost } from './proxy-upgrade.js';
import { checkRequestPath, originForm } from '../routing/request-target.js';

/** Serves requests the proxy answers itself (the metrics API) instead of forwarding them. */
export interface LocalHandler {
  /** True when the request target (path and query) is this handler's. */
  owns(url: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface ProxyOptions {
  /** The upstream API: `http://127.0.0.1:8080` (a path, if any, is prefixed to every request). */
  target: string | URL;
  meter: Meter;
  /** The consumer of a request (`metrics_consumers`, docs/consumers.md): `(req) => id`. */
  consumer?: (req: IncomingMessage) => unknown;
  /** Maps requests to templates (an OpenAPI document); requests it does not match are unmatched. */
  matcher?: RouteMatcher | null;
  /** Heuristic templates for requests the matcher does not match (or for every request without one). */
  normalizer?: Normalizer | null;
  /** Served beside the proxied API and not recorded: the metrics API (see `apimeter proxy`). */
  local?: LocalHandler | null;
  /** Upstream answer deadline: headers within it, then no body pause longer than it; else 504. Default 30 s. */
  timeoutMs?: number;
  /** Connecting to the upstream. Default min(timeoutMs, 10 s). */
  connectTimeoutMs?: number;
  /** Request targets longer than this are answered 414. Default 8192. */
  maxPathLength?: number;
  /** Request header bytes beyond which clients get 431 (node:http's limit). Default 16 KiB. */
  maxHeaderSize?: number;
  /** Add `X-Forwarded-For`, `-Proto` and `-Host` (default true). */
  xForwarded?: boolean;
  /** Forward the client's `Host` header instead of the upstream's (default false). */
  preserveHost?: boolean;
  /** Keep-alive connections per upstream origin at most (default 256). */
  connections?: number;
  /** How long an idle upstream connection is kept (default 30 s, or what the upstream's Keep-Alive says). */
  keepAliveTimeoutMs?: number;
  /**
   * Upstream connections, on a pool of their own, for requests whose body is still arriving when they
   * are forwarded (streamed uploads): stalled uploads can hold these and no more. Default
   * max(1, connections / 4).
   */
  uploadConnections?: number;
  /** A client must send its request headers within this (node:http `headersTimeout`); else 408. Default min(60 s, clientRequestTimeoutMs). */
  clientHeaderTimeoutMs?: number;
  /** Longest pause between two reads of a request body (nginx `client_body_timeout`); else 408. Default 60 s. */
  clientBodyTimeoutMs?: number;
  /** A client must send its whole request (headers and body) within this (node:http `requestTimeout`); else 408. Default 300 s. */
  clientRequestTimeoutMs?: number;
}

/**
 * A reverse proxy that measures every call: each request is matched to its OpenAPI template (or
 * normalized, or counted as unmatched), forwarded to the upstream over kept-alive connections with
 * bodies streamed both ways, and recorded when its response ends. WebSocket and other upgrades are
 * passed through. An unreachable upstream answers 502, a silent one 504, both recorded as such.
 *
 * @example
 * const proxy = createProxy({ target: 'http://127.0.0.1:8080', meter, matcher: RouteMatcher.fromFile('spec.yaml') });
 * await proxy.listen(9000);
 */
export class ApimeterProxy implements UpgradeHost, BodyHost {
  readonly server: http.Server;
  readonly meter: Meter;
  readonly timeoutMs: number;
  readonly targetUrl: URL;
  /** The target's path, prefixed to every forwarded request target. */
  readonly basePath: string;
  readonly maxPathLength: number;
  readonly xForwarded: boolean;
  readonly preserveHost: boolean;
  readonly upgrades = new Set<Socket>();
  /** The kept-alive connections to the upstream (one origin: a Pool, not an Agent of pools). */
  readonly pool: Pool;
  /** The pool for streamed uploads (see `uploadConnections`). */
  readonly uploadPool: Pool;
  readonly clientBodyTimeoutMs: number;
  /** The Host field sent upstream, or null to pass the client's (preserveHost). */
  private readonly upstreamHost: string | null;
  private readonly resolver: EndpointResolver;
  private readonly local: LocalHandler | null;

  constructor(options: ProxyOptions) {
    if (!options.meter) throw createError('APIMETER_ERR_CONFIG_INVALID', 'proxy: the `meter` option is required');
    let url: URL;
    try {
      url = new URL(String(options.target));
    } catch {
      throw createError(
        'APIMETER_ERR_CONFIG_INVALID',
        `proxy: target "${redactUrl(String(options.target))}" is not a URL`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw createError(
        'APIMETER_ERR_CONFIG_INVALID',
        `proxy: target must be http:// or https://, got ${url.protocol}`,
      );
    }
    const positive = (name: string, v: number | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!Number.isFinite(v) || v <= 0) {
        throw createError('APIMETER_ERR_CONFIG_INVALID', `proxy: ${name} must be a positive number, got ${v}`);
      }
      return v;
    };
    this.meter = options.meter;
    useConsumerFunction(options.meter, options.consumer, 'proxy');
    this.targetUrl = url;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.resolver = new EndpointResolver(this.meter, options.matcher ?? null, options.normalizer ?? null);
    this.local = options.local ?? null;
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, 30_000);
    this.maxPathLength = positive('maxPathLength', options.maxPathLength, 8192);
    this.xForwarded = options.xForwarded ?? true;
    this.preserveHost = options.preserveHost ?? false;
    this.upstreamHost = this.preserveHost ? null : url.host;
    const connections = positive('connections', options.connections, 256);
    const pool = {
      keepAliveTimeout: positive('keepAliveTimeoutMs', options.keepAliveTimeoutMs, 30_000),
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { timeout: positive('connectTimeoutMs', options.connectTimeoutMs, Math.min(this.timeoutMs, 10_000)) },
    };
    this.pool = new Pool(url.origin, { ...pool, connections });
    this.uploadPool = new Pool(url.origin, {
      ...pool,
      connections: positive('uploadConnections', options.uploadConnections, Math.max(1, Math.floor(connections / 4))),
    });
    const requestTimeout = positive('clientRequestTimeoutMs', options.clientRequestTimeoutMs, 300_000);
    // As node:http: the header deadline defaults to the shorter of 60 s and the whole-request one.
    const headersTimeout = positive(
      'clientHeaderTimeoutMs',
      options.clientHeaderTimeoutMs,
      Math.min(60_000, requestTimeout),
    );
    if (headersTimeout > requestTimeout) {
      throw createError(
        'APIMETER_ERR_CONFIG_INVALID',
        `proxy: clientHeaderTimeoutMs (${headersTimeout}) must not exceed clientRequestTimeoutMs (${requestTimeout})`,
      );
    }
    this.clientBodyTimeoutMs = positive('clientBodyTimeoutMs', options.clientBodyTimeoutMs, 60_000);
    this.server = http.createServer({
      maxHeaderSize: positive('maxHeaderSize', options.maxHeaderSize, 16 * 1024),
      headersTimeout,
      requestTimeout,
      // node:http checks both deadlines on this interval (30 s by default): a quarter of the shorter one.
      connectionsCheckingInterval: Math.min(30_000, Math.max(10, Math.floor(headersTimeout / 4))),
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
    this.server.on('timeout', (socket: Socket) => onSocketTimeout(socket));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
  }

  /** Starts listening; resolves with the bound address. */
  listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, ends open connections (upgraded ones included) and the upstream pool. */
  async close(): Promise<void> {
    for (const s of this.upgrades) s.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await Promise.all([this.pool.close(), this.uploadPool.close()]);
  }

  /** The request listener (usable on a server of your own). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const method = req.method ?? 'GET';
    let target = req.url ?? '/';
    if (!target.startsWith('/')) target = originForm(target);
    if (target.length > this.maxPathLength) {
      this.refuse(req, res, 414, 'URI Too Long: the request target is too long', startedAt);
      return;
    }
    const invalid = checkRequestPath(target);
    if (invalid !== null) {
      this.refuse(req, res, 400, `Bad Request: ${invalid}`, startedAt);
      return;
    }
    if (this.local !== null && this.local.owns(target)) {
      this.local.handle(req, res);
      return;
    }
    let ep: EndpointStats | null = null;
    try {
      ep = this.resolve(method, target);
    } catch {
      // a failure to find the route never fails the request
    }
    if (ep !== null) this.meter.begin(ep);
    const call = new ProxyCall(this, ep, req, res, startedAt);
    call.target = target;
    track(res, call);
    if (req.headers['transfer-encoding'] === undefined && call.requestBytes <= 0) this.forward(call, false);
    else awaitBody(this, call, this.clientBodyTimeoutMs);
  }

  /**
   * Sends the call upstream. A request whose body is still arriving (`streaming`) goes on the upload
   * pool, so that clients stalling mid-upload can never take the connections other requests need.
   */
  forward(call: ProxyCall, streaming: boolean): void {
    const req = call.req;
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (req.headers['transfer-encoding'] !== undefined) body = countedBody(req, call) as unknown as IncomingMessage;
    else if (call.requestBytes > 0) body = req;
    try {
      (streaming ? this.uploadPool : this.pool).dispatch(
        {
          path: this.basePath + call.target,
          method: req.method ?? 'GET',
          headers: upstreamHeaderList(req, this.upstreamHost, this.xForwarded),
          body,
          upgrade: null,
        },
        call,
      );
    } catch (err) {
      call.onError(err as Error);
    }
  }

  /** The endpoint a request is recorded on, or null when its route is excluded. */
  resolve(method: string, target: string): EndpointStats | null {
    return this.resolver.resolve(method, target);
  }

  /** Answers a request the proxy refuses itself (bad target) and records it as unmatched. */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, detail: string, startedAt: number): void {
    const body = JSON.stringify({ detail });
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
    const ep = this.meter.unmatched(req.method ?? 'GET');
    if (ep !== null) {
      const declared = parseContentLength(req.headers['content-length']);
      const duration = performance.now() - startedAt;
      recordAnswer(
        this.meter,
        ep,
        status,
        duration,
        declared,
        Buffer.byteLength(body),
        ErrorKind.None,
        undefined,
        undefined,
        null,
      );
      noteConsumer(this.meter, ep, null, req, req.headers, status, duration, ErrorKind.None);
    }
    req.resume();
  }

  /**
   * Malformed requests node:http could not parse: oversized headers get 431, the rest 400. A client too
   * slow to send its request (clientHeaderTimeoutMs, clientRequestTimeoutMs) gets 408.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (clientTimeout(socket)) return;
      if (socket.bytesRead === 0) {
        // Opened and never used (a browser's preconnect): closed quietly, as no request was made.
        socket.destroy();
        return;
      }
    }
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || (pending != null && pending.headersSent)) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = tooLarge ? 431 : timedOut ? 408 : 400;
    const body = JSON.stringify({
      detail: tooLarge
        ? 'Request Header Fields Too Large'
        : timedOut
          ? 'Request Timeout: the request headers did not arrive in time'
          : 'Bad Request: the request could not be parsed',
    });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    const ep = this.meter.unmatched('_OTHER');
    if (ep !== null)
      recordAnswer(this.meter, ep, status, 0, -1, Buffer.byteLength(body), ErrorKind.None, undefined, undefined, null);
  }

  /** WebSocket (and any other Upgrade) pass-through; recorded once, when the upstream answers. */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = req.url ?? '/';
    if (this.local !== null && this.local.owns(url.startsWith('/') ? url : originForm(url))) {
      // The metrics API upgrades nothing: answered as a plain request, then the connection is closed.
      const res = new http.ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket);
      res.once('finish', () => socket.end(() => socket.destroy()));
      socket.once('close', () => res.destroy());
      this.local.handle(req, res);
      return;
    }
    passUpgrade(this, req, socket, head);
  }
}

/**
 * The metrics API (`createMetricsApi` from `apimeter/api`) as the proxy's local handler: its prefix
 * (`/api/v2/metrics` by default) and Prometheus path are answered by apimeter, everything else is
 * forwarded.
 */
export function metricsApiHandler(api: MetricsApi): LocalHandler {
  const handler = createNodeHandler(api);
  return {
    owns: (url) => api.owns(url),
    handle: (req, res) => handler(req, res),
  };
}

/** Creates a measuring reverse proxy; call `listen()` to start it. */
export function createProxy(options: ProxyOptions): ApimeterProxy {
  return new ApimeterProxy(options);
}
