/** The benchmark's server processes (bench/servers.ts), each in its own process like a real smafd. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServerKind = 'smafd' | 'smafd-dashboard' | 'echo';

export interface BenchServer {
  readonly socket: string;
  /** The ready line's rest: the dashboard's URL for `smafd-dashboard`. */
  readonly info: string;
  readonly process: ChildProcess;
  stop(): void;
}

/** A fresh socket path in a temporary directory. */
export function benchSocket(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'smaf-bench-')), `${name}.sock`);
}

export function startServer(kind: ServerKind, socket = benchSocket(kind)): Promise<BenchServer> {
  // SMAF_BENCH_PROFILE=DIR: each server writes a CPU profile into DIR when it stops
  const dir = process.env.SMAF_BENCH_PROFILE;
  const prof = dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
  const p = spawn(process.execPath, [...prof, '--import', 'tsx', fileURLToPath(new URL('./servers.ts', import.meta.url)), kind, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', (b: Buffer) => {
      const info = b.toString().trim().replace(/^ready ?/, '');
      resolve({ socket, info, process: p, stop: () => void p.kill('SIGINT') });
    });
    p.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
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
