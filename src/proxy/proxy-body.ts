/**
 * The request-body phase of a proxied call and the client-side deadlines. A call with a body is sent
 * upstream only once its first bytes are here: complete by then (most small bodies) it takes a
 * connection of the main pool; still arriving, it goes on the upload pool, so that clients stalling
 * mid-upload hold at most that pool's connections. While the body arrives, a pause longer than
 * `clientBodyTimeoutMs` ends the call with 408 (nginx's `client_body_timeout`).
 */
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyCall } from './proxy-call.js';

/** What the body phase needs from its proxy. */
export interface BodyHost {
  forward(call: ProxyCall, streaming: boolean): void;
}

const kBodyCall = Symbol('apimeter.proxy.body');
type BodySocket = Socket & { [kBodyCall]?: ProxyCall | null };
type BodyRequest = IncomingMessage & { [kBodyCall]?: ProxyCall; [kHost]?: BodyHost };
const kHost = Symbol('apimeter.proxy.host');

/** Waits for the call's first body bytes (or its end), under the body deadline, then forwards it. */
export function awaitBody(host: BodyHost, call: ProxyCall, idleMs: number): void {
  const req = call.req as BodyRequest;
  const socket = req.socket as BodySocket;
  socket[kBodyCall] = call;
  req[kBodyCall] = call;
  req[kHost] = host;
  socket.setTimeout(idleMs);
  // Listeners are module functions reading the call from `this`: no closure per request.
  req.once('readable', onFirstBytes);
  req.once('end', onBodyEnd);
}

function onFirstBytes(this: BodyRequest): void {
  const call = this[kBodyCall];
  if (call === undefined || call.res.headersSent || call.res.destroyed) return;
  // `complete`: node:http has parsed the whole message, so no upload is left to stall.
  this[kHost]!.forward(call, !this.complete);
}

function onBodyEnd(this: BodyRequest): void {
  const socket = this.socket as BodySocket | null;
  if (socket === null || socket[kBodyCall] !== this[kBodyCall]) return;
  socket[kBodyCall] = null;
  if (!this[kBodyCall]!.res.writableFinished) socket.setTimeout(0);
}

/** The server's `timeout` listener: a stalled body gets 408; any other idle socket is closed (node's default). */
export function onSocketTimeout(socket: Socket): void {
  const call = (socket as BodySocket)[kBodyCall];
  if (call === undefined || call === null || call.res.writableFinished || call.res.destroyed) {
    socket.destroy();
    return;
  }
  if (call.req.complete) {
    // The whole body is here and waits on the upstream pool, not on the client.
    socket.setTimeout(0);
    return;
  }
  endTimedOut(call, 'the request body paused for too long');
}

/**
 * node:http's whole-request deadline (`requestTimeout`) for a call under way: ends it with 408. False
 * when no call of ours is receiving a body on the socket (the caller answers on the raw socket).
 */
export function clientTimeout(socket: Socket): boolean {
  const call = (socket as BodySocket)[kBodyCall];
  if (call === undefined || call === null || call.res.writableFinished || call.res.destroyed) return false;
  endTimedOut(call, 'the request did not arrive in time');
  return true;
}

/** Answers 408 (recorded as such when the response closes) and cancels the upstream request. */
function endTimedOut(call: ProxyCall, why: string): void {
  const { res, req } = call;
  const socket = req.socket as BodySocket;
  socket[kBodyCall] = null;
  call.cancel();
  if (res.headersSent) {
    // The upstream answered already: the client's response is cut (recorded as 499).
    res.destroy();
    return;
  }
  const body = JSON.stringify({ detail: `Request Timeout: ${why}` });
  res.writeHead(408, http.STATUS_CODES[408], {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
  socket.setTimeout(0);
}
