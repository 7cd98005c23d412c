// Profiling helper: `node --cpu-prof --import tsx bench/profile-lifecycle.ts` then open the .cpuprofile.
import { DmaDirection } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';

const { smaf, platform } = createSmafSystem();
const display = platform.device(process.argv[2] ?? 'display');
const t0 = performance.now();
const n = 200_000;
for (let i = 0; i < n; i++) {
  const b = smaf.create(4096);
  const a = b.attach(display);
  b.map(a, DmaDirection.TO_DEVICE);
  b.unmap(a);
  b.put();
}
console.log(`${(((performance.now() - t0) / n) * 1000).toFixed(2)} µs per 4 KiB lifecycle`);
