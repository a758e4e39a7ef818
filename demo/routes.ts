import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyPluginAsync, FastifySchema } from 'fastify';
import type { DemoDb, DagRun } from './db.js';
import type { Latency } from './latency.js';

export interface RoutesOptions {
  db: DemoDb;
  latency: Latency;
  /** Share of task-instance listings that fail with {@link SchedulerUnavailableError}. */
  faultRate: number;
  random: () => number;
}

/** An expected HTTP error with a JSON `{ detail }` body. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The demo's injected fault: an unexpected exception, answered 500. */
export class SchedulerUnavailableError extends Error {
  constructor(message = 'scheduler heartbeat is stale; task state unavailable') {
    super(message);
    this.name = 'SchedulerUnavailableError';
  }
}

const VERSION = { version: '3.1.0', git_version: 'apimeter-demo' };

const page = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
} as const;

const dagPatch = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    is_paused: { type: 'boolean' },
    description: { type: 'string', maxLength: 500 },
  },
} as const;

const runCreate = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dag_run_id: { type: 'string', minLength: 1, maxLength: 250, pattern: '^[A-Za-z0-9_.:+-]+$' },
    logical_date: { type: 'string', format: 'date-time' },
    conf: { type: 'object' },
    note: { type: 'string', maxLength: 1000 },
  },
} as const;

type Paging = { limit: number; offset: number };
type DagParams = { dag_id: string };
type RunParams = DagParams & { dag_run_id: string };
type TaskParams = RunParams & { task_id: string };
type LogParams = TaskParams & { try_number: number };
type RunBody = { dag_run_id?: string; logical_date?: string; conf?: Record<string, unknown>; note?: string };

function dagOr404(db: DemoDb, dagId: string) {
  const dag = db.getDag(dagId);
  if (!dag) throw new HttpError(404, `The DAG with dag_id: \`${dagId}\` was not found`);
  return dag;
}

function runOr404(db: DemoDb, dagId: string, runId: string) {
  dagOr404(db, dagId);
  const run = db.getRun(dagId, runId);
  if (!run) throw new HttpError(404, `The DagRun with dag_id: \`${dagId}\` and run_id: \`${runId}\` was not found`);
  return run;
}

/** `/api/v2/...`: DAGs, the nested DAG-run plugin, monitoring and version. */
export const apiRoutes: FastifyPluginAsync<RoutesOptions> = async function apiRoutes(app, opts) {
  const { db, latency } = opts;

  app.get<{ Querystring: Paging }>('/dags', { schema: { querystring: page } }, async (req) => {
    await latency.wait('listDags');
    const { items, total } = db.listDags(req.query.limit, req.query.offset);
    return { dags: items, total_entries: total };
  });

  app.get<{ Params: DagParams }>('/dags/:dag_id', async (req) => {
    await latency.wait('getDag');
    return dagOr404(db, req.params.dag_id);
  });

  app.patch<{ Params: DagParams; Body: { is_paused?: boolean; description?: string } }>(
    '/dags/:dag_id',
    { schema: { body: dagPatch } },
    async (req) => {
      await latency.wait('patchDag');
      dagOr404(db, req.params.dag_id);
      return db.patchDag(req.params.dag_id, req.body);
    },
  );

  // Deprecated (clients should read /dags/{dag_id}): the inventory shows who still calls it.
  app.get<{ Params: DagParams }>(
    '/dags/:dag_id/details',
    { schema: { deprecated: true, operationId: 'get_dag_details' } as FastifySchema },
    async (req, reply) => {
      await latency.wait('getDag');
      void reply.header('deprecation', 'true');
      return dagOr404(db, req.params.dag_id);
    },
  );

  // Declared, never called by the traffic generator: the inventory's never_called.
  app.get('/pools', async () => ({ pools: [{ name: 'default_pool', slots: 128 }], total_entries: 1 }));

  await app.register(dagRunRoutes, { ...opts, prefix: '/dags/:dag_id/dagRuns' });
  await app.register(monitorRoutes, { ...opts, prefix: '/monitor' });

  app.get('/version', async () => {
    await latency.wait('version');
    return VERSION;
  });
};

async function monitorRoutes(app: FastifyInstance, opts: RoutesOptions): Promise<void> {
  app.get('/health', async () => {
    await opts.latency.wait('health');
    return {
      metadatabase: { status: opts.db.db.open ? 'healthy' : 'unhealthy' },
      scheduler: { status: 'healthy', latest_scheduler_heartbeat: new Date().toISOString() },
    };
  });
}

/** Registered under `/dags/:dag_id/dagRuns`, so its routes' templates carry the prefix's parameter. */
async function dagRunRoutes(app: FastifyInstance, opts: RoutesOptions): Promise<void> {
  const { db, latency } = opts;

  app.get<{ Params: DagParams; Querystring: Paging }>('/', { schema: { querystring: page } }, async (req) => {
    await latency.wait('listRuns');
    dagOr404(db, req.params.dag_id);
    const { items, total } = db.listRuns(req.params.dag_id, req.query.limit, req.query.offset);
    return { dag_runs: items, total_entries: total };
  });

  app.post<{ Params: DagParams; Body: RunBody }>('/', { schema: { body: runCreate } }, async (req) => {
    await latency.wait('createRun');
    const dagId = req.params.dag_id;
    dagOr404(db, dagId);
    const now = new Date().toISOString();
    const logical = req.body.logical_date ?? now;
    const run: DagRun = {
      dag_id: dagId,
      dag_run_id: req.body.dag_run_id ?? `manual__${logical}`,
      run_type: 'manual',
      state: 'queued',
      logical_date: logical,
      start_date: null,
      end_date: null,
      conf: req.body.conf ?? {},
      note: req.body.note ?? null,
    };
    if (!db.insertRun(run)) {
      throw new HttpError(409, `DAG run \`${run.dag_run_id}\` already exists for DAG \`${dagId}\``);
    }
    return run;
  });

  app.get<{ Params: RunParams }>('/:dag_run_id', async (req) => {
    await latency.wait('getRun');
    return runOr404(db, req.params.dag_id, req.params.dag_run_id);
  });

  app.delete<{ Params: RunParams }>('/:dag_run_id', async (req, reply) => {
    await latency.wait('deleteRun');
    const run = runOr404(db, req.params.dag_id, req.params.dag_run_id);
    if (run.state === 'running') throw new HttpError(409, 'A running DAG run cannot be deleted');
    db.deleteRun(run.dag_id, run.dag_run_id);
    return reply.code(204).send();
  });

  app.get<{ Params: RunParams }>('/:dag_run_id/taskInstances', async (req) => {
    await latency.wait('listTaskInstances');
    runOr404(db, req.params.dag_id, req.params.dag_run_id);
    if (opts.random() < opts.faultRate) throw new SchedulerUnavailableError();
    const items = db.listTaskInstances(req.params.dag_id, req.params.dag_run_id);
    return { task_instances: items, total_entries: items.length };
  });

  app.get<{ Params: TaskParams }>('/:dag_run_id/taskInstances/:task_id', async (req) => {
    await latency.wait('getTaskInstance');
    const { dag_id, dag_run_id, task_id } = req.params;
    runOr404(db, dag_id, dag_run_id);
    const ti = db.getTaskInstance(dag_id, dag_run_id, task_id);
    if (!ti) throw new HttpError(404, `Task instance \`${task_id}\` not found in run \`${dag_run_id}\``);
    return ti;
  });

  const logParams = {
    type: 'object',
    properties: { try_number: { type: 'integer', minimum: 1 } },
  } as const;

  // Streamed without Content-Length, as Airflow streams task logs.
  app.get<{ Params: LogParams }>(
    '/:dag_run_id/taskInstances/:task_id/logs/:try_number',
    { schema: { params: logParams } },
    async (req, reply) => {
      const { dag_id, dag_run_id, task_id, try_number } = req.params;
      runOr404(db, dag_id, dag_run_id);
      const ti = db.getTaskInstance(dag_id, dag_run_id, task_id);
      if (!ti || try_number > ti.try_number) {
        throw new HttpError(404, `No log for try ${try_number} of task \`${task_id}\``);
      }
      reply.type('text/plain; charset=utf-8');
      return reply.send(
        Readable.from(logLines(`${dag_id}/${dag_run_id}/${task_id}`, try_number, latency), { objectMode: false }),
      );
    },
  );
}

/** A fake task log, 40–200 lines depending on the task, in chunks of 10 lines with small pauses. */
async function* logLines(key: string, tryNumber: number, latency: Latency): AsyncGenerator<Buffer> {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  const lines = 40 + (h % 161);
  const t0 = Date.UTC(2025, 0, 1, 0, 1);
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const ts = new Date(t0 + i * 250).toISOString();
    chunk += `[${ts}] {taskinstance.py:${1100 + (i % 50)}} INFO - ${key} try=${tryNumber} step ${i + 1}/${lines}\n`;
    if ((i + 1) % 10 === 0 || i === lines - 1) {
      yield Buffer.from(chunk);
      chunk = '';
      const ms = latency.sampleMs('logChunk');
      if (ms > 0) await sleep(ms);
    }
  }
}
