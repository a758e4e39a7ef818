export { ApimeterProxy, createProxy, metricsApiHandler } from './proxy.js';
export type { LocalHandler, ProxyOptions } from './proxy.js';
export { RouteMatcher, loadOpenApiDocument, checkRequestPath, serverBasePaths } from './openapi-matcher.js';
export type { MatcherOptions, OpenApiDocument, Operation, RouteMatch } from './openapi-matcher.js';
export { Normalizer, classifySegment } from './normalizer.js';
export type { NormalizerOptions, NormalizerRule } from './normalizer.js';
