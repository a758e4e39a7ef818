import { apdexTargetsOf } from '../alerts/attach.js';
import type { ApdexFigures } from '../core/apdex.js';
import type { ApdexT } from '../core/apdex.js';
import { badParameter } from './http.js';
import { shown } from './params.js';
import type { ParamDef, Query } from './params.js';
import type { ResolvedOptions } from './options.js';

/** Largest `apdex_t_ms`: 4T stays inside the latency sketch's range (~4.66 h). */
export const MAX_APDEX_T_MS = 3_600_000;

export const APDEX_PARAM: ParamDef = {
  name: 'apdex_t_ms',
  description:
    'Apdex target T in ms for this request, for every endpoint (default: each endpoint’s T from the alerts rules file’s apdex: list, else [alerts] apdex_t_ms). Any T works: Apdex is read from the latency sketch.',
  schema: { type: 'number', exclusiveMinimum: 0, maximum: MAX_APDEX_T_MS },
};

/** `apdex_t_ms=`, or undefined when absent. */
function overrideOf(query: Query): number | undefined {
  const raw = query.get('apdex_t_ms');
  if (raw === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(n > 0) || n > MAX_APDEX_T_MS) {
    throw badParameter(
      'apdex_t_ms',
      `must be a number of milliseconds above 0, at most ${MAX_APDEX_T_MS} (got ${shown(raw)})`,
    );
  }
  return n;
}

/** Each endpoint's T for this request: `apdex_t_ms=`, else its alerts' `apdex:` target, else the config's. */
export function apdexTargets(opts: ResolvedOptions, query: Query): ApdexT {
  return overrideOf(query) ?? apdexTargetsOf(opts.meter);
}

/** One T over all endpoints (the summary's totals): `apdex_t_ms=`, else `[alerts] apdex_t_ms`. */
export function overallApdexT(opts: ResolvedOptions, query: Query): number {
  return overrideOf(query) ?? opts.meter.config.alertsApdexTMs;
}

/** The counts behind a score, by their API names. */
export function apdexCountsJson(a: ApdexFigures): { satisfied: number; tolerating: number; frustrated: number } {
  return { satisfied: a.satisfied, tolerating: a.tolerating, frustrated: a.frustrated };
}
