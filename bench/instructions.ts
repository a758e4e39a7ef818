/**
 * Instructions per request of a bench/pinned-server.ts variant, counted by valgrind's callgrind: a
 * measure of the server's cost per request that other load on the machine cannot move (wall-clock
 * req/s and even CPU time per request are noisy on a shared machine). The server runs under
 * `valgrind --tool=callgrind --instr-atstart=no` with `node --single-threaded` (no concurrent JIT or
 * GC threads, so repeated runs count nearly the same); it is warmed up with autocannon unmeasured,
 * then instrumentation is switched on (`callgrind_control -i on`) for a fixed number of requests and
 * the counted instructions are divided by them. Everything the process executes counts: the
 * framework, apimeter, V8's GC and JIT, libuv and the kernel-call wrappers (not the kernel itself).
 *
 *   npx tsx bench/instructions.ts [--framework=node,hono] [--variant=bare,hook,apimeter]
 *                                 [--warmup=40000] [--requests=10000] [--connections=32] [--rounds=1]
 *
 * Prints one row per (framework, variant) with instructions/request (the median over `--rounds`
 * alternating rounds, each round's figure beside it) and the difference to bare, then one JSON line.
 * Keep the default warm-up: after 10,000 requests Fastify is still compiling (docs/benchmarks.md,
 * round 4); compare with `--connections=1` and several rounds. Not part of `npm run bench` (valgrind
 * makes each server ~50× slower): a tool for comparing hot-path changes on a busy machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { callgrindSplit, emitResult, median, spawnCallgrind, table } from './lib.js';
import type { Split } from './lib.js';

const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const frameworks = (flag('framework') ?? 'fastify,express,hono,node').split(',');
const variants = (flag('variant') ?? 'bare,hook,apimeter').split(',');
const warmup = Number(flag('warmup') ?? 40_000);
const requests = Number(flag('requests') ?? 10_000);
const nodeFlags = (flag('node-flags') ?? '').split(' ').filter((f) => f !== '');
const connections = Number(flag('connections') ?? 32);
const rounds = Math.max(1, Number(flag('rounds') ?? 1));
const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-callgrind-'));

const HOOK: Record<string, string> = { express: 'hook', hono: 'hook', node: 'hook', fastify: 'hook' };
const PATHS = ['/hello/bench', '/users/7/posts/42'];

function load(port: number, amount: number): Promise<{ completed: number; non2xx: number; errors: number }> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        amount,
        timeout: 120,
        requests: PATHS.map((p) => ({ method: 'GET', path: p })),
        headers: { authorization: 'Bearer bench-token' },
      },
      (err, r) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve({ completed: r.requests.total - r.errors, non2xx: r.non2xx, errors: r.errors });
      },
    );
  });
}

async function measure(framework: string, variant: string): Promise<Split & { completed: number }> {
  const out = path.join(dir, `${framework}-${variant}.out`);
  const child = spawnCallgrind(
    out,
    path.join('bench', 'pinned-server.ts'),
    [`--framework=${framework}`, `--variant=${variant}`],
    { nodeFlags, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve((JSON.parse(buf.slice(0, nl)) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`${framework}/${variant} exited (${code}): ${stderr.slice(-2000)}`)));
  });
  try {
    await load(port, warmup);
    execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
    const r = await load(port, requests);
    execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
    // A timed-out request (a rare one under valgrind on a busy machine) is left out of the count.
    if (r.non2xx > 0) throw new Error(`${framework}/${variant}: ${r.non2xx} non-2xx answers`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    return { ...callgrindSplit(out), completed: r.completed };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

interface Row {
  framework: string;
  variant: string;
  /** Instructions per request, all of them (median over rounds, as the fields below). */
  total: number;
  compile: number;
  fullGc: number;
  /** total − compile − fullGc: the steady per-request cost, the figure to compare. */
  steady: number;
  /** `steady` of each round, in the order run. */
  rounds: number[];
}
interface Sample {
  total: number;
  compile: number;
  fullGc: number;
  steady: number;
}
const samples = new Map<string, Sample[]>();
const perReq = (n: number, completed: number) => n / completed;
// Rounds alternate the variants (a fresh server process each time): the same tree varies by about
// ±1,500 instructions per request from run to run (docs/benchmarks.md, round 4), so a difference
// smaller than that needs several rounds.
for (let round = 1; round <= rounds; round++) {
  for (const framework of frameworks) {
    for (const v of variants) {
      const variant = v === 'hook' ? HOOK[framework] : v;
      const m = await measure(framework, variant);
      const sample: Sample = {
        total: perReq(m.total, m.completed),
        compile: perReq(m.compile, m.completed),
        fullGc: perReq(m.fullGc, m.completed),
        steady: perReq(m.total - m.compile - m.fullGc, m.completed),
      };
      const key = `${framework}/${variant}`;
      samples.set(key, [...(samples.get(key) ?? []), sample]);
      process.stdout.write(
        `  ${key}${rounds > 1 ? ` (round ${round}/${rounds})` : ''}: ` +
          `${Math.round(sample.steady).toLocaleString('en-US')} instr/req steady\n`,
      );
    }
  }
}
const rows: Row[] = [];
for (const framework of frameworks) {
  for (const v of variants) {
    const variant = v === 'hook' ? HOOK[framework] : v;
    const got = samples.get(`${framework}/${variant}`)!;
    const mid = (pick: (s: Sample) => number) => median(got.map(pick));
    rows.push({
      framework,
      variant,
      total: mid((s) => s.total),
      compile: mid((s) => s.compile),
      fullGc: mid((s) => s.fullGc),
      steady: mid((s) => s.steady),
      rounds: got.map((s) => s.steady),
    });
  }
}
const int = (n: number) => Math.round(n).toLocaleString('en-US');
process.stdout.write(
  table(
    [
      'framework',
      'variant',
      'steady instr/req',
      'over bare',
      'ratio bare/variant',
      'steady per round',
      'all',
      'JIT compile',
      'full GC',
    ],
    rows.map((r) => {
      const bare = rows.find((b) => b.framework === r.framework && b.variant === 'bare');
      return [
        r.framework,
        r.variant,
        int(r.steady),
        bare === undefined ? '—' : int(r.steady - bare.steady),
        bare === undefined ? '—' : (bare.steady / r.steady).toFixed(3),
        r.rounds.map(int).join(' '),
        int(r.total),
        int(r.compile),
        int(r.fullGc),
      ];
    }),
  ) + '\n',
);
process.stdout.write(
  `  ${warmup} warm-up requests, then ${requests} counted, ${connections} connections, ${rounds} round(s) (medians); ` +
    'steady = all − JIT compilation − full GCs (one-off work a window holds or not by chance)\n',
);
emitResult({ bench: 'instructions', warmup, requests, connections, rounds, rows });
