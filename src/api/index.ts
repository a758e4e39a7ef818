export { createMetricsApi } from './api.js';
export type { MetricsApi } from './api.js';
export type { MetricsApiOptions, HealthThresholds, ResolvedOptions } from './options.js';
export type { ApiRequest, ApiResponse } from './http.js';
export { createNodeHandler, writeResponse } from './node.js';
export { MemoryHistory } from '../core/history.js';
export type { HistorySource, HistoryQuery, HistoryAnswer, HistoryEndpoint, HistorySeries } from '../core/history.js';
export { componentSchemas } from './openapi.js';
export { COLUMNS, DETAIL_COLUMNS } from './columns.js';
export { csvCell, toCsv } from '../core/csv.js';
export { Inventory } from './inventory-schema.js';
export type { InventoryJson } from './inventory-schema.js';
export {
  Distribution,
  SizeStats,
  Range,
  EndpointStats,
  EndpointList,
  EndpointDetail,
  DetailedStats,
  Summary,
  Health,
  Problem,
} from './schemas.js';
export type {
  EndpointStatsJson,
  EndpointListJson,
  EndpointDetailJson,
  DetailedStatsJson,
  SummaryJson,
  HealthJson,
} from './schemas.js';
