/** Binary search over a list sorted by `base`. */

/** How many entries start at or before `x` (the index of the first that starts after it). */
export function startingAtOrBefore(sorted: readonly { readonly base: number }[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.base <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
