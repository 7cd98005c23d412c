import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTraceFile, TraceFileError } from '../uapi/index.ts';
import { checkRecording } from './check.ts';

const lines = (...rs: unknown[]): string => `${rs.map((r) => JSON.stringify(r)).join('\n')}\n`;
const check = (...rs: unknown[]) => checkRecording(parseTraceFile(lines(...rs), 'r.jsonl'));
function refused(...rs: unknown[]): string[] {
  try {
    check(...rs);
  } catch (e) {
    assert.ok(e instanceof TraceFileError, String(e));
    return [...e.problems];
  }
  assert.fail('the recording was accepted');
}

const create = (client: number, fd: number, extra: object = {}) => ({ client, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4096, flags: 2, name: '' }, result: 0, new_fd: fd, ...extra });

test('a buffer used before it was created: refused with the line, the fd and the client', () => {
  assert.deepEqual(refused(create(1, 3), { client: 1, op: 'MAP', fd: 4, args: { attachment: 0, direction: 0 }, result: 1 }), [
    'r.jsonl:2: fd: #2 MAP on fd 4 succeeded in the recording, but client 1 holds no fd 4 there: no CREATE, DUP or IMPORT before it gave one (a buffer used before it was created, or the recording was cut or reordered)',
    'r.jsonl:2: args.attachment: #2 MAP used attachment 0 of fd 4, which no ATTACH on that fd gave (or a DETACH took back)',
  ]);
  // after its CLOSE the fd is gone; another client never holds it
  assert.match(refused(create(1, 3), { client: 1, op: 'CLOSE', fd: 3, result: 0 }, { client: 1, op: 'STAT', fd: 3, result: 0 })[0]!, /^r\.jsonl:3: fd: #3 STAT on fd 3 succeeded .* client 1 holds no fd 3/);
  assert.match(refused(create(1, 3), { client: 2, op: 'STAT', fd: 3, result: 0 })[0]!, /client 2 holds no fd 3/);
  assert.match(refused({ client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: 3, secure: 1 }, result: 0 })[0]!, /^r\.jsonl:1: args\.fd: #1 SMAF_IOC_SET_SECURE_FLAG on fd 3 succeeded/);
});

test('a failure in the recording used nothing: an operation on a closed fd that failed is consistent', () => {
  const out = check(create(1, 3), { client: 1, op: 'CLOSE', fd: 3, result: 0 }, { client: 1, op: 'STAT', fd: 3, errno: 'EBADF' });
  assert.equal(out.length, 3);
});

test('attachments and mappings: used only between the ATTACH (MMAP) that gave them and their DETACH (MUNMAP)', () => {
  const base = [create(1, 3), { client: 1, op: 'ATTACH', fd: 3, args: { device: 'gpu' }, result: 0 }];
  assert.equal(check(...base, { client: 1, op: 'MAP', fd: 3, args: { attachment: 0, direction: 0 }, result: 1 }).length, 3);
  assert.match(refused(...base, { client: 1, op: 'DETACH', fd: 3, args: { attachment: 0 }, result: 0 }, { client: 1, op: 'MAP', fd: 3, args: { attachment: 0, direction: 0 }, result: 1 })[0]!, /r\.jsonl:4: args\.attachment: #4 MAP used attachment 0 of fd 3/);
  assert.match(refused(create(1, 3), { client: 1, op: 'WRITE', fd: 3, args: { mapping: 2, offset: 0, length: 4 }, result: 4 })[0]!, /args\.mapping: #2 WRITE used mapping 2 of fd 3, which no MMAP on that fd gave/);
});

test('IMPORT names the buffer its token named, which an EXPORT shared and someone still holds', () => {
  const exp = { client: 1, op: 'EXPORT', fd: 3, result: 0 };
  assert.equal(check(create(1, 3, { buffer: 7 }), exp, { client: 2, op: 'IMPORT', fd: -1, result: 3, buffer: 7 }).at(-1)!.buffer, 7);
  assert.match(refused(create(1, 3, { buffer: 7 }), { client: 2, op: 'IMPORT', fd: -1, result: 3, buffer: 7 })[0]!, /#2 IMPORT of buffer 7, which no EXPORT shared before/);
  assert.match(refused(create(1, 3, { buffer: 7 }), exp, { client: 1, op: 'CLOSE', fd: 3, result: 0 }, { client: 2, op: 'IMPORT', fd: -1, result: 3, buffer: 7 })[0]!, /#4 IMPORT of buffer 7, which no EXPORT shared before \(or every fd of it was closed\)/);
  assert.match(refused(create(1, 3), exp, { client: 2, op: 'IMPORT', fd: -1, result: 3 })[0]!, /buffer: #3 IMPORT names no buffer/);
});

test('a buffer id that contradicts the fd, a buffer created twice, a client that comes back after its DISCONNECT', () => {
  assert.match(refused(create(1, 3, { buffer: 1 }), create(1, 4, { buffer: 2 }), { client: 1, op: 'STAT', fd: 3, result: 0, buffer: 2 })[0]!, /r\.jsonl:3: buffer: #3 STAT says buffer 2, but fd 3 of client 1 holds buffer 1 there/);
  assert.match(refused(create(1, 3, { buffer: 1 }), create(1, 4, { buffer: 1 }))[0]!, /r\.jsonl:2: buffer: #2 creates buffer 1, already created on line 1/);
  assert.match(refused({ client: 1, op: 'DISCONNECT' }, create(1, 3))[0]!, /r\.jsonl:2: client: #2 SMAF_IOC_CREATE of client 1, after its DISCONNECT on line 1/);
});

test('a hand-written recording is completed: buffer ids from the fds (new ones above every id the file names)', () => {
  const out = check(create(1, 3), { client: 1, op: 'DUP', fd: 3, result: 4 }, { client: 1, op: 'ATTACH', fd: 4, args: { device: 'gpu' }, result: 0 }, create(2, 3, { buffer: 9 }));
  assert.deepEqual(out.map((r) => r.buffer), [10, 10, 10, 9]);
});
