/** Express path syntaxes (4: path-to-regexp 0.1, 5: path-to-regexp 8) read as OpenAPI-style templates. */
import { express4Path, express5Path, skipGroup, tidyTemplate } from './template-syntax.js';

export { express4Path, express5Path };

export type Dialect = 4 | 5;

/** A route's own path as a template piece: strings converted, a RegExp as written, arrays joined by `|`. */
export function routeTemplate(path: unknown, dialect: Dialect): string {
  return pathTemplate(path, dialect);
}

export function pathTemplate(path: unknown, dialect: Dialect): string {
  if (typeof path === 'string') return dialect === 4 ? express4Path(path) : express5Path(path);
  if (path instanceof RegExp) return regexpTemplate(path);
  if (Array.isArray(path)) return path.map((p) => tidyTemplate(pathTemplate(p, dialect))).join('|');
  return '';
}

/**
 * A RegExp route as a stable, readable template: its source without anchors, `\/` unescaped
 * (`/^\/commits\/(\w+)$/` → `/commits/(\w+)`). Never the matched text, which would carry ids.
 */
export function regexpTemplate(re: RegExp): string {
  let src = re.source;
  if (src.startsWith('^')) src = src.slice(1);
  if (src.endsWith('$') && !src.endsWith('\\$')) src = src.slice(0, -1);
  src = src.replace(/\\\//g, '/');
  return src.startsWith('/') ? src : '/' + src;
}

/**
 * Express 4 keeps only the compiled expression of a mount path. Paths made of literals and `:params`
 * compile to a known shape that is read back here (`^\/dags(?:\/([^/]+?))\/?(?=\/|$)` → `/dags/{dag_id}`);
 * anything else (arrays, RegExps) is shown as its expression.
 */
export function express4MountTemplate(re: RegExp, keys: readonly { name: string | number }[]): string {
  let src = re.source;
  const tail = /\\\/\?\(\?=\\\/\|\$\)$/;
  if (!src.startsWith('^') || !tail.test(src)) return regexpTemplate(re);
  src = src.slice(1).replace(tail, '');
  let out = '';
  let k = 0;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') {
      out += src[++i] ?? '';
      continue;
    }
    if (src.startsWith('(?:', i)) {
      // `(?:\/(…))` or `(?:\.(…))`, optionally followed by `?`: one parameter after a separator.
      const close = skipGroup(src, i);
      const inner = src.slice(i + 3, close - 1);
      const sep = /^\\([/.])\(/.exec(inner);
      if (sep === null || k >= keys.length) return regexpTemplate(re);
      const name = keys[k++].name;
      out += sep[1] + (typeof name === 'number' ? '*' : `{${name}}`);
      i = close - 1;
      if (src[i + 1] === '?') i++;
      continue;
    }
    if (src.startsWith('(.*)', i)) {
      k++;
      out += '*';
      i += 3;
      continue;
    }
    if (/[\w\-~%!$&'*+,;=:@]/.test(ch)) {
      out += ch;
      continue;
    }
    return regexpTemplate(re);
  }
  return out;
}
