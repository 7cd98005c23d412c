import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DMA_BUF_IOCTL_SYNC, findIoctl, ioc, IOCTLS, SMAF_IOC_CREATE, smafCreateData, smafInfo, smafSecureFlag, type StructDef } from './abi.ts';
import { decodeName, decodeStruct, encodeName, encodeStruct, fitStruct, nonZeroReserved } from './codec.ts';
import { encodeRequest, FrameError, FrameReader, MAX_FRAME, parseRequest } from './wire.ts';

test('ioctl numbers are exactly those of the SMAF uapi (docs/protocol.md)', () => {
  assert.deepEqual(IOCTLS.map((d) => [d.name, d.number]), [
    ['SMAF_IOC_CREATE', 0xc0805300], ['SMAF_IOC_GET_SECURE_FLAG', 0xc0405301], ['SMAF_IOC_SET_SECURE_FLAG', 0xc0405302],
    ['SMAF_IOC_GET_INFO', 0xc0805303], ['DMA_BUF_IOCTL_SYNC', 0x40086200],
  ]);
  assert.equal(DMA_BUF_IOCTL_SYNC.number, 0x40086200);
});

test('struct layouts match the byte offsets of the SMAF uapi', () => {
  const off = (s: StructDef) => Object.fromEntries(s.fields.map((f) => [f.name, f.offset]));
  assert.deepEqual(off(smafCreateData), { version: 0, length: 8, flags: 16, reserved0: 20, fd: 24, reserved1: 28, name: 32, reserved2: 96 });
  assert.deepEqual(off(smafSecureFlag), { version: 0, fd: 8, reserved0: 12, secure: 16, reserved1: 20 });
  assert.deepEqual(off(smafInfo), { version: 0, index: 8, reserved0: 12, count: 16, reserved1: 20, name: 24, reserved2: 88 });
});

test('codec round-trips, keeps 64-bit lengths exact, and spots reserved bytes', () => {
  const bytes = encodeStruct(smafCreateData, { length: 2n ** 64n - 1n, flags: 2, fd: -1, name: encodeName('smaf-cma', 64) });
  const v = decodeStruct(smafCreateData, bytes);
  assert.equal(v.length, 2n ** 64n - 1n);
  assert.equal(v.fd, -1);
  assert.equal(decodeName(v.name as Uint8Array), 'smaf-cma');
  assert.deepEqual(nonZeroReserved(smafCreateData, bytes), []);
  bytes[100] = 1;
  assert.deepEqual(nonZeroReserved(smafCreateData, bytes), ['reserved2']);
  assert.throws(() => decodeName(new Uint8Array(64).fill(65)), RangeError);
  assert.throws(() => encodeName('x'.repeat(64), 64), RangeError);
  assert.equal(fitStruct(smafCreateData, new Uint8Array(16)).length, 128);
  assert.equal(fitStruct(smafCreateData, new Uint8Array(200)).length, 128);
});

test('findIoctl matches by type and nr whatever the encoded size', () => {
  assert.equal(findIoctl(ioc(3, 0x53, 0, 64)), SMAF_IOC_CREATE);
  assert.equal(findIoctl(ioc(3, 0x53, 9, 128)), undefined);
  assert.equal(findIoctl(ioc(3, 0x54, 0, 128)), undefined);
});

test('frame reader splits, joins, and refuses bad lengths', () => {
  const r = new FrameReader(12);
  const a = encodeRequest({ id: 1, op: 2, fd: 3, payload: new Uint8Array([9]) });
  const b = encodeRequest({ id: 2, op: 13, fd: -1, payload: new Uint8Array(0) });
  const both = new Uint8Array([...a, ...b]);
  assert.equal(r.push(both.subarray(0, 3)).length, 0);
  const frames = r.push(both.subarray(3));
  assert.deepEqual(frames.map((f) => parseRequest(f).id), [1, 2]);
  assert.equal(parseRequest(frames[1]!).fd, -1);
  const bad = new Uint8Array(4);
  new DataView(bad.buffer).setUint32(0, 11, true);
  assert.throws(() => new FrameReader(12).push(bad), FrameError);
  new DataView(bad.buffer).setUint32(0, MAX_FRAME + 1, true);
  assert.throws(() => new FrameReader(12).push(bad), FrameError);
});
