import type { Clock } from './clock.js';
import { loadConfig } from './config.js';
import type { ApimeterConfig, ApimeterOptions } from './config.js';
import type { RingLayout } from './endpoint.js';
import type { TraceSource } from './detail.js';
import type { ConsumerOptions } from './consumers.js';

/** What `createMeter` takes: configuration options (see config-keys.ts) and the meter's own. */
export interface MeterOptions extends ApimeterOptions, ConsumerOptions {
  /** Already-loaded configuration; when given, ini/env/options are not read again. */
  config?: ApimeterConfig;
  /** Environment to read `APIMETER__…` from (default `process.env` where the runtime has one). */
  env?: Record<string, string | undefined>;
  /** INI file to read (default `./apimeter.ini` if present); false to skip. */
  iniPath?: string | false;
  clock?: Clock;
  /** Random source for sampling, in [0, 1). */
  random?: () => number;
  rings?: Partial<RingLayout>;
  /**
   * Detailed mode: finds the active span's trace and span ids at request start. Default: the active
   * OpenTelemetry span (`@opentelemetry/api`), else dd-trace's; `false` turns correlation off.
   */
  traceSource?: TraceSource | false;
  /**
   * Rewrites an exception message before it is kept (last message per class, detailed mode's grouped
   * messages and 5xx samples), then `metrics_error_messages` applies (normalized by default). For
   * secrets the built-in rules miss, which only catch `key=value` shapes: free text such as "wrong
   * passphrase correcthorse" survives them. Called with the raw message and what was thrown; a hook
   * that throws or returns a non-string drops the message (kept as '') and counts it under the
   * `message_redaction` component of `/health`. Not called with `metrics_error_messages = none`.
   *
   * @example
   * createMeter({ redactMessage: (m) => m.replace(/passphrase \S+/gi, 'passphrase <redacted>') });
   */
  redactMessage?: (message: string, error: unknown) => string;
}

const NON_CONFIG_KEYS = new Set([
  'config',
  'env',
  'iniPath',
  'clock',
  'random',
  'rings',
  'traceSource',
  'redactMessage',
  'consumer',
  'consumerGroup',
]);

/** The meter's configuration: `options.config`, else INI < env < the configuration options given. */
export function meterConfig(options: MeterOptions): ApimeterConfig {
  if (options.config !== undefined) return options.config;
  const configOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NON_CONFIG_KEYS.has(k)) configOptions[k] = v;
  return loadConfig({ options: configOptions, env: options.env, iniPath: options.iniPath });
}
