import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSecureCarveoutAllocator } from '../allocators/index.ts';
import { isSmafError } from '../common/errors.ts';
import { DmaDirection, Smaf } from '../core/index.ts';
import { Platform, type Device } from '../platform/index.ts';
import { testPlatformSpec, createRecordingSecureModule } from './index.ts';
import { secureModuleContract, type BusAccess } from '../secure/secure-contract.ts';

function fixture() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createSecureCarveoutAllocator(platform));
  const module = createRecordingSecureModule({ refuseDevices: ['crypto'] });
  smaf.registerSecureModule(module);
  return {
    platform,
    smaf,
    module,
    reader: platform.device('disp'),
    writer: platform.device('dec'),
    refused: { device: platform.device('crypto'), dir: DmaDirection.FROM_DEVICE },
    // the module's effect is its own record of the grants it holds
    allows: (device: Device, addr: number, access: BusAccess) => module.mayAccess(device.name, addr, access),
    grantsHeld: () => module.held.size,
  };
}

secureModuleContract('recording', fixture);

test('the recording module keeps nothing after the contract flows', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  b.setSecure(true);
  b.map(b.attach(f.reader));
  b.put();
  assert.equal(f.module.held.size, 0);
  assert.equal(f.module.liveContexts.size, 0);
});

test('the recording module keeps two grants of one device apart (a device attached and mapped twice)', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  b.setSecure(true);
  const write = b.attach(f.writer);
  const read = b.attach(f.writer);
  b.map(write, DmaDirection.FROM_DEVICE);
  b.map(read, DmaDirection.TO_DEVICE);
  const addr = b.segments[0]!.phys;
  assert.equal(f.module.held.size, 2);
  b.unmap(read);
  assert.deepEqual([f.allows(f.writer, addr, 'read'), f.allows(f.writer, addr, 'write')], [false, true], 'the write grant stays, the read grant went');
  b.unmap(write);
  const both = b.attach(f.writer);
  b.map(both, DmaDirection.BIDIRECTIONAL);
  assert.deepEqual([f.allows(f.writer, addr, 'read'), f.allows(f.writer, addr, 'write')], [true, true], 'bidirectional: both');
  b.unmap(both);
  assert.equal(f.module.held.size, 0);
  b.put();
});

test('the recording module records what it was asked, and catches misuse', () => {
  const m = createRecordingSecureModule();
  assert.equal(m.description, 'records every call; refuses on request (tests)');
  const info = (id: number, secure: boolean) => ({ id, length: 4096, secure, nameHint: undefined, devices: [] });
  const a = m.createContext(info(7, true));
  const b = m.createContext(info(8, true));
  assert.deepEqual([a, b], [{ id: 1, buffer: 7, destroyed: false }, { id: 2, buffer: 8, destroyed: false }]);
  m.destroyContext(a);
  assert.throws(() => m.destroyContext(a), /^Error: context 1 destroyed twice$/);
  assert.deepEqual(m.calls, [{ op: 'create', ctx: 1, buffer: 7 }, { op: 'create', ctx: 2, buffer: 8 }, { op: 'destroy', ctx: 1, buffer: 7 }]);
  assert.deepEqual([...m.liveContexts], [2]);
  const platform = new Platform(testPlatformSpec());
  assert.throws(() => m.revokeAccess(b, platform.device('dec'), 0x1000, 4096, DmaDirection.TO_DEVICE), /revoke of a grant never made: 2:dec:4096:4096 \(1\)/);
  m.checkCpuAccess(null, info(9, false), 'mmap', 'read');
  assert.throws(() => m.checkCpuAccess(b, info(8, true), 'vmap', 'write'), (e) => isSmafError(e, 'EPERM') && (e as Error).message === 'secure buffers are not CPU-accessible');
  m.options = { refuseCpu: true };
  assert.throws(() => m.checkCpuAccess(null, info(9, false), 'mmap', 'read'), (e) => isSmafError(e, 'EPERM') && (e as Error).message === 'CPU access refused by the recording module');
  assert.deepEqual(m.calls.filter((c) => c.op === 'cpu'), [
    { op: 'cpu', ctx: null, buffer: 9, kind: 'mmap', mode: 'read', allowed: true },
    { op: 'cpu', ctx: 2, buffer: 8, kind: 'vmap', mode: 'write', allowed: false },
    { op: 'cpu', ctx: null, buffer: 9, kind: 'mmap', mode: 'read', allowed: false },
  ]);
});
