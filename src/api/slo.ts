import { burnDownJson, sloJson } from '../alerts/report.js';
import { runningAlerts } from './alerts.js';
import { badParameter, jsonResponse } from './http.js';
import { Query } from './params.js';
import type { ParamDef } from './params.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import { ApiProblem } from './http.js';

/** `GET /slo`: every SLO's latest status, least budget left first. */
export const listSlos: Route = {
  params: [],
  async run({ opts, search }: RouteInput): Promise<RouteOutput> {
    Query.parse(search, []);
    const statuses = [...runningAlerts(opts.meter).slos()].sort(
      (a, b) => a.budget.remainingShare - b.budget.remainingShare,
    );
    return { response: jsonResponse(200, { slos: statuses.map(sloJson) }), cacheable: false };
  },
};

const DETAIL_PARAMS: readonly ParamDef[] = [
  {
    name: 'from',
    description:
      'Start of a past range (ISO 8601 or ms since the epoch) to compute the SLO over instead of its period (retroactive; needs history).',
    schema: { type: 'string' },
  },
  { name: 'to', description: 'End of that range (default now).', schema: { type: 'string' } },
];

function time(q: Query, name: string): number | undefined {
  const v = q.get(name);
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms))
    throw badParameter(name, `${JSON.stringify(v.slice(0, 40))} is not an ISO 8601 time or ms since the epoch`);
  return ms;
}

/** `GET /slo/{name}`: one SLO now (or over `from`/`to`) with its burn-down series. */
export const sloDetail: Route = {
  params: DETAIL_PARAMS,
  async run({ opts, search, endpoint }: RouteInput): Promise<RouteOutput> {
    const q = Query.parse(search, DETAIL_PARAMS);
    const alerts = runningAlerts(opts.meter);
    const now = opts.meter.clock.now();
    const from = time(q, 'from');
    const to = time(q, 'to') ?? now;
    if (from !== undefined && !(from < to)) throw badParameter('from', 'must be before to');
    const name = endpoint ?? '';
    const answer = await alerts.slo(name, from === undefined ? undefined : { from, to });
    if (answer === null) {
      const known = alerts.rules.slos.map((s) => s.name).join(', ') || 'none';
      throw new ApiProblem(404, `no SLO named ${JSON.stringify(name.slice(0, 100))}; SLOs: ${known}`);
    }
    return {
      response: jsonResponse(200, { ...sloJson(answer.status), burn_down: burnDownJson(answer.burnDown) }),
      cacheable: from !== undefined,
    };
  },
};
