import type * as NodeFs from 'node:fs';
import type * as NodePath from 'node:path';

/**
 * What the core takes from the host runtime, reached without a static `node:` import so that the
 * core loads on any JavaScript runtime (Node, Bun, Deno, workerd): Node's built-in modules through
 * `process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno), the environment and the working directory.
 * Each is undefined where the runtime has none.
 */

interface HostProcess {
  env?: Record<string, string | undefined>;
  cwd?: () => string;
  getBuiltinModule?: (id: string) => unknown;
}

const host = (): HostProcess | undefined => (globalThis as { process?: HostProcess }).process;

/** A Node built-in module, or undefined on a runtime without it. Load once, not per request. */
export function nodeBuiltin<T>(id: string): T | undefined {
  try {
    return host()?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** `process.env`, or an empty environment. */
export function hostEnv(): Record<string, string | undefined> {
  return host()?.env ?? {};
}

/** `node:fs` and `node:path` together (reading the INI file needs both), or undefined. */
export function nodeFiles(): { fs: typeof NodeFs; path: typeof NodePath; cwd: string } | undefined {
  const fs = nodeBuiltin<typeof NodeFs>('node:fs');
  const path = nodeBuiltin<typeof NodePath>('node:path');
  const cwd = host()?.cwd;
  if (fs === undefined || path === undefined || cwd === undefined) return undefined;
  return { fs, path, cwd: cwd() };
}
