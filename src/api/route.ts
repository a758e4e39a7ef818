import type { ApiRequest, ApiResponse } from './http.js';
import type { ResolvedOptions } from './options.js';
import type { ParamDef } from './params.js';
import type { ProcessMonitor } from './process-monitor.js';
import type { RangeSpec } from './range.js';

export interface RouteInput {
  opts: ResolvedOptions;
  request: ApiRequest;
  /** The query string, without `?`. */
  search: string;
  /** The decoded `{endpoint}` path segment of the detail route. */
  endpoint?: string;
  monitor: ProcessMonitor;
}

export interface RouteOutput {
  response: ApiResponse;
  /** Worth caching: a long range or history. */
  cacheable: boolean;
}

export interface Route {
  /** The query parameters it accepts (validation and the OpenAPI document). */
  params: readonly ParamDef[];
  run(input: RouteInput): Promise<RouteOutput>;
}

const HOUR = 3_600_000;

/** Ranges of an hour or more, and anything read from history, are expensive enough to cache. */
export function isExpensive(spec: RangeSpec): boolean {
  return spec.kind === 'span' ? spec.to - spec.from >= HOUR : spec.window === '1h';
}
