/** Express path syntaxes (4: path-to-regexp 0.1, 5: path-to-regexp 8) read as OpenAPI-style templates. */
import { skipGroup, tidyTemplate } from '../core/outcome.js';

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

/** Express 4 (path-to-regexp 0.1) syntax: `:name`, `:name(regex)`, `:name?`, `*`. */
export function express4Path(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch !== ':') {
      out += ch;
      continue;
    }
    let j = i + 1;
    while (j < path.length && /\w/.test(path[j])) j++;
    if (j === i + 1) {
      out += ch;
      continue;
    }
    out += '{' + path.slice(i + 1, j) + '}';
    if (path[j] === '(') j = skipGroup(path, j);
    if (path[j] === '?' || path[j] === '*' || path[j] === '+') j++;
    i = j - 1;
  }
  return out;
}

/** Express 5 (path-to-regexp 8) syntax: `:name`, `:"quoted"`, `*splat` → `*`, `{optional}` braces dropped. */
export function express5Path(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '\\') {
      out += path[++i] ?? '';
    } else if (ch === '{' || ch === '}') {
      continue;
    } else if (ch === ':' || ch === '*') {
      let name = '';
      let j = i + 1;
      if (path[j] === '"') {
        const close = path.indexOf('"', j + 1);
        name = path.slice(j + 1, close === -1 ? path.length : close);
        j = close === -1 ? path.length : close + 1;
      } else {
        while (j < path.length && /[\p{ID_Continue}$]/u.test(path[j])) j++;
        name = path.slice(i + 1, j);
      }
      out += ch === '*' ? '*' : `{${name}}`;
      i = j - 1;
    } else out += ch;
  }
  return out;
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
