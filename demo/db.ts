import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface Dag {
  dag_id: string;
  description: string;
  owners: string;
  schedule: string;
  tags: string;
  is_paused: boolean;
  last_parsed_time: string;
}

export interface DagRun {
  dag_id: string;
  dag_run_id: string;
  run_type: string;
  state: string;
  logical_date: string;
  start_date: string | null;
  end_date: string | null;
  conf: Record<string, unknown>;
  note: string | null;
}

export interface TaskInstance {
  dag_id: string;
  dag_run_id: string;
  task_id: string;
  state: string;
  try_number: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  operator: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dag (
  dag_id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  owners TEXT NOT NULL,
  schedule TEXT NOT NULL,
  tags TEXT NOT NULL,
  is_paused INTEGER NOT NULL DEFAULT 0,
  last_parsed_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dag_run (
  dag_id TEXT NOT NULL REFERENCES dag(dag_id),
  dag_run_id TEXT NOT NULL,
  run_type TEXT NOT NULL,
  state TEXT NOT NULL,
  logical_date TEXT NOT NULL,
  start_date TEXT,
  end_date TEXT,
  conf TEXT NOT NULL DEFAULT '{}',
  note TEXT,
  PRIMARY KEY (dag_id, dag_run_id)
);
CREATE TABLE IF NOT EXISTS task_instance (
  dag_id TEXT NOT NULL,
  dag_run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  state TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  start_date TEXT,
  end_date TEXT,
  duration REAL,
  operator TEXT NOT NULL,
  PRIMARY KEY (dag_id, dag_run_id, task_id),
  FOREIGN KEY (dag_id, dag_run_id) REFERENCES dag_run(dag_id, dag_run_id) ON DELETE CASCADE
);
`;

type DagRow = Omit<Dag, 'is_paused'> & { is_paused: number };
type RunRow = Omit<DagRun, 'conf'> & { conf: string };

const toDag = (r: DagRow): Dag => ({ ...r, is_paused: r.is_paused === 1 });
const toRun = (r: RunRow): DagRun => ({ ...r, conf: JSON.parse(r.conf) as Record<string, unknown> });

function prepare(db: Database.Database) {
  return {
    countDags: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dag'),
    listDags: db.prepare<[number, number], DagRow>('SELECT * FROM dag ORDER BY dag_id LIMIT ? OFFSET ?'),
    getDag: db.prepare<[string], DagRow>('SELECT * FROM dag WHERE dag_id = ?'),
    pauseDag: db.prepare<[number, string]>('UPDATE dag SET is_paused = ? WHERE dag_id = ?'),
    describeDag: db.prepare<[string, string]>('UPDATE dag SET description = ? WHERE dag_id = ?'),
    insertDag: db.prepare<[string, string, string, string, string, string]>(
      'INSERT INTO dag (dag_id, description, owners, schedule, tags, last_parsed_time) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    countRuns: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM dag_run WHERE dag_id = ?'),
    listRuns: db.prepare<[string, number, number], RunRow>(
      'SELECT * FROM dag_run WHERE dag_id = ? ORDER BY logical_date DESC LIMIT ? OFFSET ?',
    ),
    getRun: db.prepare<[string, string], RunRow>('SELECT * FROM dag_run WHERE dag_id = ? AND dag_run_id = ?'),
    insertRun: db.prepare<
      [string, string, string, string, string, string | null, string | null, string, string | null]
    >(
      `INSERT INTO dag_run (dag_id, dag_run_id, run_type, state, logical_date, start_date, end_date, conf, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteRun: db.prepare<[string, string]>('DELETE FROM dag_run WHERE dag_id = ? AND dag_run_id = ?'),
    listTis: db.prepare<[string, string], TaskInstance>(
      'SELECT * FROM task_instance WHERE dag_id = ? AND dag_run_id = ? ORDER BY task_id',
    ),
    getTi: db.prepare<[string, string, string], TaskInstance>(
      'SELECT * FROM task_instance WHERE dag_id = ? AND dag_run_id = ? AND task_id = ?',
    ),
    insertTi: db.prepare<[string, string, string, string, number, string | null, string | null, number | null, string]>(
      `INSERT INTO task_instance (dag_id, dag_run_id, task_id, state, try_number, start_date, end_date, duration, operator)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

/** The demo's data: DAGs, their runs and task instances, in one SQLite file (or `:memory:`). */
export class DemoDb {
  readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    if (path !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.stmt = prepare(this.db);
    if (this.stmt.countDags.get()!.n === 0) seed(this);
  }

  listDags(limit: number, offset: number): Page<Dag> {
    return { items: this.stmt.listDags.all(limit, offset).map(toDag), total: this.stmt.countDags.get()!.n };
  }

  getDag(dagId: string): Dag | undefined {
    const row = this.stmt.getDag.get(dagId);
    return row && toDag(row);
  }

  patchDag(dagId: string, patch: { is_paused?: boolean; description?: string }): Dag | undefined {
    if (patch.is_paused !== undefined) this.stmt.pauseDag.run(patch.is_paused ? 1 : 0, dagId);
    if (patch.description !== undefined) this.stmt.describeDag.run(patch.description, dagId);
    return this.getDag(dagId);
  }

  insertDag(d: Omit<Dag, 'is_paused'>): void {
    this.stmt.insertDag.run(d.dag_id, d.description, d.owners, d.schedule, d.tags, d.last_parsed_time);
  }

  listRuns(dagId: string, limit: number, offset: number): Page<DagRun> {
    return {
      items: this.stmt.listRuns.all(dagId, limit, offset).map(toRun),
      total: this.stmt.countRuns.get(dagId)!.n,
    };
  }

  getRun(dagId: string, runId: string): DagRun | undefined {
    const row = this.stmt.getRun.get(dagId, runId);
    return row && toRun(row);
  }

  /** Inserts a run; false when one with the same id already exists. */
  insertRun(r: DagRun): boolean {
    if (this.stmt.getRun.get(r.dag_id, r.dag_run_id)) return false;
    this.stmt.insertRun.run(
      r.dag_id,
      r.dag_run_id,
      r.run_type,
      r.state,
      r.logical_date,
      r.start_date,
      r.end_date,
      JSON.stringify(r.conf),
      r.note,
    );
    return true;
  }

  /** Deletes a run and its task instances; false when there was none. */
  deleteRun(dagId: string, runId: string): boolean {
    return this.stmt.deleteRun.run(dagId, runId).changes > 0;
  }

  listTaskInstances(dagId: string, runId: string): TaskInstance[] {
    return this.stmt.listTis.all(dagId, runId);
  }

  getTaskInstance(dagId: string, runId: string, taskId: string): TaskInstance | undefined {
    return this.stmt.getTi.get(dagId, runId, taskId);
  }

  insertTaskInstance(t: TaskInstance): void {
    this.stmt.insertTi.run(
      t.dag_id,
      t.dag_run_id,
      t.task_id,
      t.state,
      t.try_number,
      t.start_date,
      t.end_date,
      t.duration,
      t.operator,
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const DAGS: [id: string, schedule: string, tags: string, tasks: string[]][] = [
  [
    'example_bash_operator',
    '0 0 * * *',
    'example',
    ['runme_0', 'runme_1', 'runme_2', 'run_after_loop', 'also_run_this'],
  ],
  ['example_python_operator', '@daily', 'example', ['print_the_context', 'log_sql_query', 'sleep_for_0']],
  ['etl_orders', '@hourly', 'etl,orders', ['extract', 'transform', 'load', 'notify']],
  ['etl_customers', '@daily', 'etl', ['extract', 'dedupe', 'load']],
  ['ml_train_recommender', '@weekly', 'ml', ['fetch_features', 'train', 'evaluate', 'publish_model']],
  ['reporting_daily_kpis', '0 6 * * *', 'reporting', ['query_warehouse', 'render', 'email']],
  ['s3_to_warehouse', '*/30 * * * *', 'ingest', ['list_keys', 'copy_into', 'vacuum']],
  ['dbt_run_nightly', '0 2 * * *', 'dbt', ['dbt_deps', 'dbt_run', 'dbt_test']],
  ['backup_postgres', '0 3 * * *', 'ops', ['dump', 'upload', 'prune']],
  ['sensor_partner_feed', '@hourly', 'ingest,partner', ['wait_for_file', 'parse', 'load']],
  ['tutorial', '@daily', 'example', ['print_date', 'sleep', 'templated']],
  ['data_quality_checks', '0 * * * *', 'quality', ['row_counts', 'null_checks', 'freshness', 'report']],
];

const RUNS_PER_DAG = 8;
const OPERATORS = ['BashOperator', 'PythonOperator', 'SQLExecuteQueryOperator', 'EmptyOperator'];

/** Fills an empty database with a fixed set of DAGs, runs and task instances (same data every time). */
function seed(store: DemoDb): void {
  let s = 42;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const base = Date.UTC(2025, 0, 1);
  store.db.transaction(() => {
    for (const [dagId, schedule, tags, tasks] of DAGS) {
      store.insertDag({
        dag_id: dagId,
        description: `Demo DAG ${dagId.replaceAll('_', ' ')}`,
        owners: 'airflow',
        schedule,
        tags,
        last_parsed_time: new Date(base).toISOString(),
      });
      for (let i = 0; i < RUNS_PER_DAG; i++) {
        const logical = new Date(base + i * 86_400_000).toISOString();
        const runId = `scheduled__${logical.replace('.000Z', '+00:00')}`;
        const failed = rand() < 0.15;
        const running = i === RUNS_PER_DAG - 1;
        const state = running ? 'running' : failed ? 'failed' : 'success';
        const start = new Date(base + i * 86_400_000 + 60_000);
        store.insertRun({
          dag_id: dagId,
          dag_run_id: runId,
          run_type: 'scheduled',
          state,
          logical_date: logical,
          start_date: start.toISOString(),
          end_date: running ? null : new Date(start.getTime() + 600_000).toISOString(),
          conf: {},
          note: null,
        });
        tasks.forEach((taskId, k) => {
          const tiState = running ? (k === 0 ? 'success' : k === 1 ? 'running' : 'scheduled') : state;
          const duration = Math.round(rand() * 300 * 100) / 100;
          store.insertTaskInstance({
            dag_id: dagId,
            dag_run_id: runId,
            task_id: taskId,
            state: tiState === 'failed' && k < tasks.length - 1 ? 'success' : tiState,
            try_number: failed ? 1 + Math.floor(rand() * 3) : 1,
            start_date: start.toISOString(),
            end_date: running ? null : new Date(start.getTime() + duration * 1000).toISOString(),
            duration: running ? null : duration,
            operator: OPERATORS[k % OPERATORS.length],
          });
        });
      }
    }
  })();
}
