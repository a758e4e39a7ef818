export { ApimeterProxy, createProxy, metricsApiHandler } from './proxy.js';
export type { LocalHandler, ProxyOptions } from './proxy.js';
export { RouteMatcher, loadOpenApiDocument, checkRequestPath, serverBasePaths } from '../routing/openapi-matcher.js';
export type { MatcherOptions, OpenApiDocument, Operation, RouteMatch } from '../routing/openapi-matcher.js';
export { Normalizer, classifySegment } from '../routing/normalizer.js';
export type { NormalizerOptions, NormalizerRule } from '../routing/normalizer.js';
