// Profiling helper: `node --cpu-prof --import tsx bench/profile-dma-copy.ts [device]`: CPU time of an
// 8 MiB DMA copy in-process (through the device's IOMMU when it has one) against Buffer.copy.
import { DmaDirection, dmaCopy, dmaWrite } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { cpuPerOp } from './lifecycle.ts';

const SIZE = 8 << 20;
const { smaf, platform } = createSmafSystem();
const dev = platform.device(process.argv[2] ?? 'gpu');
const [src, dst] = [smaf.create(SIZE), smaf.create(SIZE)];
const [sa, da] = [src.attach(dev), dst.attach(dev)];
src.map(sa, DmaDirection.BIDIRECTIONAL);
dst.map(da, DmaDirection.BIDIRECTIONAL);
dmaWrite(sa, 0, new Uint8Array(SIZE).fill(0xa5));
console.log(`${src.segments.length} and ${dst.segments.length} physical segments`);
const [a, b] = [Buffer.alloc(SIZE, 1), Buffer.alloc(SIZE)];
const copy = cpuPerOp(() => void a.copy(b), 100);
const dma = cpuPerOp(() => void dmaCopy(da, 0, sa, 0, SIZE), 20);
console.log(`dma copy ${dma.toFixed(0)} µs, Buffer.copy ${copy.toFixed(0)} µs: ${(dma / copy).toFixed(2)}x`);
