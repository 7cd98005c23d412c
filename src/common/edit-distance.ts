/** "Did you mean": the edit distance of two words, and the nearest of a list. */

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The word of `words` nearest to `word` (case-insensitive), when within `max` edits; else undefined. */
export function nearest(word: string, words: readonly string[], max = 2): string | undefined {
  let best: { w: string; d: number } | undefined;
  for (const w of words) {
    const d = editDistance(word.toLowerCase(), w.toLowerCase());
    if (!best || d < best.d) best = { w, d };
  }
  return best && best.d <= max ? best.w : undefined;
}
