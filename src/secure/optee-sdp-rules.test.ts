/** optee-sdp directly: each TA answer becomes a precise errno; contexts own and destroy their regions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { DmaDirection } from '../core/index.ts';
import { Platform, SDP_READ, SDP_WRITE } from '../platform/index.ts';
import { testPlatformSpec } from '../testing/index.ts';
import { createOpteeSdpModule, sdpAccess } from './optee-sdp.ts';

const fails = (code: ErrnoName, message: string) => (e: unknown) => isSmafError(e, code) && (e as Error).message === message;

function setup() {
  const platform = new Platform(testPlatformSpec());
  const module = createOpteeSdpModule(platform);
  const sdp = platform.region('sdp');
  const info = (id: number, secure = true) => ({ id, length: 8192, secure, nameHint: undefined, devices: [] });
  return { platform, module, sdp, info, dev: (n: string) => platform.device(n), regions: () => platform.sdp!.status().regions };
}

test('the access a DMA direction needs', () => {
  assert.equal(sdpAccess(DmaDirection.TO_DEVICE), SDP_READ);
  assert.equal(sdpAccess(DmaDirection.FROM_DEVICE), SDP_WRITE);
  assert.equal(sdpAccess(DmaDirection.BIDIRECTIONAL), SDP_READ | SDP_WRITE);
});

test('each refusal of the TA becomes its errno, with the TA\'s reason', () => {
  const { module, sdp, info, dev, regions } = setup();
  assert.equal(module.name, 'optee-sdp');
  assert.match(module.description!, /never CPU-accessible/);
  const a = module.createContext(info(1));
  assert.throws(() => module.grantAccess(a, dev('disp'), sdp.base, 4096, DmaDirection.FROM_DEVICE), fails('EPERM', 'grant disp: the SDP TA says TEEC_ERROR_ACCESS_DENIED: a sink (disp) may not write secure memory'));
  assert.throws(() => module.grantAccess(a, dev('dec'), 0x40000000, 4096, DmaDirection.TO_DEVICE), fails('EINVAL', 'create an SDP region for buffer 1: the SDP TA says TEEC_ERROR_BAD_PARAMETERS: 0x40000000+4096 is not inside a secure carveout'));
  module.grantAccess(a, dev('dec'), sdp.base, 8192, DmaDirection.TO_DEVICE);
  const b = module.createContext(info(2));
  assert.throws(() => module.grantAccess(b, dev('dec'), sdp.base + 4096, 4096, DmaDirection.TO_DEVICE), fails('EBUSY', `create an SDP region for buffer 2: the SDP TA says TEEC_ERROR_BAD_STATE: overlaps region ${regions()[0]!.id}`));
  assert.throws(() => module.revokeAccess(a, dev('disp'), sdp.base, 8192, DmaDirection.TO_DEVICE), fails('ENOENT', `revoke disp: the SDP TA says TEEC_ERROR_ITEM_NOT_FOUND: disp holds no such access to region ${regions()[0]!.id}`));
  assert.throws(() => module.revokeAccess(b, dev('dec'), sdp.base + 0x10000, 4096, DmaDirection.TO_DEVICE), fails('ENOENT', 'optee-sdp: no SDP region for 0x43810000 of buffer 2'));
  for (let i = 0; i < 3; i++) module.grantAccess(b, dev('dec'), sdp.base + 0x10000 * (i + 1), 4096, DmaDirection.TO_DEVICE);
  assert.throws(() => module.grantAccess(b, dev('dec'), sdp.base + 0x80000, 4096, DmaDirection.TO_DEVICE), fails('ENOSPC', 'create an SDP region for buffer 2: the SDP TA says TEEC_ERROR_OUT_OF_MEMORY: the SDP region table is full (4 regions)'));
  assert.equal(regions().length, 4);
  module.destroyContext(b);
  assert.deepEqual(regions().map((r) => r.addr), [sdp.base], 'destroying a context destroys every region it made, and only those');
  module.destroyContext(a);
  assert.equal(regions().length, 0);
});

test('grants on one region are counted: the region lives until the last one is revoked', () => {
  const { module, sdp, info, dev, regions } = setup();
  const ctx = module.createContext(info(1));
  module.grantAccess(ctx, dev('dec'), sdp.base, 8192, DmaDirection.FROM_DEVICE);
  module.grantAccess(ctx, dev('disp'), sdp.base, 8192, DmaDirection.TO_DEVICE);
  assert.deepEqual(regions()[0]!.devices, { dec: { reads: 0, writes: 1 }, disp: { reads: 1, writes: 0 } });
  module.revokeAccess(ctx, dev('dec'), sdp.base, 8192, DmaDirection.FROM_DEVICE);
  assert.deepEqual(regions()[0]!.devices, { disp: { reads: 1, writes: 0 } });
  module.revokeAccess(ctx, dev('disp'), sdp.base, 8192, DmaDirection.TO_DEVICE);
  assert.equal(regions().length, 0);
  module.destroyContext(ctx);
});

test('the CPU is refused whenever the buffer is secure or has a secure context', () => {
  const { module, info } = setup();
  const ctx = module.createContext(info(5));
  assert.throws(() => module.checkCpuAccess(ctx, info(5, false), 'vmap', 'read'), fails('EPERM', 'optee-sdp: vmap of secure buffer 5 refused: secure memory is never mapped for the normal world'));
  assert.throws(() => module.checkCpuAccess(null, info(6, true), 'mmap', 'read'), fails('EPERM', 'optee-sdp: mmap of secure buffer 6 refused: secure memory is never mapped for the normal world'));
  module.checkCpuAccess(null, info(7, false), 'begin_cpu_access', 'write');
});

test('without an SDP trusted app the module cannot be made, and says why', () => {
  const spec = testPlatformSpec();
  const platform = new Platform({ ...spec, memory: spec.memory.filter((m) => m.kind !== 'secure-carveout') });
  assert.throws(() => createOpteeSdpModule(platform), fails('ENODEV', 'optee-sdp: cannot open a session to the SDP TA (TEEC_ERROR_ITEM_NOT_FOUND); does the platform have a secure carveout?'));
});
