import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createMetricsApi } from '../api/api.js';
import type { MetricsApi } from '../api/api.js';
import { createMeter } from '../core/meter.js';
import { redactUrl } from '../core/redact.js';
import { ApimeterError, createError } from '../errors.js';
import { Normalizer } from '../routing/normalizer.js';
import { fetchOpenApiDocument, loadOpenApiDocument } from '../routing/openapi-document.js';
import { RouteMatcher } from '../routing/openapi-matcher.js';
import { createProxy, metricsApiHandler } from '../proxy/proxy.js';

export const PROXY_USAGE = `Usage: apimeter proxy --target URL [--openapi FILE|URL] [options]

Measures every call to an HTTP API by standing in front of it. Path templates come from the
OpenAPI document; without one, from heuristics (ids, UUIDs, dates, … become placeholders).
The metrics API is served beside the proxied one, under its prefix.

Options:
  --target URL            upstream API, e.g. http://127.0.0.1:8080 (required)
  --openapi FILE|URL      OpenAPI 3.0/3.1 (or Swagger 2.0) document, YAML or JSON; a URL
                          (http:// or https://, e.g. FastAPI's /openapi.json) is fetched at start
  --port N                port to listen on (default 8090; 0 = any free port)
  --host HOST             address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --timeout-ms N          upstream deadline: headers, then each body pause (default 30000) → 504
  --client-header-timeout-ms N
                          request headers must arrive within N ms (default 60000, at most the next) → 408
  --client-body-timeout-ms N
                          longest pause in a client's request body (default 60000) → 408
  --client-request-timeout-ms N
                          a client's whole request must arrive within N ms (default 300000) → 408
  --connections N         upstream connections at most (default 256)
  --upload-connections N  of a separate pool for uploads still arriving (default connections / 4)
  --multi-segment NAME    a path parameter that may contain '/' (repeatable, or comma-separated)
  --trailing-slash MODE   strict (default: /a/ is not /a) or ignore
  --base-path PATH        base path(s) the API is served under, instead of the document's servers
  --normalize             name paths the document does not match by heuristics, not __unmatched__
  --metrics-prefix PATH   where the metrics API is served (default [api] metrics_api_prefix); it
                          needs [api] metrics_api_token, else a token is generated and printed
  --no-metrics-api        forward everything; serve no metrics API
  --preserve-host         send the client's Host header upstream (default: the target's)
  --ini FILE              apimeter.ini to read (default ./apimeter.ini if present)
  -h, --help              show this help

Example (Airflow's API server):
  apimeter proxy --target http://127.0.0.1:8080 --openapi v2.yaml \\
    --multi-segment variable_key,pool_name,xcom_key`;

function intOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw createError('APIMETER_ERR_CONFIG_INVALID', `--${name} = "${value}": expected an integer ≥ ${min}`);
  }
  return n;
}

/**
 * Shell lines that query the metrics API as pasted. The token goes into APIMETER_TOKEN: a generated one
 * is printed (it is already on the banner); a configured one is a secret and never printed, so it is
 * read back with `apimeter config --get` (same directory, environment and --ini). curl reads the header
 * from standard input (`-H @-`, from printf, a shell builtin), so the token is in no process's argv.
 */
export function curlLines(generated: string | null, ini: string | undefined, url: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // Run through npx, the command is not on PATH: say it the same way.
  const self = process.env.npm_command === 'exec' ? 'npx apimeter' : 'apimeter';
  const source =
    generated !== null
      ? q(generated)
      : `"$(${self} config --get api.metrics_api_token${ini === undefined ? '' : ` --ini ${q(path.resolve(ini))}`})"`;
  return (
    `  export APIMETER_TOKEN=${source}\n` +
    `  printf 'Authorization: Bearer %s\\n' "$APIMETER_TOKEN" | curl -H @- ${q(url)}\n`
  );
}

/** ` (did you mean x?)` for the known name nearest to `name`, when one is within two edits. */
function nearest(name: string, known: ReadonlySet<string>): string {
  let best = '';
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best === '' ? '' : ` (did you mean ${best}?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function optionalInt(name: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : intOption(name, value, 0, 1);
}

/**
 * `apimeter proxy …`: runs until SIGINT/SIGTERM, then closes and resolves 0. Resolves 2 on a usage
 * error and 1 on an invalid value or unreadable document, after saying why on stderr.
 */
export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        target: { type: 'string' },
        openapi: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'client-header-timeout-ms': { type: 'string' },
        'client-body-timeout-ms': { type: 'string' },
        'client-request-timeout-ms': { type: 'string' },
        connections: { type: 'string' },
        'upload-connections': { type: 'string' },
        'multi-segment': { type: 'string', multiple: true },
        'trailing-slash': { type: 'string' },
        'base-path': { type: 'string', multiple: true },
        normalize: { type: 'boolean', default: false },
        'metrics-prefix': { type: 'string' },
        'no-metrics-api': { type: 'boolean', default: false },
        'preserve-host': { type: 'boolean', default: false },
        ini: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`apimeter proxy: ${(err as Error).message}. Run 'apimeter proxy --help'.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(PROXY_USAGE + '\n');
    return 0;
  }
  if (values.target === undefined) {
    process.stderr.write(`apimeter proxy: --target is required.\n\n${PROXY_USAGE}\n`);
    return 2;
  }
  const trailing = values['trailing-slash'] ?? 'strict';
  if (trailing !== 'strict' && trailing !== 'ignore') {
    process.stderr.write(`apimeter proxy: --trailing-slash must be strict or ignore, got "${trailing}".\n`);
    return 2;
  }

  let api: MetricsApi | null = null;
  try {
    const meter = createMeter({ iniPath: values.ini });
    const port = intOption('port', values.port, 8090, 0);
    const host = values.host ?? '127.0.0.1';
    const timeoutMs = intOption('timeout-ms', values['timeout-ms'], 30_000, 1);
    const multi = (values['multi-segment'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
    const matcher =
      values.openapi === undefined
        ? null
        : RouteMatcher.fromDocument(
            /^https?:\/\//i.test(values.openapi)
              ? await fetchOpenApiDocument(values.openapi, timeoutMs)
              : loadOpenApiDocument(values.openapi),
            {
              multiSegmentParams: multi.filter((v) => v !== ''),
              trailingSlash: trailing,
              basePaths: values['base-path'],
            },
          );
    if (matcher !== null) {
      // A misspelled name would silently leave its paths split on '/': say which names match nothing.
      const known = new Set(matcher.routes.flatMap((r) => r.params));
      for (const name of multi) {
        if (name !== '' && !known.has(name)) {
          process.stderr.write(
            `apimeter proxy: warning: --multi-segment ${name} matches no parameter of the document${nearest(name, known)}\n`,
          );
        }
      }
    }
    const normalizer =
      matcher === null || values.normalize ? new Normalizer({ maxTemplates: meter.config.metricsMaxEndpoints }) : null;
    // The metrics API refuses every request without a token: use the configured one, else make one.
    const configuredToken = meter.config.metricsApiToken;
    const token = configuredToken || randomBytes(18).toString('base64url');
    api = values['no-metrics-api']
      ? null
      : createMetricsApi({
          meter,
          token,
          ...(values['metrics-prefix'] === undefined ? {} : { prefix: values['metrics-prefix'] }),
        });
    const proxy = createProxy({
      target: values.target,
      meter,
      matcher,
      normalizer,
      local: api === null ? null : metricsApiHandler(api),
      timeoutMs,
      clientHeaderTimeoutMs: optionalInt('client-header-timeout-ms', values['client-header-timeout-ms']),
      clientBodyTimeoutMs: optionalInt('client-body-timeout-ms', values['client-body-timeout-ms']),
      clientRequestTimeoutMs: optionalInt('client-request-timeout-ms', values['client-request-timeout-ms']),
      connections: optionalInt('connections', values.connections),
      uploadConnections: optionalInt('upload-connections', values['upload-connections']),
      preserveHost: values['preserve-host'],
    });
    const address = await proxy.listen(port, host);
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const self = `http://${shown}:${address.port}`;
    const source =
      matcher === null
        ? 'no OpenAPI document: heuristic templates'
        : `${matcher.routes.length} operations from ${redactUrl(values.openapi!)}${values.normalize ? ', heuristics for the rest' : ''}`;
    process.stdout.write(`apimeter proxy: ${self} → ${redactUrl(values.target)} (${source})\n`);
    if (matcher !== null && matcher.conflicts.length > 0) {
      process.stderr.write(`apimeter proxy: ignored duplicate operations: ${matcher.conflicts.join('; ')}\n`);
    }
    if (api !== null) {
      process.stdout.write(
        `apimeter proxy: metrics API at ${self}${api.options.prefix}/endpoints` +
          (configuredToken === '' ? ` (generated token ${token})` : ' (token from [api] metrics_api_token)') +
          '\n' +
          curlLines(
            configuredToken === '' ? token : null,
            values.ini,
            `${self}${api.options.prefix}/endpoints?window=5m`,
          ),
      );
    }

    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await proxy.close();
    api?.close();
    return 0;
  } catch (err) {
    api?.close();
    if (err instanceof ApimeterError) {
      process.stderr.write(`apimeter proxy: ${err.message}\n`);
      for (const p of err.problems) process.stderr.write(`  ${p}\n`);
      return 1;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`apimeter proxy: cannot listen: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
