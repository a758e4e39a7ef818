import type { ApiRequest, ApiResponse } from './http.js';
import type { ResolvedOptions } from './options.js';
import type { ParamDef } from './params.js';
import type { ProcessMonitor } from './process-monitor.js';

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
  /** Worth caching: read from persisted history (answers from memory are cheap, and never stale). */
  cacheable: boolean;
}

export interface Route {
  /** The query parameters it accepts (validation and the OpenAPI document). */
  params: readonly ParamDef[];
  run(input: RouteInput): Promise<RouteOutput>;
}

/**
 * Answers read from persisted history are expensive enough to cache (for `metrics_api_cache_seconds`,
 * said in their Cache-Control); answers from the in-memory ring are cheap, so they are always fresh.
 */
export function readsHistory(data: { source: string }): boolean {
  return data.source !== 'memory';
}
