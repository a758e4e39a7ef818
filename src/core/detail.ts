/**
 * Detailed mode (`metrics_detailed`): what an operator needs to explain a slow or failing endpoint —
 * auth outcomes, database queries per request, rate-limit quota, normalized error messages, sampled
 * 5xx stacks, trace exemplars. One file per concept under `detail/`; this module lists them.
 */
export { currentContext, noteQuery, RequestContext, requestContext } from './detail/context.js';
export type { HeaderReader } from './detail/context.js';
export { AUTH_TYPES, authTypeOf } from './detail/auth.js';
export type { AuthHeaderRules, AuthType } from './detail/auth.js';
export { readRateLimitHeaders } from './detail/rate-limit.js';
export { MESSAGE_KEEP, cleanMessage, normalizeMessage, stackFrames } from './detail/message.js';
export { MAX_MESSAGES } from './detail/samples.js';
export type { ErrorMessageStats, ErrorSample } from './detail/samples.js';
export { EXEMPLAR_SLOTS, exemplarSlot } from './detail/exemplars.js';
export type { Exemplar } from './detail/exemplars.js';
export { EndpointDetail } from './detail/endpoint-detail.js';
export { defaultTraceSource } from './detail/trace-source.js';
export type { TraceIds, TraceSource } from './detail/trace-source.js';
export { errorClassOf, errorMessageOf } from './outcome.js';
