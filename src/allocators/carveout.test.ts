import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Smaf } from '../core/index.ts';
import { Platform } from '../platform/index.ts';
import { testPlatformSpec } from '../testing/index.ts';
import { allocatorContract } from './allocator-contract.ts';
import { createCarveoutAllocator } from './carveout.ts';

function fixture() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createCarveoutAllocator(platform, { region: 'cam-carveout' }));
  return { smaf, platform, allocator: 'carveout-cam-carveout', region: 'cam-carveout', devices: [platform.device('cam'), platform.device('gpu')], secure: false };
}

allocatorContract('carveout', fixture);

test('carveout serves only buffers that a bound device uses', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  assert.throws(() => b.map(b.attach(f.platform.device('gpu'))), /no attached device is bound to carveout "cam-carveout" \(bound: cam\)/);
});
