import type * as NodeModule from 'node:module';
import { createError } from '../errors.js';
import { nodeBuiltin } from './runtime.js';

/**
 * Loads an optional package synchronously on first use (`yaml` for YAML rules files and OpenAPI
 * documents, `undici` for webhook notifiers), so an install that does not use those features does
 * not need it: they are optional peer dependencies. A missing package is APIMETER_ERR_MISSING_DEPENDENCY
 * naming the feature and the `npm install` line.
 */
export function requireOptional<T>(name: string, feature: string): T {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached as T;
  const mod = nodeBuiltin<typeof NodeModule>('node:module');
  try {
    if (mod === undefined) throw Object.assign(new Error(`no require on this runtime`), { code: 'MODULE_NOT_FOUND' });
    const value = mod.createRequire(import.meta.url)(name) as T;
    loaded.set(name, value);
    return value;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
    const coded = createError(
      'APIMETER_ERR_MISSING_DEPENDENCY',
      `${feature} needs ${name}. Install it: npm install ${name}`,
    );
    coded.cause = error;
    throw coded;
  }
}

const loaded = new Map<string, unknown>();
