import { alertsOf } from '../alerts/attach.js';
import type { Alerts } from '../alerts/start.js';
import { alertJson, ruleJson } from '../alerts/report.js';
import type { Meter } from '../core/meter.js';
import { ApiProblem, badParameter, jsonResponse } from './http.js';
import { Query } from './params.js';
import type { ParamDef } from './params.js';
import type { Route, RouteInput, RouteOutput } from './route.js';

/** The running alerts of the API's meter, or a 404 saying how to start them. */
export function runningAlerts(meter: Meter): Alerts {
  const alerts = alertsOf(meter);
  if (alerts === undefined) {
    throw new ApiProblem(404, 'alerts are not running: start them with startAlerts(meter) (docs/alerts.md)');
  }
  return alerts;
}

const STATES = ['pending', 'firing', 'resolved'] as const;
const SEVERITIES = ['page', 'ticket', 'info'] as const;

const ALERT_PARAMS: readonly ParamDef[] = [
  { name: 'state', description: 'Only instances in this state.', schema: { type: 'string', enum: [...STATES] } },
  {
    name: 'severity',
    description: 'Only instances of rules of this severity.',
    schema: { type: 'string', enum: [...SEVERITIES] },
  },
];

function oneOf<T extends string>(q: Query, name: string, allowed: readonly T[]): T | undefined {
  const v = q.get(name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw badParameter(name, `${JSON.stringify(v.slice(0, 40))} is not one`, allowed);
  return v as T;
}

const STATE_ORDER = { firing: 0, pending: 1, resolved: 2, inactive: 3 };

/** `GET /alerts`: pending, firing and recently resolved instances, firing first. */
export const listAlerts: Route = {
  params: ALERT_PARAMS,
  async run({ opts, search }: RouteInput): Promise<RouteOutput> {
    const q = Query.parse(search, ALERT_PARAMS);
    const state = oneOf(q, 'state', STATES);
    const severity = oneOf(q, 'severity', SEVERITIES);
    const alerts = runningAlerts(opts.meter);
    const items = alerts
      .instancesWithRules()
      .filter(
        ({ rule, instance }) =>
          (state === undefined || instance.state === state) && (severity === undefined || rule.severity === severity),
      )
      .sort(
        (a, b) => STATE_ORDER[a.instance.state] - STATE_ORDER[b.instance.state] || b.instance.since - a.instance.since,
      )
      .map(({ rule, instance }) => alertJson(rule, instance));
    const s = alerts.stats;
    return {
      response: jsonResponse(200, {
        evaluated_at: s.lastEvaluatedAt === 0 ? null : new Date(s.lastEvaluatedAt).toISOString(),
        evaluations: s.evaluations,
        skipped_evaluations: s.skipped,
        failed_evaluations: s.failures,
        last_evaluation_ms: s.lastDurationMs,
        last_error: s.lastError,
        alerts: items,
      }),
      cacheable: false,
    };
  },
};

/** `GET /alerts/rules`: every rule in effect (file, default, generated from SLOs). */
export const listRules: Route = {
  params: [],
  async run({ opts, search }: RouteInput): Promise<RouteOutput> {
    Query.parse(search, []);
    const alerts = runningAlerts(opts.meter);
    const counts = alerts.evaluator.byRule.map((m) => m.size);
    return {
      response: jsonResponse(200, { rules: alerts.rules.rules.map((r, i) => ruleJson(r, counts[i])) }),
      cacheable: false,
    };
  },
};

type Json = Record<string, unknown>;

const PROBLEM = { $ref: '#/components/schemas/Problem' };
const problem = (description: string) => ({ description, content: { 'application/json': { schema: PROBLEM } } });
const param = (p: ParamDef, where = 'query') => ({
  name: p.name,
  in: where,
  required: false,
  description: p.description,
  schema: p.schema,
});

const ALERT_SCHEMA: Json = {
  type: 'object',
  required: ['rule', 'endpoint', 'state', 'severity', 'since', 'value', 'threshold'],
  properties: {
    rule: { type: 'string' },
    endpoint: { type: 'string', description: '`METHOD /template`, or the group or SLO name' },
    state: { type: 'string', enum: ['pending', 'firing', 'resolved'] },
    severity: { type: 'string', enum: ['page', 'ticket', 'info'] },
    signal: { type: 'string' },
    since: { type: 'string', format: 'date-time' },
    active_at: { type: ['string', 'null'], format: 'date-time' },
    fired_at: { type: ['string', 'null'], format: 'date-time' },
    resolved_at: { type: ['string', 'null'], format: 'date-time' },
    value: { type: ['number', 'null'] },
    threshold: { type: 'number' },
    op: { type: 'string', enum: ['above', 'below'] },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const SLO_SCHEMA: Json = {
  type: 'object',
  required: ['name', 'sli', 'objective', 'period', 'total', 'bad', 'budget', 'burn_rates', 'alerts'],
  properties: {
    name: { type: 'string' },
    sli: { type: 'string', enum: ['availability', 'latency'] },
    objective: { type: 'number', description: 'target good share, 0..1' },
    period: { type: 'string' },
    threshold_ms: { type: ['number', 'null'] },
    threshold_relative_error: {
      type: ['number', 'null'],
      description: "latency SLOs: the sketch's bound around the threshold",
    },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    covered_seconds: { type: 'number', description: 'time the data covers (less than the period without a store)' },
    source: { type: 'string', enum: ['memory', 'history', 'memory+history'] },
    total: { type: 'number' },
    good: { type: 'number' },
    bad: { type: 'number' },
    sli_value: { type: ['number', 'null'] },
    budget: {
      type: 'object',
      properties: {
        total: { type: 'number' },
        consumed: { type: 'number' },
        remaining: { type: 'number' },
        remaining_share: { type: 'number' },
      },
    },
    burn_rates: {
      type: 'array',
      items: { type: 'object', properties: { window: { type: 'string' }, burn_rate: { type: ['number', 'null'] } } },
    },
    time_to_exhaustion_seconds: { type: ['number', 'null'] },
    alerts: { type: 'array', items: { type: 'object' } },
  },
};

const ok = (description: string, schema: Json) => ({ description, content: { 'application/json': { schema } } });
const responses = (okResponse: Json, extra: Json = {}) => ({
  '200': okResponse,
  '400': problem('A bad query parameter; `parameter` names it'),
  '401': problem('No credentials'),
  '403': problem('Wrong credentials'),
  '404': problem('Alerts are not running (or no such SLO)'),
  ...extra,
});

/** The OpenAPI paths of the alert and SLO routes under `prefix`. */
export function alertPaths(prefix: string, sloParams: readonly ParamDef[]): Record<string, Json> {
  return {
    [`${prefix}/alerts`]: {
      get: {
        summary: 'Pending, firing and recently resolved alert instances',
        parameters: ALERT_PARAMS.map((p) => param(p)),
        responses: responses(
          ok('The alert instances', {
            type: 'object',
            required: ['alerts'],
            properties: { alerts: { type: 'array', items: ALERT_SCHEMA }, evaluated_at: { type: ['string', 'null'] } },
          }),
        ),
      },
    },
    [`${prefix}/alerts/rules`]: {
      get: {
        summary: 'Every alert rule in effect (rules file, default rules, rules generated from SLOs)',
        responses: responses(
          ok('The rules', { type: 'object', properties: { rules: { type: 'array', items: { type: 'object' } } } }),
        ),
      },
    },
    [`${prefix}/slo`]: {
      get: {
        summary: 'Every SLO with its error budget and burn rates, least budget left first',
        responses: responses(
          ok('The SLOs', { type: 'object', properties: { slos: { type: 'array', items: SLO_SCHEMA } } }),
        ),
      },
    },
    [`${prefix}/slo/{name}`]: {
      get: {
        summary: 'One SLO now, or over a past range, with a burn-down series',
        parameters: [
          { name: 'name', in: 'path', required: true, description: 'The SLO name', schema: { type: 'string' } },
          ...sloParams.map((p) => param(p)),
        ],
        responses: responses(
          ok('The SLO', {
            allOf: [
              SLO_SCHEMA,
              {
                type: 'object',
                properties: {
                  burn_down: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        at: { type: 'string', format: 'date-time' },
                        total: { type: 'number' },
                        bad: { type: 'number' },
                        remaining_share: { type: 'number' },
                        burn_rate: { type: ['number', 'null'] },
                      },
                    },
                  },
                },
              },
            ],
          }),
        ),
      },
    },
  };
}
