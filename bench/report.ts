/**
 * The benchmark's outputs: each figure judged against its goal, the table printed, the
 * `docs/performance.md` page and its SVG plot of the scale curve (generated here, never by hand).
 */
import { docOf, goalText, meets } from './goals.ts';
import type { Metric } from './metric.ts';
import type { Spread } from './rounds.ts';

export interface Judged extends Metric {
  readonly goal: string | null;
  /** null: no goal. */
  readonly met: boolean | null;
}

export interface ScalePoint {
  readonly live: number;
  /** CREATE+CLOSE p50 on the smafd holding `live` buffers. */
  readonly p50Us: number;
  /** The same, measured alongside on an empty smafd (the baseline). */
  readonly emptyUs: number;
}

export function judge(results: readonly Metric[]): Judged[] {
  return results.map((m) => {
    const g = docOf(m.metric)?.goal;
    return { ...m, goal: g ? goalText(g, m.unit) : null, met: meets(m, g) };
  });
}

export function fmt(n: number | null): string {
  return n === null ? '-' : n === 0 ? '0' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** "1.10-1.25 (0.95-1.60)": the middle half of the round ratios, then their extremes. */
export function spreadText(s: Spread | undefined): string {
  return s ? `${s.p25.toFixed(2)}-${s.p75.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : '-';
}

/** Table rows: metric, value, baseline, ratio, spread, goal, mark, unit. */
export function tableRows(judged: readonly Judged[]): string[][] {
  return judged.map((m) => [m.metric, fmt(m.value), fmt(m.baseline), m.ratio === null ? '-' : `${m.ratio.toFixed(2)}x`, spreadText(m.spread), m.goal ?? '-', m.met === false ? 'MISS' : m.met ? 'ok' : '', m.unit]);
}

const W = 640;
const H = 300;
const PAD = { left: 64, right: 20, top: 20, bottom: 44 };

/** A rounded-up axis end: 1, 2 or 5 times a power of ten. */
function niceMax(x: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(x, 1e-9)));
  return [1, 2, 5, 10].map((k) => k * p).find((v) => v >= x)!;
}

/**
 * p50 against live buffers (blue), the empty smafd measured alongside (grey), and the goal, 1.2x
 * the empty one (dashed red).
 */
export function scaleSvg(curve: readonly ScalePoint[]): string {
  const maxX = niceMax(Math.max(1, ...curve.map((p) => p.live)));
  const maxY = niceMax(Math.max(...curve.map((p) => Math.max(p.p50Us, p.emptyUs * 1.2))) * 1.1);
  const x = (v: number) => (PAD.left + (v / maxX) * (W - PAD.left - PAD.right)).toFixed(1);
  const y = (v: number) => (H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom)).toFixed(1);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const line = (pick: (p: ScalePoint) => number, style: string) => `<polyline points="${curve.map((p) => `${x(p.live)},${y(pick(p))}`).join(' ')}" fill="none" ${style}/>`;
  const legend = [['#2563eb', 'smafd holding N live buffers'], ['#999', 'an empty smafd, measured alongside'], ['#c33', 'goal: 1.2x the empty smafd']];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...ticks.map((t) => `<text x="${PAD.left - 6}" y="${Number(y(t * maxY)) + 4}" text-anchor="end">${fmt(t * maxY)}</text><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t * maxY)}" y2="${y(t * maxY)}" stroke="#ddd"/>`),
    ...ticks.map((t) => `<text x="${x(t * maxX)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${(t * maxX).toLocaleString('en')}</text>`),
    line((p) => p.emptyUs * 1.2, 'stroke="#c33" stroke-dasharray="4 3"'),
    line((p) => p.emptyUs, 'stroke="#999" stroke-width="1.5"'),
    line((p) => p.p50Us, 'stroke="#2563eb" stroke-width="2"'),
    ...curve.map((p) => `<circle cx="${x(p.live)}" cy="${y(p.p50Us)}" r="3" fill="#2563eb"><title>${p.live} live: ${fmt(p.p50Us)} µs (empty smafd: ${fmt(p.emptyUs)} µs)</title></circle>`),
    ...legend.map(([c, t], i) => `<rect x="${PAD.left + 10}" y="${PAD.top + 4 + i * 15}" width="12" height="3" fill="${c}"/><text x="${PAD.left + 28}" y="${PAD.top + 9 + i * 15}">${t}</text>`),
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 8}" text-anchor="middle">live buffers (held by 100 clients)</text>`,
    `<text x="14" y="${(PAD.top + H - PAD.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(PAD.top + H - PAD.bottom) / 2})">CREATE+CLOSE p50 (µs)</text>`,
    '</svg>',
    '',
  ].join('\n');
}

export interface DocInput {
  readonly judged: readonly Judged[];
  readonly machine: string;
  readonly quick: boolean;
  readonly timestamp: string;
  /** The SVG's file name next to the page, or null when the run had no scale curve. */
  readonly plot: string | null;
  /** Hand-written analysis: what limits the goals missed, with profiles (bench/performance-notes.md). */
  readonly notes: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** docs/performance.md. */
export function performanceDoc(d: DocInput): string {
  const rows = d.judged.map((m) => {
    const doc = docOf(m.metric);
    const mark = m.met === false ? ' **miss**' : m.met ? ' met' : '';
    const spread = m.spread ? `${spreadText(m.spread)}, ${m.spread.rounds} rounds` : '-';
    return `| \`${m.metric}\` | ${cell(doc?.about ?? m.note ?? '')} | ${cell(doc?.baseline ?? '')} | ${m.goal ?? '-'}${mark} | ${fmt(m.value)} ${m.unit} | ${m.ratio === null ? '-' : `${m.ratio.toFixed(2)}x`} | ${spread} |`;
  });
  return [
    '# Performance',
    '',
    '<!-- generated by `npm run bench` (bench/report.ts, notes from bench/performance-notes.md): do not edit -->',
    '',
    `Every figure is compared with a baseline measured in the same run, on the same machine: ${d.machine}, ${d.timestamp}${d.quick ? ' (a `--quick` run: fewer samples, smaller scale)' : ''}. The machine is shared and loaded by other work: ratios are the figures to read.`,
    '',
    'A figure with a spread was measured in paired rounds: each round measures it and its baseline back to back, in alternating order, and gives a ratio; the ratio shown is the median of those, the spread their middle half and (in parentheses) their extremes. Load that comes and goes hits both sides of a round alike, so the median moves much less than the extremes.',
    '',
    '| metric | what it measures | baseline | goal | today | ratio | spread of the round ratios |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...(d.plot ? ['## Scale', '', `![CREATE+CLOSE p50 against live buffers](${d.plot})`, ''] : []),
    d.notes.trim(),
    '',
  ].join('\n');
}
