// `npm run bench [-- --quick] [-- --only daemon,lifecycle,cma,deferred,memory]`: the benchmark suite.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import Table from 'cli-table3';
import { Command } from 'commander';
import { benchCmaFit } from './cma-fit.ts';
import { benchBystander } from './bystander.ts';
import { benchDaemonRtt } from './daemon-rtt.ts';
import { simulateCompatibility } from './deferred.ts';
import { benchLifecycle } from './lifecycle.ts';
import { benchMemory } from './memory.ts';
import { benchShim } from './shim.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const program = new Command('bench')
  .option('--quick', 'a short run (under a minute)')
  .option('--only <groups>', 'comma-separated: daemon, bystander, lifecycle, cma, deferred, memory, shim')
  .option('--out <file>', 'results file', new URL('./results.json', import.meta.url).pathname)
  .parse(process.argv);
const opts = program.opts<{ quick?: boolean; only?: string; out: string }>();
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
  ['daemon', () => benchDaemonRtt(ctx)],
  ['bystander', () => benchBystander(ctx)],
  ['shim', () => benchShim(ctx)],
];

const started = Date.now();
const results: Metric[] = [];
for (const [name, run] of groups) {
  if (only && !only.includes(name)) continue;
  process.stderr.write(`running ${name}...\n`);
  results.push(...(await run()));
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory: `${Math.round(totalmem() / 2 ** 30)} GiB`, node: process.version, platform: `${process.platform}/${process.arch}` };
const timestamp = new Date().toISOString();
const table = new Table({ head: ['metric', 'value', 'baseline', 'ratio', 'unit'], colAligns: ['left', 'right', 'right', 'right', 'left'] });
const fmt = (n: number | null) => (n === null ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3));
for (const m of results) table.push([m.metric, fmt(m.value), fmt(m.baseline), m.ratio === null ? '-' : `${m.ratio.toFixed(2)}x`, m.unit]);
console.log(table.toString());
console.log(`${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}; ${((Date.now() - started) / 1000).toFixed(0)} s${ctx.quick ? ' (quick)' : ''}`);
writeFileSync(opts.out, `${JSON.stringify(results.map((m) => ({ ...m, platform: 'media-soc (embedded default)', machine, quick: ctx.quick, timestamp })), null, 2)}\n`);
console.log(`written to ${opts.out}`);
