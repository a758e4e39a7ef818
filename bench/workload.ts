import { ErrorKind } from '../src/core/record.js';
import { lognormal } from './lib.js';

/** One synthetic API endpoint: its route and the shape of its latency distribution. */
export interface EndpointProfile {
  method: string;
  route: string;
  /** Median latency in ms (log-uniform over 2…200 ms across endpoints). */
  medianMs: number;
  /** σ of the lognormal (0.4…1.0: p99/p50 between 2.5× and 10×). */
  sigma: number;
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function endpointProfiles(n: number, random: () => number): EndpointProfile[] {
  return Array.from({ length: n }, (_, e) => ({
    method: METHODS[Math.floor(random() * METHODS.length)],
    route: `/api/v1/resource${e % 97}/{id}/child${e}`,
    medianMs: 2 * 100 ** random(),
    sigma: 0.4 + 0.6 * random(),
  }));
}

/** One request's outcome, written into `out` so a caller generating millions allocates nothing per request. */
export interface Outcome {
  status: number;
  kind: ErrorKind;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

export function newOutcome(): Outcome {
  return { status: 200, kind: ErrorKind.None, durationMs: 0, requestBytes: -1, responseBytes: -1 };
}

/**
 * A plausible production mix: ~94 % success (200/201/204/304), 2 % 404, 1 % validation 400, 1 % 401/403,
 * 0.5 % 5xx, 0.1 % exceptions, 0.1 % aborted; bodies on POST/PUT/PATCH; 5 % of responses of unknown size.
 */
export function drawOutcome(random: () => number, ep: EndpointProfile, out: Outcome): Outcome {
  const u = random();
  let status = 200;
  let kind: ErrorKind = ErrorKind.None;
  if (u < 0.02) status = 404;
  else if (u < 0.03) [status, kind] = [400, ErrorKind.Validation];
  else if (u < 0.04) status = random() < 0.5 ? 401 : 403;
  else if (u < 0.045) status = 500 + Math.floor(random() * 4);
  else if (u < 0.046) [status, kind] = [500, ErrorKind.Exception];
  else if (u < 0.047) [status, kind] = [499, ErrorKind.Aborted];
  else if (u < 0.06) status = 304;
  else if (ep.method === 'POST') status = 201;
  else if (ep.method === 'DELETE') status = 204;
  out.status = status;
  out.kind = kind;
  out.durationMs = lognormal(random, ep.medianMs, ep.sigma);
  const hasBody = ep.method !== 'GET' && ep.method !== 'DELETE';
  out.requestBytes = hasBody ? Math.round(lognormal(random, 300, 1)) : 0;
  out.responseBytes = random() < 0.05 ? -1 : Math.round(lognormal(random, 800, 1.2));
  return out;
}
