/**
 * `smaf`'s commands as one table: name, description, arguments, options and a handler each.
 * `addCommands` registers them with commander; events, trace and platform register themselves
 * (operator-commands.ts, platform-command.ts).
 */
import { type Command, Option } from 'commander';
import { SmafError } from '../common/errors.ts';
import { MODIFIER_NAMES, PIXEL_FORMAT_NAMES } from '../common/pixel-format.ts';
import { formatSize, parseSize } from '../common/units.ts';
import { formatExplanation } from '../core/explain.ts';
import { runCameraPipelineDemo } from '../demo/camera-pipeline.ts';
import { parser } from '../daemon/options.ts';
import { abiText, IOCTLS, OPS } from '../uapi/index.ts';
import { tokenBytes, type Cli } from './context.ts';
import { createCommand, type CreateOptions } from './create-command.ts';
import { execProgram } from './exec.ts';
import { formatDevices } from './devices-text.ts';
import { formatInfo } from './info-text.ts';
import { fetchEvents, printEvents } from './operator-commands.ts';
import { demoPacer, type PaceOptions } from './pace.ts';
import { formatProcesses } from './ps.ts';
import { runScenarioCommand } from './run-command.ts';
import { BUILTIN_SCENARIOS } from './scenarios.ts';

export interface CommandSpec {
  /** `info`, or `secure get` for a command of a group (GROUPS describes the group). */
  readonly name: string;
  readonly description: string;
  /** commander argument syntax and help: `<token>`, `[args...]`. */
  readonly args?: readonly (readonly [string, string?])[];
  readonly options?: readonly Option[];
  /** The handler: positional arguments as parsed, options as declared. */
  readonly run: (cli: Cli, args: readonly unknown[], opts: never) => Promise<void> | void;
}

const GROUPS: Readonly<Record<string, string>> = {
  secure: 'read or set the secure flag of a held buffer (by export token)',
  demo: 'built-in demonstrations',
};

/** `--step` and `--hold`, the same for every pipeline that can be watched. */
const PACE_OPTIONS = [
  new Option('--step', 'wait for Enter before each step (watch it on the dashboard)'),
  new Option('--hold', 'keep the clients (and their buffers) after the last step, until Ctrl-C'),
];
const sizeArg = parser(parseSize);
const lineCount = parser((v: string) => {
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw new SmafError('EINVAL', `"${v}" is not a number of lines`);
  return Number(v);
});

const info: CommandSpec = {
  name: 'info',
  description: 'allocators, regions, devices, limits and clients of the running daemon; --abi for the ioctl ABI',
  options: [new Option('--abi', 'print the uapi ABI (works without a daemon)')],
  run: async ({ g, out, withClient }, _args, o: { abi?: boolean }) => {
    if (o.abi) return out(g().json ? JSON.stringify({ ioctls: IOCTLS, ops: OPS }, null, 2) : abiText());
    await withClient(async (c) => {
      const s = await c.state();
      out(g().json ? JSON.stringify(s, null, 2) : formatInfo(s).join('\n'));
    }, true);
  },
};

const create: CommandSpec = {
  name: 'create',
  description: 'create a buffer, optionally make it secure, attach and map devices; --hold keeps it alive',
  args: [['<length>', `bytes (4096, 0x1000, 8MiB) or a frame WIDTHxHEIGHT:FORMAT (1920x1080:NV12; ${PIXEL_FORMAT_NAMES.join(', ')})`]],
  options: [
    new Option('--align <size>', 'a frame: stride alignment of its planes (a power of two: 64, 4KiB)').argParser(sizeArg),
    new Option('--align-plane <size>', 'a frame: each plane starts at a multiple of this (4KiB; default: the stride alignment)').argParser(sizeArg),
    new Option('--align-height <lines>', 'a frame: its height rounded up to this many lines (16 or 32 for codecs)').argParser(lineCount),
    new Option('--modifier <modifier>', `a frame: DRM format modifier (${MODIFIER_NAMES.join(', ')}, or its value)`),
    new Option('-n, --name <allocator>', 'ask for one allocator by name'),
    new Option('--secure', 'set the secure flag before any memory exists'),
    new Option('-a, --attach <devices>', 'comma-separated devices to attach'),
    new Option('-m, --map', 'map for every attached device (allocates); needs --attach'),
    new Option('-d, --direction <dir>', 'DMA direction of the maps: bidirectional, to-device or from-device, for all or per device (isp=from-device,display=to-device)'),
    new Option('--hold', 'keep the buffer until Ctrl-C and print an export token'),
  ],
  run: (cli, [length], o: CreateOptions) => createCommand(cli, length as string, o),
};

const secureGet: CommandSpec = {
  name: 'secure get',
  description: 'whether a held buffer is secure',
  args: [['<token>']],
  run: async ({ g, out, withClient }, [token]) => {
    await withClient(async (c) => {
      const s = await c.getSecure(await c.importToken(tokenBytes(token as string)));
      out(g().json ? JSON.stringify({ secure: s }) : s ? 'secure' : 'not secure');
    });
  },
};

const secureSet: CommandSpec = {
  name: 'secure set',
  description: 'set or clear the secure flag of a held buffer (before it has memory)',
  args: [['<token>'], ['<on|off>']],
  run: async ({ g, out, withClient }, [token, v]) => {
    if (v !== 'on' && v !== 'off') throw new SmafError('EINVAL', `secure set takes "on" or "off", not "${String(v)}"`);
    await withClient(async (c) => {
      await c.setSecure(await c.importToken(tokenBytes(token as string)), v === 'on');
      out(g().json ? JSON.stringify({ secure: v === 'on' }) : `secure flag ${v}`);
    });
  },
};

const stat: CommandSpec = {
  name: 'stat',
  description: 'size, allocation and secure state of a held buffer (by export token)',
  args: [['<token>']],
  run: async ({ g, out, withClient }, [token]) => {
    await withClient(async (c) => {
      const st = await c.stat(await c.importToken(tokenBytes(token as string)));
      if (g().json) out(JSON.stringify({ ...st, size: Number(st.size) }));
      else out(`${formatSize(Number(st.size))}, ${st.allocated ? `allocated by ${st.allocator}` : 'not allocated yet'}${st.secure ? ', secure' : ''}`);
    });
  },
};

const doctor: CommandSpec = {
  name: 'doctor',
  description: 'verify the invariants of the running daemon (pools, scrubbed memory, secure world, references)',
  run: async ({ g, out, withClient }) => {
    await withClient(async (c) => {
      const r = await c.check();
      if (g().json) out(JSON.stringify(r, null, 2));
      else out([...r.checks.map((ch) => `  ${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name}: ${ch.detail}`), r.ok ? 'all invariants hold' : 'INVARIANTS BROKEN'].join('\n'));
      if (!r.ok) throw new SmafError('EIO', 'the self-check found problems');
    }, true);
  },
};

const explainCommand: CommandSpec = {
  name: 'explain',
  description: 'which allocators were asked for a buffer, what each answered and why',
  args: [['<buffer-id>', 'buffer id (as "smaf info --json" or the dashboard shows it)']],
  run: async ({ g, out, withClient }, [id]) => {
    const n = Number(id);
    if (!Number.isInteger(n) || n < 0) throw new SmafError('EINVAL', `"${String(id)}" is not a buffer id`);
    await withClient(async (c) => {
      const e = await c.explain(n);
      out(g().json ? JSON.stringify(e, null, 2) : formatExplanation(e));
    }, true);
  },
};

const run: CommandSpec = {
  name: 'run',
  description: 'run a pipeline scenario (YAML: create, attach, map, write, read, share...)',
  args: [['<scenario>', `a scenario file, or the name of a built-in one: ${BUILTIN_SCENARIOS.join(', ')}`]],
  options: PACE_OPTIONS,
  run: async (cli, [file], o: PaceOptions) => {
    await runScenarioCommand(cli, file as string, o);
  },
};

const demoCamera: CommandSpec = {
  name: 'demo camera',
  description: 'camera -> GPU -> display pipeline, in-process on the default platform',
  options: PACE_OPTIONS,
  run: async ({ out }, _args, o: PaceOptions) => {
    const pacer = demoPacer(o);
    try {
      await runCameraPipelineDemo(out, pacer);
    } finally {
      pacer.close();
    }
  },
};

const demoSdp: CommandSpec = {
  name: 'demo sdp',
  description: 'secure video path over the daemon: decrypt, decode, display; rogue accesses refused',
  options: PACE_OPTIONS,
  run: async (cli, _args, o: PaceOptions) => {
    // only this run's denials, not those of earlier runs
    const before = await cli.withClient(async (c) => (await c.events({ newest: true, limit: 1 })).events[0]?.seq ?? 0, true);
    const denials = { kinds: ['denial' as const], after: before };
    // with --json, the run's one document carries its denials
    await runScenarioCommand(cli, 'sdp', o, () => cli.withClient(async (c) => ({ denials: (await fetchEvents(c, denials, 1000)).events }), true));
    if (cli.g().json) return;
    await cli.withClient((c) => printEvents(c, cli.g(), denials, 50, 'denials logged by smafd during this run (firewall, secure module, attach checks):'), true);
  },
};

const ps: CommandSpec = {
  name: 'ps',
  description: 'every client process and the dma-bufs it holds: size, name, allocator, mapped; totals per process and per allocator',
  run: async ({ g, out, withClient }) => {
    await withClient(async (c) => {
      const r = await c.ps();
      out(g().json ? JSON.stringify(r, null, 2) : formatProcesses(r));
    }, true);
  },
};

const devices: CommandSpec = {
  name: 'devices',
  description: 'each device: its constraints, IOMMU domain (size, mapped, largest free IOVA range), and every buffer it maps (direction, DMA ranges, grants)',
  run: async ({ g, out, withClient }) => {
    await withClient(async (c) => {
      const r = await c.devices();
      out(g().json ? JSON.stringify(r, null, 2) : formatDevices(r));
    }, true);
  },
};

const exec: CommandSpec = {
  name: 'exec',
  description: 'run a dynamically linked program with /dev/smaf and /dev/dma_heap served by smafd (smaf exec -- PROGRAM ARGS...)',
  args: [['<program>'], ['[args...]']],
  options: [
    new Option('--heaps <list>', 'heaps to show: names (linux,cma,system), default, protected, all; repeatable').argParser((v: string, prev: string[] = []) => [...prev, v]),
    new Option('--debug', 'log every intercepted call to stderr (SMAF_PRELOAD_DEBUG=1)'),
  ],
  run: async ({ g }, [prog, args], o: { heaps?: string[]; debug?: boolean }) => {
    const code = await execProgram(prog as string, args as string[], { socket: g().socket, ...(o.heaps ? { heaps: o.heaps } : {}), debug: Boolean(o.debug) });
    process.exit(code);
  },
};

/** In the order `smaf --help` lists them (events, trace and platform come after ps). */
const COMMANDS: readonly CommandSpec[] = [info, create, secureGet, secureSet, stat, doctor, explainCommand, run, demoCamera, demoSdp, ps, devices, exec];

/** The command `name` ("secure get") of `program`, with its group made on first use. */
function commandFor(program: Command, name: string): Command {
  const path = name.split(' ');
  let parent = program;
  for (const group of path.slice(0, -1)) {
    parent = parent.commands.find((c) => c.name() === group) ?? parent.command(group).description(GROUPS[group] ?? group);
  }
  return parent.command(path.at(-1)!);
}

export function addCommands(program: Command, cli: Cli, specs: readonly CommandSpec[] = COMMANDS): void {
  for (const spec of specs) {
    const cmd = commandFor(program, spec.name).description(spec.description);
    for (const [syntax, help] of spec.args ?? []) cmd.argument(syntax, help);
    for (const o of spec.options ?? []) cmd.addOption(o);
    cmd.action(async (...params: unknown[]) => {
      const self = params.at(-1) as Command;
      await spec.run(cli, self.processedArgs, self.opts() as never);
    });
  }
}
