import type { Clock } from './clock.js';
import { loadConfig } from './config.js';
import type { ApimeterConfig, ApimeterOptions } from './config.js';
import type { RingLayout } from './endpoint.js';
import type { TraceSource } from './detail.js';

/** What `createMeter` takes: configuration options (see config-keys.ts) and the meter's own. */
export interface MeterOptions extends ApimeterOptions {
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
}

const NON_CONFIG_KEYS = new Set(['config', 'env', 'iniPath', 'clock', 'random', 'rings', 'traceSource']);

/** The meter's configuration: `options.config`, else INI < env < the configuration options given. */
export function meterConfig(options: MeterOptions): ApimeterConfig {
  if (options.config !== undefined) return options.config;
  const configOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NON_CONFIG_KEYS.has(k)) configOptions[k] = v;
  return loadConfig({ options: configOptions, env: options.env, iniPath: options.iniPath });
}
