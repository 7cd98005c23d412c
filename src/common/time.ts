/** Points in time as users write them for `--since`: "30s", "5m", "2h", "1d" ago, or an ISO date. */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds since the epoch; throws RangeError with the accepted forms. */
export function parseSince(value: string, now: number = Date.now()): number {
  const s = value.trim();
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s);
  if (rel) return Math.round(now - Number(rel[1]) * UNIT_MS[rel[2] as string]!);
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return t;
  }
  throw new RangeError(`"${value}" is not a time: use a duration ago (30s, 5m, 2h, 1d) or an ISO date (2026-11-30T09:00:00Z)`);
}
