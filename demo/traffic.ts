export interface TrafficOptions {
  /** Where the demo listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Requests started per second. */
  rate: number;
  /** Requests allowed in flight at once; beyond it ticks are skipped, not queued. Default 200. */
  maxInflight?: number;
  random?: () => number;
  /** Called for failures other than HTTP statuses (refused connection, timeout…). Never throws back. */
  onError?: (error: unknown) => void;
  /**
   * Induced incidents: from `afterSeconds` on, for `seconds`, every `everySeconds` (0 = once), requests
   * carry `x-demo-incident`: `error` (the API answers 503) for `errorShare` of them, `slow` (1.5 s more
   * latency) for the rest. Makes the demo's alerts go pending → firing → resolved.
   */
  incident?: { afterSeconds: number; seconds: number; everySeconds?: number; errorShare?: number };
}

/**
 * Simulated consumers (docs/consumers.md): most send `X-Client-Id`, one a bearer JWT (its `sub` is kept
 * only as a keyed hash), a few send nothing (`unknown`). Shares of requests, in order.
 */
export const DEMO_CONSUMERS: readonly { share: number; headers: Record<string, string> }[] = [
  { share: 0.4, headers: { 'x-client-id': 'web-frontend' } },
  { share: 0.25, headers: { 'x-client-id': 'scheduler-bot' } },
  { share: 0.15, headers: { 'x-client-id': 'partner-acme' } },
  { share: 0.1, headers: { authorization: `Bearer ${demoJwt('data-team@example.com')}` } },
  { share: 0.1, headers: {} },
];

/** An unsigned-looking JWT with `sub` (the demo API does not verify it; apimeter never does). */
export function demoJwt(sub: string): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, iat: 1700000000 })}.ZGVtby1zaWduYXR1cmU`;
}

function consumerHeaders(u: number): Record<string, string> {
  let acc = 0;
  for (const c of DEMO_CONSUMERS) if (u < (acc += c.share)) return c.headers;
  return {};
}

/** The header the demo app reads to inject an incident's faults. */
export const INCIDENT_HEADER = 'x-demo-incident';

export interface TrafficGenerator {
  /** Stops starting requests, aborts the ones in flight and waits for them to settle. */
  stop(): Promise<void>;
  readonly stats: { sent: number; failed: number; skipped: number };
}

interface Reply {
  status: number;
  body: unknown;
}

interface Task {
  dag: string;
  run: string;
  task: string;
  tries: number;
}

const TICK_MS = 20;
const TIMEOUT_MS = 10_000;
const UNKNOWN_PATHS = [
  '/api/v2/dag',
  '/api/v1/dags',
  '/wp-login.php',
  '/.env',
  '/api/v2/dags/x/unknown',
  '/favicon.ico',
];

/**
 * Sends a realistic mix of requests to the demo API over real HTTP: mostly reads, some writes, and a
 * share of bad requests (validation failures, unknown DAGs, unknown paths, aborted requests). What it
 * learns from responses (DAG, run and task ids) feeds later requests. Nothing it does can reject.
 */
export function startTraffic(opts: TrafficOptions): TrafficGenerator {
  const random = opts.random ?? Math.random;
  const maxInflight = opts.maxInflight ?? 200;
  const api = `${opts.baseUrl}/api/v2`;
  const stopping = new AbortController();
  const inflight = new Set<Promise<void>>();
  const stats = { sent: 0, failed: 0, skipped: 0 };

  const dags: string[] = [];
  const runs = new Map<string, string[]>();
  const tasks: Task[] = [];
  const created: { dag: string; run: string }[] = [];
  let serial = 0;

  const report = (error: unknown): void => {
    if (stopping.signal.aborted) return;
    stats.failed++;
    try {
      opts.onError?.(error);
    } catch {
      // a faulty error callback must not escape either
    }
  };

  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const startedAt = performance.now();
  const incident = opts.incident;
  /** The fault this request carries, if an incident is on. */
  function incidentFault(): 'error' | 'slow' | null {
    if (incident === undefined) return null;
    const t = (performance.now() - startedAt) / 1000 - incident.afterSeconds;
    if (t < 0) return null;
    const every = incident.everySeconds ?? 0;
    const into = every > 0 ? t % every : t;
    if (into >= incident.seconds) return null;
    return random() < (incident.errorShare ?? 0.3) ? 'error' : 'slow';
  }
  const enc = encodeURIComponent;

  async function call(method: string, path: string, body?: unknown, abortAfterMs?: number): Promise<Reply | null> {
    const signals = [stopping.signal, AbortSignal.timeout(TIMEOUT_MS)];
    if (abortAfterMs !== undefined) signals.push(AbortSignal.timeout(abortAfterMs));
    stats.sent++;
    const headers: Record<string, string> = { ...consumerHeaders(random()) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const fault = incidentFault();
    if (fault !== null) headers[INCIDENT_HEADER] = fault;
    try {
      const res = await fetch(path.startsWith('http') ? path : api + path, {
        method,
        signal: AbortSignal.any(signals),
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      const json = res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text;
      return { status: res.status, body: json };
    } catch (error) {
      // Intentional aborts (ours or at shutdown) are part of the mix, not failures.
      if (abortAfterMs === undefined) report(error);
      return null;
    }
  }

  async function listDags(): Promise<void> {
    const r = await call('GET', `/dags?limit=${pick([10, 25, 50])}&offset=${pick([0, 0, 0, 5])}`);
    const found = (r?.body as { dags?: { dag_id: string }[] } | undefined)?.dags ?? [];
    for (const d of found) if (!dags.includes(d.dag_id)) dags.push(d.dag_id);
  }

  async function withDag(fn: (dag: string) => Promise<unknown>): Promise<void> {
    if (dags.length === 0) return listDags();
    await fn(pick(dags));
  }

  async function listRuns(dag: string): Promise<void> {
    const r = await call('GET', `/dags/${enc(dag)}/dagRuns?limit=25`);
    const found = (r?.body as { dag_runs?: { dag_run_id: string }[] } | undefined)?.dag_runs;
    if (found)
      runs.set(
        dag,
        found.map((x) => x.dag_run_id),
      );
  }

  async function withRun(fn: (dag: string, run: string) => Promise<unknown>): Promise<void> {
    return withDag(async (dag) => {
      const known = runs.get(dag);
      if (!known || known.length === 0) return listRuns(dag);
      await fn(dag, pick(known));
    });
  }

  async function listTaskInstances(dag: string, run: string, abortAfterMs?: number): Promise<void> {
    const r = await call('GET', `/dags/${enc(dag)}/dagRuns/${enc(run)}/taskInstances`, undefined, abortAfterMs);
    const found = (r?.body as { task_instances?: { task_id: string; try_number: number }[] } | undefined)
      ?.task_instances;
    for (const t of found ?? []) {
      if (tasks.length >= 500) tasks.splice(Math.floor(random() * tasks.length), 1);
      tasks.push({ dag, run, task: t.task_id, tries: t.try_number });
    }
  }

  async function withTask(fn: (t: Task, prefix: string) => Promise<unknown>): Promise<void> {
    if (tasks.length === 0) return withRun((dag, run) => listTaskInstances(dag, run));
    const t = pick(tasks);
    await fn(t, `/dags/${enc(t.dag)}/dagRuns/${enc(t.run)}/taskInstances/${enc(t.task)}`);
  }

  async function createRun(): Promise<void> {
    return withDag(async (dag) => {
      const id = `manual__traffic_${Date.now()}_${serial++}`;
      const r = await call('POST', `/dags/${enc(dag)}/dagRuns`, { dag_run_id: id, conf: { source: 'traffic' } });
      if (r?.status === 200 && created.length < 1000) created.push({ dag, run: id });
    });
  }

  // [weight, scenario]; weights sum to 100, so each is roughly a percentage of the mix.
  const mix: [number, () => Promise<unknown>][] = [
    [12, listDags],
    [14, () => withDag((dag) => call('GET', `/dags/${enc(dag)}`))],
    [3, () => withDag((dag) => call('PATCH', `/dags/${enc(dag)}`, { is_paused: random() < 0.5 }))],
    [1, () => withDag((dag) => call('PATCH', `/dags/${enc(dag)}`, pick([{ is_paused: 'maybe' }, {}, [1, 2]])))],
    [12, () => withDag(listRuns)],
    [12, () => withRun((dag, run) => call('GET', `/dags/${enc(dag)}/dagRuns/${enc(run)}`))],
    [3, createRun],
    [1, () => withRun((dag, run) => call('POST', `/dags/${enc(dag)}/dagRuns`, { dag_run_id: run }))],
    [
      1,
      () =>
        withDag((dag) =>
          call(
            'POST',
            `/dags/${enc(dag)}/dagRuns`,
            pick([{ logical_date: 'yesterday' }, { conf: 'x' }, { dag_run_id: 'a b' }]),
          ),
        ),
    ],
    [
      3,
      async () => {
        const c = created.shift();
        if (c) await call('DELETE', `/dags/${enc(c.dag)}/dagRuns/${enc(c.run)}`);
        else await createRun();
      },
    ],
    [10, () => withRun((dag, run) => listTaskInstances(dag, run))],
    [7, () => withTask((_t, prefix) => call('GET', prefix))],
    [5, () => withTask((t, prefix) => call('GET', `${prefix}/logs/${1 + Math.floor(random() * t.tries)}`))],
    [6, () => call('GET', '/monitor/health')],
    [2, () => call('GET', '/version')],
    // The deprecated operation, still called by an old client.
    [2, () => withDag((dag) => call('GET', `/dags/${enc(dag)}/details`))],
    [2, () => call('GET', `/dags/no_such_dag_${Math.floor(random() * 1000)}`)],
    [2, () => call('GET', opts.baseUrl + pick(UNKNOWN_PATHS))],
    // Undocumented paths with ids: the inventory groups them under one template.
    [1, () => call('GET', `/dags/${100 + Math.floor(random() * 100_000)}/tasks`)],
    [1, () => withRun((dag, run) => listTaskInstances(dag, run, 2 + Math.floor(random() * 8)))],
  ];
  const totalWeight = mix.reduce((s, [w]) => s + w, 0);

  function fire(): void {
    let x = random() * totalWeight;
    let scenario = mix[mix.length - 1][1];
    for (const [w, fn] of mix) {
      if ((x -= w) < 0) {
        scenario = fn;
        break;
      }
    }
    const p: Promise<void> = Promise.resolve()
      .then(scenario)
      .then(() => undefined, report)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }

  let budget = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    budget += (opts.rate * (now - last)) / 1000;
    last = now;
    while (budget >= 1) {
      budget--;
      if (inflight.size >= maxInflight) stats.skipped++;
      else fire();
    }
  }, TICK_MS);

  return {
    stats,
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await Promise.allSettled([...inflight]);
    },
  };
}
