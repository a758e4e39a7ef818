/**
 * The Datadog environment variables, read as hot-shots reads them (node_modules/hot-shots/lib/statsd.js):
 *
 * - `DD_AGENT_HOST`, `DD_DOGSTATSD_PORT`: used when the host / port is not set explicitly
 *   (`options.host || DD_AGENT_HOST`, `options.port || parseInt(DD_DOGSTATSD_PORT) || 8125`). In apimeter
 *   "not set" is "`statsd_host` / `statsd_port` still at its default" (`localhost`, 8125).
 * - `DD_ENTITY_ID`, `DD_ENV`, `DD_SERVICE`, `DD_VERSION`: the tags `dd.internal.entity_id`, `env`,
 *   `service`, `version`. As in hot-shots they replace a constant tag of the same key (the unified
 *   service tags come from the deployment, not from a config file copied between environments).
 * - `DD_TAGS` (which hot-shots 13 does not read; the Datadog tracers and the Agent do): `key:value`
 *   tags separated by commas or spaces, added after `statsd_datadog_tags`; an explicit tag of the same
 *   key wins over one from `DD_TAGS`.
 * - `DD_ORIGIN_DETECTION_ENABLED` = `no`, `false`, `0`, `n` or `off` turns origin detection off, as in
 *   the newer hot-shots and the official clients.
 */

const DEFAULT_HOST = 'localhost';
const DEFAULT_PORT = 8125;

const UNIFIED_TAGS: readonly (readonly [env: string, tag: string])[] = [
  ['DD_ENTITY_ID', 'dd.internal.entity_id'],
  ['DD_ENV', 'env'],
  ['DD_SERVICE', 'service'],
  ['DD_VERSION', 'version'],
];

const FALSEY = new Set(['no', 'false', '0', 'n', 'off']);

export interface DatadogEnvInput {
  host: string;
  port: number;
  constantTags: readonly string[];
}

export interface DatadogEnvResult {
  host: string;
  port: number;
  constantTags: string[];
  originDetection: boolean;
}

const keyOf = (tag: string): string => {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(0, colon);
};

/** The exporter's host, port and constant tags once the `DD_*` variables are applied. */
export function applyDatadogEnv(input: DatadogEnvInput, env: Record<string, string | undefined>): DatadogEnvResult {
  const host = input.host !== DEFAULT_HOST ? input.host : env.DD_AGENT_HOST || input.host;
  const envPort = Number.parseInt(env.DD_DOGSTATSD_PORT ?? '', 10);
  const port =
    input.port !== DEFAULT_PORT
      ? input.port
      : Number.isInteger(envPort) && envPort > 0 && envPort < 65536
        ? envPort
        : input.port;

  let tags = [...input.constantTags];
  const explicitKeys = new Set(tags.map(keyOf));
  for (const tag of (env.DD_TAGS ?? '').split(/[\s,]+/)) {
    if (tag === '' || explicitKeys.has(keyOf(tag))) continue;
    tags.push(tag);
  }
  const unified = UNIFIED_TAGS.filter(([name]) => env[name]);
  if (unified.length > 0) {
    const replaced = new Set(unified.map(([, tag]) => tag));
    tags = tags.filter((t) => !replaced.has(keyOf(t)));
    for (const [name, tag] of unified) tags.push(`${tag}:${env[name]}`);
  }
  const od = env.DD_ORIGIN_DETECTION_ENABLED;
  return { host, port, constantTags: tags, originDetection: od === undefined || !FALSEY.has(od.trim().toLowerCase()) };
}
