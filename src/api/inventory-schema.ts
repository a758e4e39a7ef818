import { z } from 'zod';
import { INVENTORY_STATUSES } from './inventory-model.js';
import { Range } from './schemas.js';

const count = z.number().int().min(0);
const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 date-time, UTC');

/** `GET {prefix}/inventory`: declared operations against the calls of a window. */
export const Inventory = z.object({
  range: Range,
  totals: z.object({
    declared: count.describe('operations declared by the routes or the API document'),
    used: count,
    never_called: count,
    deprecated_but_called: count,
    undocumented: count.describe('undocumented candidates'),
  }),
  endpoints: z.array(
    z.object({
      method: z.string().describe('upper case, or * for a route answering every method'),
      route: z.string(),
      operation_id: z.string().nullable(),
      deprecated: z.boolean(),
      sources: z.array(z.string()).describe('who declared it: fastify, express, hono, openapi, routes'),
      status: z.enum(INVENTORY_STATUSES.filter((s) => s !== 'undocumented') as [string, ...string[]]),
      calls: count.describe('requests in the range (HEAD requests on a GET route included)'),
      last_called: isoTime
        .nullable()
        .describe('start of the time slot that holds the last call; null: none known (not in the range)'),
      consumers: z
        .array(z.object({ consumer: z.string(), requests: count }))
        .nullable()
        .describe('deprecated_but_called: its top callers, when consumer identification is on ([] otherwise)'),
    }),
  ),
  undocumented: z.array(
    z.object({
      method: z.string(),
      template: z.string().describe("the normalizer's suggested template, or the undeclared endpoint's route"),
      calls: count,
      last_called: isoTime.nullable(),
      origin: z
        .enum(['endpoint', 'unmatched'])
        .describe(
          'endpoint: an endpoint of its own in the range; unmatched: unmatched requests since undocumented_since',
        ),
    }),
  ),
  unmatched_calls: count.describe('requests no route matched, in the range (what the unmatched candidates split up)'),
  overflow_calls: count.describe('requests recorded past the cardinality cap, in the range'),
  undocumented_since: isoTime.nullable().describe('since when unmatched requests are grouped (the API start)'),
  ungrouped: count.describe('unmatched requests the bounded grouping could not place'),
});

export type InventoryJson = z.infer<typeof Inventory>;
