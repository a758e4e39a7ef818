/**
 * Joining two ascending runs of sketch buckets (`index[k]`, `count[k]`) without a third array: the pack
 * codec re-freezes a coarse slot with a fine one folded in (sketch-codec.ts), and the reader sums two
 * sketches' buckets at a lower scale (sketch-delta.ts). Not on the per-request path.
 */

/** Plain arrays or typed arrays of numbers. */
type Run = { [k: number]: number; readonly length: number };

/** How many distinct indices the runs `a[0..na)` and `b[0..nb)` hold together. */
export function unionSize(a: Run, na: number, b: Run, nb: number): number {
  let total = 0;
  for (let i = 0, j = 0; i < na || j < nb; total++) {
    if (j >= nb || (i < na && a[i] < b[j])) i++;
    else if (i >= na || b[j] < a[i]) j++;
    else {
      i++;
      j++;
    }
  }
  return total;
}

/**
 * Joins run b into run a, in a's arrays (which must hold `total` = {@link unionSize} elements): from the
 * back, so nothing is overwritten before it is read; equal indices add their counts.
 */
export function joinInto(
  aIndex: Run,
  aCount: Run,
  na: number,
  bIndex: Run,
  bCount: Run,
  nb: number,
  total: number,
): void {
  let i = na - 1;
  let j = nb - 1;
  for (let k = total - 1; k >= 0; k--) {
    if (j < 0 || (i >= 0 && aIndex[i] > bIndex[j])) {
      aIndex[k] = aIndex[i];
      aCount[k] = aCount[i];
      i--;
    } else if (i < 0 || bIndex[j] > aIndex[i]) {
      aIndex[k] = bIndex[j];
      aCount[k] = bCount[j];
      j--;
    } else {
      aIndex[k] = aIndex[i];
      aCount[k] = aCount[i] + bCount[j];
      i--;
      j--;
    }
  }
}
