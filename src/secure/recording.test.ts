import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSecureCarveoutAllocator } from '../allocators/index.ts';
import { DmaDirection, Smaf } from '../core/index.ts';
import { Platform, type Device } from '../platform/index.ts';
import { testPlatformSpec } from '../presets/fixtures.ts';
import { createRecordingSecureModule } from './recording.ts';
import { secureModuleContract, type BusAccess } from './secure-contract.ts';

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
  b.unmap(write);
  assert.deepEqual([f.allows(f.writer, addr, 'read'), f.allows(f.writer, addr, 'write')], [true, false], 'the read grant stays, the write grant went');
  b.unmap(read);
  assert.equal(f.module.held.size, 0);
  b.put();
});
