import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { Smaf, verdictOf } from '../core/index.ts';
import { Platform } from '../platform/index.ts';
import { testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import { allocatorContract } from './allocator-contract.ts';
import { createCmaAllocator } from './cma.ts';
import { cmaAlignment } from './contiguous.ts';

function fixture(region: string, devices: string[]) {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createCmaAllocator(platform, { region }));
  return { smaf, platform, allocator: 'smaf-cma', region, devices: devices.map((d) => platform.device(d)), secure: false, alignment: cmaAlignment(4096) };
}

allocatorContract('smaf-cma', () => fixture('cma', ['dec', 'disp', 'gpu']));
allocatorContract('smaf-cma under a 28-bit mask', () => fixture('low-cma', ['legacy', 'dec']));

test('smaf-cma does not match when the pool is above a device mask, and says why', () => {
  const f = fixture('cma', ['legacy']);
  const b = f.smaf.create(4096);
  const att = b.attach(f.platform.device('legacy'));
  assert.throws(() => b.map(att), (e: Error & { code?: string }) => e.code === 'ENODEV' && /above what "legacy" can address/.test(e.message));
});

test('smaf-cma only hands out the part of the pool under the mask', () => {
  const f = fixture('low-cma', ['legacy']);
  const bufs = [];
  for (let i = 0; i < 8; i++) {
    const b = f.smaf.create(1 << 20);
    b.map(b.attach(f.platform.device('legacy')));
    bufs.push(b);
  }
  for (const b of bufs) assert.ok(b.segments[0]!.phys + b.length - 1 <= 0x0fffffff);
  const b = f.smaf.create(1 << 20);
  assert.throws(() => b.map(b.attach(f.platform.device('legacy'))), /below 0x0fffffff/);
});

test('smaf-cma refuses secure buffers, says why, and the core then finds no allocator', () => {
  const f = fixture('cma', ['dec']);
  const cma = f.smaf.registry.allocator('smaf-cma')!;
  const info = (secure: boolean) => ({ id: 1, length: 4096, secure, nameHint: undefined, devices: [f.platform.device('dec')] });
  assert.equal(verdictOf(cma.match(info(false))).match, true, 'the same buffer, not secure, matches');
  assert.deepEqual(verdictOf(cma.match(info(true))), { match: false, reason: 'secure buffers live in a secure carveout, not in CMA' });
  f.smaf.registerSecureModule(createRecordingSecureModule());
  const b = f.smaf.create(4096);
  b.setSecure(true);
  assert.throws(() => b.map(b.attach(f.platform.device('dec'))), (e) => isSmafError(e, 'ENODEV'));
  assert.equal(b.allocated, false);
  assert.deepEqual(b.decisions.at(-1)!.candidates.map((c) => [c.allocator, c.verdict]), [['smaf-cma', 'no-match']]);
  assert.equal(f.platform.regionStats().find((r) => r.name === 'cma')!.inUse, 0);
});
