/**
 * Teardown always completes (teardown.ts): a secure module that fails at each of its hooks, and an
 * allocator whose free fails. Whatever fails, an unmap ends with the mapping gone, a release ends
 * with the buffer released and scrubbed and its references at 0 (never below), and each failure is
 * an internal-error event naming the plugin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { Platform } from '../platform/index.ts';
import { createRecordingSecureModule, failingAt, registerPlatformAllocators, SECURE_HOOKS, testPlatformSpec } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { selfCheck } from './self-check.ts';
import { Smaf } from './smaf.ts';

function system(hook: (typeof SECURE_HOOKS)[number], failing: () => boolean) {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  const inner = createRecordingSecureModule();
  smaf.registerSecureModule(failingAt(inner, hook, failing));
  return { platform, smaf, inner, dev: (n: string) => platform.device(n) };
}

for (const hook of SECURE_HOOKS) {
  test(`a secure module failing at ${hook}: every request fails cleanly or completes, and release always completes`, () => {
    let failing = false;
    const { platform, smaf, dev } = system(hook, () => failing);
    const before = platform.regionStats().map((r) => r.inUse);
    const b = smaf.create(16 * 1024);
    b.setSecure(true);
    const dec = b.attach(dev('dec'));
    const disp = b.attach(dev('disp'));
    b.map(dec, DmaDirection.FROM_DEVICE);
    b.map(disp, DmaDirection.TO_DEVICE);
    const seg = b.segments[0]!;
    platform.memory.write(seg.phys, new Uint8Array([1, 2, 3])); // content to scrub
    failing = true;
    // requests that involve the hook fail cleanly, or complete
    const other = smaf.create(4096);
    if (hook === 'createContext') assert.throws(() => other.setSecure(true), (e) => isSmafError(e, 'ENOENT'));
    if (hook === 'checkCpuAccess') assert.throws(() => other.mmap(0, 4096, 1), (e) => isSmafError(e, 'EPERM'));
    if (hook === 'grantAccess') {
      const c = smaf.create(4096);
      c.setSecure(true);
      const a = c.attach(dev('dec'));
      assert.throws(() => c.map(a, DmaDirection.FROM_DEVICE), (e) => isSmafError(e, 'ENOENT'));
      assert.equal(a.mapped, false);
      c.put();
    }
    b.unmap(disp); // completes whatever revokeAccess does
    assert.equal(disp.mapped, false);
    const denialsBefore = platform.events.list({ kinds: ['internal-error'] }).length;
    b.put(); // release, with dec still mapped
    assert.equal(b.released, true, 'released');
    assert.equal(b.refCount, 0);
    assert.throws(() => b.put(), (e) => isSmafError(e, 'EBADF'));
    assert.equal(b.refCount, 0, 'never below zero');
    assert.equal(smaf.find(b.id), undefined, 'no longer listed');
    assert.ok(platform.memory.isZero(seg.phys, seg.length), 'scrubbed');
    const errors = platform.events.list({ kinds: ['internal-error'] });
    if (hook === 'revokeAccess') {
      assert.ok(errors.some((e) => e.buffer === b.id && e.actor === 'recording' && /revoking dec's access to 0x[0-9a-f]+ failed \(recording: injected failure of revokeAccess\); the teardown of buffer \d+ goes on/.test(e.message)), 'each failed revoke is an internal-error event');
    }
    other.put();
    failing = false;
    if (hook === 'destroyContext') {
      assert.ok(errors.length > denialsBefore, 'the failed destroy is reported');
      assert.ok(errors.some((e) => /quarantined \(scrubbed, never handed out again\)/.test(e.message)));
      assert.equal(smaf.quarantinedBackings.length, 1, 'memory whose secure context may live on is never handed out again');
      const report = selfCheck(smaf);
      assert.deepEqual(report.checks.filter((c) => !c.ok).map((c) => c.name), ['no memory quarantined'], 'the self-check names it, and nothing else is wrong');
      return;
    }
    assert.deepEqual(platform.regionStats().map((r) => r.inUse), before, 'every byte went back');
    const broken = selfCheck(smaf).checks.filter((c) => !c.ok).map((c) => c.name);
    assert.deepEqual(broken, [], 'consistent');
  });
}

test('a refused grant whose rollback revoke fails still unwinds: the map fails with the refusal, nothing stays mapped', () => {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  const inner = createRecordingSecureModule({ refuseGrantAt: 1 });
  smaf.registerSecureModule(failingAt(inner, 'revokeAccess'));
  const b = smaf.create(8192);
  b.setSecure(true);
  const iommu = b.attach(platform.device('sec-mmu'));
  // sec-mmu is behind an IOMMU: a secure-carveout backing is one segment, so use two buffers' grants
  const a = b.attach(platform.device('dec'));
  b.map(a, DmaDirection.FROM_DEVICE); // grant #0
  assert.throws(() => b.map(iommu, DmaDirection.TO_DEVICE), (e) => isSmafError(e, 'EPERM') && /refuses grant #1/.test((e as Error).message));
  assert.equal(iommu.mapped, false);
  assert.equal(platform.iommu(platform.device('sec-mmu')).mappedCount, 0, 'the IOVA went back');
  b.put();
  assert.equal(b.released, true);
});

test('an allocator whose free throws: the release completes, scrubbed, and the failure is an internal-error event', () => {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  const cma = smaf.registry.allocator('smaf-cma')!;
  const free = cma.free.bind(cma);
  let fail = true;
  Object.assign(cma, { free: (x: Parameters<typeof free>[0]) => (fail ? (() => { throw new Error('free exploded'); })() : free(x)) });
  const b = smaf.create(4096, { name: 'smaf-cma' });
  const m = b.vmap();
  m.write(0, new Uint8Array([9]));
  const seg = b.segments[0]!;
  b.put();
  assert.equal(b.released, true);
  assert.ok(platform.memory.isZero(seg.phys, seg.length));
  assert.ok(platform.events.list({ kinds: ['internal-error'] }).some((e) => e.actor === 'smaf-cma' && /returning its memory failed \(internal error: free exploded\)/.test(e.message)));
  fail = false;
});
