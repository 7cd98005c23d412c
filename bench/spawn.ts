/** The benchmark's server processes (bench/servers.ts), each in its own process like a real smafd. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
