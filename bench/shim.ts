/**
 * shim.*: a C program under `smaf exec` writes video frames (NV12) into a dma-buf through its
 * mapping, each bracketed by DMA_BUF_IOCTL_SYNC START/END, against the same memset on plain memory
 * in the same run (goal <= 2x); a second process maps the same buffer and sums each frame between
 * SYNC READ START/END, against the same sum of plain memory (goal <= 2x). Zero-copy: the mapping is
 * the emulated memory and an idle buffer's SYNC is one fcntl, so a frame costs its memset plus two
 * interposed ioctls (`shim.frame_cycle.sync_us`). The copying path (smafd --no-zero-copy) is
 * measured too, for comparison: every SYNC moves the frame over the socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { C_FLAGS, NATIVE_DIR, runCompiler } from '../src/native/build.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

interface FrameResult {
  readonly frame_bytes: number;
  readonly plain_ns: number;
  readonly dmabuf_ns: number;
  readonly sync_ns: number;
  readonly plain_read_ns: number;
  readonly dmabuf_read_ns: number;
  readonly coherent: boolean;
  readonly checked_by: string;
}

async function startDaemon(socket: string, args: readonly string[]): Promise<ChildProcess> {
  const daemon = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, '--no-dashboard', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    daemon.stdout!.on('data', (b: Buffer) => b.toString().includes('listening on') && resolve());
    daemon.once('exit', (code) => reject(new Error(`smafd exited ${code}`)));
  });
  return daemon;
}

const SIZES = { '1080p': [1920, 1080], '4k': [3840, 2160] } as const;

export async function benchShim(ctx: BenchContext): Promise<Metric[]> {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-bench-shim-'));
  const exe = join(dir, 'frame-cycle');
  runCompiler([...C_FLAGS, '-o', exe, join(NATIVE_DIR, 'bench', 'frame-cycle.c')]);
  const daemons: ChildProcess[] = [];
  const cycle = async (socket: string, heap: string, frames: number, size: keyof typeof SIZES): Promise<FrameResult> => {
    const [w, h] = SIZES[size];
    const out = await run(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, 'exec', '--', exe, heap, String(frames), String(w), String(h)]);
    const r = JSON.parse(out) as FrameResult;
    if (!r.coherent) throw new Error(`frame-cycle on ${heap} (${size}): ${r.checked_by} does not see the last frame`);
    return r;
  };
  try {
    const zeroCopy = join(dir, 'zero-copy.sock');
    const copying = join(dir, 'copying.sock');
    daemons.push(await startDaemon(zeroCopy, []), await startDaemon(copying, ['--no-zero-copy']));
    const frames = ctx.quick ? 20 : 60;
    const out: Metric[] = [];
    const us = (ns: number): number => ns / 1000;
    const cma = await cycle(zeroCopy, 'linux,cma', frames, '1080p');
    out.push(
      metric('shim.frame_cycle_ratio', us(cma.dmabuf_ns), us(cma.plain_ns), 'µs/frame', '1080p NV12 written through a linux,cma dma-buf mapping with SYNC START/END (zero-copy) vs memset on plain memory (goal: within 2x)'),
      metric('shim.frame_cycle.sync_us', us(cma.sync_ns), us(cma.dmabuf_ns), 'µs/frame', 'the part of a frame outside its memset: SYNC START and END of an idle, mapped buffer (a share of the frame)'),
      metric('shim.frame_read_ratio', us(cma.dmabuf_read_ns), us(cma.plain_read_ns), 'µs/frame', 'a second process maps the same buffer and sums the frame between SYNC READ START/END vs the same sum of plain memory (goal: within 2x)'),
    );
    const system = await cycle(zeroCopy, 'system', frames, '1080p');
    out.push(metric('shim.frame_cycle_ratio.system', us(system.dmabuf_ns), us(system.plain_ns), 'µs/frame', 'the same 1080p frame cycle on a system-heap dma-buf'));
    const big = await cycle(zeroCopy, 'linux,cma', Math.max(10, frames / 2), '4k');
    out.push(
      metric('shim.frame_cycle.4k', us(big.dmabuf_ns), us(big.plain_ns), 'µs/frame', '4K NV12 (12 MB) written through a linux,cma dma-buf mapping with SYNC START/END vs memset (goal: within 2x)'),
      metric('shim.frame_read.4k', us(big.dmabuf_read_ns), us(big.plain_read_ns), 'µs/frame', 'the 4K frame summed by a second process through its own mapping vs the same sum of plain memory (goal: within 2x)'),
    );
    const old = await cycle(copying, 'linux,cma', Math.max(5, frames / 6), '1080p');
    out.push(
      metric('shim.frame_cycle_ratio.copying', us(old.dmabuf_ns), us(old.plain_ns), 'µs/frame', 'the 1080p frame cycle on smafd --no-zero-copy: each SYNC END copies the frame over the socket (for comparison)'),
      metric('shim.frame_read_ratio.copying', us(old.dmabuf_read_ns), us(old.plain_read_ns), 'µs/frame', 'the reader stage on smafd --no-zero-copy: each SYNC START READ copies the frame back (for comparison)'),
    );
    return out;
  } finally {
    for (const d of daemons) d.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
