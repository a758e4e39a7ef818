import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** An alert as `GET /api/v2/alerts` returns it (the fields the tests read). */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  generatorURL?: string;
  status: { state: 'unprocessed' | 'active' | 'suppressed'; silencedBy: string[]; inhibitedBy: string[] };
}

export interface RunningAlertmanager {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `GET /api/v2/alerts` (active, unresolved alerts). */
  alerts(): Promise<GettableAlert[]>;
  /** Polls `GET /api/v2/alerts` until `until` holds for the list (or fails with the last list and the server's log). */
  waitForAlerts(
    until: (alerts: GettableAlert[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<GettableAlert[]>;
  /** What the process wrote to stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

const CANDIDATES = [process.env.ALERTMANAGER_BIN, 'prometheus-alertmanager', 'alertmanager'].filter(
  (b): b is string => b !== undefined && b !== '',
);

/** The Alertmanager binary on this machine (Debian's `prometheus-alertmanager` first), or null. */
export const ALERTMANAGER_BIN: string | null =
  CANDIDATES.find((bin) => {
    const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' });
    return probe.error === undefined && probe.status === 0;
  }) ?? null;

/** For `describe(…, { skip })`: false, or why the Alertmanager tests cannot run. */
export const ALERTMANAGER_SKIP: string | false =
  ALERTMANAGER_BIN === null
    ? 'Alertmanager is not installed (Debian package prometheus-alertmanager; or set ALERTMANAGER_BIN)'
    : false;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a real Alertmanager on a free loopback port, clustering off, storage in a temporary
 * directory, every alert routed to a receiver that sends nothing; resolves once `/-/ready` answers.
 */
export async function startAlertmanager(): Promise<RunningAlertmanager> {
  if (ALERTMANAGER_BIN === null) throw new Error(String(ALERTMANAGER_SKIP));
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-alertmanager-'));
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    ['route:', "  receiver: 'null'", 'receivers:', "  - name: 'null'", ''].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const grace = new AbortController(); // so the 5 s timer does not outlive a quick exit
      await Promise.race([exited, sleep(5000, undefined, { signal: grace.signal }).catch(() => {})]);
      grace.abort();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`alertmanager did not start:\n${output}`);
    }
    await sleep(100);
  }

  const alerts = async (): Promise<GettableAlert[]> => {
    const res = await fetch(`${url}/api/v2/alerts`);
    if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as GettableAlert[];
  };

  return {
    url,
    alerts,
    async waitForAlerts(until, what, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const list = await alerts();
        if (until(list)) return list;
        if (Date.now() > end)
          throw new Error(`timed out waiting for ${what}; last GET /api/v2/alerts: ${JSON.stringify(list)}\n${output}`);
        await sleep(100);
      }
    },
    log: () => output,
    stop,
  };
}
