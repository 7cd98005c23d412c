/**
 * shim.frame_cycle_ratio: a C program under `smaf exec` writes a 1080p NV12 frame (3,110,400 bytes)
 * into a dma-buf through its mapping, bracketed by DMA_BUF_IOCTL_SYNC START/END, frame after frame;
 * the ratio is its time per frame over the same memset on plain memory in the same run (goal <= 2x).
 * Every SYNC END copies the frame into smafd's emulated memory over the socket (a write-only START
 * copies nothing when no one else wrote the buffer): that is what this figure measures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { C_FLAGS, NATIVE_DIR, runCompiler } from '../src/native/build.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

interface FrameResult {
  readonly plain_ns: number;
  readonly dmabuf_ns: number;
  readonly coherent: boolean;
}

export async function benchShim(ctx: BenchContext): Promise<Metric[]> {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-bench-shim-'));
  const socket = join(dir, 'smaf.sock');
  const exe = join(dir, 'frame-cycle');
  runCompiler([...C_FLAGS, '-o', exe, join(NATIVE_DIR, 'bench', 'frame-cycle.c')]);
  const daemon = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, '--no-dashboard'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      daemon.stdout.on('data', (b: Buffer) => b.toString().includes('listening on') && resolve());
      daemon.once('exit', (code) => reject(new Error(`smafd exited ${code}`)));
    });
    const frames = ctx.quick ? 20 : 100;
    const out: Metric[] = [];
    for (const heap of ['linux,cma', 'system']) {
      const r = JSON.parse(await run(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, 'exec', '--', exe, heap, String(frames)])) as FrameResult;
      if (!r.coherent) throw new Error(`frame-cycle on ${heap}: the emulated memory does not hold the last frame`);
      const name = heap === 'linux,cma' ? 'shim.frame_cycle_ratio' : 'shim.frame_cycle_ratio.system';
      out.push(metric(name, r.dmabuf_ns / 1000, r.plain_ns / 1000, 'µs/frame',
        `1080p NV12 frame written through a ${heap} dma-buf mapping with SYNC START/END, write only (one 3 MB copy over the socket per frame) vs memset on plain memory (goal: within 2x)`));
    }
    return out;
  } finally {
    daemon.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
