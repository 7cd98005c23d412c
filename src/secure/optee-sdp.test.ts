import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import crc32 from 'crc-32';
import { DmaDirection, dmaCrc, dmaRead, dmaWrite } from '../core/index.ts';
import { testPlatformSpec, createSmafSystem } from '../testing/index.ts';
import type { Platform } from '../platform/index.ts';
import { secureModuleContract, type SecureFixture } from './secure-contract.ts';

function fixture(): SecureFixture & { platform: Platform } {
  const { platform, smaf } = createSmafSystem(testPlatformSpec());
  return {
    platform,
    smaf,
    module: smaf.secureModule!,
    reader: platform.device('disp'),
    writer: platform.device('dec'),
    refused: { device: platform.device('disp'), dir: DmaDirection.FROM_DEVICE }, // a sink may not write
    // the module's effect is the TA's region table, as the firewall enforces it on the bus
    allows: (device, addr, access) => platform.bus.firewall.check({ kind: 'device', device }, addr, 1, access) === null,
    grantsHeld: () => platform.sdp!.status().regions.reduce((n, r) => n + Object.keys(r.devices).length, 0),
  };
}

secureModuleContract('optee-sdp', fixture);

test('a secure pipeline: the decrypter writes, the decoder reads and writes, the display reads', () => {
  const { platform, smaf } = fixture();
  const dev = (n: string) => platform.device(n);
  const bits = smaf.create(8192);
  bits.setSecure(true);
  const crypto = bits.attach(dev('crypto'));
  bits.map(crypto, DmaDirection.FROM_DEVICE);
  assert.equal(bits.backing?.allocator, 'secure-carveout');
  dmaWrite(crypto, 0, new TextEncoder().encode('clear'));
  assert.throws(() => dmaRead(crypto, 0, 5), /EACCES|may read, not write|may write, not read/);
  const dec = bits.attach(dev('dec'));
  bits.map(dec, DmaDirection.TO_DEVICE);
  assert.equal(new TextDecoder().decode(dmaRead(dec, 0, 5)), 'clear');
  bits.unmap(dec);
  assert.throws(() => platform.bus.read({ kind: 'device', device: dev('dec') }, bits.segments[0]!.phys, new Uint8Array(5)), (e) => isSmafError(e, 'EACCES'), 'revoked at unmap: the bus refuses');
  assert.throws(() => platform.bus.read({ kind: 'device', device: dev('gpu') }, bits.segments[0]!.phys, new Uint8Array(5)), (e) => isSmafError(e, 'EACCES'), 'a rogue GPU read is refused');
  const sink = bits.attach(dev('disp'));
  assert.throws(() => bits.map(sink, DmaDirection.FROM_DEVICE), (e) => isSmafError(e, 'EPERM') && /sink \(disp\) may not write/.test(e.message));
  assert.equal(sink.mapped, false);
  bits.put();
  assert.equal(platform.sdp!.status().regions.length, 0, 'release destroys the SDP region');
});

test('a full SDP region table fails the map with ENOSPC and rolls back; freeing one makes room', () => {
  const { platform, smaf } = fixture();
  const held = [];
  for (let i = 0; i < 4; i++) {
    const b = smaf.create(4096);
    b.setSecure(true);
    b.map(b.attach(platform.device('dec')));
    held.push(b);
  }
  const extra = smaf.create(4096);
  extra.setSecure(true);
  const att = extra.attach(platform.device('dec'));
  assert.throws(() => extra.map(att), (e) => isSmafError(e, 'ENOSPC') && /table is full/.test(e.message));
  assert.equal(att.mapped, false);
  held[0]!.put();
  extra.map(att);
  assert.equal(platform.sdp!.status().regions.length, 4);
});

test('secure memory is scrubbed before it returns to the carveout', () => {
  const { platform, smaf } = fixture();
  const b = smaf.create(4096);
  b.setSecure(true);
  const w = b.attach(platform.device('crypto'));
  b.map(w, DmaDirection.FROM_DEVICE);
  dmaWrite(w, 0, new Uint8Array(4096).fill(0x77));
  const phys = b.segments[0]!.phys;
  assert.ok(!platform.memory.isZero(phys, 4096));
  b.put();
  assert.ok(platform.memory.isZero(phys, 4096));
});

test('a CRC capture of a secure buffer covers whole pages, so it is never a byte oracle', () => {
  const { platform, smaf } = fixture();
  const b = smaf.create(8192);
  b.setSecure(true);
  const w = b.attach(platform.device('crypto'));
  b.map(w, DmaDirection.FROM_DEVICE);
  dmaWrite(w, 0, new TextEncoder().encode('secret'));
  const sink = b.attach(platform.device('disp'));
  b.map(sink, DmaDirection.TO_DEVICE);
  for (const [off, len] of [[0, 1], [3, 4096], [0, 100], [0, 0]] as const) {
    assert.throws(() => dmaCrc(sink, off, len), (e) => isSmafError(e, 'EINVAL') && /whole pages/.test(e.message));
  }
  const page = new Uint8Array(4096);
  page.set(new TextEncoder().encode('secret'));
  assert.equal(dmaCrc(sink, 0, 4096), crc32.buf(page) >>> 0);
  assert.equal(dmaCrc(sink, 4096, 4096), crc32.buf(new Uint8Array(4096)) >>> 0, 'the second page, at a page offset');
  b.put();
});

test('an SDP region lives only while a device holds a grant: refused grants and unmaps leave none', () => {
  const { platform, smaf } = fixture();
  const b = smaf.create(4096);
  b.setSecure(true);
  const sink = b.attach(platform.device('disp'));
  assert.throws(() => b.map(sink, DmaDirection.FROM_DEVICE), (e) => isSmafError(e, 'EPERM'));
  assert.equal(platform.sdp!.status().regions.length, 0, 'the region made for a refused grant is gone');
  const dec = b.attach(platform.device('dec'));
  b.map(dec, DmaDirection.TO_DEVICE);
  b.map(sink, DmaDirection.TO_DEVICE);
  assert.equal(platform.sdp!.status().regions.length, 1);
  b.unmap(dec);
  assert.equal(platform.sdp!.status().regions.length, 1, 'the display still holds it');
  b.unmap(sink);
  assert.equal(platform.sdp!.status().regions.length, 0, 'nobody holds it: the memory is no longer covered');
  assert.throws(() => platform.bus.read({ kind: 'device', device: platform.device('dec') }, b.segments[0]!.phys, new Uint8Array(1)), (e) => isSmafError(e, 'EACCES'));
  b.put();
});
