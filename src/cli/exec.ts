/**
 * `smaf exec [--heaps LIST] [--debug] -- PROGRAM [ARGS...]`: run an unmodified, dynamically linked
 * program with /dev/smaf and /dev/dma_heap served by smafd (docs/c-programs.md), the way
 * umockdev-run and faketime run theirs: LD_PRELOAD of the library built from native/.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { constants } from 'node:os';
import { SmafClient } from '../client/client.ts';
import { SmafError } from '../common/errors.ts';
import type { HeapInfo } from '../daemon/heaps.ts';
import type { NativeStatus } from '../uapi/index.ts';
import { ensurePreload } from '../native/build.ts';

export interface ExecOptions {
  readonly socket: string;
  /** Heap names, or `default` (every non-secure heap), `all`, `protected` (every secure heap). */
  readonly heaps?: readonly string[];
  readonly debug?: boolean;
}

/**
 * Which heaps to show. Heap names contain commas (`linux,cma`), so a comma-separated list is read
 * greedily against the names the daemon offers; several --heaps options add up.
 */
export function selectHeaps(available: readonly HeapInfo[], requested: readonly string[] | undefined): HeapInfo[] {
  if (!requested || requested.length === 0) return available.filter((h) => !h.secure);
  const keywords: Record<string, (h: HeapInfo) => boolean> = { default: (h) => !h.secure, all: () => true, protected: (h) => h.secure };
  const chosen = new Set<HeapInfo>();
  for (const list of requested) {
    const parts = list.split(',').map((p) => p.trim());
    for (let i = 0; i < parts.length; ) {
      let matched = 0;
      for (let j = parts.length; j > i && !matched; j--) {
        const name = parts.slice(i, j).join(',');
        const kw = keywords[name];
        const heaps = kw ? available.filter(kw) : available.filter((h) => h.name === name);
        if (heaps.length > 0 || kw) {
          for (const h of heaps) chosen.add(h);
          matched = j - i;
        }
      }
      if (!matched) {
        throw new SmafError('EINVAL', `--heaps: no heap named "${parts[i]}" (available: ${available.map((h) => h.name).join(' ')}; or default, all, protected)`);
      }
      i += matched;
    }
  }
  return available.filter((h) => chosen.has(h));
}

/** Write the heap directory the library serves as /dev/dma_heap (one file per heap). */
export function writeHeapDir(heaps: readonly HeapInfo[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-heaps-'));
  for (const h of heaps) writeFileSync(join(dir, h.name), `allocator=${h.allocator ?? ''}\nsecure=${h.secure ? 1 : 0}\n`);
  return dir;
}

/** The file a command name runs (PATH lookup as execvp does), or null. */
function resolveProgram(program: string): string | null {
  const candidates = program.includes('/') ? [program] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * Whether a file is a statically linked ELF executable (no PT_INTERP program header): the dynamic
 * loader never runs for it, so LD_PRELOAD cannot reach it.
 */
export function isStaticElf(file: string): boolean {
  const head = Buffer.alloc(4096);
  let n: number;
  const fd = openSync(file, 'r');
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false; // ELF64 little-endian only
  const phoff = Number(head.readBigUInt64LE(0x20));
  const phentsize = head.readUInt16LE(0x36);
  const phnum = head.readUInt16LE(0x38);
  if (phoff + phentsize * phnum > n) return false; // cannot tell: assume dynamic
  for (let i = 0; i < phnum; i++) if (head.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

/** Run the program; resolves with its exit code (128 + signal number if a signal ended it). */
export async function execProgram(program: string, args: readonly string[], o: ExecOptions): Promise<number> {
  const lib = ensurePreload((what) => process.stderr.write(`smaf exec: building ${what} with the host's C compiler (once; cached)...\n`));
  const file = resolveProgram(program);
  if (file && isStaticElf(file)) {
    process.stderr.write(`smaf exec: ${program} is statically linked: the preload library cannot reach it, so /dev/smaf and /dev/dma_heap do not exist for it (link it dynamically)\n`);
  }
  let heaps: HeapInfo[];
  let native: NativeStatus;
  const c = await SmafClient.connect(o.socket).catch((e: unknown) => {
    throw new SmafError('ENOENT', `${(e as Error).message}; or name its socket with --socket`);
  });
  try {
    heaps = selectHeaps(await c.heaps(), o.heaps);
    native = await c.native();
  } finally {
    await c.close();
  }
  if (!native.socket) process.stderr.write(`smaf exec: no zero-copy (${native.reason}): the program's dma-buf bytes are copied over the socket at SYNC, msync and munmap\n`);
  const dir = writeHeapDir(heaps);
  const preload = [lib, process.env.LD_PRELOAD].filter(Boolean).join(':');
  const env = {
    ...process.env, LD_PRELOAD: preload, SMAF_SOCKET: o.socket, SMAF_HEAP_DIR: dir,
    ...(native.socket ? { SMAF_NATIVE_SOCKET: native.socket } : {}), ...(o.debug ? { SMAF_PRELOAD_DEBUG: '1' } : {}),
  };
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(program, [...args], { stdio: 'inherit', env });
      const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
      const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
      for (const [s, h] of handlers) process.on(s, h);
      const done = () => { for (const [s, h] of handlers) process.off(s, h); };
      child.once('error', (e: NodeJS.ErrnoException) => {
        done();
        reject(new SmafError(e.code === 'ENOENT' ? 'ENOENT' : e.code === 'EACCES' ? 'EACCES' : 'EIO', `cannot run ${program}: ${e.code ?? e.message}`));
      });
      child.once('exit', (code, signal) => {
        done();
        resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
