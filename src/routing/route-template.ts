/** Path templates (`/dags/{dag_id}`, `/files/{name}.{ext}`, `{key:path}`) cut into trie segments. */

/** One segment of a template, as the trie stores it. */
export type SegmentSpec =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string }
  | { kind: 'multi'; name: string }
  | { kind: 'pattern'; re: RegExp; source: string; names: string[] };

export function parseTemplate(
  input: string,
  multi: ReadonlySet<string>,
): { specs: SegmentSpec[]; template: string; params: string[] } {
  const params: string[] = [];
  const specs: SegmentSpec[] = [];
  let template = input;
  if (input !== '/') {
    const parts = input.slice(1).split('/');
    const shown: string[] = [];
    for (const part of parts) {
      const whole = /^\{([^{}:]+)(:path)?\}$/.exec(part);
      if (whole) {
        const name = whole[1];
        params.push(name);
        specs.push({ kind: whole[2] !== undefined || multi.has(name) ? 'multi' : 'param', name });
        shown.push(`{${name}}`);
        continue;
      }
      if (part.includes('{')) {
        const names: string[] = [];
        let source = '^';
        let display = '';
        let last = 0;
        for (const m of part.matchAll(/\{([^{}:]+)(?::path)?\}/g)) {
          source += escapeRegExp(part.slice(last, m.index)) + '(.+?)';
          display += part.slice(last, m.index) + `{${m[1]}}`;
          names.push(m[1]);
          last = m.index + m[0].length;
        }
        source += escapeRegExp(part.slice(last)) + '$';
        display += part.slice(last);
        params.push(...names);
        specs.push({ kind: 'pattern', re: new RegExp(source), source, names });
        shown.push(display);
        continue;
      }
      specs.push({ kind: 'literal', value: part });
      shown.push(part);
    }
    template = '/' + shown.join('/');
  }
  return { specs, template, params };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
