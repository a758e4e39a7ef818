export { createMeter, Meter } from './core/meter.js';
export type { MeterOptions, SnapshotOptions } from './core/meter.js';
export { Sketch, LATENCY_SKETCH, SIZE_SKETCH, relativeErrorBound } from './core/sketch.js';
export type { SketchLayout, SketchJSON } from './core/sketch.js';
export { ManualClock, systemClock } from './core/clock.js';
export type { Clock } from './core/clock.js';
export { ErrorKind, ERROR_TYPES, ABORTED_STATUS, UNMATCHED_ROUTE, OVERFLOW_ROUTE } from './core/record.js';
export type { RequestRecord, ErrorType } from './core/record.js';
export { normalizeMethod, OTHER_METHOD } from './core/methods.js';
export { EndpointStats, DEFAULT_RINGS } from './core/endpoint.js';
export type { RingLayout } from './core/endpoint.js';
export { Registry } from './core/registry.js';
export { WINDOWS, WINDOW_NAMES } from './core/query.js';
export type { EndpointSnapshot, MeterSummary, WindowName, Distribution, SizeStats } from './core/query.js';
export { loadConfig, CONFIG_KEYS } from './core/config.js';
export type { ApimeterConfig, ApimeterOptions } from './core/config.js';
export { createStats, NoopStatsBackend, MemoryStatsBackend } from './core/stats.js';
export type { Stats, StatsBackend } from './core/stats.js';
export type { ComponentHealth, HealthSource } from './core/health.js';
export type { ConsumerShare, DeclarationMeta, DeclaredOperation, TopConsumers } from './core/declarations.js';
export { windowTally, endpointSnapshot, summarize } from './core/query.js';
export { Tally, statusClassOf } from './core/tally.js';
export { Counters, Counts, countsOf, readCounts, STATUS_CLASSES, statusClassLabel } from './core/counts.js';
export type { ByteCounts, StatusClass } from './core/counts.js';
export { MeterReader, DeltaConsumer, EndpointDelta } from './core/reader.js';
export {
  topConsumers,
  Consumers,
  ConsumerTracker,
  SpaceSaving,
  UNKNOWN_CONSUMER,
  OTHER_CONSUMER,
} from './core/consumers.js';
export type { ConsumerFunction, ConsumerOptions, ConsumerFigures } from './core/consumers.js';
export type { DeltaOptions } from './core/reader.js';
export { SketchDelta } from './core/sketch-delta.js';
export type { BucketSource, BucketSink } from './core/sketch-delta.js';
export { startExporters } from './exporters/start.js';
export type { Exporters, StartExportersOptions } from './exporters/start.js';
export { closeOnSignal } from './shutdown.js';
export type { Closable, CloseStep, CloseOnSignalOptions, ShutdownHandle } from './shutdown.js';
export { ApimeterError, ERROR_CODES, createError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { startAlerts, alertsOf } from './alerts/start.js';
export { apdexTargetsOf } from './alerts/attach.js';
export type { Alerts, StartAlertsOptions } from './alerts/start.js';
export type { AlertEvent, Notifier } from './alerts/types.js';
export { apdex, apdexFigures } from './core/apdex.js';
export type { ApdexFigures, ApdexT } from './core/apdex.js';
export { compileRules, parseRules, loadRulesFile, defaultRules, burnWindows, BURN_WINDOWS } from './alerts/rules.js';
export type { AlertRule, RuleSet, RuleDefaults, Severity, ApdexTarget } from './alerts/rules.js';
export type { SloDefinition } from './alerts/slo-types.js';
export type { SloStatus, BurnDownPoint, BurnAlertStatus } from './alerts/slo.js';
export type { AlertInstance, AlertState } from './alerts/state.js';
export { fileAlertState, MemoryAlertState, storeAlertState } from './alerts/state-store.js';
export type { AlertStateStore, AlertStateTable, SavedAlertState } from './alerts/state-store.js';
export { SIGNALS } from './alerts/signals.js';
export type { SignalName } from './alerts/signals.js';
