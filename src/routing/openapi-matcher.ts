import { createError } from '../errors.js';
import { loadOpenApiDocument, resolveRef, serverBasePaths, trimBase, unique } from './openapi-document.js';
import type { OpenApiDocument } from './openapi-document.js';
import { decodeSegment } from './request-target.js';
import { parseTemplate } from './route-template.js';
import { colonToBraces } from './template-syntax.js';
import type { SegmentSpec } from './route-template.js';

/** One (method, path template) the matcher can answer with. */
export interface Operation {
  /** Dense index (0 … routes.length-1): adapters keep per-operation state in arrays indexed by it. */
  readonly index: number;
  /** Upper-case method, or `*` for a route-table entry that accepts any method. */
  readonly method: string;
  /** The template reported to the meter: base path + path, parameters written `{name}`. */
  readonly template: string;
  /** Parameter names in order of appearance. */
  readonly params: readonly string[];
  readonly operationId: string | undefined;
  /** The document marks the operation `deprecated: true` (always false for route tables). */
  readonly deprecated: boolean;
}

export interface RouteMatch {
  operation: Operation;
  /** Percent-decoded once; a multi-segment parameter keeps its `/`. */
  params: Record<string, string>;
}

export interface MatcherOptions {
  /**
   * Parameters that may span several segments (`/variables/{variable_key}` with `a/b/c`): parameter
   * names, matched in every template that uses them. Route-table templates may also write `{name:path}`.
   */
  multiSegmentParams?: readonly string[];
  /**
   * `strict` (default): `/dags/` does not match `/dags` (as Starlette and Fastify answer). `ignore`: one
   * trailing slash is dropped before matching.
   */
  trailingSlash?: 'strict' | 'ignore';
  /** Base paths the API is served under; default: the path part of every `servers[].url`. */
  basePaths?: readonly string[];
  /** Report templates with their base path (default true): `/api/v1/users/{id}` rather than `/users/{id}`. */
  includeBasePath?: boolean;
  /** A HEAD request matches a GET operation when no HEAD is declared (default true). */
  headMatchesGet?: boolean;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

// Edge kinds tried in this order at every node: literal beats pattern beats parameter beats multi-segment.
class TrieNode {
  /**
   * Literal children bucketed by segment length, compared in place with startsWith: no substring is
   * made for the common (unencoded) segment.
   */
  literal: (LiteralEdge[] | undefined)[] | null = null;
  patterns: PatternEdge[] | null = null;
  param: TrieNode | null = null;
  multi: TrieNode | null = null;
  ops: Record<string, Operation> | null = null;
  anyOp: Operation | null = null;
}

interface LiteralEdge {
  text: string;
  node: TrieNode;
}

interface PatternEdge {
  /** Applied to the decoded segment; one group per parameter. */
  re: RegExp;
  source: string;
  node: TrieNode;
}

const NO_SEGMENT = -1;

interface RouteEntry {
  method: string;
  /** What requests must match (base path included). */
  template: string;
  /** What is reported, when it differs from `template`. */
  report?: string;
  operationId?: string;
  deprecated?: boolean;
}

interface Capture {
  start: number;
  end: number;
  multi: boolean;
  re: RegExp | null;
}

/**
 * Maps (method, concrete path) to the operation's path template, in one walk of a trie of path
 * segments. Literal segments beat parameters; when a branch dead-ends (or has no operation for the
 * method) the walk backtracks, so `GET /dagRuns/list` lands on `/dagRuns/{dag_run_id}` when `list`
 * is declared for POST only. Segments are split on `/` first and percent-decoded once after, so an
 * encoded `%2F` stays inside its segment and `%2525` decodes to `%25`, never to `%`.
 *
 * @example
 * const m = RouteMatcher.fromFile('airflow.yaml', { multiSegmentParams: ['variable_key'] });
 * m.lookup('GET', '/api/v2/dags/etl/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00')?.template;
 * // '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}'
 */
export class RouteMatcher {
  readonly routes: readonly Operation[];
  /** Where the routes come from: an OpenAPI document or a route table (the inventory's `source`). */
  origin: 'openapi' | 'routes' = 'routes';
  /** Templates that were declared twice for one method (the first one wins). */
  readonly conflicts: readonly string[];
  private readonly root = new TrieNode();
  private readonly trailingSlash: 'strict' | 'ignore';
  private readonly headMatchesGet: boolean;
  private readonly multi: ReadonlySet<string>;
  // Scratch state of the current lookup (lookups are synchronous, so one set per matcher is safe).
  private path = '';
  /** End of the path part of `path` (before `?` or `#`, and a dropped trailing slash). */
  private end = 0;
  /** Whether the path part holds a `%` at all (else no segment needs decoding). */
  private encoded = false;
  private method = '';
  private captures: Capture[] | null = null;

  private constructor(entries: readonly RouteEntry[], options: MatcherOptions) {
    this.trailingSlash = options.trailingSlash ?? 'strict';
    this.headMatchesGet = options.headMatchesGet ?? true;
    this.multi = new Set(options.multiSegmentParams ?? []);
    const routes: Operation[] = [];
    const byReport = new Map<string, Operation>();
    const conflicts: string[] = [];
    for (const entry of entries) {
      const { specs, template, params } = parseTemplate(entry.template, this.multi);
      const reported = entry.report === undefined ? template : parseTemplate(entry.report, this.multi).template;
      const method = entry.method === '*' ? '*' : entry.method.toUpperCase();
      let node = this.root;
      for (const spec of specs) node = this.child(node, spec);
      const existing = method === '*' ? node.anyOp : node.ops?.[method];
      if (existing) {
        conflicts.push(`${method} ${template} (already ${existing.method} ${existing.template})`);
        continue;
      }
      // One operation per (method, reported template), even when several base paths lead to it.
      const key = `${method} ${reported}`;
      let op = byReport.get(key);
      if (op === undefined) {
        op = Object.freeze({
          index: routes.length,
          method,
          template: reported,
          params: Object.freeze(params),
          operationId: entry.operationId,
          deprecated: entry.deprecated === true,
        });
        routes.push(op);
        byReport.set(key, op);
      }
      if (method === '*') node.anyOp = op;
      else (node.ops ??= Object.create(null) as Record<string, Operation>)[method] = op;
    }
    this.routes = Object.freeze(routes);
    this.conflicts = Object.freeze(conflicts);
  }

  /** From an OpenAPI 3.0/3.1 document already parsed. */
  static fromDocument(doc: OpenApiDocument, options: MatcherOptions = {}): RouteMatcher {
    if (doc === null || typeof doc !== 'object' || typeof doc.paths !== 'object' || doc.paths === null) {
      throw createError('APIMETER_ERR_CONFIG_INVALID', 'the OpenAPI document has no `paths` object');
    }
    const bases = (options.basePaths ?? serverBasePaths(doc)).map(trimBase);
    const includeBase = options.includeBasePath ?? true;
    const entries: RouteEntry[] = [];
    for (const base of unique(bases.length === 0 ? [''] : bases)) {
      for (const [path, rawItem] of Object.entries(doc.paths)) {
        const item = resolveRef(doc, rawItem);
        if (item === null || typeof item !== 'object') continue;
        for (const method of HTTP_METHODS) {
          const op = (item as Record<string, unknown>)[method] as
            { operationId?: unknown; deprecated?: unknown } | undefined;
          if (op === undefined || op === null) continue;
          // Requests carry the base path; it is matched always and reported unless includeBasePath is false.
          const full = base === '' ? path : path === '/' ? base : base + path;
          entries.push({
            method,
            template: full,
            report: includeBase ? undefined : path,
            operationId: typeof op.operationId === 'string' ? op.operationId : undefined,
            deprecated: op.deprecated === true,
          });
        }
      }
    }
    const matcher = new RouteMatcher(entries, options);
    matcher.origin = 'openapi';
    return matcher;
  }

  /** From a YAML or JSON file (JSON is parsed as JSON, anything else as YAML). */
  static fromFile(file: string, options: MatcherOptions = {}): RouteMatcher {
    return RouteMatcher.fromDocument(loadOpenApiDocument(file), options);
  }

  /**
   * From a route table: `'GET /dags/{dag_id}'`, `'/health'` (any method), `:name` accepted for `{name}`,
   * `{name:path}` for a multi-segment parameter.
   */
  static fromRoutes(routes: Iterable<string | readonly [string, string]>, options: MatcherOptions = {}): RouteMatcher {
    const entries: RouteEntry[] = [];
    for (const r of routes) {
      let method: string;
      let template: string;
      if (typeof r === 'string') {
        const m = /^\s*([A-Za-z*]+)\s+(\S+)\s*$/.exec(r);
        if (m) [method, template] = [m[1], m[2]];
        else [method, template] = ['*', r.trim()];
      } else [method, template] = [r[0], r[1]];
      if (!template.startsWith('/')) {
        throw createError('APIMETER_ERR_CONFIG_INVALID', `route "${String(r)}": a template must start with "/"`);
      }
      entries.push({ method, template: colonToBraces(template) });
    }
    return new RouteMatcher(entries, options);
  }

  /**
   * The operation for a request, or null. `path` is the request target as received (percent-encoded,
   * query string allowed). Allocation: one substring per segment; nothing else on the common path.
   */
  lookup(method: string, path: string): Operation | null {
    this.captures = null;
    return this.find(method, path);
  }

  /** Like {@link lookup}, with the parameter values (decoded once). */
  match(method: string, path: string): RouteMatch | null {
    const captures: Capture[] = [];
    this.captures = captures;
    const op = this.find(method, path);
    this.captures = null;
    if (op === null) return null;
    const params: Record<string, string> = {};
    let k = 0;
    for (const { start, end, multi, re } of captures) {
      const raw = this.path.slice(start, end);
      if (re !== null) {
        // A segment holding several parameters (`{name}.{ext}`): its expression has one group each.
        const m = re.exec(decodeSegment(raw));
        if (m) for (let g = 1; g < m.length; g++) params[op.params[k++]] = m[g];
        continue;
      }
      params[op.params[k++]] = multi ? raw.split('/').map(decodeSegment).join('/') : decodeSegment(raw);
    }
    return { operation: op, params };
  }

  private find(method: string, path: string): Operation | null {
    if (path.charCodeAt(0) !== 47 /* / */) return null;
    let end = path.length;
    const q = path.indexOf('?');
    if (q !== -1) end = q;
    const h = path.indexOf('#');
    if (h !== -1 && h < end) end = h;
    if (this.trailingSlash === 'ignore' && end > 1 && path.charCodeAt(end - 1) === 47) end--;
    const pct = path.indexOf('%');
    this.path = path;
    this.end = end;
    this.encoded = pct !== -1 && pct < end;
    this.method = method;
    return this.walk(this.root, end === 1 ? NO_SEGMENT : 1);
  }

  /** `pos` is the start of the next segment, or NO_SEGMENT when the path is consumed. */
  private walk(node: TrieNode, pos: number): Operation | null {
    if (pos === NO_SEGMENT) return this.operationAt(node);
    const path = this.path;
    const last = this.end;
    let end = path.indexOf('/', pos);
    if (end === -1 || end > last) end = last;
    const next = end === last ? NO_SEGMENT : end + 1;
    if (node.literal !== null) {
      const child = this.literalChild(node.literal, pos, end);
      if (child !== null) {
        const found = this.walk(child, next);
        if (found !== null) return found;
      }
    }
    if (end === pos) return null; // an empty segment only matches a literal empty segment
    if (node.patterns !== null) {
      const segment = decodeSegment(path.slice(pos, end));
      for (const edge of node.patterns) {
        if (!edge.re.test(segment)) continue;
        const mark = this.capture(pos, end, false, edge.re);
        const found = this.walk(edge.node, next);
        if (found !== null) return found;
        this.uncapture(mark);
      }
    }
    if (node.param !== null) {
      const mark = this.capture(pos, end, false, null);
      const found = this.walk(node.param, next);
      if (found !== null) return found;
      this.uncapture(mark);
    }
    if (node.multi !== null) {
      // Greedy like Starlette's `{name:path}`: the longest run of segments first.
      let stop = last;
      for (;;) {
        const mark = this.capture(pos, stop, true, null);
        const found = this.walk(node.multi, stop === last ? NO_SEGMENT : stop + 1);
        if (found !== null) return found;
        this.uncapture(mark);
        if (stop <= end) break;
        stop = path.lastIndexOf('/', stop - 1);
        if (stop < end) break;
      }
    }
    return null;
  }

  private literalChild(buckets: (LiteralEdge[] | undefined)[], pos: number, end: number): TrieNode | null {
    const path = this.path;
    if (this.encoded) {
      const pct = path.indexOf('%', pos);
      if (pct !== -1 && pct < end) {
        const segment = decodeSegment(path.slice(pos, end));
        const bucket = buckets[segment.length];
        if (bucket !== undefined) for (const e of bucket) if (e.text === segment) return e.node;
        return null;
      }
    }
    const bucket = buckets[end - pos];
    if (bucket !== undefined) for (const e of bucket) if (path.startsWith(e.text, pos)) return e.node;
    return null;
  }

  private operationAt(node: TrieNode): Operation | null {
    const ops = node.ops;
    if (ops !== null) {
      const op = ops[this.method];
      if (op !== undefined) return op;
      if (this.method === 'HEAD' && this.headMatchesGet && ops.GET !== undefined) return ops.GET;
    }
    return node.anyOp;
  }

  private capture(start: number, end: number, multi: boolean, re: RegExp | null): number {
    const c = this.captures;
    if (c === null) return 0;
    c.push({ start, end, multi, re });
    return c.length - 1;
  }

  private uncapture(mark: number): void {
    if (this.captures !== null) this.captures.length = mark;
  }

  private child(node: TrieNode, spec: SegmentSpec): TrieNode {
    switch (spec.kind) {
      case 'literal': {
        const buckets = (node.literal ??= []);
        const bucket = (buckets[spec.value.length] ??= []);
        let edge = bucket.find((e) => e.text === spec.value);
        if (edge === undefined) bucket.push((edge = { text: spec.value, node: new TrieNode() }));
        return edge.node;
      }
      case 'param':
        return (node.param ??= new TrieNode());
      case 'multi':
        return (node.multi ??= new TrieNode());
      case 'pattern': {
        const list = (node.patterns ??= []);
        let edge = list.find((e) => e.source === spec.source);
        if (edge === undefined) list.push((edge = { re: spec.re, source: spec.source, node: new TrieNode() }));
        return edge.node;
      }
    }
  }
}

export { checkRequestPath } from './request-target.js';
export { loadOpenApiDocument, serverBasePaths } from './openapi-document.js';
export type { OpenApiDocument } from './openapi-document.js';
