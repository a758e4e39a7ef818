import * as v from 'valibot';

/**
 * Plain-English texts for valibot issues that carry no message of their own, in the words apimeter's
 * problem lines have always used ("Invalid input: expected number, received string", "Too small:
 * expected number to be >=1000", "Unrecognized key: \"extra\""), and the parse configuration that
 * applies them. Used where a schema is checked once (options, notifier sections, rules files), never
 * per measured request.
 */

/** The type name of a value as the problem lines spell it: `string`, `array`, `null`, `NaN`, `Infinity`, a class name. */
export function typeName(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? 'number' : String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    if (proto !== null && proto !== Object.prototype && proto.constructor?.name) return proto.constructor.name;
  }
  return typeof value;
}

/** What a schema's `expects` means in words: `Object` is an object, `Array` an array. */
function expectedName(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'record') return 'record';
  if (issue.type === 'object' || issue.type === 'strict_object' || issue.type === 'loose_object') return 'object';
  if (issue.type === 'array') return 'array';
  return issue.expected ?? 'value';
}

/** The text of an issue that no schema gave a message. */
export function issueText(issue: v.BaseIssue<unknown>): string {
  const input = issue.input;
  const req = issue.requirement;
  switch (issue.type) {
    case 'min_value':
      return `Too small: expected number to be >=${String(req)}`;
    case 'gt_value':
      return `Too small: expected number to be >${String(req)}`;
    case 'max_value':
      return `Too big: expected number to be <=${String(req)}`;
    case 'lt_value':
      return `Too big: expected number to be <${String(req)}`;
    case 'min_length':
      return `Too small: expected ${Array.isArray(input) ? 'array' : 'string'} to have >=${String(req)} ${Array.isArray(input) ? 'items' : 'characters'}`;
    case 'max_length':
      return `Too big: expected ${Array.isArray(input) ? 'array' : 'string'} to have <=${String(req)} ${Array.isArray(input) ? 'items' : 'characters'}`;
    case 'finite':
      return `Invalid input: expected number, received ${typeName(input)}`;
    case 'integer':
    case 'safe_integer':
      if (typeof input === 'number' && Number.isInteger(input))
        return input > 0
          ? `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`
          : `Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}`;
      return `Invalid input: expected int, received ${typeName(input)}`;
    case 'regex':
      return `Invalid string: must match pattern ${String(req)}`;
    case 'picklist': {
      const options = (issue.expected ?? '').replace(/^\((.*)\)$/, '$1').split(' | ');
      return options.length === 1
        ? `Invalid input: expected ${options[0]}`
        : `Invalid option: expected one of ${options.join('|')}`;
    }
    case 'union':
    case 'custom':
    case 'check':
      return 'Invalid input';
  }
  if (issue.kind === 'schema' && issue.expected === 'never' && typeof input === 'string')
    return `Unrecognized key: ${JSON.stringify(input)}`;
  if (issue.kind === 'schema') return `Invalid input: expected ${expectedName(issue)}, received ${typeName(input)}`;
  return 'Invalid input';
}

/**
 * Parse configuration: the texts above for issues without a message, and one issue per pipe (a
 * fraction below a minimum is "not an integer", not that and "too small").
 */
export const PARSE_CONFIG = { abortPipeEarly: true, message: issueText } satisfies v.Config<v.BaseIssue<unknown>>;

/** An unknown key of a strict object (valibot reports the first one of each object). */
export function isUnknownKeyIssue(issue: v.BaseIssue<unknown>): boolean {
  return issue.kind === 'schema' && issue.expected === 'never' && issue.path?.at(-1)?.origin === 'key';
}

/** A required key that is absent: valibot reports it on the object, with `expected` the quoted key. */
export function isMissingKeyIssue(issue: v.BaseIssue<unknown>): boolean {
  return (
    issue.kind === 'schema' &&
    issue.input === undefined &&
    issue.path?.at(-1)?.origin === 'key' &&
    issue.expected !== 'never'
  );
}

/** What a required field's schema says of `undefined` (valibot reports a missing key on the object instead). */
export function missingText(field: v.GenericSchema): string {
  const issue = v.safeParse(field, undefined, PARSE_CONFIG).issues?.[0];
  return issue === undefined ? 'Invalid input' : issue.message;
}

/** The keys along an issue's path: `["headers", "Authorization"]`, `["rules", 3, "name"]`. */
export function pathKeys(issue: v.BaseIssue<unknown>): (string | number)[] {
  return (issue.path ?? []).map((item) => item.key as string | number);
}

/**
 * A mapping, as YAML and JSON give them: an object that is not an array (valibot's object and record
 * schemas take arrays too, as maps of "0", "1", …). Put it before the object or record in a pipe.
 */
export const mapping = (message: v.ErrorMessage<v.CustomIssue>) =>
  v.custom<Record<string, unknown>>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), message);

/** The message of {@link mapping} in the words of {@link issueText} (`expected object, received array`). */
export const expectedObject = (issue: v.CustomIssue): string =>
  `Invalid input: expected object, received ${typeName(issue.input)}`;
