import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AlertInstance } from './state.js';

/** Alert instances as saved between runs. */
export interface SavedAlertState {
  version: 1;
  savedAt: number;
  instances: AlertInstance[];
}

/**
 * Where the evaluator keeps its instances between runs, so a restart neither forgets a firing alert nor
 * restarts a pending one's `for`. Loaded once before the first evaluation, saved after each one.
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
        const parsed = JSON.parse(await readFile(path, 'utf8')) as SavedAlertState;
        return parsed.version === 1 && Array.isArray(parsed.instances) ? parsed : null;
      } catch {
        return null;
      }
    },
    async save(state) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      // NaN (nothing to judge) is not JSON: saved as null, restored as NaN.
      await writeFile(
        tmp,
        JSON.stringify(state, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
      );
      await rename(tmp, path);
    },
  };
}
