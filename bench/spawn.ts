/** The benchmark's server processes (bench/servers.ts), each in its own process like a real smafd. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StallReport } from './stalls.ts';

export type ServerKind = 'smafd' | 'smafd-dashboard' | 'echo';

export interface BenchServer {
  readonly socket: string;
  /** The ready line's rest: the dashboard's URL for `smafd-dashboard`. */
  readonly info: string;
  readonly process: ChildProcess;
  /** The worst stall of its event loop since the last ask (bench/stalls.ts). */
  stalls(): Promise<StallReport>;
  stop(): void;
}

/** A fresh socket path in a temporary directory. */
export function benchSocket(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'smaf-bench-')), `${name}.sock`);
}

/**
 * Run a bench script in its own process and wait for its "ready" line (whose rest it returns). What
 * it prints besides goes to stderr: `SMAF_BENCH_NODE_FLAGS="--trace-gc"` shows each server's
 * garbage collections there.
 */
function spawnReady(script: string, args: readonly string[], flags: readonly string[], cpu?: number): Promise<{ process: ChildProcess; info: string; lines: AsyncIterable<string> }> {
  const extra = process.env.SMAF_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const argv = [...flags, ...extra, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args];
  const p = cpu !== undefined && canPin() ? spawn('taskset', ['-c', String(cpu), process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const waiting: ((line: string) => void)[] = [];
  const later: string[] = [];
  let ready: ((info: string) => void) | null = null;
  let rest = '';
  p.stdout!.on('data', (b: Buffer) => {
    rest += b.toString();
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (ready && line.startsWith('ready')) {
        ready(line.replace(/^ready ?/, ''));
        ready = null;
      } else if (ready || !/^(done|stalls)\b/.test(line)) process.stderr.write(`${line}\n`);
      else (waiting.shift() ?? ((l: string) => later.push(l)))(line);
    }
  });
  const lines = {
    async *[Symbol.asyncIterator]() {
      for (;;) yield later.shift() ?? (await new Promise<string>((r) => waiting.push(r)));
    },
  };
  return new Promise((resolve, reject) => {
    ready = (info) => resolve({ process: p, info, lines });
    p.once('exit', (code) => reject(new Error(`${script} ${args[0]} exited with ${code}`)));
  });
}

let pinnable: boolean | null = null;

/** Whether processes can be pinned to a CPU here (Linux's taskset). */
export function canPin(): boolean {
  if (pinnable === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      pinnable = availableParallelism() > 1;
    } catch {
      pinnable = false;
    }
  }
  return pinnable;
}

/**
 * Run `body` with this process (every thread) on one CPU, then on all of them again. Where a
 * server and its client run on the same CPU, a request wakes the server with a context switch;
 * across CPUs it takes an interrupt (on this VM about 50 µs each way): a figure that compares two
 * servers must give both the same placement, or the kernel's choice of CPUs decides it.
 */
export async function pinnedTo<T>(cpu: number, body: () => Promise<T>): Promise<T> {
  if (!canPin()) return body();
  const all = `0-${availableParallelism() - 1}`;
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
  try {
    return await body();
  } finally {
    execFileSync('taskset', ['-a', '-cp', all, String(process.pid)], { stdio: 'ignore' });
  }
}

/**
 * A server process; `watchStalls`: it watches its event loop's stalls (`stalls()` asks); `cpu`: it
 * runs on that CPU only (where taskset exists; see `pinnedTo`).
 */
export async function startServer(kind: ServerKind, options: { socket?: string; watchStalls?: boolean; cpu?: number } = {}): Promise<BenchServer> {
  const socket = options.socket ?? benchSocket(kind);
  // SMAF_BENCH_PROFILE=DIR: each server writes a CPU profile into DIR when it stops
  const dir = process.env.SMAF_BENCH_PROFILE;
  const args = [kind, socket, ...(options.watchStalls ? ['--stalls'] : [])];
  const { process: p, info, lines } = await spawnReady('./servers.ts', args, dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [], options.cpu);
  const answers = lines[Symbol.asyncIterator]();
  return {
    socket,
    info,
    process: p,
    async stalls() {
      p.kill('SIGUSR2');
      const [, wall, run] = (await answers.next()).value!.split(' ');
      return { wallMs: Number(wall), runMs: Number(run) };
    },
    stop: () => void p.kill('SIGINT'),
  };
}

export type FloodKind = 'dma' | 'introspection' | 'huge';

/**
 * A flood of smafd (bench/flood.ts) in its own process, under way when this resolves. `stop` ends
 * it (its connections go, with whatever they hold) and resolves with how many cycles it did.
 */
export async function startFlood(kind: FloodKind, socket: string): Promise<{ stop(): Promise<number> }> {
  const { process: p, lines } = await spawnReady('./flood.ts', [kind, socket], []);
  return {
    async stop() {
      p.kill('SIGTERM');
      for await (const line of lines) return Number(line.split(' ')[1]);
      return 0;
    },
  };
}

/** The p-th percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU milliseconds (user + system) a process has used, from /proc (null where there is none). */
export function processCpuMs(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
