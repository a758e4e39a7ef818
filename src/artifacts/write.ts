import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';

const reason = (error: unknown) =>
  (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));

/** Writes one file; an existing one only with `force`. Failures are `APIMETER_ERR_EXPORT_OUTPUT`. */
export function writeArtifactFile(path: string, text: string, force: boolean): void {
  try {
    writeFileSync(path, text, { flag: force ? 'w' : 'wx' });
  } catch (error) {
    if (reason(error) === 'EEXIST') {
      throw createError('APIMETER_ERR_EXPORT_OUTPUT', `${path} exists; pass --force to overwrite it`);
    }
    throw createError('APIMETER_ERR_EXPORT_OUTPUT', `cannot write ${path}: ${reason(error)}`);
  }
}

/**
 * Writes `files` (name → text) into `dir`, creating it. Without `force` nothing is written when any of
 * them exists already. Returns the paths written.
 */
export function writeArtifacts(dir: string, files: Readonly<Record<string, string>>, force: boolean): string[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw createError('APIMETER_ERR_EXPORT_OUTPUT', `cannot create the output directory ${dir}: ${reason(error)}`);
  }
  const paths = Object.keys(files).map((name) => join(dir, name));
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length > 0 && !force) {
    throw createError(
      'APIMETER_ERR_EXPORT_OUTPUT',
      `${existing.join(', ')} exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite`,
    );
  }
  for (const [name, text] of Object.entries(files)) writeArtifactFile(join(dir, name), text, force);
  return paths;
}
