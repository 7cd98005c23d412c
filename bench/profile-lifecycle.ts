// Profiling helper: `node --cpu-prof --import tsx bench/profile-lifecycle.ts [device]`, then open the
// .cpuprofile. Prints the CPU time (user + system, not wall time: the machine is shared) per cycle.
import { DmaDirection } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';

const { smaf, platform } = createSmafSystem();
const display = platform.device(process.argv[2] ?? 'display');
const cycle = (): void => {
  const b = smaf.create(4096);
  const a = b.attach(display);
  b.map(a, DmaDirection.TO_DEVICE);
  b.unmap(a);
  b.put();
};
for (let i = 0; i < 20_000; i++) cycle(); // warm-up
const n = 200_000;
const c0 = process.cpuUsage();
for (let i = 0; i < n; i++) cycle();
const c = process.cpuUsage(c0);
console.log(`${((c.user + c.system) / n).toFixed(2)} µs of CPU per 4 KiB lifecycle`);
