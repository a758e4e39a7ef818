import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AlertInstance } from './state.js';

/** What a store keeps the state in (src/store: SQLite, PostgreSQL, memory implement it). */
export interface AlertStateTable {
  readonly kind: string;
  readAlertState(key: string): Promise<string | null>;
  writeAlertState(key: string, state: string, savedAt: number): Promise<void>;
}

// NaN (nothing to judge) is not JSON: saved as null, restored as NaN.
const stringify = (state: SavedAlertState) =>
  JSON.stringify(state, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));

function parse(text: string): SavedAlertState | null {
  const parsed = JSON.parse(text) as SavedAlertState;
  return parsed.version === 1 && Array.isArray(parsed.instances) ? parsed : null;
}

/** Alert instances as saved between runs. */
export interface SavedAlertState {
  version: 1;
  savedAt: number;
  instances: AlertInstance[];
}

/**
 * Where the evaluator keeps its instances between runs, so a restart neither forgets a firing alert nor
 * restarts a pending one's `for`. Loaded once before the first evaluation (again at the next one while
 * loading fails), saved after each one.
 */
export interface AlertStateStore {
  load(): Promise<SavedAlertState | null>;
  save(state: SavedAlertState): Promise<void>;
}

/** An in-memory {@link AlertStateStore}: the test double. */
export class MemoryAlertState implements AlertStateStore {
  saved: SavedAlertState | null = null;
  async load(): Promise<SavedAlertState | null> {
    return this.saved === null ? null : (JSON.parse(JSON.stringify(this.saved)) as SavedAlertState);
  }
  async save(state: SavedAlertState): Promise<void> {
    this.saved = JSON.parse(JSON.stringify(state)) as SavedAlertState;
  }
}

/**
 * A JSON file (written to a temporary file, then renamed, so a crash never leaves half a file). A missing
 * or unreadable file loads as no state: alerts start fresh rather than not at all.
 *
 * @example
 * startAlerts(meter, { history, state: fileAlertState('./data/apimeter-alerts.json') });
 */
export function fileAlertState(path: string): AlertStateStore {
  return {
    async load() {
      try {
        return parse(await readFile(path, 'utf8'));
      } catch {
        return null;
      }
    },
    async save(state) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, stringify(state));
      await rename(tmp, path);
    },
  };
}

/**
 * The state in the history store (table `apimeter_alert_state`, one row per `key`): what a restart
 * finds when a store is configured, SQLite or PostgreSQL. Instances sharing a store and a key (by
 * default `[alerts] service`) share one saved state: the last one to evaluate wins. A store that
 * cannot be read (not connected yet) rejects, and the evaluator tries again at its next evaluation; a
 * stored state it cannot parse loads as none.
 *
 * @example
 * const persistence = await startPersistence(meter);
 * startAlerts(meter, { history: persistence?.history, state: persistence ? storeAlertState(persistence.store) : undefined });
 */
export function storeAlertState(store: AlertStateTable, key = 'default'): AlertStateStore {
  return {
    async load() {
      const text = await store.readAlertState(key);
      if (text === null) return null;
      try {
        return parse(text);
      } catch {
        return null;
      }
    },
    async save(state) {
      await store.writeAlertState(key, stringify(state), state.savedAt);
    },
  };
}
