/** Start a real smafd in its own process for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmafClient } from '../../src/client/client.ts';
import type { BufferView } from '../../src/daemon/state.ts';
import { adminSocketFor } from '../../src/uapi/socket-path.ts';

/** Every buffer the client may see, page by page. */
export async function allBuffers(c: SmafClient): Promise<BufferView[]> {
  const out: BufferView[] = [];
  for (;;) {
    const st = await c.state({ offset: out.length, limit: 500 });
    out.push(...st.buffers);
    if (st.buffers.length === 0 || out.length >= st.buffersTotal) return out;
  }
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningDaemon {
  readonly socket: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** The dashboard's URL (null with --no-dashboard). */
  readonly dashboardUrl: string | null;
  connect(): Promise<SmafClient>;
  /** A client on the operator's admin socket (sees every client's buffers). */
  admin(): Promise<SmafClient>;
  stop(): Promise<number | null>;
}

export async function startDaemon(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-test-'));
  const socket = join(dir, 'smaf.sock');
  const proc = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  // smafd prints its socket, then its dashboard line: wait for what we read, a whole line, as the
  // two may arrive in separate chunks
  const ready = /^smafd: dashboard (?:at (http:\S+)|off)[^\n]*\n/m;
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
    admin: () => SmafClient.connect(adminSocketFor(socket)),
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

/**
 * Poll `fn` until `check` accepts its value, and return that value. On timeout it throws, naming
 * what was awaited and the last value seen: a condition that never held is a failure, not a result.
 */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000, what = 'a condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${describeValue(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 2000 ? `${v.slice(0, 2000)}...` : v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 2000 ? `${s.slice(0, 2000)}...` : s;
  } catch {
    return String(v);
  }
}
