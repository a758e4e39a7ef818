// Loaded with `node --import tsx --import ./test/faults/hide-packages.ts`: makes the packages named in
// APIMETER_TEST_HIDE (comma-separated) unresolvable, failing exactly as Node does for a package that is
// not installed (ERR_MODULE_NOT_FOUND, "Cannot find package 'pg' imported from …"). Worker threads load
// it too (they inherit --import).
import { register } from 'node:module';

const hide = (process.env.APIMETER_TEST_HIDE ?? '').split(',').filter(Boolean);
const hooks = `
const hide = new Set(${JSON.stringify(hide)});
export async function resolve(specifier, context, next) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (hide.has(name)) {
    const error = new Error(\`Cannot find package '\${name}' imported from \${context.parentURL}\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
