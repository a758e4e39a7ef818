import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packBegin, packUint, Unpacker } from '../src/core/pack.js';
import { SlotArena } from '../src/core/slot-arena.js';
import { rng } from './helpers/datasets.js';

/** Packs `values` (as uints) into the pack buffer and stores them as slot `k`. */
function put(arena: SlotArena, k: number, values: readonly number[]): void {
  packBegin();
  for (const v of values) packUint(v);
  arena.store(k);
}

function get(arena: SlotArena, k: number): number[] | null {
  const r = arena.read(k, new Unpacker());
  if (r === null) return null;
  const out: number[] = [];
  while (!r.done) out.push(r.uint());
  return out;
}

// 68 slots, and 600: more than the compaction scratch's first size (512), so it grows once.
for (const slots of [68, 600]) {
  test(`slot arena (${slots} slots): entries written again, cleared, compacted and grown read back as stored`, () => {
    const arena = new SlotArena(slots);
    const expected: (number[] | null)[] = Array.from({ length: slots }, () => null);
    const random = rng(3);
    let capacity = arena.capacity;
    let grown = 0;
    for (let step = 0; step < 300 * slots; step++) {
      const k = Math.floor(random() * slots);
      if (random() < 0.1) {
        arena.clear(k);
        expected[k] = null;
      } else {
        // Sizes from a byte to ~300 bytes (length prefixes of 1 and 2 bytes), values of 1 to 3 bytes.
        const n = Math.floor(random() ** 3 * 150);
        const values = Array.from({ length: n }, () => Math.floor(random() * 20_000));
        put(arena, k, values);
        expected[k] = values;
      }
      if (arena.capacity !== capacity) {
        grown++;
        capacity = arena.capacity;
      }
      if (step % 997 === 0) for (let j = 0; j < slots; j++) assert.deepEqual(get(arena, j), expected[j], `slot ${j}`);
    }
    for (let j = 0; j < slots; j++) assert.deepEqual(get(arena, j), expected[j], `slot ${j}`);
    assert.ok(grown > 0, 'the arena grew');
    // Compaction reclaims the dead entries: the capacity stays near what the live ones need.
    assert.ok(arena.capacity < arena.used * 2 + 2048, `capacity ${arena.capacity} for ${arena.used} bytes used`);
    assert.equal(arena.has(0), expected[0] !== null);
  });
}

test('slot arena: an empty slot reads as null, and an entry of more than 16 KiB keeps its length', () => {
  const arena = new SlotArena(3);
  assert.equal(arena.read(1, new Unpacker()), null);
  const big = Array.from({ length: 12_000 }, (_, i) => i % 200);
  put(arena, 1, big);
  put(arena, 2, [5]);
  assert.deepEqual(get(arena, 1), big);
  assert.deepEqual(get(arena, 2), [5]);
  assert.equal(get(arena, 0), null);
});
