/**
 * The daemon's sessions without sockets: fd-install failure (no double free), per-client limits,
 * a client disconnecting after every possible request, use after close.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Errno } from '../common/errors.ts';
import { createSmafSystem } from '../presets/default.ts';
import { encodeName, Op, type Request } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import { ClientSession } from './session.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';
import { snapshot } from './state.ts';
import { operatorScope } from './scope.ts';

function setup(limits: Partial<LimitSettings> = {}) {
  const { smaf, platform } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), { ...DEFAULT_LIMITS, ...limits });
  let id = 1;
  const client = () => {
    const s = new ClientSession(id++, ctx);
    ctx.sessions.add(s);
    return s;
  };
  return { smaf, platform, ctx, client };
}


test('an fd table that is full fails CREATE, DUP and IMPORT with EMFILE and drops the reference exactly once', () => {
  const { smaf, client, ctx } = setup({ maxFds: 2 });
  const c = client();
  const a = fdOf(c.handle(create(4096)));
  const b = fdOf(c.handle(create(4096)));
  assert.deepEqual([a, b], [3, 4]);
  const third = c.handle(create(4096));
  assert.equal(third.result, -Errno.EMFILE);
  assert.match(new TextDecoder().decode(third.payload), /limit \(max_fds\) is 2/);
  assert.equal(smaf.buffers.length, 2, 'the buffer of the failed CREATE is gone, once');
  assert.equal(c.handle(req(Op.DUP, a)).result, -Errno.EMFILE);
  const token = c.handle(req(Op.EXPORT, a)).payload;
  assert.equal(c.handle(req(Op.IMPORT, -1, token)).result, -Errno.EMFILE);
  assert.equal(smaf.buffer(1).refCount, 1, 'DUP and IMPORT put back the reference they took');
  assert.ok(ctx.selfCheck().ok);
  c.close();
  assert.equal(smaf.buffers.length, 0);
});

test('per-client limits: one client cannot starve the others; the error names the limit', () => {
  const { client, ctx, platform } = setup({ maxClientBytes: 1 << 20, maxClientBuffers: 3 });
  const greedy = client();
  const r1 = greedy.handle(create(768 * 1024));
  assert.equal(r1.result, 0);
  const r2 = greedy.handle(create(512 * 1024));
  assert.equal(r2.result, -Errno.ENOMEM);
  assert.match(new TextDecoder().decode(r2.payload), /per-client limit \(max_client_bytes\) of 1 MiB/);
  greedy.handle(create(4096));
  greedy.handle(create(4096));
  const r3 = greedy.handle(create(4096));
  assert.match(new TextDecoder().decode(r3.payload), /max_client_buffers/);
  const polite = client();
  assert.equal(polite.handle(create(512 * 1024)).result, 0, 'another client still gets memory');
  const info = snapshot(operatorScope(ctx)).clients;
  assert.equal(info.find((x) => x.id === greedy.id)!.buffers, 3);
  greedy.close();
  polite.close();
  assert.equal(platform.bytesInUse, 0);
});

test('a client that disconnects after any request of a pipeline leaves nothing behind', () => {
  const { client, ctx, platform, smaf } = setup();
  const script = (fd: () => number): Request[] => [
    create(64 * 1024),
    req(Op.ATTACH, fd(), encodeName('display', 64)),
    req(Op.MAP, fd(), u32(0, 1)),
    req(Op.MMAP, fd(), new Uint8Array(20)),
    req(0x40086200, fd(), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])),
    req(Op.DUP, fd()),
    req(Op.EXPORT, fd()),
    req(Op.ATTACH, fd(), encodeName('gpu', 64)),
    req(Op.MAP, fd(), u32(1, 0)),
  ];
  for (let cut = 0; cut <= 9; cut++) {
    const c = client();
    const other = client();
    let fd = 3;
    const steps = script(() => fd);
    // the MMAP request needs real bytes: offset 0, length 4096, prot 3
    const mm = steps[3]!.payload;
    new DataView(mm.buffer).setBigUint64(8, 4096n, true);
    new DataView(mm.buffer).setUint32(16, 3, true);
    for (let k = 0; k < Math.min(cut, steps.length); k++) {
      const r = c.handle(steps[k]!);
      if (k === 0) fd = fdOf(r);
      if (k === 6 && r.result === 0) {
        const imported = other.handle(req(Op.IMPORT, -1, r.payload));
        assert.ok(imported.result >= 3, 'another client imports while the first lives');
      }
    }
    c.close();
    ctx.sessions.delete(c);
    assert.ok(ctx.selfCheck().ok, `cut after ${cut}: ${JSON.stringify(ctx.selfCheck().checks.filter((x) => !x.ok))}`);
    other.close();
    ctx.sessions.delete(other);
    assert.equal(smaf.buffers.length, 0, `cut after ${cut}`);
    assert.equal(platform.bytesInUse, 0, `cut after ${cut}`);
    assert.equal(ctx.tokens.size, 0);
  }
});

test('use after close: every op on a closed fd is EBADF; a closed session answers EBADF', () => {
  const { client } = setup();
  const c = client();
  const fd = fdOf(c.handle(create(4096)));
  assert.equal(c.handle(req(Op.CLOSE, fd)).result, 0);
  for (const op of [Op.CLOSE, Op.DUP, Op.STAT, Op.EXPORT]) assert.equal(c.handle(req(op, fd)).result, -Errno.EBADF);
  assert.equal(c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result, -Errno.EBADF);
  c.close();
  assert.equal(c.handle(create(4096)).result, -Errno.EBADF);
});

test('HELLO records who the client says it is; its label shows it; a bad HELLO changes nothing', () => {
  const { client, ctx } = setup();
  const c = client();
  const body = (pid: number, comm: string, reserved = 0) => {
    const b = new Uint8Array(72);
    new DataView(b.buffer).setUint32(0, pid, true);
    new DataView(b.buffer).setUint32(4, reserved, true);
    b.set(new TextEncoder().encode(comm), 8);
    return b;
  };
  assert.equal(c.handle(req(Op.HELLO, -1, body(4242, 'gst-launch-1.0'))).result, 0);
  assert.equal(c.label, `client ${c.id} (gst-launch-1.0, pid 4242)`);
  assert.equal(snapshot(operatorScope(ctx)).clients[0]!.comm, 'gst-launch-1.0');
  assert.equal(snapshot(operatorScope(ctx)).clients[0]!.pid, 4242);
  assert.equal(c.handle(req(Op.HELLO, -1, body(1, 'x', 1))).result, -Errno.EINVAL);
  assert.equal(c.handle(req(Op.HELLO, -1, new Uint8Array(71))).result, -Errno.EINVAL);
  assert.equal(c.handle(req(Op.HELLO, -1, body(1, 'y'.repeat(64)))).result, -Errno.EINVAL); // no NUL
  assert.equal(c.handle(req(Op.HELLO, 3, body(1, 'z'))).result, -Errno.EINVAL);
  assert.equal(c.pid, 4242);
  // control characters never reach a terminal
  assert.equal(c.handle(req(Op.HELLO, -1, body(7, 'ev\x1b[2Jil'))).result, 0);
  assert.equal(c.comm, 'ev\\x1b[2Jil');
  assert.equal(c.handle(req(Op.HELLO, -1, body(7, 'c\u009b2J\u009d0;x\u202e'))).result, 0);
  assert.equal(c.comm, 'c\\u009b2J\\u009d0;x\\u202e', 'C1 controls and bidi overrides too');
});
