/**
 * Route syntaxes of the frameworks (`/dags/:dag_id`, `:id(\\d+)`, `:name{[0-9]+}`, `*splat`) read as
 * the OpenAPI-style templates every adapter reports (`/dags/{dag_id}`). One scanner, driven by a
 * description of each dialect; runs when a route is registered, never per request.
 */

/** How one dialect writes parameters. */
export interface ParamSyntax {
  /** Characters that continue a parameter name. */
  readonly nameChar: RegExp;
  /** Characters that may start one (default: `nameChar`). */
  readonly firstChar?: RegExp;
  /** A `:` with no name after it stays a literal `:` (else it is an unnamed `{}` parameter). */
  readonly bareColonLiteral: boolean;
  /** `::` is an escaped literal colon (Fastify). */
  readonly doubleColon?: boolean;
  /** `:"any name"` (path-to-regexp 8). */
  readonly quotedNames?: boolean;
  /** `*name` is a named wildcard, reported as `*` (path-to-regexp 8). */
  readonly namedWildcard?: boolean;
  /** `\x` is a literal `x` (path-to-regexp 8). */
  readonly backslashEscapes?: boolean;
  /** A regex constraint right after the name, dropped: `(…)` or `{…}`, balanced. */
  readonly constraint?: '(' | '{';
  /** One modifier character after the name and constraint, dropped (`?` optional, `*`/`+` repeated). */
  readonly modifiers?: string;
  /**
   * Braces outside parameters: `copy` them; `opaque`: copy them and leave colons inside alone (the text
   * is OpenAPI-style already); `drop` them (path-to-regexp 8's optional groups).
   */
  readonly braces: 'copy' | 'opaque' | 'drop';
}

/** Fastify (find-my-way): `:name`, `:name(regex)`, `::` for a literal colon. */
export const FASTIFY_SYNTAX: ParamSyntax = {
  nameChar: /[A-Za-z0-9_$]/,
  bareColonLiteral: false,
  doubleColon: true,
  constraint: '(',
  braces: 'copy',
};

/** Express 4 (path-to-regexp 0.1): `:name`, `:name(regex)`, `:name?`, `:name*`, `:name+`. */
export const EXPRESS4_SYNTAX: ParamSyntax = {
  nameChar: /\w/,
  bareColonLiteral: true,
  constraint: '(',
  modifiers: '?*+',
  braces: 'copy',
};

/** Express 5 (path-to-regexp 8): `:name`, `:"quoted"`, `*splat` → `*`, `{optional}` braces dropped, `\` escapes. */
export const EXPRESS5_SYNTAX: ParamSyntax = {
  nameChar: /[\p{ID_Continue}$]/u,
  bareColonLiteral: false,
  quotedNames: true,
  namedWildcard: true,
  backslashEscapes: true,
  braces: 'drop',
};

/** Hono: `:name` up to the next `/`, `{` or `?`; `:name{regex}`; `:name?` optional. */
export const HONO_SYNTAX: ParamSyntax = {
  nameChar: /[^/{?]/,
  bareColonLiteral: false,
  constraint: '{',
  modifiers: '?',
  braces: 'copy',
};

/** Route tables (`'GET /dags/:dag_id'`): `:name` JavaScript-identifier style; `{name}` kept as written. */
export const ROUTE_TABLE_SYNTAX: ParamSyntax = {
  nameChar: /[\w$]/,
  firstChar: /[A-Za-z_$]/,
  bareColonLiteral: true,
  braces: 'opaque',
};

/** `path` with every parameter of `syntax` written `{name}` (wildcards `*`), constraints and modifiers dropped. */
export function toTemplate(path: string, syntax: ParamSyntax): string {
  const first = syntax.firstChar ?? syntax.nameChar;
  const close = syntax.constraint === '(' ? ')' : '}';
  let out = '';
  let depth = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (syntax.backslashEscapes === true && ch === '\\') {
      out += path[++i] ?? '';
      continue;
    }
    if (ch === '{' || ch === '}') {
      if (syntax.braces === 'drop') continue;
      if (syntax.braces === 'opaque') depth += ch === '{' ? 1 : -1;
      out += ch;
      continue;
    }
    const wildcard = ch === '*' && syntax.namedWildcard === true;
    if ((ch !== ':' && !wildcard) || depth !== 0) {
      out += ch;
      continue;
    }
    if (!wildcard && syntax.doubleColon === true && path[i + 1] === ':') {
      out += ':';
      i++;
      continue;
    }
    let j = i + 1;
    let name: string;
    if (syntax.quotedNames === true && path[j] === '"') {
      const end = path.indexOf('"', j + 1);
      name = path.slice(j + 1, end === -1 ? path.length : end);
      j = end === -1 ? path.length : end + 1;
    } else {
      if (j < path.length && first.test(path[j])) {
        j++;
        while (j < path.length && syntax.nameChar.test(path[j])) j++;
      }
      name = path.slice(i + 1, j);
      if (name === '' && syntax.bareColonLiteral && !wildcard) {
        out += ch;
        continue;
      }
    }
    out += wildcard ? '*' : '{' + name + '}';
    if (syntax.constraint !== undefined && path[j] === syntax.constraint) {
      j = skipGroup(path, j, syntax.constraint, close);
    }
    if (syntax.modifiers !== undefined && j < path.length && syntax.modifiers.includes(path[j])) j++;
    i = j - 1;
  }
  return out;
}

/**
 * Index just past the balanced group opening at `start` (`(…)` or `{…}` with nesting and backslash
 * escapes): how regex constraints in route syntax are skipped.
 */
export function skipGroup(s: string, start: number, open = '(', close = ')'): number {
  let depth = 0;
  for (let j = start; j < s.length; j++) {
    if (s[j] === '\\') {
      j++;
      continue;
    }
    if (s[j] === open) depth++;
    else if (s[j] === close && --depth === 0) return j + 1;
  }
  return s.length;
}

/**
 * A route template in the form every adapter reports: `{param}` parameters, `*` wildcards, no trailing
 * slash (except the root), no doubled slashes.
 */
export function tidyTemplate(template: string): string {
  let t = template.replace(/\/{2,}/g, '/');
  if (!t.startsWith('/')) t = '/' + t;
  if (t.length > 1 && t.endsWith('/')) t = t.slice(0, -1);
  return t;
}

/**
 * Fastify's `/dags/:dag_id` as `/dags/{dag_id}`. Regex constraints are dropped (`:id(^\d+$)` → `{id}`),
 * `::` is Fastify's escaped literal colon.
 */
export function fastifyTemplate(url: string): string {
  const out = toTemplate(url, FASTIFY_SYNTAX);
  // `/prefix` and `/prefix/` (Fastify registers both for a '/' route in a prefixed plugin) are one endpoint.
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
}

/** Hono's `/dags/:dag_id{[0-9]+}` as `/dags/{dag_id}`; optional `:id?` as `{id}`; `*` kept. */
export function honoTemplate(path: string): string {
  return tidyTemplate(toTemplate(path, HONO_SYNTAX));
}

/** Express 4 (path-to-regexp 0.1) syntax: `:name`, `:name(regex)`, `:name?`, `*`. */
export function express4Path(path: string): string {
  return toTemplate(path, EXPRESS4_SYNTAX);
}

/** Express 5 (path-to-regexp 8) syntax: `:name`, `:"quoted"`, `*splat` → `*`, `{optional}` braces dropped. */
export function express5Path(path: string): string {
  return toTemplate(path, EXPRESS5_SYNTAX);
}

/** `/dags/:dag_id` → `/dags/{dag_id}` for route tables written Express/Fastify style. */
export function colonToBraces(template: string): string {
  return toTemplate(template, ROUTE_TABLE_SYNTAX);
}

/**
 * A `{param}` template back in the colon form Fastify, Express and Hono write (`/users/{id}` →
 * `/users/:id`), for OpenTelemetry's `http.route` ("in the framework's format"). Regex constraints
 * and optional/repeat modifiers were dropped when the route was read, so they do not come back; `*`
 * stays. A parameter whose name is not a plain identifier keeps its braces.
 */
export function bracesToColon(template: string): string {
  return template.replace(/\{([A-Za-z_$][\w$]*)\}/g, ':$1');
}
