import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Smaf } from '../core/index.ts';
import { Platform } from '../platform/index.ts';
import { createRecordingSecureModule, testPlatformSpec } from '../testing/index.ts';
import { allocatorContract } from './allocator-contract.ts';
import { createSecureCarveoutAllocator } from './secure-carveout.ts';
import { createSmafOpteeAllocator } from './smaf-optee.ts';

function fixture() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createSmafOpteeAllocator(platform));
  smaf.registerSecureModule(createRecordingSecureModule());
  return { smaf, platform, allocator: 'smaf-optee', region: 'sdp', devices: [platform.device('dec'), platform.device('disp')], secure: true };
}

allocatorContract('smaf-optee', fixture);

test('smaf-optee serves only secure buffers of secure-capable devices', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  assert.throws(() => b.map(b.attach(f.platform.device('dec'))), /only secure buffers come from the TEE's SDP pool/);
  assert.throws(() => createSmafOpteeAllocator(new Platform({ ...testPlatformSpec(), memory: testPlatformSpec().memory.filter((r) => r.kind !== 'secure-carveout') })), /no secure carveout: the TEE has no SDP pool/);
});

test('smaf-optee and secure-carveout share the SDP pool: never the same page; a name asks for one', () => {
  const f = fixture();
  f.smaf.registerAllocator(createSecureCarveoutAllocator(f.platform));
  const make = (name?: string) => {
    const b = f.smaf.create(64 * 1024, name ? { name } : {});
    b.setSecure(true);
    b.map(b.attach(f.platform.device('dec')));
    return b;
  };
  const plain = make();
  const optee = make('smaf-optee');
  assert.equal(plain.backing!.allocator, 'secure-carveout', 'secure-carveout ranks first');
  assert.equal(optee.backing!.allocator, 'smaf-optee');
  assert.equal(optee.backing!.region, 'sdp');
  const [a, b] = [plain.segments[0]!, optee.segments[0]!];
  assert.ok(a.phys + a.length <= b.phys || b.phys + b.length <= a.phys, 'one bitmap: no overlap');
  const sdp = f.platform.regionStats().find((r) => r.name === 'sdp')!;
  assert.equal(sdp.inUse, 128 * 1024, 'the region counts both');
  assert.equal(f.smaf.registry.stats('smaf-optee').bytesInUse, 64 * 1024);
  assert.equal(f.smaf.registry.stats('secure-carveout').bytesInUse, 64 * 1024);
});
