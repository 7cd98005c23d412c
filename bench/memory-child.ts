// Child process for memory.overhead (run with --expose-gc): heap and ArrayBuffer growth per live buffer.
import { DmaDirection } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';

const N = Number(process.argv[2] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
// the V8 heap plus ArrayBuffer memory after full collections (RSS moves by whole heap pages)
const rss = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const { smaf, platform } = createSmafSystem();
const display = platform.device('display');
const r0 = rss();
const bufs = Array.from({ length: N }, () => smaf.create(4096));
const r1 = rss();
for (const b of bufs) b.map(b.attach(display), DmaDirection.TO_DEVICE);
const r2 = rss();
const raw = Array.from({ length: N }, () => new Uint8Array(4096).fill(1));
const r3 = rss();
process.stdout.write(`${JSON.stringify({ n: N, unallocated: (r1 - r0) / N, allocated: (r2 - r0) / N, raw: (r3 - r2) / N, keep: bufs.length + raw.length })}\n`);
