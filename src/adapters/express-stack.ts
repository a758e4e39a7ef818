/**
 * Reading an Express app's router stack: Express keeps no public record of the path a router was
 * mounted at, so these are the internal shapes of Express 4 (`lib/router/layer.js`) and of `router` 2.x
 * (Express 5), read defensively — every access may find something else and must not throw.
 */
import { express4MountTemplate, pathTemplate } from '../routing/express-paths.js';
import type { Dialect } from '../routing/express-paths.js';

export interface Layer {
  route?: Route;
  handle?: { stack?: unknown; name?: string };
  name?: string;
  /** router ≥ 2.3: the path the layer was registered with. */
  rawPath?: unknown;
  /** router 2.x: a non-ending `/` layer (matches everything). */
  slash?: boolean;
  matchers?: unknown;
  /** Express 4 */
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: { name: string | number; optional?: boolean }[];
  path?: string;
  match?: (path: string) => unknown;
}

export interface Route {
  path: unknown;
  /** router 2.x */
  _handlesMethod?: (method: string) => boolean;
  /** Express 4 */
  _handles_method?: (method: string) => boolean;
}

export interface ExpressApp {
  _router?: { stack?: Layer[] };
  router?: { stack?: Layer[] };
  parent?: ExpressApp;
}

export function stackOf(app: ExpressApp): Layer[] | undefined {
  try {
    // Express 4 creates `_router` lazily; Express 5's `router` getter creates it on first read.
    const router = app._router ?? app.router;
    return Array.isArray(router?.stack) ? router.stack : undefined;
  } catch {
    return undefined;
  }
}

export function innerStack(layer: Layer): Layer[] | undefined {
  const stack = layer.handle?.stack;
  return Array.isArray(stack) ? (stack as Layer[]) : undefined;
}

export function isMountedApp(layer: Layer): boolean {
  return layer.handle?.name === 'mounted_app';
}

export function dialectOf(stack: Layer[]): Dialect {
  for (const layer of stack) {
    if (layer.regexp instanceof RegExp) return 4;
    if (layer.matchers !== undefined || 'rawPath' in layer) return 5;
  }
  return 5;
}

export function handles(route: Route, method: string): boolean {
  try {
    const test = route._handlesMethod ?? route._handles_method;
    if (typeof test !== 'function') return false;
    return test.call(route, method) || (method === 'HEAD' && test.call(route, 'GET'));
  } catch {
    return false;
  }
}

/** The part of `path` a layer matches (its mount prefix), or null. Express 4 and router < 2.3 store it on the layer. */
export function layerMatch(layer: Layer, path: string): string | null {
  try {
    const result = layer.match?.(path);
    if (!result) return null;
    if (typeof result === 'object') {
      const matched = (result as { path?: unknown }).path;
      return typeof matched === 'string' ? matched : '';
    }
    return layer.path ?? '';
  } catch {
    return null; // malformed percent-encoding in a parameter
  }
}

/** True when the chain's mounts, applied in turn, consume exactly `baseUrl`. */
export function consumes(chain: Mount[], baseUrl: string): boolean {
  let rest = baseUrl;
  for (const mount of chain) {
    const matched = mount.match(rest === '' ? '/' : rest);
    if (matched < 0) return false;
    rest = rest.slice(matched);
  }
  return rest === '' || rest === '/';
}

/** One path a router or sub-application is mounted at (an array mount has several). */
export interface Mount {
  /** Template piece: `/dags/{dag_id}`, or '' for a root mount. */
  template: string;
  /** Length of the prefix of `path` this mount matches, or -1. */
  match(path: string): number;
}

const mountCache = new WeakMap<Layer, Mount[]>();

/**
 * The mounts of a layer, computed once per layer. router ≥ 2.3 (Express 5) keeps the path it was given;
 * Express 4 keeps only its compiled expression, split here at the top-level `|` an array compiles to.
 * router 2.0–2.2 keep neither: such mounts contribute nothing to templates.
 */
export function mountsOf(layer: Layer): Mount[] {
  let mounts = mountCache.get(layer);
  if (mounts !== undefined) return mounts;
  const whole = (template: string): Mount => ({
    template,
    match: (path) => {
      const m = layerMatch(layer, path);
      return m === null ? -1 : m.length;
    },
  });
  if (layer.slash === true || layer.regexp?.fast_slash === true) mounts = [whole('')];
  else if ('rawPath' in layer) {
    const raw = layer.rawPath;
    mounts = Array.isArray(raw)
      ? raw.map((alt: unknown) => ({
          template: pathTemplate(alt, 5),
          match: (path: string) => {
            const r = layer.match?.(path) as { path?: string; pattern?: unknown } | false | undefined;
            return r && r.pattern === alt && typeof r.path === 'string' ? r.path.length : -1;
          },
        }))
      : [whole(pathTemplate(raw, 5))];
  } else if (layer.regexp instanceof RegExp) {
    mounts = express4Alternatives(layer.regexp, layer.keys ?? []).map(({ re, keys }) => ({
      template: express4MountTemplate(re, keys),
      match: (path: string) => {
        const m = re.exec(path);
        return m === null ? -1 : m[0].length;
      },
    }));
  } else mounts = [whole('')];
  mountCache.set(layer, mounts);
  return mounts;
}

/** An Express 4 mount expression split at its top-level `|` (arrays compile to an alternation). */
function express4Alternatives(
  re: RegExp,
  keys: readonly { name: string | number }[],
): { re: RegExp; keys: { name: string | number }[] }[] {
  const src = re.source;
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') i++;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(src.slice(start));
  const flags = re.flags.replace('g', '');
  if (parts.length === 1) return [{ re: new RegExp(src, flags), keys: [...keys] }];
  let k = 0;
  return parts.map((part) => {
    const groups = (part.match(/\((?!\?)/g) ?? []).length;
    const own = keys.slice(k, k + groups);
    k += groups;
    return { re: new RegExp(part, flags), keys: own };
  });
}
