/**
 * Shared by the path-flood fault tests: 100,000 distinct junk paths over real loopback HTTP against a
 * server measured by apimeter, then checks on the registry, the heap and the declared routes.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Meter } from '../../src/core/meter.js';
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from '../../src/core/record.js';
import net from 'node:net';
import { statusLineCounter } from '../helpers/http.js';

export const CAP = 500;
/** 30,000 in CI (a loaded 2-CPU machine); `APIMETER_FLOOD=100000` for the full-size run. */
export const FLOOD = Number(process.env.APIMETER_FLOOD ?? 30_000);
/** Heap after GC measured here (the cap is long full), then at the end of the flood. */
export const EARLY = Math.round(FLOOD / 5);
/**
 * Allowed heap growth from EARLY to FLOOD paths. What the meter keeps is bounded by the cap (endpoints,
 * normalizer templates), all reached long before EARLY paths; the 24,000 paths after that (80,000 at
 * full size) must leave nothing behind. 3 MB catches anything retaining 130 bytes or more per path at
 * the CI size (a Map entry with its key string, a closure, a listener), 40 bytes at full size, on a
 * heap of ~ 20–100 MB where V8 and the test runner move a few hundred KB between two measures.
 */
export const HEAP_GROWTH_MAX = 3 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// Well-formed percent-encodings first; MALFORMED_FROM on, ones a strict server refuses (400).
const PIECES = [
  '%2F',
  '%2e%2e',
  '%C3%A9',
  '%F0%9F%92%A9',
  '..',
  '.',
  ';',
  '~',
  '=',
  '+',
  '%25',
  '%00',
  '%ZZ',
  '%',
  '%ED%A0%80',
];
const MALFORMED_FROM = 11;

/**
 * Path `i` of the flood: distinct for every i (its base-36 index is one segment), otherwise junk from a
 * hash of i: random segments and numbers, dots, percent-encoded bytes (some malformed), now and then a
 * segment of 200–2,000 characters. Printable ASCII only, as an HTTP/1.1 request line requires.
 * `wellFormed`: no NUL, no malformed percent-encoding (which the proxy refuses, closing the connection).
 */
export function junkPath(i: number, wellFormed = false): string {
  const pieces = wellFormed ? MALFORMED_FROM : PIECES.length;
  let h = (Math.imul(i + 1, 2654435761) ^ 0x9e3779b9) >>> 0;
  const next = () => (h = (Math.imul(h ^ (h >>> 15), 2246822507) + 0x6d2b79f5) >>> 0);
  let path = '';
  const segments = 1 + (next() % 6);
  const mark = next() % segments;
  for (let s = 0; s < segments; s++) {
    let seg = '';
    if (s === mark) seg = `z${i.toString(36)}`;
    const kind = next() % 10;
    if (kind < 3) seg += String(next());
    else if (kind < 6) seg += PIECES[next() % pieces] + (next() % 1000).toString(36);
    else if (kind < 9) seg += (next() % 46656).toString(36) + PIECES[next() % pieces];
    else seg += 'x'.repeat(200 + (next() % 1800));
    path += '/' + seg;
  }
  return path;
}

export interface FloodResult {
  statuses: Map<number, number>;
  heapEarly: number;
  heapLate: number;
}

/**
 * GETs paths `pathOf(from)` … `pathOf(to - 1)` in order on one keep-alive connection, up to `window`
 * unanswered at a time (pipelined), counting answers by status. A server may close the connection
 * after an answer (the proxy does after a 400 for a malformed target): the unanswered requests are
 * sent again on a new connection, so every path gets exactly one answer.
 */
function getRange(
  port: number,
  from: number,
  to: number,
  pathOf: (i: number) => string,
  statuses: Map<number, number>,
  window = 64,
): Promise<void> {
  let acked = from;
  return new Promise<void>((resolve, reject) => {
    const connect = () => {
      let next = acked;
      const count = statusLineCounter(statuses);
      const socket = net.connect(port, '127.0.0.1');
      const fill = () => {
        while (next < to && next - acked < window) socket.write(`GET ${pathOf(next++)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      };
      socket.on('connect', fill);
      socket.on('data', (chunk: Buffer) => {
        acked += count(chunk);
        if (acked >= to) socket.end();
        else fill();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
      });
      socket.on('close', () => (acked >= to ? resolve() : connect()));
    };
    connect();
  });
}

async function getAll(
  port: number,
  from: number,
  count: number,
  connections: number,
  statuses: Map<number, number>,
  window: number,
  pathOf: (i: number) => string,
) {
  const per = Math.ceil(count / connections);
  await Promise.all(
    Array.from({ length: connections }, (_, c) =>
      getRange(port, from + c * per, from + Math.min(count, (c + 1) * per), pathOf, statuses, window),
    ),
  );
}

/** Sends EARLY junk paths, measures the heap, sends the rest, measures again. */
export async function flood(
  port: number,
  pathOf: (i: number) => string = junkPath,
  window = 16,
  early = EARLY,
  total = FLOOD,
): Promise<FloodResult> {
  const connections = 8;
  const statuses = new Map<number, number>();
  await getAll(port, 0, early, connections, statuses, window, pathOf);
  const heapEarly = heapAfterGc();
  await getAll(port, early, total - early, connections, statuses, window, pathOf);
  const heapLate = heapAfterGc();
  return { statuses, heapEarly, heapLate };
}

/**
 * What every flooded setup must show: every path answered, no 5xx, the registry within the cap plus the
 * fixed endpoints (one overflow and one unmatched per method), heap growth under the bound, and the
 * declared routes recording under their templates afterwards (`declared`: calls made after the flood).
 */
export function checkFlood(
  meter: Meter,
  result: FloodResult,
  declared: { method: string; route: string; count: number }[],
  expectTemplates: boolean,
  uncounted = 0,
  sent = FLOOD,
  heapMax = HEAP_GROWTH_MAX,
): string {
  let answered = 0;
  for (const [status, n] of result.statuses) {
    answered += n;
    assert.ok(status < 500, `${n} answers of ${status}`);
  }
  assert.equal(answered, sent);
  const eps = meter.registry.endpoints();
  const fixed = eps.filter((e) => e.route === OVERFLOW_ROUTE || e.route === UNMATCHED_ROUTE);
  assert.ok(fixed.length <= 4, `fixed endpoints: ${fixed.map((e) => `${e.method} ${e.route}`).join(', ')}`);
  assert.ok(eps.length <= CAP + fixed.length, `${eps.length} endpoints, cap ${CAP}`);
  if (expectTemplates) assert.ok(eps.length > CAP / 2, `normalization invented only ${eps.length} templates`);
  const growth = result.heapLate - result.heapEarly;
  assert.ok(growth < heapMax, `heap grew ${(growth / 1048576).toFixed(2)} MB between the two measures`);
  for (const d of declared) {
    assert.equal(meter.endpointSnapshot(d.method, d.route)?.count, d.count, `${d.method} ${d.route}`);
  }
  // Every flooded request is counted somewhere (but `uncounted`, answers the framework gives before
  // apimeter sees the request): the independent count is what the test sent.
  const total = meter.snapshot().reduce((sum, e) => sum + e.count, 0);
  assert.equal(total, sent - uncounted + declared.reduce((sum, d) => sum + d.count, 0));
  return `${eps.length} endpoints; heap after GC ${(result.heapEarly / 1048576).toFixed(1)} → ${(result.heapLate / 1048576).toFixed(1)} MB`;
}
