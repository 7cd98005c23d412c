/**
 * Composition root: which platform, which plugins. Nothing registers itself by side effect; this
 * is where the allocators (and, with the secure video path, the secure module) are switched on.
 */
import { createCarveoutAllocator, createCmaAllocator, createSecureCarveoutAllocator, createSmafOpteeAllocator, createSystemAllocator } from '../allocators/index.ts';
import { Smaf } from '../core/index.ts';
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
}

export interface SmafSystem {
  readonly platform: Platform;
  readonly smaf: Smaf;
}

/** Register one allocator per region of the platform, named after its kind. */
export function registerPlatformAllocators(smaf: Smaf): void {
  const platform = smaf.platform;
  const cma = platform.regionsOfKind('cma');
  cma.forEach((r, i) => smaf.registerAllocator(createCmaAllocator(platform, { region: r.name, name: i === 0 ? 'smaf-cma' : `smaf-cma-${r.name}` })));
  const system = platform.regionsOfKind('system');
  system.forEach((r, i) => smaf.registerAllocator(createSystemAllocator(platform, { region: r.name, name: i === 0 ? 'system' : `system-${r.name}` })));
  for (const r of platform.regionsOfKind('carveout')) smaf.registerAllocator(createCarveoutAllocator(platform, { region: r.name }));
  const sec = platform.regionsOfKind('secure-carveout');
  sec.forEach((r, i) => smaf.registerAllocator(createSecureCarveoutAllocator(platform, { region: r.name, name: i === 0 ? 'secure-carveout' : `secure-carveout-${r.name}` })));
  // the TEE's SDP pool is the first secure carveout: smaf-optee shares it with secure-carveout
  if (sec[0]) smaf.registerAllocator(createSmafOpteeAllocator(platform, { region: sec[0].name }));
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
  registerPlatformAllocators(smaf);
  registerTrustedApps(platform);
  if (secure && platform.sdp) smaf.registerSecureModule(createOpteeSdpModule(platform));
  return { platform, smaf };
}
