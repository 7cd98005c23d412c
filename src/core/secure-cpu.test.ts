/**
 * The core's own rule, tested alone: secure memory is never CPU-visible, even with a secure module
 * that allows everything and a bus without a firewall. The module is asked (and says yes); the core
 * refuses anyway. With optee-sdp the module refuses first, which would hide a missing core rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { Platform } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec } from '../testing/index.ts';
import { DmaDirection, type CpuAccessKind, type SecureModule } from './contracts.ts';
import { Smaf } from './smaf.ts';

/** Grants every device everything and allows every CPU access; records the CPU checks it answered. */
function permissiveModule(): SecureModule<{ buffer: number }> & { cpuChecks: string[] } {
  const cpuChecks: string[] = [];
  return {
    name: 'permissive',
    cpuChecks,
    createContext: (b) => ({ buffer: b.id }),
    destroyContext: () => {},
    grantAccess: () => {},
    revokeAccess: () => {},
    checkCpuAccess: (ctx, b, kind) => {
      cpuChecks.push(`${kind}:${b.id}:${b.secure ? 'secure' : 'normal'}:${ctx === null ? 'no-ctx' : 'ctx'}`);
    },
  };
}

function system() {
  const platform = new Platform(testPlatformSpec(), { firewall: 'permissive' });
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  const module = permissiveModule();
  smaf.registerSecureModule(module);
  return { platform, smaf, module };
}

const KINDS: readonly CpuAccessKind[] = ['mmap', 'vmap', 'begin_cpu_access'];

function cpuAccess(b: ReturnType<Smaf['create']>, kind: CpuAccessKind): void {
  if (kind === 'mmap') b.mmap(0, 4096, 1);
  else if (kind === 'vmap') b.vmap();
  else b.beginCpuAccess('read');
}

test('with a permissive module and no firewall, a normal buffer is CPU-accessible (the fixture allows it)', () => {
  const { smaf, module } = system();
  for (const kind of KINDS) {
    const b = smaf.create(4096);
    cpuAccess(b, kind);
    assert.equal(b.allocated, true);
    b.put();
  }
  assert.deepEqual(module.cpuChecks.map((c) => c.split(':')[0]), ['mmap', 'vmap', 'begin_cpu_access']);
});

test('the core refuses every CPU access to a secure buffer before it has memory, even when the module allows it', () => {
  const { smaf, platform, module } = system();
  for (const kind of KINDS) {
    const b = smaf.create(8192);
    b.setSecure(true);
    assert.throws(() => cpuAccess(b, kind), (e) => isSmafError(e, 'EPERM') && /secure memory is never visible to the normal world/.test(e.message), kind);
    assert.equal(b.allocated, false, `${kind}: a refused access allocates nothing`);
    assert.equal(b.cpuMappings.length, 0);
    assert.throws(() => b.endCpuAccess('read'), (e) => isSmafError(e, 'EINVAL'), `${kind}: no CPU access bracket was left open`);
    assert.ok(module.cpuChecks.includes(`${kind}:${b.id}:secure:ctx`), `${kind}: the module was asked, with the buffer's context, and allowed it`);
    assert.ok(platform.events.list({ kinds: ['denial'] }).some((e) => e.buffer === b.id && e.actor === 'cpu'), `${kind}: the denial is logged`);
    b.put();
  }
});

test('the core refuses every CPU access to a secure buffer that has memory, even when the module allows it', () => {
  const { smaf, platform } = system();
  const b = smaf.create(8192);
  b.setSecure(true);
  const w = b.attach(platform.device('dec'));
  b.map(w, DmaDirection.FROM_DEVICE);
  assert.equal(b.backing?.allocator, 'secure-carveout');
  platform.bus.write({ kind: 'device', device: platform.device('dec') }, b.segments[0]!.phys, new TextEncoder().encode('secret'));
  for (const kind of KINDS) {
    assert.throws(() => cpuAccess(b, kind), (e) => isSmafError(e, 'EPERM'), kind);
  }
  assert.throws(() => b.mmap(0, 8192, 3), (e) => isSmafError(e, 'EPERM'));
  assert.equal(b.cpuMappings.length, 0);
  assert.throws(() => b.endCpuAccess('read'), (e) => isSmafError(e, 'EINVAL'), 'no CPU access bracket was left open');
  b.put();
});
