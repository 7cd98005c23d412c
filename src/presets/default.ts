/**
 * Composition root: which platform, which plugins. Nothing registers itself by side effect; this
 * is where the allocators (and, with the secure video path, the secure module) are switched on.
 */
import { createCarveoutAllocator, createCmaAllocator, createSecureCarveoutAllocator, createSmafOpteeAllocator, createSystemAllocator } from '../allocators/index.ts';
import { SmafError } from '../common/errors.ts';
import { Smaf, type Allocator } from '../core/index.ts';
import { defaultPlatformSpec, Platform, type PlatformSpec } from '../platform/index.ts';
import { createOpteeSdpModule } from '../secure/optee-sdp.ts';
import { createOpteeSdpBasicTa, createSmafSdpTestTa } from '../trusted-apps/index.ts';

export interface PresetOptions {
  /** Event log capacity (default 2000). */
  readonly eventCapacity?: number;
  /** Register the optee-sdp secure module and its firewall when the platform has secure memory (default true). */
  readonly secure?: boolean;
  /** The secure world's content key (32 bytes); by default a random one (tests provision theirs). */
  readonly contentKey?: Uint8Array;
  /** Allocators as the platform's regions make them, with another ranking, by name. */
  readonly rankings?: Readonly<Record<string, number>>;
  /** Allocators the platform's regions would make, left out, by name. */
  readonly without?: readonly string[];
}

export interface SmafSystem {
  readonly platform: Platform;
  readonly smaf: Smaf;
}

/** The allocators one per region of the platform, named after its kind, not yet registered. */
function platformAllocators(platform: Platform): Allocator[] {
  const out: Allocator[] = [];
  const cma = platform.regionsOfKind('cma');
  cma.forEach((r, i) => out.push(createCmaAllocator(platform, { region: r.name, name: i === 0 ? 'smaf-cma' : `smaf-cma-${r.name}` })));
  const system = platform.regionsOfKind('system');
  system.forEach((r, i) => out.push(createSystemAllocator(platform, { region: r.name, name: i === 0 ? 'system' : `system-${r.name}` })));
  for (const r of platform.regionsOfKind('carveout')) out.push(createCarveoutAllocator(platform, { region: r.name }));
  const sec = platform.regionsOfKind('secure-carveout');
  sec.forEach((r, i) => out.push(createSecureCarveoutAllocator(platform, { region: r.name, name: i === 0 ? 'secure-carveout' : `secure-carveout-${r.name}` })));
  // the TEE's SDP pool is the first secure carveout: smaf-optee shares it with secure-carveout
  if (sec[0]) out.push(createSmafOpteeAllocator(platform, { region: sec[0].name }));
  return out;
}

/**
 * Register one allocator per region of the platform, named after its kind; `rankings` and
 * `without` change them by name (EINVAL naming the allocators there are, for a name that is not one).
 */
export function registerPlatformAllocators(smaf: Smaf, options: Pick<PresetOptions, 'rankings' | 'without'> = {}): void {
  const all = platformAllocators(smaf.platform);
  const names = all.map((a) => a.name);
  for (const n of [...Object.keys(options.rankings ?? {}), ...(options.without ?? [])]) {
    if (!names.includes(n)) throw new SmafError('EINVAL', `no allocator "${n}" on platform ${smaf.platform.name} (allocators: ${names.join(', ')})`);
  }
  for (const a of all) {
    if (options.without?.includes(a.name)) continue;
    const ranking = options.rankings?.[a.name];
    // the same allocator, asked in another order: its ranking is all that changes
    smaf.registerAllocator(ranking === undefined ? a : Object.assign(Object.create(a) as Allocator, { ranking }));
  }
}

/** The SDP test TAs of OP-TEE and libsmaf, in the platform's TEE (beside its own optee-sdp TA). */
function registerTrustedApps(platform: Platform): void {
  platform.tee.register(createOpteeSdpBasicTa(platform.events));
  platform.tee.register(createSmafSdpTestTa(platform.events));
}

/** A SMAF instance on a platform (the embedded default when none is given) with every allocator and TA. */
export function createSmafSystem(spec: PlatformSpec = defaultPlatformSpec(), options: PresetOptions = {}): SmafSystem {
  const secure = options.secure ?? true;
  const platform = new Platform(spec, {
    ...(options.eventCapacity !== undefined ? { eventCapacity: options.eventCapacity } : {}),
    ...(options.contentKey !== undefined ? { contentKey: options.contentKey } : {}),
    firewall: secure ? 'sdp' : 'permissive',
  });
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf, options);
  registerTrustedApps(platform);
  if (secure && platform.sdp) smaf.registerSecureModule(createOpteeSdpModule(platform));
  return { platform, smaf };
}
