/**
 * What `smaf replay` and `smaf what-if` print: text, the `--json` documents, the what-if plot.
 */
import { formatSize } from '../common/units.ts';
import type { OpRecord } from '../uapi/index.ts';
import type { Difference, ReplayResult } from './engine.ts';
import { showValue, type Variation, type VaryValue } from './vary.ts';
import type { SweepResult } from './what-if.ts';

/** `client 3 (gst-launch-1.0)`, from the recording's HELLOs. */
export function clientLabels(records: readonly OpRecord[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const r of records) if (r.op === 'HELLO' && r.result !== undefined && typeof r.args?.comm === 'string') out.set(r.client, `client ${r.client} (${r.args.comm})`);
  return out;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** One difference, as a line and its explanation. */
function differenceLines(d: Difference, labels: ReadonlyMap<number, string>): string[] {
  const who = labels.get(d.client) ?? `client ${d.client}`;
  return [
    `  #${d.seq} (line ${d.line}) ${d.op} by ${who}${d.buffer !== null ? `, buffer ${d.buffer}` : ''}: recorded ${d.recorded}, replayed ${d.replayed}`,
    ...(d.explain ? [`      ${d.explain}`] : []),
  ];
}

/** The text of a replay: what ran, what differs, the regions' peaks, the first failure. */
export function replayText(r: ReplayResult, labels: ReadonlyMap<number, string>, platformFrom: string): string[] {
  const lines = [`replayed ${r.replayed.toLocaleString('en')} operations of ${r.source} on platform "${r.platform}" (${platformFrom}), policy ${r.policy}${r.partial ? '; PARTIAL: the recording holds only the first operations of the run (--partial)' : ''}`];
  if (r.differencesTotal === 0) lines.push('every outcome matches the recording');
  else {
    lines.push(`${r.differencesTotal} operation${r.differencesTotal === 1 ? '' : 's'} differ${r.differencesTotal === 1 ? 's' : ''} from the recording (${r.failed} that succeeded there fail here):`);
    for (const d of r.differences) lines.push(...differenceLines(d, labels));
    if (r.differences.length < r.differencesTotal) lines.push(`  (${r.differencesTotal - r.differences.length} more)`);
  }
  if (r.internalErrors) lines.push(`INTERNAL ERRORS: ${r.internalErrors} operations met a bug of the replay (answered EIO)`);
  for (const n of r.notReplayed) lines.push(`not replayed: ${n.count} ${n.op} (${n.why}); their recorded outcomes stand`);
  lines.push('peak use per region (largest free range when it was fullest):');
  const w = Math.max(6, ...r.regions.map((g) => g.name.length));
  for (const g of r.regions) lines.push(`  ${g.name.padEnd(w)} ${formatSize(g.peak).padStart(10)} of ${formatSize(g.size).padEnd(9)} largest free ${formatSize(g.largestFree).padStart(10)}, fragmentation ${pct(g.fragmentation)}`);
  lines.push(r.firstFailure ? `first failure: #${r.firstFailure.seq} ${r.firstFailure.op} (line ${r.firstFailure.line}): ${r.firstFailure.replayed}: ${r.firstFailure.explain ?? ''}` : 'first failure: none');
  return lines;
}

const jsonDifference = (d: Difference) => ({ seq: d.seq, op: d.op, client: d.client, buffer: d.buffer, recorded: d.recorded, replayed: d.replayed, explain: d.explain });

/** `smaf replay --json`. */
export function replayJson(r: ReplayResult): { replayed: number; differences: unknown[]; peak: Record<string, number>; firstFailure: unknown } {
  return {
    replayed: r.replayed,
    differences: r.differences.map(jsonDifference),
    peak: Object.fromEntries(r.regions.map((g) => [g.name, g.peak])),
    firstFailure: r.firstFailure ? jsonDifference(r.firstFailure) : null,
  };
}

/** `--compare`: the two policies side by side on the same recording. */
export function compareText(a: ReplayResult, b: ReplayResult): string[] {
  const first = (r: ReplayResult): string => (r.firstFailure ? `#${r.firstFailure.seq} ${r.firstFailure.op} ${r.firstFailure.replayed}` : 'none');
  const rows: [string, string, string][] = [
    ['operations that fail (succeeded in the recording)', String(a.failed), String(b.failed)],
    ['operations whose outcome differs', String(a.differencesTotal), String(b.differencesTotal)],
    ['first failure', first(a), first(b)],
  ];
  for (const g of a.regions) {
    const h = b.regions.find((x) => x.name === g.name);
    if (!h || (g.peak === 0 && h.peak === 0)) continue;
    rows.push([`peak ${g.name}`, formatSize(g.peak), formatSize(h.peak)]);
    rows.push([`largest free ${g.name} at peak`, formatSize(g.largestFree), formatSize(h.largestFree)]);
    rows.push([`fragmentation ${g.name} at peak`, pct(g.fragmentation), pct(h.fragmentation)]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(a.policy.length, ...rows.map((r) => r[1].length));
  return [
    `${''.padEnd(w0)}  ${a.policy.padStart(w1)}  ${b.policy}`,
    ...rows.map(([k, x, y]) => `${k.padEnd(w0)}  ${x.padStart(w1)}  ${y}`),
    ...(b.firstFailure ? ['', `${b.policy}'s first failure: #${b.firstFailure.seq} ${b.firstFailure.op} (line ${b.firstFailure.line}): ${b.firstFailure.explain ?? ''}`] : []),
  ];
}

/** The what-if table and its last line: the smallest value that runs the recording. */
export function whatIfText(s: SweepResult, v: Variation): string[] {
  // the regions the recording uses with some value (and the one varied)
  const regions = Object.keys(s.rows[0]?.peak ?? {}).filter((g) => g === v.target || s.rows.some((r) => r.peak[g]! > 0));
  const head = ['value', 'failed', ...regions.map((r) => `peak ${r}`), ...regions.map((r) => `free ${r}`), 'first failure'];
  const body = s.rows.map((r) => [
    showValue(v, r.value), String(r.failed), ...regions.map((g) => formatSize(r.peak[g]!)), ...regions.map((g) => formatSize(r.largestFree[g]!)),
    r.firstFailure ? `#${r.firstFailure.seq} ${r.firstFailure.op} ${r.firstFailure.replayed}` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === row.length - 1 ? c : c.padStart(widths[i]!))).join('  ');
  return [
    fmt(head),
    ...body.map(fmt),
    s.smallest === null ? `no value of ${v.key} runs this recording without a failure` : `smallest ${v.key} that runs this recording: ${showValue(v, s.smallest)}`,
  ];
}

/** `smaf what-if --json`. */
export function whatIfJson(s: SweepResult): { key: string; rows: unknown[]; smallest: VaryValue | null } {
  return {
    key: s.key,
    rows: s.rows.map((r) => ({ value: r.value, failed: r.failed, firstFailure: r.firstFailure ? jsonDifference(r.firstFailure) : null, peak: r.peak })),
    smallest: s.smallest,
  };
}

const W = 720;
const H = 420;
const PAD = { left: 70, right: 20, top: 30, bottom: 50 };
const PANEL_GAP = 40;
const REGION_COLORS = ['#2563eb', '#16a34a', '#c026d3', '#ea580c', '#0891b2'];

/** The plot: operations that fail (top) and each region's peak use (bottom), per value; the smallest marked. */
export function whatIfSvg(s: SweepResult, v: Variation): string {
  const rows = s.rows;
  const numeric = typeof rows[0]?.value === 'number';
  const xs = rows.map((r, i) => (numeric ? (r.value as number) : i));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const x = (i: number): number => PAD.left + (x1 === x0 ? 0.5 : (xs[i]! - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const panel = (H - PAD.top - PAD.bottom - PANEL_GAP) / 2;
  const maxFailed = Math.max(1, ...rows.map((r) => r.failed));
  const regions = Object.keys(rows[0]?.peak ?? {}).filter((g) => rows.some((r) => r.peak[g]! > 0));
  const maxPeak = Math.max(1, ...rows.flatMap((r) => regions.map((g) => r.peak[g]!)));
  const yF = (n: number): number => PAD.top + panel - (n / maxFailed) * panel;
  const yP = (n: number): number => PAD.top + panel + PANEL_GAP + panel - (n / maxPeak) * panel;
  const poly = (pts: string, color: string): string => `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="18" font-weight="bold">what-if ${v.key}: operations that fail, and peak use per region</text>`,
    `<text x="${PAD.left - 8}" y="${yF(maxFailed) + 4}" text-anchor="end">${maxFailed}</text><text x="${PAD.left - 8}" y="${yF(0) + 4}" text-anchor="end">0</text>`,
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${yF(0)}" y2="${yF(0)}" stroke="#ccc"/>`,
    poly(rows.map((r, i) => `${x(i).toFixed(1)},${yF(r.failed).toFixed(1)}`).join(' '), '#dc2626'),
    ...rows.map((r, i) => `<circle cx="${x(i).toFixed(1)}" cy="${yF(r.failed).toFixed(1)}" r="3" fill="#dc2626"><title>${showValue(v, r.value)}: ${r.failed} fail</title></circle>`),
    `<text x="14" y="${PAD.top + panel / 2}" text-anchor="middle" transform="rotate(-90 14 ${PAD.top + panel / 2})">operations that fail</text>`,
    `<text x="${PAD.left - 8}" y="${yP(maxPeak) + 4}" text-anchor="end">${formatSize(maxPeak)}</text><text x="${PAD.left - 8}" y="${yP(0) + 4}" text-anchor="end">0</text>`,
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${yP(0)}" y2="${yP(0)}" stroke="#ccc"/>`,
    ...regions.map((g, k) => poly(rows.map((r, i) => `${x(i).toFixed(1)},${yP(r.peak[g]!).toFixed(1)}`).join(' '), REGION_COLORS[k % REGION_COLORS.length]!)),
    ...regions.map((g, k) => `<rect x="${W - PAD.right - 130}" y="${PAD.top + panel + PANEL_GAP + 4 + k * 15}" width="12" height="3" fill="${REGION_COLORS[k % REGION_COLORS.length]}"/><text x="${W - PAD.right - 112}" y="${PAD.top + panel + PANEL_GAP + 9 + k * 15}">peak ${g}</text>`),
    `<text x="14" y="${yP(maxPeak / 2)}" text-anchor="middle" transform="rotate(-90 14 ${yP(maxPeak / 2)})">peak use</text>`,
    ...rows.map((r, i) => (rows.length <= 16 || i % Math.ceil(rows.length / 16) === 0 ? `<text x="${x(i).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${showValue(v, r.value)}</text>` : '')),
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 10}" text-anchor="middle">${v.key}</text>`,
  ];
  const smallest = rows.findIndex((r) => r.value === s.smallest);
  if (smallest >= 0) {
    out.push(`<line x1="${x(smallest).toFixed(1)}" x2="${x(smallest).toFixed(1)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#16a34a" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${(x(smallest) + 4).toFixed(1)}" y="${PAD.top + 12}" fill="#16a34a">smallest: ${showValue(v, s.smallest!)}</text>`);
  }
  out.push('</svg>', '');
  return out.filter(Boolean).join('\n');
}

