// `npm run bench [-- --quick] [-- --only data,scale,daemon,...]`: the benchmark suite. Prints the
// table (with each goal and a mark for a miss), writes bench/results.json and, on a run of every
// group, docs/performance.md with its scale plot.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import Table from 'cli-table3';
import { Command } from 'commander';
import { benchCmaFit } from './cma-fit.ts';
import { benchBystander } from './bystander.ts';
import { benchDaemonRtt } from './daemon-rtt.ts';
import { benchDataPath } from './data-path.ts';
import { simulateCompatibility } from './deferred.ts';
import { benchLifecycle } from './lifecycle.ts';
import { benchMemory } from './memory.ts';
import { judge, performanceDoc, scaleSvg, tableRows, type Judged, type ScalePoint } from './report.ts';
import { benchReplay } from './replay.ts';
import { benchScale } from './scale.ts';
import { benchShim } from './shim.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const program = new Command('bench')
  .option('--quick', 'a short run (under a minute)')
  .option('--only <groups>', 'comma-separated: cma, lifecycle, deferred, memory, data, daemon, bystander, scale, shim, replay')
  .option('--out <file>', 'results file', new URL('./results.json', import.meta.url).pathname)
  .option('--render-docs', 'only write docs/performance.md again from bench/results.json (after editing bench/performance-notes.md)')
  .option('--docs <dir>', 'where performance.md and its plot go (on a run of every group)', new URL('../docs/', import.meta.url).pathname)
  .parse(process.argv);
const opts = program.opts<{ quick?: boolean; only?: string; out: string; docs: string; renderDocs?: boolean }>();
const only = opts.only?.split(',');

const tty = process.stderr.isTTY;
const ctx: BenchContext = {
  quick: Boolean(opts.quick),
  progress(label, total) {
    if (!tty) return { tick: () => {}, stop: () => {} };
    const bar = new SingleBar({ format: `${label.padEnd(20)} {bar} {value}/{total}`, stream: process.stderr, clearOnComplete: true }, Presets.shades_classic);
    bar.start(total, 0);
    return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  },
};

let curve: ScalePoint[] | null = null;
const groups: [string, () => Promise<Metric[]>][] = [
  ['cma', () => benchCmaFit(ctx)],
  ['lifecycle', () => benchLifecycle(ctx)],
  ['deferred', async () => {
    const n = ctx.quick ? 1000 : 5000;
    const bar = ctx.progress('deferred suite', n);
    const r = simulateCompatibility(20261125, n, () => bar.tick());
    bar.stop();
    if (r.failures.length) console.error(r.failures.slice(0, 5).join('\n'));
    return [
      metric('deferred.compatibility', r.deferred, null, 'share', `${n} seeded random pipelines; ${r.migrations} late attaches migrated`),
      metric('deferred.compatibility.eager_ion', r.eager, null, 'share', 'the same pipelines with the heap chosen at create from the producer alone'),
    ];
  }],
  ['memory', () => benchMemory(ctx)],
  ['data', () => benchDataPath(ctx)],
  ['daemon', () => benchDaemonRtt(ctx)],
  ['bystander', () => benchBystander(ctx)],
  ['scale', async () => {
    const r = await benchScale(ctx);
    curve = r.curve;
    return r.metrics;
  }],
  ['shim', () => benchShim(ctx)],
  ['replay', () => benchReplay(ctx)],
];

/** docs/performance.md: the figures judged, the plot when there is one, the notes. */
function writeDocs(judged: Judged[], machineLine: string, quick: boolean, timestamp: string, plot: string | null): void {
  const notes = readFileSync(new URL('./performance-notes.md', import.meta.url), 'utf8');
  writeFileSync(join(opts.docs, 'performance.md'), performanceDoc({ judged, machine: machineLine, quick, timestamp, plot, notes }));
  console.log(`written to ${join(opts.docs, 'performance.md')}`);
}

if (opts.renderDocs) {
  const saved = JSON.parse(readFileSync(opts.out, 'utf8')) as (Judged & { machine: { cpu: string; cores: number; memory: string; node: string }; quick: boolean; timestamp: string })[];
  const m = saved[0]!.machine;
  const svg = 'performance-scale.svg';
  writeDocs(saved, `${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}`, saved[0]!.quick, saved[0]!.timestamp, existsSync(join(opts.docs, svg)) ? svg : null);
  process.exit(0);
}

const started = Date.now();
const results: Metric[] = [];
for (const [name, run] of groups) {
  if (only && !only.includes(name)) continue;
  process.stderr.write(`running ${name}...`);
  const t0 = Date.now();
  results.push(...(await run()));
  process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory: `${Math.round(totalmem() / 2 ** 30)} GiB`, node: process.version, platform: `${process.platform}/${process.arch}` };
const timestamp = new Date().toISOString();
const judged = judge(results);
const table = new Table({ head: ['metric', 'value', 'baseline', 'ratio', 'spread', 'goal', '', 'unit'], colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'left'] });
table.push(...tableRows(judged));
console.log(table.toString());
const machineLine = `${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}`;
console.log(`${machineLine}; ${((Date.now() - started) / 1000).toFixed(0)} s${ctx.quick ? ' (quick)' : ''}; ${judged.filter((m) => m.met === false).length} goal(s) missed`);
const fresh = judged.map((m) => ({ ...m, platform: 'media-soc (embedded default)', machine, quick: ctx.quick, timestamp }));
// a run of some groups updates their figures and keeps the others' (each carries its own timestamp)
const kept = only && existsSync(opts.out) ? (JSON.parse(readFileSync(opts.out, 'utf8')) as { metric: string }[]).filter((m) => !fresh.some((f) => f.metric === m.metric)) : [];
writeFileSync(opts.out, `${JSON.stringify([...kept, ...fresh], null, 2)}\n`);
console.log(`written to ${opts.out}${kept.length ? ` (${fresh.length} figures updated, ${kept.length} kept from earlier runs)` : ''}`);
if (!only) {
  const svg = 'performance-scale.svg';
  if (curve) writeFileSync(join(opts.docs, svg), scaleSvg(curve));
  writeDocs(judged, machineLine, ctx.quick, timestamp, curve ? svg : null);
}
