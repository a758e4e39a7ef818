import { KNOWN_METHODS, OTHER_METHOD } from '../core/methods.js';
import { statusClassCount } from '../core/query.js';
import type { Tally } from '../core/tally.js';
import { listParam } from './params.js';
import type { Query } from './params.js';

export const METHOD_CHOICES: readonly string[] = [...KNOWN_METHODS, OTHER_METHOD];
export const STATUS_HELP = ['a status code from 100 to 599 (e.g. 404)', 'a class 1xx, 2xx, 3xx, 4xx or 5xx'];

/** A method as the registry spells it (`get` → `GET`), or undefined when it is not one it knows. */
export function methodOf(text: string): string | undefined {
  const upper = text.toUpperCase();
  return METHOD_CHOICES.includes(upper) ? upper : undefined;
}

export function methodsParam(query: Query): string[] | undefined {
  return listParam(query, 'method', methodOf, METHOD_CHOICES);
}

/** A status filter item: an exact code or a whole class. */
export type StatusFilter = { code: number } | { class: 1 | 2 | 3 | 4 | 5 };

function statusOf(text: string): StatusFilter | undefined {
  const cls = /^([1-5])xx$/i.exec(text);
  if (cls !== null) return { class: Number(cls[1]) as 1 | 2 | 3 | 4 | 5 };
  if (/^\d{3}$/.test(text)) {
    const code = Number(text);
    if (code >= 100 && code <= 599) return { code };
  }
  return undefined;
}

export function statusParam(query: Query): StatusFilter[] | undefined {
  return listParam(query, 'status', statusOf, STATUS_HELP);
}

/** True when the tally holds at least one response matching one of the filters. */
export function matchesStatus(t: Tally, filters: readonly StatusFilter[]): boolean {
  let codes: Map<number, number> | undefined;
  for (const f of filters) {
    if ('class' in f) {
      if (statusClassCount(t, f.class) > 0) return true;
    } else {
      codes ??= t.statusCodes();
      if ((codes.get(f.code) ?? 0) > 0) return true;
    }
  }
  return false;
}
