/**
 * `smaf replay TRACE` and `smaf what-if TRACE --vary KEY=VALUES`: a recording (docs/trace.md)
 * replayed in process, no daemon, on any platform and policy (src/replay/).
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import { SmafError } from '../common/errors.ts';
import { parser } from '../daemon/options.ts';
import { replay, type ReplayResult } from '../replay/engine.ts';
import { loadTrace, replayPlatform } from '../replay/load.ts';
import { POLICIES, type PolicyName } from '../replay/policy.ts';
import { clientLabels, compareText, replayJson, replayText, whatIfJson, whatIfSvg, whatIfText } from '../replay/report.ts';
import { parseVariation } from '../replay/vary.ts';
import { whatIf } from '../replay/what-if.ts';
import { ExitStatus } from './cli-support.ts';
import type { CommandSpec } from './commands.ts';

const policy = parser((v: string): PolicyName => {
  if (!POLICIES.includes(v as PolicyName)) throw new Error(`"${v}" is not a policy (${POLICIES.join(', ')})`);
  return v as PolicyName;
});
const workers = parser((v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`"${v}" is not a number of threads (0: none, run in this one)`);
  return n;
});

const PLATFORM = (): Option => new Option('-p, --platform <file>', 'replay on this platform: YAML/JSON, a device tree (.dtb, .dts) or an overlay (default: the one the trace was recorded on)');
const PARTIAL = (): Option => new Option('--partial', 'replay a recording smafd could not keep whole (its first --max-recorded-ops operations)');

interface ReplayOptions {
  readonly platform?: string;
  readonly policy: PolicyName;
  readonly compare?: PolicyName;
  readonly partial?: boolean;
}

/** Exit 0 when every outcome matches, 1 when some differ; 22 (thrown) for a bad trace or platform. */
const replayCommand: CommandSpec = {
  name: 'replay',
  description: 'replay a trace (smaf trace export) in process, no daemon: every outcome compared with the recording, peak use per region, the first failure',
  args: [['<trace>', 'a trace file (smaf trace export -o FILE), or JSON Lines written from your own logs (docs/trace.md)']],
  options: [
    PLATFORM(),
    new Option('--policy <policy>', 'deferred (SMAF: memory at first use) or eager (ION, dma-heaps: at create, from the heap the first device needs)').default('deferred').argParser(policy),
    new Option('--compare <policy>', 'replay under this policy too and print both side by side').argParser(policy),
    PARTIAL(),
  ],
  run: ({ g, out }, [file], o: ReplayOptions) => {
    const { recording } = loadTrace(file as string, o.partial === true);
    const { spec, from } = replayPlatform(recording, o.platform);
    const labels = clientLabels(recording.records);
    const main = replay(recording, { spec, policy: o.policy });
    const other: ReplayResult | null = o.compare ? replay(recording, { spec, policy: o.compare }) : null;
    if (g().json) out(JSON.stringify(other ? { [main.policy]: replayJson(main), [other.policy]: replayJson(other) } : replayJson(main), null, 2));
    else {
      out(replayText(main, labels, from).join('\n'));
      if (other) out(['', `compared with ${other.policy}:`, ...compareText(main, other)].join('\n'));
    }
    if (main.internalErrors) throw new SmafError('EIO', `${main.internalErrors} operations met a bug of the replay`);
    if (main.differencesTotal > 0) throw new ExitStatus(1);
  },
};

interface WhatIfOptions {
  readonly vary: string[];
  readonly platform?: string;
  readonly policy: PolicyName;
  readonly output?: string;
  readonly partial?: boolean;
  readonly workers?: number;
}

const whatIfCommand: CommandSpec = {
  name: 'what-if',
  description: 'replay a trace once per value of a platform setting (CMA size, a DMA mask, an IOMMU, an allocator, the policy): which values run it, and the smallest',
  args: [['<trace>', 'a trace file (smaf trace export -o FILE) or JSON Lines (docs/trace.md)']],
  options: [
    new Option('--vary <key=values>', 'what to vary: <region>.size, <device>.dma_mask, <device>.iommu, <allocator>.ranking, <allocator>.present or policy; values FROM..TO[:STEP] (sizes: 8MiB..64MiB:4MiB) or A,B,C (on|off)')
      .argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory(),
    PLATFORM(),
    new Option('--policy <policy>', 'the policy of every replay (unless --vary policy=...)').default('deferred').argParser(policy),
    new Option('-o, --output <file>', 'write the plot (SVG) there'),
    new Option('--workers <n>', `threads replaying values at once (default: one per core, ${availableParallelism()} here; 0: this thread)`).argParser(workers),
    PARTIAL(),
  ],
  run: async ({ g, out }, [file], o: WhatIfOptions) => {
    if (o.vary.length > 1) throw new SmafError('EINVAL', `--vary: one setting at a time (got ${o.vary.join(', ')})`);
    const { text, recording } = loadTrace(file as string, o.partial === true);
    const { spec } = replayPlatform(recording, o.platform);
    const variation = parseVariation(o.vary[0]!, spec);
    const result = await whatIf({ text, source: file as string, base: { spec, preset: {}, policy: o.policy }, variation }, o.workers !== undefined ? { workers: o.workers } : {});
    if (o.output) writeFileSync(o.output, whatIfSvg(result, variation));
    if (g().json) out(JSON.stringify(whatIfJson(result), null, 2));
    else out(whatIfText(result, variation).join('\n'));
    if (o.output && !g().json) process.stderr.write(`smaf: plot written to ${o.output}\n`);
  },
};

export const REPLAY_COMMANDS: readonly CommandSpec[] = [replayCommand, whatIfCommand];
