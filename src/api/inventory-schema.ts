import * as v from 'valibot';
import { INVENTORY_STATUSES } from './inventory-model.js';
import { Range } from './schemas.js';

// Leaves typed by what they produce: their pipes' full types would be repeated in every declaration.
const count: v.GenericSchema<number> = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const isoTime: v.GenericSchema<string> = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601 date-time, UTC'));

/** `GET {prefix}/inventory`: declared operations against the calls of a window. */
export const Inventory = v.object({
  range: Range,
  totals: v.object({
    declared: v.pipe(count, v.description('operations declared by the routes or the API document')),
    used: count,
    never_called: count,
    deprecated_but_called: count,
    undocumented: v.pipe(count, v.description('undocumented candidates')),
  }),
  endpoints: v.array(
    v.object({
      method: v.pipe(v.string(), v.description('upper case, or * for a route answering every method')),
      route: v.string(),
      operation_id: v.nullable(v.string()),
      deprecated: v.boolean(),
      sources: v.pipe(v.array(v.string()), v.description('who declared it: fastify, express, hono, openapi, routes')),
      status: v.picklist(INVENTORY_STATUSES.filter((s) => s !== 'undocumented')),
      calls: v.pipe(count, v.description('requests in the range (HEAD requests on a GET route included)')),
      last_called: v.pipe(
        v.nullable(isoTime),
        v.description('start of the time slot that holds the last call; null: none known (not in the range)'),
      ),
      consumers: v.pipe(
        v.nullable(v.array(v.object({ consumer: v.string(), requests: count }))),
        v.description('deprecated_but_called: its top callers, when consumer identification is on ([] otherwise)'),
      ),
    }),
  ),
  undocumented: v.array(
    v.object({
      method: v.string(),
      template: v.pipe(
        v.string(),
        v.description("the normalizer's suggested template, or the undeclared endpoint's route"),
      ),
      calls: count,
      last_called: v.nullable(isoTime),
      origin: v.pipe(
        v.picklist(['endpoint', 'unmatched']),
        v.description(
          'endpoint: an endpoint of its own in the range; unmatched: unmatched requests since undocumented_since',
        ),
      ),
    }),
  ),
  unmatched_calls: v.pipe(
    count,
    v.description('requests no route matched, in the range (what the unmatched candidates split up)'),
  ),
  overflow_calls: v.pipe(count, v.description('requests recorded past the cardinality cap, in the range')),
  undocumented_since: v.pipe(
    v.nullable(isoTime),
    v.description('since when unmatched requests are grouped (the API start)'),
  ),
  ungrouped: v.pipe(count, v.description('unmatched requests the bounded grouping could not place')),
});

export type InventoryJson = v.InferOutput<typeof Inventory>;
