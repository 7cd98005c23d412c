/** Start a real smafd in its own process for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmafClient } from '../../src/client/client.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningDaemon {
  readonly socket: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** The dashboard's URL (null with --no-dashboard). */
  readonly dashboardUrl: string | null;
  connect(): Promise<SmafClient>;
  stop(): Promise<number | null>;
}

export async function startDaemon(args: string[] = []): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-test-'));
  const socket = join(dir, 'smaf.sock');
  const proc = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  // smafd prints its socket, then its dashboard line: wait for what we read, a whole line, as the
  // two may arrive in separate chunks
  const ready = /^smafd: dashboard (?:at (http:\S+)|off)\n/m;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smafd did not start:\n${out}`)), 20_000);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`smafd exited with ${code}:\n${out}`));
    });
  });
  return {
    socket,
    proc,
    output: () => out,
    dashboardUrl: ready.exec(out)?.[1] ?? null,
    connect: () => SmafClient.connect(socket),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => {
          rmSync(dir, { recursive: true, force: true });
          resolve(code);
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** Run a TypeScript helper in a separate Node process. */
export function spawnTs(file: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function waitForLine(proc: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; got:\n${buf}`)), timeoutMs);
    const on = (d: Buffer) => {
      buf += d;
      const m = buf.split('\n').find((l) => re.test(l));
      if (m !== undefined) {
        clearTimeout(timer);
        proc.stdout!.off('data', on);
        resolve(m);
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', (d) => (buf += d));
  });
}

/** Poll until `check` passes or time runs out. */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
