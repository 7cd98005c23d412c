import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Smaf } from '../core/index.ts';
import { Platform } from '../platform/index.ts';
import { testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import { allocatorContract } from './allocator-contract.ts';
import { createSecureCarveoutAllocator } from './secure-carveout.ts';

function fixture() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createSecureCarveoutAllocator(platform));
  smaf.registerSecureModule(createRecordingSecureModule());
  return { smaf, platform, allocator: 'secure-carveout', region: 'sdp', devices: [platform.device('dec'), platform.device('disp')], secure: true };
}

allocatorContract('secure-carveout', fixture);

test('secure-carveout serves only secure buffers', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  assert.throws(() => b.map(b.attach(f.platform.device('dec'))), /only secure buffers come from the secure carveout/);
});
