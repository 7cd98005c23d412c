// A quick tour of the SMAF-TS library, imported by package name as an application would: run with `npx tsx examples/quick-tour.ts`.
import { DmaDirection, dmaWrite, explain, formatExplanation } from 'smaf-ts/core';
import { createSmafSystem } from 'smaf-ts/system';

const { platform, smaf } = createSmafSystem(); // the embedded default media SoC, every allocator on

const buf = smaf.create(1 << 20); // 1 MiB, no memory yet
const gpu = buf.attach(platform.device('gpu')); // behind an IOMMU
const display = buf.attach(platform.device('display')); // needs contiguous memory

buf.map(display, DmaDirection.TO_DEVICE); // first real need: allocators are asked now
buf.map(gpu, DmaDirection.BIDIRECTIONAL);
dmaWrite(gpu, 0, new TextEncoder().encode('hello from the GPU'));

console.log(formatExplanation(explain(buf))); // smaf-cma, because "display" has no IOMMU

const cpu = buf.mmap(0, 4096, 1); // PROT_READ
console.log(new TextDecoder().decode(cpu.read(0, 18)));

buf.put(); // last reference: unmapped, scrubbed, returned
console.log('bytes in use:', platform.bytesInUse);
