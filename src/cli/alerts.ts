import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { ApimeterError } from '../errors.js';
import { loadRulesFile, ruleDefaultsOf } from '../alerts/rules.js';

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

const STDIO: CliIo = { stdout: process.stdout, stderr: process.stderr };

const USAGE = `Usage: apimeter alerts check FILE [--ini FILE]

Validates an alert rules file (rules:, slos:, apdex:) as start-up would. Exit 0 and a summary when it
is valid; exit 1 with one line per problem (rule, field, value, what is expected) when it is not.`;

/** `apimeter alerts check FILE`. Resolves the exit code. */
export async function run(args: string[], io: CliIo = STDIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.stdout.write(USAGE + '\n');
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'check') {
    io.stderr.write(`apimeter alerts: unknown subcommand '${sub}'; expected check\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ini: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    io.stderr.write('apimeter alerts check: give exactly one rules file\n');
    return 2;
  }
  const config = loadConfig({ iniPath: values.ini });
  try {
    const set = loadRulesFile(positionals[0], ruleDefaultsOf(config));
    const own = set.rules.filter((r) => r.origin === 'file').length;
    const generated = set.rules.filter((r) => r.origin === 'slo').length;
    const defaults = set.rules.filter((r) => r.origin === 'default').length;
    io.stdout.write(
      `${positionals[0]}: valid: ${own} rules, ${set.slos.length} SLOs (${generated} burn-rate rules), ` +
        `${set.apdex.length} Apdex targets; ${defaults} default rules also run\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ApimeterError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 1;
  }
}
