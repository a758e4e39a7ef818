#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApimeterError } from '../errors.js';
import { missingDependency } from '../exporters/optional-deps.js';
import { CONFIG_KEYS, loadConfig } from '../core/config.js';
import type { ApimeterConfig } from '../core/config.js';

const USAGE = `Usage: apimeter <command> [options]

Commands:
  config [--ini FILE] [--json]   Validate and print the effective configuration
                                 (defaults < apimeter.ini < APIMETER__SECTION__KEY env < options)
  proxy --target URL [--openapi FILE|URL] [--port N] …
                                 Measure an API in any language from in front of it
                                 (apimeter proxy --help for every option)
  serve [--store postgres://…] [--port N]
                                 The metrics API, web page and alerts for a whole fleet
                                 from the shared PostgreSQL store (apimeter serve --help)
  cleanup [--retention-days N] [--dry-run] [--no-rollup]
                                 Delete stored snapshots older than the retention, then
                                 roll completed hours and days up
                                 (api_metrics_store_url, api_metrics_retention_days)
  alerts check FILE              Validate an alert rules file (rules, SLOs, Apdex targets);
                                 exit 1 with one line per problem
  report slo [--period 30d] [--format md|json|csv]
                                 SLO budgets and burn rates from the store, as a table
                                 to paste into a review (apimeter report --help)
  report inventory [--window 30d] (--openapi FILE | --url URL) [--format md|json|csv]
                                 Used, never-called, deprecated-but-called and undocumented
                                 endpoints (apimeter report inventory --help)
  export prometheus-rules|grafana|datadog [--out PATH]
                                 Prometheus rules, Grafana and Datadog dashboards from the
                                 metric catalogue and the alert rules (apimeter export --help)
  help [COMMAND]                 Show this help, or a command's (same as COMMAND --help)
  version                        Print the version

Run the demo API from a clone of the repository with: npm start
Docs: docs/configuration.md, docs/fastify.md, docs/metrics.md`;

const CONFIG_USAGE = `Usage: apimeter config [--ini FILE] [--json] [--get SECTION.KEY]

Validates the configuration (defaults < apimeter.ini < APIMETER__SECTION__KEY env) and prints the
effective value of every key, secrets shown as ***. Exits 1, naming each bad value, when it is invalid.

Options:
  --ini FILE          apimeter.ini to read (default $APIMETER_CONFIG, else ./apimeter.ini if present)
  --json              print JSON instead of INI
  --get SECTION.KEY   print one value as it is, secrets included, for scripts:
                      TOKEN=$(apimeter config --get api.metrics_api_token)
  -h, --help          show this help`;

const VERSION_USAGE = `Usage: apimeter version

Prints the installed version of apimeter (also: apimeter --version, -v).`;

const HELP_USAGE = `Usage: apimeter help [COMMAND]

Shows the list of commands, or the help of COMMAND (config, proxy, serve, cleanup, version).`;

const COMMANDS = ['config', 'proxy', 'serve', 'cleanup', 'alerts', 'report', 'export', 'version', 'help'] as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function printConfig(config: ApimeterConfig, json: boolean): void {
  const shown: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const value = config[k.option];
    shown[`${k.section}.${k.key}`] = k.secret && value !== '' ? '***' : value;
  }
  if (json) {
    process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
    return;
  }
  let section = '';
  for (const k of CONFIG_KEYS) {
    if (k.section !== section) {
      section = k.section;
      process.stdout.write(`${section === 'api' ? '' : '\n'}[${section}]\n`);
    }
    const v = shown[`${k.section}.${k.key}`];
    process.stdout.write(`${k.key} = ${Array.isArray(v) ? v.join(',') : String(v)}\n`);
  }
}

/** `apimeter config`: prints the effective configuration, or one value of it with --get. */
function configCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      ini: { type: 'string' },
      json: { type: 'boolean', default: false },
      get: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(CONFIG_USAGE + '\n');
    return 0;
  }
  const config = loadConfig({ iniPath: values.ini });
  if (values.get !== undefined) {
    const key = CONFIG_KEYS.find((k) => `${k.section}.${k.key}` === values.get!.toLowerCase());
    if (key === undefined) {
      process.stderr.write(
        `apimeter config: unknown key '${values.get}'; keys are SECTION.KEY, e.g. api.metrics_enabled\n`,
      );
      return 2;
    }
    const value = config[key.option];
    process.stdout.write(`${Array.isArray(value) ? value.join(',') : String(value)}\n`);
    return 0;
  }
  printConfig(config, values.json);
  return 0;
}

/** Runs one command; resolves the exit code. Usage errors exit 2, like other CLIs. */
export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        process.stdout.write(USAGE + '\n');
        return 2;
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        if (topic === undefined || (topic === 'help' && command !== 'help')) {
          process.stdout.write(USAGE + '\n');
          return 0;
        }
        if (topic === 'help') {
          process.stdout.write(HELP_USAGE + '\n');
          return 0;
        }
        if (!(COMMANDS as readonly string[]).includes(topic)) {
          process.stderr.write(`apimeter: no help for unknown command '${topic}'. Run 'apimeter help'.\n`);
          return 2;
        }
        // The same text as `apimeter COMMAND --help`.
        return await run([topic, '--help']);
      }
      case 'version':
      case '--version':
      case '-v':
        if (rest.includes('--help') || rest.includes('-h')) {
          process.stdout.write(VERSION_USAGE + '\n');
          return 0;
        }
        if (rest.length > 0) {
          process.stderr.write(`apimeter version: unexpected argument '${rest[0]}'. Run 'apimeter help version'.\n`);
          return 2;
        }
        process.stdout.write(version() + '\n');
        return 0;
      case 'config':
        return configCommand(rest);
      case 'proxy': {
        // Loaded on demand: the proxy brings undici and the metrics API with it.
        // undici is an optional peer dependency: say so instead of a module-not-found stack.
        const { run: proxy } = await import('./proxy.js').catch((error: unknown) => {
          throw missingDependency(error, 'apimeter proxy', ['undici']) ?? error;
        });
        return await proxy(rest);
      }
      case 'serve': {
        // Loaded on demand: the fleet view brings pg and the metrics API with it.
        const { run: serve } = await import('./serve.js');
        return await serve(rest);
      }
      case 'cleanup': {
        // Loaded on demand: the store brings its database driver with it.
        const { run: cleanup } = await import('./cleanup.js');
        return await cleanup(rest);
      }
      case 'alerts': {
        const { run: alerts } = await import('./alerts.js');
        return await alerts(rest);
      }
      case 'export': {
        // Loaded on demand: the Grafana generator brings its SDK with it.
        const { run: exportCommand } = await import('./export.js');
        return await exportCommand(rest);
      }
      case 'report': {
        // Loaded on demand: the store brings its database driver with it.
        const { run: report } = await import('./report.js');
        return await report(rest);
      }
      default:
        process.stderr.write(`apimeter: unknown command '${command}'. Run 'apimeter help'.\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ApimeterError) {
      process.stderr.write(`apimeter: ${err.message}\n`);
      return 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      const help =
        command !== undefined && (COMMANDS as readonly string[]).includes(command) ? ` ${command} --help` : ' help';
      process.stderr.write(`apimeter: ${err.message}. Run 'apimeter${help}'.\n`);
      return 2;
    }
    throw err;
  }
}

// `apimeter config | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
// An unexpected error rejects and ends the process as an uncaught exception would (exit 1).
void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
