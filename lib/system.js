// smaf-ts/system: the core on the embedded default platform with every allocator and the secure module
// (types: types/presets/default.d.ts).
import { load } from './load.js';

export const { createSmafSystem, registerPlatformAllocators } = await load('../src/presets/default.ts');
