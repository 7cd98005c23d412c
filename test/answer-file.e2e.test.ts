/**
 * An answer that carries a file (a sync file, a buffer's file): the native connection takes smafd's
 * descriptor over and passes that one (no duplicate: passing a file needs no new descriptor, so it
 * cannot fail for want of one, which cut the connection), and nothing else closes it; a connection
 * gone before the answer closes it. The daemon runs in process over the fake addon.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { SmafDaemon } from '../src/daemon/server.ts';
import { NativeSocket } from '../src/daemon/native-socket.ts';
import type { NativeConn, SmafAddon } from '../src/native/addon.ts';
import { createFakeAddon, createSmafSystem } from '../src/testing/index.ts';
import { DEVICE_FD, encodeRequest, encodeStruct, Op, parseResponse, SMAF_IOC_CREATE, smafCreateData, decodeStruct } from '../src/uapi/index.ts';

function harness() {
  const fake = createFakeAddon();
  const daemon = new SmafDaemon({ socketPath: '/nonexistent/smaf.sock', smaf: createSmafSystem().smaf, log: pino({ level: 'silent' }), addon: fake });
  const frames: Uint8Array[] = [];
  const passed: number[] = [];
  const closed: number[] = [];
  const socketAddon = {
    write: (_c: NativeConn, bytes: Uint8Array, fd: number) => {
      if (fd >= 0) passed.push(fd);
      frames.push(bytes.slice());
      return 0;
    },
    queued: () => 0,
    pause: () => undefined,
    resume: () => undefined,
    destroy: () => undefined,
    close: (fd: number) => {
      closed.push(fd);
      fake.close(fd);
    },
  } as unknown as SmafAddon;
  const sock = new NativeSocket(socketAddon, {} as NativeConn, { pid: process.pid, uid: 0, gid: 0 });
  (daemon as unknown as { accept(s: NativeSocket, admin: boolean): void }).accept(sock, false);
  /** Send one request and wait for its answer (frames are length-prefixed). */
  const call = async (op: number, fd: number, payload: Uint8Array) => {
    const id = frames.length + 1;
    sock.emit('data', Buffer.from(encodeRequest({ id, op, fd, payload })));
    for (let i = 0; i < 50; i++) {
      const all = Buffer.concat(frames);
      for (let at = 0; at + 4 <= all.length; ) {
        const len = all.readUInt32LE(at);
        const r = parseResponse(all.subarray(at + 4, at + 4 + len));
        if (r.id === id) return r;
        at += 4 + len;
      }
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no answer to request ${id}`);
  };
  const create = async () => decodeStruct(smafCreateData, (await call(SMAF_IOC_CREATE.number, DEVICE_FD, encodeStruct(smafCreateData, { length: 4096n, flags: 2 }))).payload).fd;
  return { daemon, sock, call, create, passed, closed };
}

test("an answer's file is smafd's own descriptor, handed over: passed as is, closed by no one else", async () => {
  const { daemon, call, create, passed, closed } = harness();
  const fd = await create();
  const exported = await call(Op.EXPORT_FENCE, fd, Uint8Array.of(1, 0, 0, 0));
  assert.equal(exported.result, 0);
  assert.equal(passed.length, 1, 'the sync file rode on the answer');
  assert.deepEqual(closed.filter((f) => f === passed[0]), [], 'and the connection owns it now: nobody closed it behind its back');
  await daemon.stop();
});

test("a connection gone before the answer's file could be passed closes it", async () => {
  const { daemon, sock, call, create, passed, closed } = harness();
  const fd = await create();
  sock.cork(); // the answer is held, then the connection goes
  const pending = call(Op.EXPORT_FENCE, fd, Uint8Array.of(1, 0, 0, 0)).catch(() => null);
  await new Promise((r) => setTimeout(r, 20));
  sock.destroy();
  sock.uncork();
  await pending;
  assert.equal(passed.length, 0);
  assert.ok(closed.length >= 1, 'the held sync file was closed with the connection');
  await daemon.stop();
});
