import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DMA_BUF_IOCTL_SYNC, ioc, IOC_READ, IOC_WRITE, IOCTLS, SMAF_IOC_CREATE, SMAF_IOC_SET_SECURE_FLAG } from './abi.ts';
import { encodeName, encodeStruct } from './codec.ts';
import { encodeOpRequest } from './op-codec.ts';
import { OP_TABLE, Op, opRowNamed } from './ops.ts';
import { createdFd, describeRequest, RECORDED_ARGS } from './recording.ts';

const req = (op: number, payload: Uint8Array, fd = -1) => ({ id: 1, op, fd, payload });

test('a request is recorded as the tables decode it: the in fields by name, u64 as numbers (strings past 2^53)', () => {
  const create = describeRequest(req(SMAF_IOC_CREATE.number, encodeStruct(SMAF_IOC_CREATE.struct, { length: 3110400n, flags: 0x80002, name: encodeName('smaf-cma', 64) })));
  assert.deepEqual(create, { kind: 'op', op: 'SMAF_IOC_CREATE', args: { length: 3110400, flags: 0x80002, name: 'smaf-cma' } });
  const huge = describeRequest(req(SMAF_IOC_CREATE.number, encodeStruct(SMAF_IOC_CREATE.struct, { length: 2n ** 64n - 4096n })));
  assert.deepEqual(huge, { kind: 'op', op: 'SMAF_IOC_CREATE', args: { length: '18446744073709547520', flags: 0, name: '' } });
  assert.deepEqual(describeRequest(req(SMAF_IOC_SET_SECURE_FLAG.number, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd: 3, secure: 1 }))), { kind: 'op', op: 'SMAF_IOC_SET_SECURE_FLAG', args: { fd: 3, secure: 1 } });
  assert.deepEqual(describeRequest(req(DMA_BUF_IOCTL_SYNC.number, encodeStruct(DMA_BUF_IOCTL_SYNC.struct, { flags: 5n }), 3)), { kind: 'op', op: 'DMA_BUF_IOCTL_SYNC', args: { flags: 5 } });
  const map = describeRequest(req(Op.MAP, encodeOpRequest(opRowNamed('MAP'), { attachment: 2, direction: 1 }), 3));
  assert.deepEqual(map, { kind: 'op', op: 'MAP', args: { attachment: 2, direction: 1 } });
  assert.deepEqual(describeRequest(req(Op.CLOSE, new Uint8Array(0), 3)), { kind: 'op', op: 'CLOSE', args: {} });
});

test('not recorded: the bytes of a WRITE (their length is), an IMPORT token, the version field', () => {
  const write = describeRequest(req(Op.WRITE, encodeOpRequest(opRowNamed('WRITE'), { mapping: 1, offset: 8n, data: new Uint8Array(1000).fill(7) }), 3));
  assert.deepEqual(write, { kind: 'op', op: 'WRITE', args: { mapping: 1, offset: 8, length: 1000 } });
  const imp = describeRequest(req(Op.IMPORT, encodeOpRequest(opRowNamed('IMPORT'), { token: new Uint8Array(16).fill(0xab) })));
  assert.deepEqual(imp, { kind: 'op', op: 'IMPORT', args: {} });
  assert.ok(!RECORDED_ARGS.get('SMAF_IOC_GET_INFO')!.some((a) => a.name === 'version'));
});

test('what changes nothing is not recorded, and counted by why: unknown ops, undecodable requests, introspection', () => {
  assert.deepEqual(describeRequest(req(0x7f, new Uint8Array(0))), { kind: 'skip', why: 'unknown' });
  assert.deepEqual(describeRequest(req(ioc(IOC_READ | IOC_WRITE, 'S'.charCodeAt(0), 9, 16), new Uint8Array(16))), { kind: 'skip', why: 'unknown' });
  assert.deepEqual(describeRequest(req(Op.MAP, new Uint8Array(7), 3)), { kind: 'skip', why: 'malformed' }, 'a payload of the wrong length');
  assert.deepEqual(describeRequest(req(Op.ATTACH, new Uint8Array(64).fill(0x41), 3)), { kind: 'skip', why: 'malformed' }, 'a name with no NUL');
  assert.deepEqual(describeRequest(req(SMAF_IOC_CREATE.number, new Uint8Array(100))), { kind: 'skip', why: 'malformed' }, 'not _IOC_SIZE bytes');
  const reserved = encodeStruct(SMAF_IOC_CREATE.struct, { length: 4096n });
  reserved[20] = 1;
  assert.deepEqual(describeRequest(req(SMAF_IOC_CREATE.number, reserved)), { kind: 'skip', why: 'malformed' }, 'a reserved field set');
  const version = encodeStruct(SMAF_IOC_CREATE.struct, { version: 1n, length: 4096n });
  assert.deepEqual(describeRequest(req(SMAF_IOC_CREATE.number, version)), { kind: 'skip', why: 'malformed' }, 'an unknown version');
  const fdIn = encodeStruct(SMAF_IOC_CREATE.struct, { length: 4096n, fd: 3 });
  assert.deepEqual(describeRequest(req(SMAF_IOC_CREATE.number, fdIn)), { kind: 'skip', why: 'malformed' }, 'CREATE\'s fd is not 0 on input');
  for (const row of OP_TABLE.filter((r) => r.name.startsWith('X_'))) assert.deepEqual(describeRequest(req(row.op, new Uint8Array(0))), { kind: 'skip', why: 'introspection' }, row.name);
});

test('a caller\'s smaller CREATE struct is recorded as smafd reads it (zero-filled), and its fd only if it fits', () => {
  const small = ioc(IOC_READ | IOC_WRITE, 'S'.charCodeAt(0), 0, 24);
  const bytes = encodeStruct(SMAF_IOC_CREATE.struct, { length: 8192n, flags: 2 }).subarray(0, 24);
  assert.deepEqual(describeRequest(req(small, bytes)), { kind: 'op', op: 'SMAF_IOC_CREATE', args: { length: 8192, flags: 2, name: '' } });
  assert.equal(createdFd(new Uint8Array(24)), undefined);
  assert.equal(createdFd(encodeStruct(SMAF_IOC_CREATE.struct, { fd: 5 })), 5);
});

test('every op of both tables but the X_* ones has its recorded arguments, from its struct', () => {
  const names = [...OP_TABLE.filter((r) => !r.name.startsWith('X_')).map((r) => r.name), ...IOCTLS.map((d) => d.name), 'CONNECT', 'DISCONNECT'];
  assert.deepEqual([...RECORDED_ARGS.keys()].sort(), names.sort());
  assert.deepEqual(RECORDED_ARGS.get('DMA_COPY')!.map((a) => a.name), ['dst_attachment', 'src_fd', 'src_attachment', 'transform', 'src_offset', 'dst_offset', 'length']);
  assert.deepEqual(RECORDED_ARGS.get('DMA_CRC')!.map((a) => a.name), ['attachment', 'offset', 'length'], 'reserved fields are not arguments');
});
