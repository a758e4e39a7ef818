/**
 * WebSocket and other `Upgrade` requests through the proxy: the handshake is forwarded over a fresh
 * connection, the upstream's answer relayed byte for byte, then both sockets are piped together.
 */
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ABORTED_STATUS, errorCodeOrClass, recordAborted, recordAnswer } from '../core/outcome.js';
import { ErrorKind } from '../core/record.js';
import { addForwarded, stripHopByHop } from './proxy-call.js';
import { checkRequestPath, originForm } from '../routing/request-target.js';

/** What an upgrade needs from its proxy. */
export interface UpgradeHost {
  readonly meter: Meter;
  readonly timeoutMs: number;
  readonly targetUrl: URL;
  readonly basePath: string;
  readonly maxPathLength: number;
  readonly xForwarded: boolean;
  readonly preserveHost: boolean;
  /** Open upgraded sockets, destroyed when the proxy closes. */
  readonly upgrades: Set<Socket>;
  resolve(method: string, target: string): EndpointStats | null;
}

/**
 * WebSocket (and any other Upgrade): the handshake is forwarded over a fresh connection and the
 * upstream's answer relayed. Only a `101 Switching Protocols` pipes both sockets together; any other
 * answer is relayed with `Connection: close` and both connections are closed after it. Recorded once,
 * at the answer.
 */
export function passUpgrade(proxy: UpgradeHost, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const startedAt = performance.now();
  const method = req.method ?? 'GET';
  const target = (req.url ?? '/').startsWith('/') ? (req.url ?? '/') : originForm(req.url ?? '/');
  const invalid = target.length > proxy.maxPathLength ? 'too long' : checkRequestPath(target);
  let ep: EndpointStats | null = null;
  if (invalid === null) {
    try {
      ep = proxy.resolve(method, target);
    } catch {
      ep = null;
    }
  }
  let recorded = false;
  const record = (status: number, kind: ErrorKind = ErrorKind.None, error?: Error) => {
    if (recorded) return;
    recorded = true;
    if (ep === null) return;
    proxy.meter.end(ep);
    const duration = performance.now() - startedAt;
    if (kind === ErrorKind.Aborted) recordAborted(proxy.meter, ep, duration, 0, null);
    else if (kind === ErrorKind.Exception && error !== undefined) {
      recordAnswer(proxy.meter, ep, status, duration, 0, -1, kind, error, errorCodeOrClass(error), null);
    } else recordAnswer(proxy.meter, ep, status, duration, 0, -1, kind, undefined, undefined, null);
  };
  const fail = (status: number, error?: Error) => {
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
    record(status, error === undefined ? ErrorKind.None : ErrorKind.Exception, error);
  };
  if (invalid !== null) {
    const unmatched = proxy.meter.unmatched(method);
    ep = unmatched;
    if (ep !== null) proxy.meter.begin(ep);
    fail(400);
    return;
  }
  if (ep !== null) proxy.meter.begin(ep);

  const port = Number(proxy.targetUrl.port) || (proxy.targetUrl.protocol === 'https:' ? 443 : 80);
  const host = proxy.targetUrl.hostname.replace(/^\[|\]$/g, '');
  const upstream: Socket =
    proxy.targetUrl.protocol === 'https:'
      ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined })
      : net.connect({ host, port });
  proxy.upgrades.add(socket);
  proxy.upgrades.add(upstream);
  const timer = setTimeout(() => {
    fail(504, Object.assign(new Error('the upstream did not answer the upgrade in time'), { code: 'UPGRADE_TIMEOUT' }));
    upstream.destroy();
  }, proxy.timeoutMs);
  let answered = false;
  let seen: Buffer = Buffer.alloc(0);
  const cleanup = () => {
    clearTimeout(timer);
    proxy.upgrades.delete(socket);
    proxy.upgrades.delete(upstream);
  };
  upstream.setNoDelay(true);
  socket.setNoDelay(true);
  upstream.on('error', (err) => {
    if (!answered) fail(502, err);
    socket.destroy();
  });
  socket.on('error', () => upstream.destroy());
  upstream.on('close', () => {
    cleanup();
    socket.destroy();
  });
  socket.on('close', () => {
    cleanup();
    if (!answered) record(ABORTED_STATUS, ErrorKind.Aborted);
    upstream.destroy();
  });
  // Nothing the client sends goes upstream before the upstream has agreed to switch protocols: a
  // refused upgrade must not leave a raw pipe behind it (later requests would pass unmeasured).
  socket.pause();
  upstream.once(proxy.targetUrl.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    upstream.write(upgradeRequest(proxy, req, target));
  });
  /** A refused upgrade: bytes of its response body still to relay (-1: until the chunked terminator). */
  let refusedLeft = 0;
  const onData = (chunk: Buffer) => {
    if (answered) {
      relayRefused(chunk);
      return;
    }
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const headEnd = seen.indexOf('\r\n\r\n');
    if (headEnd === -1 && seen.length < 16_384) return;
    answered = true;
    clearTimeout(timer);
    const headText = seen.subarray(0, headEnd === -1 ? seen.length : headEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1]);
    record(Number.isFinite(status) ? status : 502);
    if (status === 101 && headEnd !== -1) {
      upstream.off('data', onData);
      socket.write(seen);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
      return;
    }
    if (headEnd === -1) {
      fail(502);
      upstream.destroy();
      return;
    }
    // Refused (or a head too large to read): relay the answer with `Connection: close`, then close both.
    const lines = headText.split('\r\n');
    const kept = lines.filter((line, i) => i === 0 || !/^(connection|keep-alive)\s*:/i.test(line));
    socket.write(kept.join('\r\n') + '\r\nConnection: close\r\n\r\n', 'latin1');
    const length = /^content-length\s*:\s*(\d+)\s*$/im.exec(headText);
    const chunked = /^transfer-encoding\s*:.*chunked/im.test(headText);
    const noBody = status === 204 || status === 304 || method === 'HEAD' || (status >= 100 && status < 200);
    refusedLeft = noBody ? 0 : length !== null ? Number(length[1]) : chunked ? -1 : Infinity;
    relayRefused(seen.subarray(headEnd + 4));
  };
  const relayRefused = (chunk: Buffer) => {
    if (refusedLeft === 0) {
      finishRefused();
      return;
    }
    if (refusedLeft > 0 && chunk.length >= refusedLeft) {
      socket.write(chunk.subarray(0, refusedLeft));
      refusedLeft = 0;
      finishRefused();
      return;
    }
    if (chunk.length === 0) return;
    socket.write(chunk);
    if (refusedLeft > 0) refusedLeft -= chunk.length;
    // Chunked: the last chunk and an empty trailer end the body (trailers are not expected here).
    else if (refusedLeft === -1 && chunk.subarray(-5).toString('latin1') === '0\r\n\r\n') finishRefused();
    // Infinity (no length): the body ends when the upstream closes.
  };
  const finishRefused = () => {
    upstream.off('data', onData);
    upstream.destroy();
    // Closed once the answer is out, even if the client keeps its side open.
    socket.end(() => socket.destroy());
  };
  upstream.on('data', onData);
}

function upgradeRequest(proxy: UpgradeHost, req: IncomingMessage, target: string): string {
  // Connection and Upgrade are what this hop is about: they are kept; other hop-by-hop fields are not.
  const headers = stripHopByHop(req.headers);
  const connection = req.headers.connection;
  if (connection !== undefined) headers.connection = connection;
  if (req.headers.upgrade !== undefined) headers.upgrade = req.headers.upgrade;
  if (!proxy.preserveHost) headers.host = proxy.targetUrl.host;
  if (proxy.xForwarded) addForwarded(headers, req);
  let text = `${req.method ?? 'GET'} ${proxy.basePath + target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  return text + '\r\n';
}
