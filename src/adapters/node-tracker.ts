/**
 * Request tracking on node:http responses, shared by the node, Express and Hono (on @hono/node-server)
 * adapters. Type-only Node imports: Hono loads this module on runtimes without them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import type { HeaderReader, RequestContext } from '../core/detail/context.js';
import { errorKindOf, parseContentLength, recordAborted, recordAnswer } from '../core/outcome.js';
import type { ValidationTest } from '../core/outcome.js';
import { noteConsumer } from '../core/consumers.js';
import { ErrorKind } from '../core/record.js';

const kCall = Symbol('apimeter.call');
/** Calls of responses counted by prototype wrappers (Express), which get no property of ours. */
const byResponse = new WeakMap<object, NodeCall>();

type Write = ServerResponse['write'];
type End = ServerResponse['end'];
type Push = IncomingMessage['push'];

type TrackedResponse = ServerResponse & { [kCall]?: NodeCall };
type TrackedRequest = IncomingMessage & { [kCall]?: NodeCall };

/**
 * Resolves the endpoint of a request that no route claimed while it ran (answered by a middleware, or a
 * 404), when the response is over. Null: not measured.
 */
export type LateResolver = (call: NodeCall, req: IncomingMessage, res: ServerResponse) => EndpointStats | null;

/** Reads, when the response is over, the error a request ended with where the adapter keeps it (Hono's `c.error`). */
export type LateError = (call: NodeCall) => unknown;

/**
 * State of one request on `node:http`, shared by the node and Express adapters. One object per
 * request, always the same shape; listeners are module functions reading it from the response, so no
 * closure is created per request.
 */
export class NodeCall {
  /** Endpoint the request is measured on; `begun` when the in-flight gauge was raised on it. */
  ep: EndpointStats | null = null;
  begun = false;
  done = false;
  /** The error a handler raised (set through {@link recordError} or by the adapter). */
  error: unknown = undefined;
  /** Set when the adapter destroyed the response after an error (then not counted as a client abort). */
  failed = false;
  /** Body bytes of a chunked upload, counted as the parser pushes them; -1 when not counted. */
  requestBytes = -1;
  responseBytes = 0;
  write: Write;
  end: End;
  push: Push | null = null;
  /** Adapter-specific context of the request (the Express adapter keeps the app it entered). */
  owner: unknown = null;
  /** The Express adapter keeps `req.route` here. */
  route: unknown = undefined;
  /** Detailed mode: the request's context (run the rest of the request inside it). */
  ctx: RequestContext | null = null;
  /** What the consumer function is called with when not `req` (Hono: its context). */
  consumerRequest: unknown = null;

  constructor(
    readonly tracker: NodeTracker,
    readonly req: IncomingMessage,
    readonly method: string,
    readonly startedAt: number,
    res: ServerResponse,
  ) {
    this.write = res.write;
    this.end = res.end;
  }
}

/**
 * Measures requests on node:http responses: start() at the first moment the adapter sees a request,
 * setEndpoint() once its route is known, and the response's `close` event records it — as 499 when the
 * response never finished (the client went away).
 */
export class NodeTracker {
  /** The adapter using this tracker, for hooks that only have the request in hand. */
  owner: unknown = null;

  constructor(
    readonly meter: Meter,
    readonly isValidation: ValidationTest,
    readonly late: LateResolver | null,
    readonly lateError: LateError | null = null,
  ) {}

  /**
   * Starts measuring. Response bytes are counted as written (Content-Length is often absent, or passed
   * to writeHead where getHeader() cannot see it): by wrapping this response's write/end, or, with
   * `countedByPrototype`, by wrappers the caller installed on the response's prototype that call
   * {@link countWritten}. The latter also keeps the call in a WeakMap instead of a property: Express
   * swaps the prototype of every request and response, after which each property added costs
   * microseconds.
   */
  start(req: IncomingMessage, res: ServerResponse, countedByPrototype = false): NodeCall {
    const call = new NodeCall(this, req, req.method ?? 'GET', performance.now(), res);
    if (countedByPrototype) {
      // Express gives every response a `locals` dictionary (a prototype-less object: adding a key is a
      // hash insert, not a hidden-class change); anything else goes to a WeakMap.
      const locals = (res as { locals?: unknown }).locals;
      if (locals !== null && typeof locals === 'object') (locals as Record<symbol, NodeCall>)[kCall] = call;
      else byResponse.set(res, call);
    } else {
      (res as TrackedResponse)[kCall] = call;
      res.write = countingWrite;
      res.end = countingEnd;
    }
    const headers = req.headers;
    if (headers['transfer-encoding'] !== undefined && headers['content-length'] === undefined) {
      // A chunked upload: count its bytes as the HTTP parser hands them over, whoever reads the body.
      call.requestBytes = 0;
      call.push = req.push;
      (req as TrackedRequest)[kCall] = call;
      req.push = countingPush;
    }
    if (this.meter.detailed) call.ctx = this.meter.openContext(requestHeaders(req));
    // With prototype counting the call is found through `res.locals`, which an app may replace: the
    // one listener that must not lose it holds it itself.
    if (countedByPrototype) res.on('close', () => closeCall(call, res));
    else res.on('close', onClose);
    return call;
  }

  /** Moves the request to `ep` (raising its in-flight gauge), e.g. once a router picked the route. */
  setEndpoint(call: NodeCall, ep: EndpointStats | null): void {
    if (call.done || call.ep === ep) return;
    if (call.begun && call.ep !== null) this.meter.end(call.ep);
    call.ep = ep;
    call.begun = ep !== null;
    if (ep !== null) this.meter.begin(ep);
  }
}

function countingWrite(this: TrackedResponse, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const call = this[kCall]!;
  call.responseBytes += byteLength(chunk, encoding);
  return (call.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
}

function countingEnd(this: TrackedResponse, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
  const call = this[kCall]!;
  call.responseBytes += byteLength(chunk, encoding);
  return (call.end as (...a: unknown[]) => ServerResponse).call(this, chunk, encoding, cb);
}

function countingPush(this: TrackedRequest, chunk: unknown, encoding?: BufferEncoding): boolean {
  const call = this[kCall]!;
  if (chunk !== null && chunk !== undefined) call.requestBytes += byteLength(chunk, encoding);
  return call.push!.call(this, chunk, encoding);
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Counts body bytes of a tracked response from a write/end wrapper installed on its prototype (see
 * {@link NodeTracker.start}); does nothing for responses nobody measures.
 */
export function countWritten(res: ServerResponse, chunk: unknown, encoding: unknown): void {
  const call = callOf(res);
  if (call !== undefined) call.responseBytes += byteLength(chunk, encoding);
}

function onClose(this: TrackedResponse): void {
  const call = this[kCall];
  if (call !== undefined) closeCall(call, this);
}

/** The response closed: record the request (as 499 when it never finished). */
function closeCall(call: NodeCall, res: ServerResponse): void {
  if (call.done) return;
  call.done = true;
  try {
    const { meter } = call.tracker;
    if (call.begun && call.ep !== null) meter.end(call.ep);
    const ep = call.ep ?? call.tracker.late?.(call, call.req, res) ?? null;
    if (ep === null) return;
    const duration = performance.now() - call.startedAt;
    const requestBytes = requestBytesOf(call);
    if (!res.writableFinished && !call.failed) {
      recordAborted(meter, ep, duration, requestBytes, call.ctx, call.error);
      noteConsumer(
        meter,
        ep,
        null,
        call.consumerRequest ?? call.req,
        call.req.headers,
        499,
        duration,
        ErrorKind.Aborted,
      );
      return;
    }
    const status = call.failed && res.statusCode < 500 ? 500 : res.statusCode;
    // node:http sends no body for HEAD, 204 and 304 whatever the handler wrote: count what went out.
    if (call.method === 'HEAD' || status === 204 || status === 304) call.responseBytes = 0;
    if (call.error === undefined && call.tracker.lateError !== null) call.error = call.tracker.lateError(call);
    const error = call.error;
    const kind = errorKindOf(error, status, call.tracker.isValidation);
    const ctx = call.ctx;
    const reader = ctx === null ? undefined : responseHeaders(res);
    recordAnswer(meter, ep, status, duration, requestBytes, call.responseBytes, kind, error, undefined, ctx, reader);
    noteConsumer(meter, ep, null, call.consumerRequest ?? call.req, call.req.headers, status, duration, kind);
  } catch {
    // Metrics never fail a request.
  }
}

/** Header readers for detailed mode (node:http keeps request header names lower-case). */
export function requestHeaders(req: IncomingMessage): HeaderReader {
  const headers = req.headers;
  return (name) => headers[name];
}

function responseHeaders(res: ServerResponse): HeaderReader {
  return (name) => res.getHeader(name);
}

function requestBytesOf(call: NodeCall): number {
  if (call.requestBytes >= 0) return call.requestBytes;
  const headers = call.req.headers;
  const declared = headers['content-length'];
  if (declared !== undefined) return parseContentLength(declared);
  return headers['transfer-encoding'] === undefined ? 0 : -1;
}

/** The tracker call of a response (or request) the adapters measure, if any. */
export function callOf(res: ServerResponse | IncomingMessage): NodeCall | undefined {
  return (
    (res as TrackedResponse)[kCall] ??
    (res as { locals?: { [kCall]?: NodeCall } }).locals?.[kCall] ??
    byResponse.get(res)
  );
}

/**
 * Tells apimeter which error a request ended with, when your code catches it and answers itself
 * (a 400 for a failed validation, a 500 from your own error page). The adapters of this package do it
 * for errors they see; call it from code that swallows them.
 *
 * @example
 * try { body = parse(req) } catch (err) { recordError(res, err); res.statusCode = 400; res.end(); }
 */
export function recordError(res: ServerResponse, error: unknown): void {
  const call = callOf(res);
  if (call !== undefined && call.error === undefined) call.error = error;
}
