/**
 * A native connection whose peer hung up: the answer it gave up on cannot be written (EPIPE), and
 * that only ends the connection (it crashed smafd when it raised out of the server's send).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NativeConn, SmafAddon } from '../native/addon.ts';
import { NativeSocket } from './native-socket.ts';

function hungUp(): { addon: SmafAddon; destroyed: () => number } {
  let destroyed = 0;
  const addon = {
    write: () => {
      throw Object.assign(new Error('write: Broken pipe'), { code: 'EPIPE', errno: 32 });
    },
    destroy: () => void destroyed++,
  } as unknown as SmafAddon;
  return { addon, destroyed: () => destroyed };
}

test('a write to a peer that hung up ends the connection, plain or corked', () => {
  const { addon, destroyed } = hungUp();
  const plain = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  assert.equal(plain.write(new Uint8Array(8)), false);
  assert.equal(plain.destroyed, true);
  const corked = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  corked.cork();
  corked.write(new Uint8Array(8));
  assert.doesNotThrow(() => corked.uncork());
  assert.equal(corked.destroyed, true);
  assert.equal(destroyed(), 2);
});

test('a bug (an error without an errno) still raises', () => {
  const addon = { write: () => { throw new TypeError('write(conn, bytes, fd)'); }, destroy: () => undefined } as unknown as SmafAddon;
  const s = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  assert.throws(() => s.write(new Uint8Array(1)), TypeError);
});

test("smafd out of descriptors for an answer's file: the caller answers EMFILE; corked, the bytes go without it", () => {
  const writes: number[] = [];
  const addon = {
    write: (_c: unknown, _b: Uint8Array, fd: number) => {
      if (fd >= 0) throw Object.assign(new Error('dup: Too many open files'), { code: 'EMFILE', errno: 24 });
      writes.push(fd);
      return 0;
    },
    destroy: () => undefined,
  } as unknown as SmafAddon;
  const s = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  assert.throws(() => s.write(new Uint8Array(4), 7), (e: Error & { code?: string }) => e.code === 'EMFILE');
  assert.equal(s.destroyed, false, 'the connection lives on');
  s.cork();
  s.write(new Uint8Array(4), 7);
  s.uncork();
  assert.deepEqual(writes, [-1]);
  assert.equal(s.destroyed, false);
});
