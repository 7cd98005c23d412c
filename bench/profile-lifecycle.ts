// Profiling helper: `node --cpu-prof --import tsx bench/profile-lifecycle.ts [device]`, then open the
// .cpuprofile. Prints the CPU time (user + system, not wall time: the machine is shared) per cycle.
import { createSmafSystem } from '../src/presets/default.ts';
import { cpuPerOp, lifecycle4k } from './lifecycle.ts';

const { smaf, platform } = createSmafSystem();
const device = platform.device(process.argv[2] ?? 'display');
console.log(`${cpuPerOp(() => lifecycle4k(smaf, device), 100_000).toFixed(2)} µs of CPU per 4 KiB lifecycle`);
