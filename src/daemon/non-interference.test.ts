/**
 * Non-interference (issue 11, section 2; issue 25): nothing the normal world observes depends on
 * the bytes of secure memory it did not supply, nor on the secure world's content key. A victim puts
 * a secret in secure memory twice over (the secure world writes one, the victim decrypts its
 * ciphertext into another with the crypto engine) and shares both buffers with an attacker, and the
 * ciphertext too (an encrypted stream is no secret). fast-check then runs random sequences of every
 * operation the protocol allows the attacker (create, secure flag, attach, map, DMA copy with both
 * transforms at any offsets, so decrypting the stream itself, CRC, mmap, READ, WRITE, SYNC,
 * export/import, dup, close, STAT, explain, state, and the TEE: register a buffer, INJECT, TRANSFORM
 * and DUMP through the SDP test TA) twice, identical but for the secret's bytes and the key, and
 * every answer the attacker gets must be identical in both runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import {
  DMA_BUF_IOCTL_SYNC, encodeName, encodeStruct, encodeTeeCall, Op, SMAF_IOC_CREATE, SMAF_IOC_GET_SECURE_FLAG, SMAF_IOC_SET_SECURE_FLAG, type Request, type TeeCallParam,
} from '../uapi/index.ts';
import { uuidToBytes } from '../platform/index.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import { ClientSession } from './session.ts';

const DEVICES = ['vdec', 'display', 'crypto', 'gpu', 'isp'];

type Action =
  | { a: 'create'; pages: number }
  | { a: 'secure'; fd: number; on: boolean }
  | { a: 'getSecure'; fd: number }
  | { a: 'attach'; fd: number; device: number }
  | { a: 'detach'; att: number }
  | { a: 'map'; att: number; dir: number }
  | { a: 'unmap'; att: number }
  | { a: 'copy'; dst: number; src: number; transform: number; srcOff: number; dstOff: number; len: number }
  | { a: 'crc'; att: number; off: number; len: number }
  | { a: 'mmap'; fd: number; prot: number }
  | { a: 'read'; map: number; off: number; len: number }
  | { a: 'write'; map: number; off: number; byte: number; len: number }
  | { a: 'sync'; fd: number; flags: number }
  | { a: 'share'; fd: number }
  | { a: 'dup'; fd: number }
  | { a: 'close'; fd: number }
  | { a: 'stat'; fd: number }
  | { a: 'explain'; fd: number }
  | { a: 'state' }
  | { a: 'teeRegister'; fd: number }
  | { a: 'teeCall'; cmd: number; shm: number; off: number; len: number; byte: number };

/** Indices into the attacker's fds, attachments and mappings: mostly the first few (the shared ones). */
const ix = fc.oneof({ arbitrary: fc.nat({ max: 3 }), weight: 4 }, { arbitrary: fc.nat({ max: 15 }), weight: 1 });
const off = fc.oneof(fc.constant(0), fc.nat({ max: 8192 }), fc.constantFrom(4095, 4096, 1, 17));
const len = fc.oneof(fc.constantFrom(1, 17, 4096, 8192), fc.nat({ max: 9000 }));
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ a: fc.constant('create' as const), pages: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ a: fc.constant('secure' as const), fd: ix, on: fc.boolean() }),
  fc.record({ a: fc.constant('getSecure' as const), fd: ix }),
  { arbitrary: fc.record({ a: fc.constant('attach' as const), fd: ix, device: fc.nat({ max: DEVICES.length - 1 }) }), weight: 3 },
  fc.record({ a: fc.constant('detach' as const), att: ix }),
  { arbitrary: fc.record({ a: fc.constant('map' as const), att: ix, dir: fc.nat({ max: 2 }) }), weight: 3 },
  fc.record({ a: fc.constant('unmap' as const), att: ix }),
  { arbitrary: fc.record({ a: fc.constant('copy' as const), dst: ix, src: ix, transform: fc.nat({ max: 1 }), srcOff: off, dstOff: off, len }), weight: 3 },
  { arbitrary: fc.record({ a: fc.constant('crc' as const), att: ix, off: fc.oneof({ arbitrary: fc.constantFrom(0, 4096), weight: 3 }, { arbitrary: off, weight: 1 }), len: fc.oneof({ arbitrary: fc.constant(4096), weight: 3 }, { arbitrary: len, weight: 1 }) }), weight: 4 },
  fc.record({ a: fc.constant('mmap' as const), fd: ix, prot: fc.integer({ min: 1, max: 3 }) }),
  { arbitrary: fc.record({ a: fc.constant('read' as const), map: ix, off: fc.nat({ max: 4096 }), len: fc.nat({ max: 4096 }) }), weight: 2 },
  fc.record({ a: fc.constant('write' as const), map: ix, off: fc.nat({ max: 4096 }), byte: fc.nat({ max: 255 }), len: fc.nat({ max: 4096 }) }),
  fc.record({ a: fc.constant('sync' as const), fd: ix, flags: fc.constantFrom(1, 2, 3, 5, 6, 7) }),
  fc.record({ a: fc.constant('share' as const), fd: ix }),
  fc.record({ a: fc.constant('dup' as const), fd: ix }),
  fc.record({ a: fc.constant('close' as const), fd: ix }),
  fc.record({ a: fc.constant('stat' as const), fd: ix }),
  fc.record({ a: fc.constant('explain' as const), fd: ix }),
  fc.record({ a: fc.constant('state' as const) }),
  { arbitrary: fc.record({ a: fc.constant('teeRegister' as const), fd: ix }), weight: 2 },
  {
    arbitrary: fc.record({
      a: fc.constant('teeCall' as const), cmd: fc.nat({ max: 2 }), shm: ix, byte: fc.nat({ max: 255 }),
      off: fc.oneof(fc.constantFrom(0, 4096, 100), fc.nat({ max: 8192 })), len: fc.oneof(fc.constantFrom(1, 17, 4096), fc.nat({ max: 8192 })),
    }),
    weight: 4,
  },
);

let rid = 1;
const req = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: rid++, op, fd, payload });
function bytes(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}
const fdOf = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getInt32(24, true);

/** Clocks removed (wall times, allocation and TA latency): what remains is what was learnt. */
function normalise(text: string): string {
  return text.replace(/"(time|createdAt|connectedAt|elapsedUs|durationUs)":[\d.]+/g, '"$1":0').replace(/ in [\d.]+ µs/g, ' in 0 µs');
}

/** The victim's set-up: a secret written by the secure world, and one decrypted by the victim with `key`. */
function world(secret: Uint8Array, key: Uint8Array) {
  const { smaf, platform } = createSmafSystem(undefined, { contentKey: key });
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const victim = new ClientSession(1, ctx);
  const attacker = new ClientSession(2, ctx);
  ctx.sessions.add(victim);
  ctx.sessions.add(attacker);
  const create = (c: ClientSession) => fdOf(c.handle(req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: 8192n, flags: 2 }))).payload);
  const attach = (c: ClientSession, fd: number, dev: string) => c.handle(req(Op.ATTACH, fd, encodeName(dev, 64))).result;
  const map = (c: ClientSession, fd: number, att: number, dir: number) => c.handle(req(Op.MAP, fd, bytes(8, (v) => { v.setUint32(0, att, true); v.setUint32(4, dir, true); })));
  const setSecure = (c: ClientSession, fd: number) => c.handle(req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: 1 })));
  // 1. secure-world content
  const s1 = create(victim);
  setSecure(victim, s1);
  map(victim, s1, attach(victim, s1, 'vdec'), 2);
  platform.secureWorldWrite(smaf.buffers.find((b) => b.secure)!.segments[0]!.phys + 100, secret);
  // 2. the victim's own content, decrypted by the crypto engine from its private ciphertext
  const clear = create(victim);
  const m = victim.handle(req(Op.MMAP, clear, bytes(20, (v) => { v.setBigUint64(8, 8192n, true); v.setUint32(16, 3, true); }))).result;
  victim.handle(req(Op.WRITE, clear, (() => {
    const p = new Uint8Array(12 + secret.length);
    new DataView(p.buffer).setUint32(0, m, true);
    p.set(CIPHERTEXT, 12);
    return p;
  })()));
  const s2 = create(victim);
  setSecure(victim, s2);
  const cin = attach(victim, clear, 'crypto');
  const cout = attach(victim, s2, 'crypto');
  map(victim, clear, cin, 1);
  map(victim, s2, cout, 2);
  const copied = victim.handle(req(Op.DMA_COPY, s2, bytes(40, (v) => {
    v.setUint32(0, cout, true);
    v.setInt32(4, clear, true);
    v.setUint32(8, cin, true);
    v.setUint32(12, 1, true);
    v.setBigUint64(32, BigInt(secret.length), true);
  })));
  assert.equal(copied.result, secret.length, 'the victim decrypted its content');
  // both secure buffers are handed to the attacker (a compositor, say), and the encrypted stream
  const fds = [s1, s2, clear].map((fd) => attacker.handle(req(Op.IMPORT, -1, victim.handle(req(Op.EXPORT, fd)).payload)).result);
  return { attacker, fds };
}

/** The encrypted stream the victim decrypts (and the attacker may decrypt too): the same in both runs. */
const CIPHERTEXT = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const SDP_BASIC = uuidToBytes('12345678-5b69-11e4-9dbb-101f74f00099');

/** The attacker's TEE: a context, a session to the SDP basic TA, 16 KiB of shared memory of its own, the shm ids. */
interface AttackerTee {
  ctx: number;
  session: number;
  temp: number;
  shms: number[];
}

/** Run the attacker's actions; every answer it gets, in order. */
function observe(secret: Uint8Array, key: Uint8Array, actions: readonly Action[]): string[] {
  const { attacker: c, fds: imported } = world(secret, key);
  const fds = [...imported];
  const atts: { fd: number; id: number }[] = [];
  const maps: { fd: number; id: number }[] = [];
  const seen: string[] = [];
  const pick = <T>(list: readonly T[], i: number): T | undefined => (list.length ? list[i % list.length] : undefined);
  const send = (r: Request): void => {
    const res = c.handle(r);
    // JSON answers lose their clocks; an export token is random; everything else is compared byte for byte
    const json = r.op >= 0x80 && r.op < 0x100;
    const text = r.op === Op.EXPORT && res.result >= 0 ? '<token>' : json ? normalise(new TextDecoder().decode(res.payload)) : Buffer.from(res.payload).toString('hex');
    seen.push(`${r.op}:${res.result}:${text}`);
    if (r.op === Op.EXPORT && res.result >= 0) {
      const again = c.handle(req(Op.IMPORT, -1, res.payload));
      seen.push(`import:${again.result}`);
      if (again.result >= 0) fds.push(again.result);
    }
  };
  let tee: AttackerTee | null = null;
  const teeOf = (): AttackerTee => {
    if (tee) return tee;
    const ctx = c.handle(req(Op.TEE_OPEN, -1)).result;
    const open = new Uint8Array(48 + 0);
    open.set(SDP_BASIC);
    new DataView(open.buffer).setUint32(32, ctx, true);
    const session = new DataView(c.handle(req(Op.TEE_OPEN_SESSION, -1, open)).payload.buffer).getUint32(8, true);
    const temp = c.handle(req(Op.TEE_SHM_ALLOC, -1, bytes(16, (v) => { v.setUint32(0, ctx, true); v.setBigUint64(8, 16384n, true); }))).result;
    return (tee = { ctx, session, temp, shms: [] });
  };
  const teeCall = (t: AttackerTee, x: Extract<Action, { a: 'teeCall' }>, shm: number): void => {
    const onBuf = (direction: 'input' | 'output' | 'inout'): TeeCallParam => ({ type: 'memref', direction, shm, offset: x.off, size: x.len });
    const own = (direction: 'input' | 'output'): TeeCallParam => ({ type: 'memref', direction, shm: t.temp, size: x.len, data: new Uint8Array(x.len).fill(x.byte) });
    const params = x.cmd === 0 ? [own('input'), onBuf('output')] : x.cmd === 1 ? [onBuf('inout')] : [onBuf('input'), own('output')];
    const tail = encodeTeeCall(params);
    const head = bytes(24, (v) => { v.setUint32(0, t.ctx, true); v.setUint32(4, t.session, true); v.setUint32(8, x.cmd, true); v.setUint32(16, params.length, true); });
    send(req(Op.TEE_INVOKE, -1, Uint8Array.from([...head, ...tail])));
  };
  for (const x of actions) {
    switch (x.a) {
      case 'create': {
        const r = c.handle(req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: BigInt(x.pages * 4096), flags: 2 })));
        seen.push(`create:${r.result}`);
        if (r.result === 0) fds.push(fdOf(r.payload));
        break;
      }
      case 'secure': {
        const fd = pick(fds, x.fd);
        if (fd !== undefined) send(req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: x.on ? 1 : 0 })));
        break;
      }
      case 'getSecure': {
        const fd = pick(fds, x.fd);
        if (fd !== undefined) send(req(SMAF_IOC_GET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_GET_SECURE_FLAG.struct, { fd })));
        break;
      }
      case 'attach': {
        const fd = pick(fds, x.fd);
        if (fd === undefined) break;
        const r = c.handle(req(Op.ATTACH, fd, encodeName(DEVICES[x.device]!, 64)));
        seen.push(`attach:${r.result}:${Buffer.from(r.payload).toString('hex')}`);
        if (r.result >= 0) atts.push({ fd, id: r.result });
        break;
      }
      case 'detach':
      case 'unmap': {
        const t = pick(atts, x.att);
        if (t) send(req(x.a === 'detach' ? Op.DETACH : Op.UNMAP, t.fd, bytes(4, (v) => v.setUint32(0, t.id, true))));
        break;
      }
      case 'map': {
        const t = pick(atts, x.att);
        if (t) send(req(Op.MAP, t.fd, bytes(8, (v) => { v.setUint32(0, t.id, true); v.setUint32(4, x.dir, true); })));
        break;
      }
      case 'copy': {
        const d = pick(atts, x.dst);
        const s = pick(atts, x.src);
        if (d && s) {
          send(req(Op.DMA_COPY, d.fd, bytes(40, (v) => {
            v.setUint32(0, d.id, true);
            v.setInt32(4, s.fd, true);
            v.setUint32(8, s.id, true);
            v.setUint32(12, x.transform, true);
            v.setBigUint64(16, BigInt(x.srcOff), true);
            v.setBigUint64(24, BigInt(x.dstOff), true);
            v.setBigUint64(32, BigInt(x.len), true);
          })));
        }
        break;
      }
      case 'crc': {
        const t = pick(atts, x.att);
        if (t) send(req(Op.DMA_CRC, t.fd, bytes(24, (v) => { v.setUint32(0, t.id, true); v.setBigUint64(8, BigInt(x.off), true); v.setBigUint64(16, BigInt(x.len), true); })));
        break;
      }
      case 'mmap': {
        const fd = pick(fds, x.fd);
        if (fd === undefined) break;
        const r = c.handle(req(Op.MMAP, fd, bytes(20, (v) => { v.setBigUint64(8, 4096n, true); v.setUint32(16, x.prot, true); })));
        seen.push(`mmap:${r.result}:${Buffer.from(r.payload).toString('hex')}`);
        if (r.result >= 0) maps.push({ fd, id: r.result });
        break;
      }
      case 'read': {
        const m = pick(maps, x.map);
        if (m) send(req(Op.READ, m.fd, bytes(16, (v) => { v.setUint32(0, m.id, true); v.setBigUint64(4, BigInt(x.off), true); v.setUint32(12, x.len, true); })));
        break;
      }
      case 'write': {
        const m = pick(maps, x.map);
        if (m) {
          const p = new Uint8Array(12 + x.len).fill(x.byte);
          new DataView(p.buffer).setUint32(0, m.id, true);
          new DataView(p.buffer).setBigUint64(4, BigInt(x.off), true);
          send(req(Op.WRITE, m.fd, p));
        }
        break;
      }
      case 'sync': {
        const fd = pick(fds, x.fd);
        if (fd !== undefined) send(req(DMA_BUF_IOCTL_SYNC.number, fd, encodeStruct(DMA_BUF_IOCTL_SYNC.struct, { flags: BigInt(x.flags) })));
        break;
      }
      case 'share':
      case 'dup':
      case 'close':
      case 'stat': {
        const fd = pick(fds, x.fd);
        if (fd === undefined) break;
        const op = { share: Op.EXPORT, dup: Op.DUP, close: Op.CLOSE, stat: Op.STAT }[x.a];
        send(req(op, fd));
        if (x.a === 'dup') fds.push(Number(seen.at(-1)!.split(':')[1]));
        if (x.a === 'close') fds.splice(fds.indexOf(fd), 1);
        break;
      }
      case 'explain': {
        const fd = pick(fds, x.fd);
        if (fd !== undefined) send(req(Op.X_EXPLAIN, fd, new Uint8Array(4)));
        break;
      }
      case 'state':
        send(req(Op.X_STATE, -1));
        break;
      case 'teeRegister': {
        const fd = pick(fds, x.fd);
        if (fd === undefined) break;
        const t = teeOf();
        const r = c.handle(req(Op.TEE_SHM_REGISTER_FD, fd, bytes(8, (v) => v.setUint32(0, t.ctx, true))));
        seen.push(`teeRegister:${r.result}:${Buffer.from(r.payload).toString('hex')}`);
        if (r.result >= 0) t.shms.push(r.result);
        break;
      }
      case 'teeCall': {
        const t = teeOf();
        const shm = pick(t.shms, x.shm);
        if (shm !== undefined) teeCall(t, x, shm);
        break;
      }
    }
  }
  return seen;
}

const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const KEY_A = new Uint8Array(32).fill(0x11);
const KEY_B = Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 1);

test('non-interference: every answer the attacker gets is the same whatever the secret bytes and the content key', { timeout: 300_000 }, () => {
  const runs = process.env.SMAF_TEST_LONG ? 2000 : 300;
  fc.assert(
    fc.property(secretArb, secretArb, keyArb, keyArb, fc.array(action, { minLength: 1, maxLength: 40 }), (a, b, ka, kb, actions) => {
      fc.pre(Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0 || Buffer.compare(Buffer.from(ka), Buffer.from(kb)) !== 0);
      assert.deepEqual(observe(a, ka, actions), observe(b, kb, actions));
    }),
    { numRuns: runs },
  );
});

test('two runs that differ only in the key give the attacker identical answers', () => {
  fc.assert(
    fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
      const secret = new Uint8Array(32).fill(5);
      assert.deepEqual(observe(secret, KEY_A, actions), observe(secret, KEY_B, actions));
    }),
    { numRuns: process.env.SMAF_TEST_LONG ? 500 : 100 },
  );
});

test('the decrypt-then-CRC attack: the attacker decrypts the stream into its own secure buffer, a CRC of it is refused, whatever the key', () => {
  // the crypto engine reads the shared ciphertext and writes a fresh secure buffer of the attacker's; the display CRCs it
  const attack: Action[] = [
    { a: 'create', pages: 1 }, // fds[3]: T
    { a: 'secure', fd: 3, on: true },
    { a: 'attach', fd: 2, device: 2 }, { a: 'map', att: 0, dir: 1 }, // crypto reads the stream
    { a: 'attach', fd: 3, device: 2 }, { a: 'map', att: 1, dir: 2 }, // crypto writes T
    { a: 'copy', dst: 1, src: 0, transform: 1, srcOff: 0, dstOff: 0, len: 17 },
    { a: 'attach', fd: 3, device: 1 }, { a: 'map', att: 2, dir: 1 }, // display reads T
    { a: 'crc', att: 2, off: 0, len: 4096 },
    { a: 'teeRegister', fd: 3 },
    { a: 'teeCall', cmd: 2, shm: 0, off: 0, len: 17, byte: 0 },
  ];
  const secret = new Uint8Array(32).fill(1);
  const one = observe(secret, KEY_A, attack);
  const two = observe(secret, KEY_B, attack);
  assert.equal(one.find((o) => o.startsWith('14:'))?.split(':')[1], '17', 'the decryption ran');
  assert.match(Buffer.from(one.find((o) => o.startsWith('15:'))!.split(':')[2]!, 'hex').toString(), /^CRC of buffer \d+ refused: the range holds data that client 2 did not supply/);
  const dump = one.find((o) => o.startsWith('72:'))!;
  assert.equal(Buffer.from(dump.split(':')[2]!, 'hex').readUInt32LE(0), 0xffff0001, 'a TA DUMP of it: TEEC_ERROR_ACCESS_DENIED');
  assert.deepEqual(one, two, 'nothing the attacker saw depends on the key');
});

test('the attack sequence of issue 11 is among what the model runs, and it learns nothing', () => {
  // copy the shared secure buffer to a fresh secure one with vdec, zero all but one byte with crypto, CRC with display
  const attack: Action[] = [
    { a: 'create', pages: 2 }, // fds[3]: T (fds[0..2] are the victim's)
    { a: 'secure', fd: 3, on: true },
    { a: 'create', pages: 2 }, // fds[4]: zeros
    { a: 'attach', fd: 0, device: 0 }, { a: 'map', att: 0, dir: 1 }, // vdec reads S
    { a: 'attach', fd: 3, device: 0 }, { a: 'map', att: 1, dir: 2 }, // vdec writes T
    { a: 'copy', dst: 1, src: 0, transform: 0, srcOff: 0, dstOff: 0, len: 8192 },
    { a: 'unmap', att: 1 }, { a: 'detach', att: 1 },
    { a: 'attach', fd: 4, device: 2 }, { a: 'map', att: 2, dir: 1 }, // crypto reads zeros
    { a: 'attach', fd: 3, device: 2 }, { a: 'map', att: 3, dir: 2 }, // crypto writes T
    { a: 'copy', dst: 3, src: 2, transform: 0, srcOff: 0, dstOff: 101, len: 4095 },
    { a: 'attach', fd: 3, device: 1 }, { a: 'map', att: 4, dir: 1 }, // display reads T
    { a: 'crc', att: 4, off: 0, len: 4096 },
  ];
  const one = observe(new Uint8Array(32).fill(1), KEY_A, attack);
  const two = observe(new Uint8Array(32).fill(2), KEY_A, attack);
  assert.deepEqual(one, two);
  assert.match(Buffer.from(one.at(-1)!.split(':')[2]!, 'hex').toString(), /^CRC of buffer \d+ refused: the range holds data that client 2 did not supply/);
  assert.match(one.at(-1)!, /^15:-13:/);
});
