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

test('a write that throws leaves the file ours: it is closed; files held together each ride on their own write', () => {
  const writes: [number, number][] = [];
  const closed: number[] = [];
  let fail = true;
  const addon = {
    write: (_c: unknown, b: Uint8Array, fd: number) => {
      if (fail) throw Object.assign(new Error('write: Broken pipe'), { code: 'EPIPE', errno: 32 });
      writes.push([b.length, fd]);
      return 0;
    },
    destroy: () => undefined,
    close: (fd: number) => void closed.push(fd),
  } as unknown as SmafAddon;
  const gone = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  gone.write(new Uint8Array(4), 7);
  assert.deepEqual(closed, [7], 'the hung-up write closed the file it could not pass');
  assert.equal(gone.write(new Uint8Array(4), 8), false);
  assert.deepEqual(closed, [7, 8], 'a write after the end closes its file too');
  fail = false;
  const s = new NativeSocket(addon, {} as NativeConn, { pid: 1, uid: 0, gid: 0 });
  s.cork();
  s.write(new Uint8Array(2), 10);
  s.write(new Uint8Array(3));
  s.write(new Uint8Array(5), 11);
  s.uncork();
  assert.deepEqual(writes, [[5, 10], [5, 11]], 'each file on the first byte of its own bytes');
  assert.deepEqual(closed, [7, 8], 'passed files are not closed by the socket');
});
