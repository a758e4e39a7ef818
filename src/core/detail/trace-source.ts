import type * as NodeModule from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import { nodeBuiltin } from '../runtime.js';

/** Trace correlation for detailed mode: the active span's ids at request start. */

export interface TraceIds {
  traceId: string;
  spanId?: string;
}

/** Finds the active span's ids; undefined when no tracer is active. */
export type TraceSource = () => TraceIds | undefined;

const INVALID_TRACE = /^0+$/;

/**
 * The default trace source: the active OpenTelemetry span (if `@opentelemetry/api` is installed and a
 * tracer provider is registered), else the active dd-trace span (if dd-trace is loaded). Resolved once.
 */
export function defaultTraceSource(): TraceSource {
  const sources: TraceSource[] = [];
  try {
    const require = nodeBuiltin<typeof NodeModule>('node:module')!.createRequire(import.meta.url);
    const api = require('@opentelemetry/api') as typeof OtelApi;
    sources.push(() => {
      const span = api.trace.getSpan(api.context.active());
      if (span === undefined) return undefined;
      const sc = span.spanContext();
      return api.isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
    });
  } catch {
    // @opentelemetry/api not installed (or no node:module): no OpenTelemetry correlation.
  }
  sources.push(ddTraceIds);
  return () => {
    for (const source of sources) {
      const ids = source();
      if (ids !== undefined) return ids;
    }
    return undefined;
  };
}

interface DdSpan {
  context(): { toTraceId(hex?: boolean): string; toSpanId(hex?: boolean): string };
}

/** dd-trace keeps its tracer on `global._ddtrace`; its active span gives the ids. */
function ddTraceIds(): TraceIds | undefined {
  const tracer = (globalThis as { _ddtrace?: { scope?: () => { active(): DdSpan | null } } })._ddtrace;
  const span = tracer?.scope?.().active();
  if (!span) return undefined;
  const ctx = span.context();
  const traceId = ctx.toTraceId(true);
  if (typeof traceId !== 'string' || INVALID_TRACE.test(traceId)) return undefined;
  return { traceId, spanId: ctx.toSpanId(true) };
}
