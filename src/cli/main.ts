/** `smaf`: the command-line tool of SMAF-TS. Exit codes follow errno (0 on success). */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SmafClient } from '../client/client.ts';
import { Errno, isSmafError, SmafError, toSmafError } from '../common/errors.ts';
import { formatSize, hex, parseSize } from '../common/units.ts';
import { formatExplanation } from '../core/explain.ts';
import { adminSocketFor, defaultSocketPath } from '../uapi/socket-path.ts';
import { printable } from '../common/printable.ts';
import { runCameraPipelineDemo } from '../demo/camera-pipeline.ts';
import { abiText, IOCTLS, OPS } from '../uapi/index.ts';
import { registerPlatformCommands } from './platform-command.ts';
import { execProgram } from './exec.ts';
import { formatProcesses } from './ps.ts';
import { parseScenario, runScenario, type StepResult } from './scenario.ts';
import { jsonError, packageVersion, parseDirections } from './cli-support.ts';
import { addOperatorCommands, parseCount, printEvents } from './operator-commands.ts';
import { formatFrameLayout } from './frame-text.ts';
import { stepPrompter, type PaceOptions } from './pace.ts';
import { frameLayout, isFrameSpec } from '../common/pixel-format.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from './scenarios.ts';

interface Globals {
  socket: string;
  adminSocket?: string;
  timeout: number;
  json?: boolean;
}

const out = (s: string): void => void process.stdout.write(`${s}\n`);

function tokenBytes(token: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/i.test(token)) throw new SmafError('EINVAL', `"${token}" is not a token (32 hex digits, as printed by "smaf create --hold")`);
  return Uint8Array.from(Buffer.from(token, 'hex'));
}

/**
 * Run `fn` with a connected client. `operator`: commands that show the whole daemon (info, events,
 * doctor, explain) use the admin socket when this user can open it, else the client socket, where
 * smafd shows only what this connection holds.
 */
async function withClient<T>(g: Globals, fn: (c: SmafClient) => Promise<T>, operator = false): Promise<T> {
  let c: SmafClient | null = null;
  if (operator) {
    try {
      c = await SmafClient.connect(g.adminSocket ?? adminSocketFor(g.socket), { timeoutMs: g.timeout });
    } catch (e) {
      if (!isSmafError(e, 'ENOENT') && !isSmafError(e, 'EACCES') && !isSmafError(e, 'EPERM')) throw e;
    }
  }
  c ??= await SmafClient.connect(g.socket, { timeoutMs: g.timeout });
  try {
    await c.hello();
    return await fn(c);
  } finally {
    await c.close();
  }
}

function printStep(r: StepResult): void {
  const mark = r.ok ? (r.errno ? 'refused as expected' : 'ok') : 'FAILED';
  const head = `${String(r.index + 1).padStart(3)}. ${r.action.padEnd(9)} [${r.client}] ${mark}`;
  out(r.action === 'say' ? `\n  ${r.detail}` : `${head}${r.errno ? ` (${r.errno})` : ''}: ${r.detail.split('\n').join('\n      ')}${r.note ? `\n      note: ${r.note}` : ''}`);
}

function buildProgram(): Command {
  const program = new Command('smaf')
    .description('SMAF-TS command line: talk to smafd (the /dev/smaf daemon)')
    .addOption(new Option('-s, --socket <path>', 'smafd socket').default(process.env.SMAF_SOCKET ?? defaultSocketPath()))
    .addOption(new Option('--admin-socket <path>', "smafd's admin socket, for info, events, doctor and explain of every client's buffers (default: beside --socket)").env('SMAF_ADMIN_SOCKET'))
    .addOption(new Option('--timeout <ms>', 'how long to wait for smafd to answer').default(10_000).env('SMAF_TIMEOUT').argParser((v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive number of milliseconds`);
      return n;
    }))
    .option('--json', 'machine-readable output (errors too: {"error": {code, errno, message}} on stdout)')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  const g = (): Globals => program.opts<Globals>();

  program
    .command('info')
    .description('allocators, regions, devices, limits and clients of the running daemon; --abi for the ioctl ABI')
    .option('--abi', 'print the uapi ABI (works without a daemon)')
    .action(async (o: { abi?: boolean }) => {
      if (o.abi) {
        if (g().json) out(JSON.stringify({ ioctls: IOCTLS, ops: OPS }, null, 2));
        else out(abiText());
        return;
      }
      await withClient(g(), async (c) => {
        const s = await c.state();
        if (s.scope === 'own' && !g().json) out('(the admin socket is not reachable: showing only what this connection holds)');
        if (g().json) return out(JSON.stringify(s, null, 2));
        out(`platform ${s.platform.name} (page ${s.platform.pageSize}); secure module: ${s.secureModule ?? 'none'}; firewall: ${s.firewall}`);
        out('\nallocators (asked in this order):');
        for (const a of s.allocators) out(`  ${String(a.name).padEnd(18)} ranking ${String(a.ranking).padStart(3)}  in use ${formatSize(a.bytesInUse as number).padStart(9)}  peak ${formatSize(a.peak as number).padStart(9)}  allocations ${a.allocations}  failures ${a.failures}\n      ${a.description}`);
        out('\nregions:');
        for (const r of s.regions) out(r.kind === 'reserved'
          ? `  ${r.name.padEnd(14)} ${r.kind.padEnd(15)} ${hex(r.base)} ${formatSize(r.size).padStart(8)}  never handed out${r.description ? `: ${r.description}` : ''}`
          : `  ${r.name.padEnd(14)} ${r.kind.padEnd(15)} ${hex(r.base)} ${formatSize(r.size).padStart(8)}  in use ${formatSize(r.inUse).padStart(9)}  largest free ${formatSize(r.largestFree).padStart(9)}  fragmentation ${(r.fragmentation * 100).toFixed(1)}%`);
        out('\ndevices:');
        for (const d of s.devices) out(`  ${String(d.name).padEnd(8)} ${String(d.class).padEnd(10)} dma_mask ${d.dmaMask} ${d.iommu ? 'iommu' : 'no-iommu'}${d.secure ? ' secure' : ''} max_seg ${formatSize(d.maxSegmentSize as number)}${d.description ? `  (${d.description})` : ''}`);
        out(`\nlimits per client: ${Object.entries(s.limits).map(([k, v]) => `${k}=${/Bytes|Io/.test(k) ? formatSize(v) : v}`).join(', ')}`);
        out(`\nclients: ${s.clients.length ? '' : 'none'}`);
        const labelWidth = Math.max(0, ...s.clients.map((cl) => cl.label.length));
        for (const cl of s.clients) out(`  ${cl.label.padEnd(labelWidth)}  ${String(cl.fds).padStart(4)} fds  ${String(cl.buffers).padStart(4)} buffers  ${formatSize(cl.bytes).padStart(9)}`);
        out(`buffers: ${s.buffersTotal}, allocated ${s.buffers.filter((b) => b.allocated).length}${s.buffersTotal > s.buffers.length ? ` of the first ${s.buffers.length}` : ''}; firewall denials: ${s.eventCounts.denial ?? 0}`);
        for (const b of s.buffers.filter((x) => x.label !== null)) out(`  buffer ${b.buffer} "${b.label}": ${formatSize(b.length)}${b.allocator ? ` from ${b.allocator}` : ', no memory yet'}`);
      }, true);
    });

  program
    .command('create')
    .description('create a buffer, optionally make it secure, attach and map devices; --hold keeps it alive')
    .argument('<length>', 'bytes (4096, 0x1000, 8MiB) or a frame WIDTHxHEIGHT:FORMAT (1920x1080:NV12; NV12, NV16, P010, YUYV, RGBA8888)')
    .option('--align <bytes>', 'stride alignment of a frame\'s planes (a power of two)', '1')
    .option('-n, --name <allocator>', 'ask for one allocator by name')
    .option('--secure', 'set the secure flag before any memory exists')
    .option('-a, --attach <devices>', 'comma-separated devices to attach')
    .option('-m, --map', 'map for every attached device (allocates); needs --attach')
    .option('-d, --direction <dir>', 'DMA direction of the maps: bidirectional, to-device or from-device, for all or per device (isp=from-device,display=to-device)')
    .option('--hold', 'keep the buffer until Ctrl-C and print an export token')
    .action(async (length: string, o: { name?: string; secure?: boolean; attach?: string; map?: boolean; hold?: boolean; direction?: string; align: string }) => {
      const frame = isFrameSpec(length) ? frameLayout(length, parseCount(o.align, '--align')) : null;
      const devices = o.attach ? o.attach.split(',').map((x) => x.trim()).filter(Boolean) : [];
      if (o.map && devices.length === 0) throw new SmafError('EINVAL', '--map maps the buffer for its attached devices: give them with --attach (e.g. --attach isp,display --map)');
      if (o.direction !== undefined && !o.map) throw new SmafError('EINVAL', '--direction applies to the maps: add --map');
      const directions = parseDirections(o.direction, devices);
      const c = await SmafClient.connect(g().socket, { timeoutMs: g().timeout });
      try {
        const fd = await c.create(BigInt(frame ? frame.size : parseSize(length)), o.name ? { name: o.name } : {});
        if (frame && !g().json) out(formatFrameLayout(frame));
        if (o.secure) await c.setSecure(fd, true);
        // attach every device first, then map: the memory is chosen once all of them are known
        const atts = [];
        for (const d of devices) atts.push(await c.attach(fd, d));
        if (o.map) for (const [i, att] of atts.entries()) await c.map(fd, att, directions.get(devices[i]!) ?? 0);
        const e = await c.explainFd(fd);
        const token = o.hold ? Buffer.from(await c.exportToken(fd)).toString('hex') : undefined;
        if (g().json) out(JSON.stringify({ fd, token, ...(frame ? { frame } : {}), explain: e }, null, 2));
        else {
          out(formatExplanation(e));
          if (token) out(`token ${token} (import it with "smaf stat ${token}"); holding the buffer until Ctrl-C`);
          else out(`(buffer ${e.buffer} is released when this command exits, as a process's fds close; --hold keeps it)`);
        }
        if (o.hold) await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      } finally {
        await c.close();
      }
    });

  const secure = program.command('secure').description('read or set the secure flag of a held buffer (by export token)');
  secure.command('get').argument('<token>').action(async (token: string) => {
    await withClient(g(), async (c) => {
      const fd = await c.importToken(tokenBytes(token));
      const s = await c.getSecure(fd);
      out(g().json ? JSON.stringify({ secure: s }) : s ? 'secure' : 'not secure');
    });
  });
  secure.command('set').argument('<token>').argument('<on|off>').action(async (token: string, v: string) => {
    if (v !== 'on' && v !== 'off') throw new SmafError('EINVAL', `secure set takes "on" or "off", not "${v}"`);
    await withClient(g(), async (c) => {
      const fd = await c.importToken(tokenBytes(token));
      await c.setSecure(fd, v === 'on');
      out(g().json ? JSON.stringify({ secure: v === 'on' }) : `secure flag ${v}`);
    });
  });

  program
    .command('stat')
    .description('size, allocation and secure state of a held buffer (by export token)')
    .argument('<token>')
    .action(async (token: string) => {
      await withClient(g(), async (c) => {
        const st = await c.stat(await c.importToken(tokenBytes(token)));
        if (g().json) out(JSON.stringify({ ...st, size: Number(st.size) }));
        else out(`${formatSize(Number(st.size))}, ${st.allocated ? `allocated by ${st.allocator}` : 'not allocated yet'}${st.secure ? ', secure' : ''}`);
      });
    });

  program
    .command('doctor')
    .description('verify the invariants of the running daemon (pools, scrubbed memory, secure world, references)')
    .action(async () => {
      await withClient(g(), async (c) => {
        const r = await c.check();
        if (g().json) out(JSON.stringify(r, null, 2));
        else {
          for (const ch of r.checks) out(`  ${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name}: ${ch.detail}`);
          out(r.ok ? 'all invariants hold' : 'INVARIANTS BROKEN');
        }
        if (!r.ok) throw new SmafError('EIO', 'the self-check found problems');
      }, true);
    });

  program
    .command('explain')
    .description('which allocators were asked for a buffer, what each answered and why')
    .argument('<buffer-id>', 'buffer id (as "smaf info --json" or the dashboard shows it)')
    .action(async (id: string) => {
      const n = Number(id);
      if (!Number.isInteger(n) || n < 0) throw new SmafError('EINVAL', `"${id}" is not a buffer id`);
      await withClient(g(), async (c) => {
        const e = await c.explain(n);
        out(g().json ? JSON.stringify(e, null, 2) : formatExplanation(e));
      }, true);
    });

  program
    .command('run')
    .description('run a pipeline scenario (YAML: create, attach, map, write, read, share...)')
    .argument('<scenario>', 'a scenario file, or the name of a built-in one: ' + BUILTIN_SCENARIOS.join(', '))
    .option('--step', 'wait for Enter before each step (watch it on the dashboard)')
    .option('--hold', 'keep the clients (and their buffers) after the last step, until Ctrl-C')
    .action(async (file: string, o: PaceOptions) => runScenarioCommand(g(), file, o));

  registerPlatformCommands(program, () => g().json === true);

  const demo = program.command('demo').description('built-in demonstrations');
  demo.command('camera').description('camera -> GPU -> display pipeline, in-process on the default platform').action(() => runCameraPipelineDemo(out));
  demo.command('sdp').description('secure video path over the daemon: decrypt, decode, display; rogue accesses refused')
    .option('--step', 'wait for Enter before each step (watch it on the dashboard)')
    .option('--hold', 'keep the clients (and their buffers) after the last step, until Ctrl-C')
    .action(async (o: PaceOptions) => {
    // only this run's denials, not those of earlier runs
    const before = await withClient(g(), async (c) => (await c.events({ newest: true, limit: 1 })).events[0]?.seq ?? 0, true);
    await runScenarioCommand(g(), 'sdp', o);
    if (!g().json) await withClient(g(), (c) => printEvents(c, g(), { kinds: ['denial'], after: before }, 50, 'denials logged by smafd during this run (firewall, secure module, attach checks):'), true);
  });

  addOperatorCommands(program, g, (fn) => withClient(g(), fn, true)); // events and traces: the operator's view when it can

  program
    .command('ps')
    .description('every client process and the dma-bufs it holds: size, name, allocator, mapped; totals per process and per allocator')
    .action(async () => {
      await withClient(g(), async (c) => {
        const r = await c.ps();
        out(g().json ? JSON.stringify(r, null, 2) : formatProcesses(r));
      }, true);
    });

  program
    .command('exec')
    .description('run a dynamically linked program with /dev/smaf and /dev/dma_heap served by smafd (smaf exec -- PROGRAM ARGS...)')
    .option('--heaps <list>', 'heaps to show: names (linux,cma,system), default, protected, all; repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--debug', 'log every intercepted call to stderr (SMAF_PRELOAD_DEBUG=1)')
    .argument('<program>')
    .argument('[args...]')
    .action(async (prog: string, args: string[], o: { heaps?: string[]; debug?: boolean }) => {
      const code = await execProgram(prog, args, { socket: g().socket, ...(o.heaps ? { heaps: o.heaps } : {}), debug: Boolean(o.debug) });
      process.exit(code);
    });

  return program;
}

async function runScenarioCommand(g: Globals, file: string, pace: PaceOptions = {}): Promise<void> {
  const builtin = builtinScenario(file);
  let text = builtin;
  if (text === undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new SmafError('ENOENT', `no scenario file "${file}", and it is not a built-in scenario (built-in: ${BUILTIN_SCENARIOS.join(', ')})`);
    }
  }
  const scenario = parseScenario(text, builtin ? `built-in scenario "${file}"` : file);
  if (!g.json) out(`scenario: ${scenario.name}${scenario.description ? `\n  ${scenario.description.trim().split('\n').join('\n  ')}` : ''}`);
  const connect = async (): Promise<SmafClient> => {
    const c = await SmafClient.connect(g.socket, { timeoutMs: g.timeout });
    await c.hello(); // each client of the scenario says who it is
    return c;
  };
  const stepper = pace.step ? stepPrompter() : null;
  const result = await runScenario(scenario, connect, g.json ? undefined : printStep, {
    keepOpen: pace.hold === true,
    ...(stepper ? { beforeStep: stepper.before } : {}),
  });
  stepper?.close();
  if (pace.hold && result.clients) {
    process.stderr.write(`smaf: holding ${result.clients.size} client${result.clients.size === 1 ? '' : 's'} and their buffers until Ctrl-C\n`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    for (const c of result.clients.values()) await c.close();
  }
  if (g.json) out(JSON.stringify(result, null, 2));
  else out(result.ok ? `\nscenario passed: ${result.steps.length} steps` : '\nscenario FAILED');
  if (!result.ok) {
    const failed = result.steps.find((s) => !s.ok);
    throw new SmafError((failed?.errno as keyof typeof Errno | undefined) ?? 'EIO', `step ${(failed?.index ?? 0) + 1} (${failed?.action}) failed`);
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    const json = argv.includes('--json');
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0;
      if (json) out(jsonError(new SmafError('EINVAL', e.message.replace(/^error: /, ''))));
      return Errno.EINVAL;
    }
    const err = toSmafError(e);
    if (json) out(jsonError(err));
    else process.stderr.write(`smaf: ${err.code}: ${printable(err.message)}\n`);
    return err.errno;
  }
}

