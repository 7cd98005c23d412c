/**
 * A wire fuzzer against a running smafd: random and mutated frames (boundary lengths, wrong struct
 * sizes, bad fds, reserved bits, garbage names), pipelined. The daemon never crashes, answers every
 * well-formed frame with a result, closes only a connection that sends a malformed frame, and its
 * invariants hold afterwards. SMAF_TEST_LONG=1 (npm run test:long) sends 100,000 frames.
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { prng } from '../bench/deferred.ts';
import { Errno } from '../src/common/errors.ts';
import { encodeName, encodeRequest, FrameReader, ioc, IOCTLS, Op, OPS, parseResponse } from '../src/uapi/index.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

const LONG = process.env.SMAF_TEST_LONG === '1';
const FRAMES = LONG ? 100_000 : 20_000;
const KNOWN_ERRNOS = new Set(Object.values(Errno));

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--max-client-bytes', '2GiB']);
});
after(async () => {
  assert.equal(d.proc.exitCode, null, 'smafd is still running after the fuzzing');
  await d.stop();
});

const LENGTHS = [0n, 1n, 4095n, 4096n, 4097n, 2n ** 32n - 4096n, 2n ** 32n, 2n ** 64n - 4096n, 2n ** 64n - 1n, 65536n, 1n << 20n];

function frameGen(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  return (fds: number[]): { op: number; fd: number; payload: Uint8Array } => {
    const fd = rand() < 0.15 ? pick([-1, -2, 0, 1, 2, 999, 0x7fffffff]) : rand() < 0.3 ? -1 : (fds.length ? pick(fds) : -1);
    const kind = int(10);
    if (kind <= 2) {
      // a CREATE, valid or mutated
      const p = new Uint8Array(128);
      const v = new DataView(p.buffer);
      v.setBigUint64(8, pick(LENGTHS), true);
      v.setUint32(16, rand() < 0.8 ? 2 : int(2 ** 32), true);
      if (rand() < 0.2) p.set(encodeName(pick(['smaf-cma', 'system', 'secure-carveout', 'nope', '']), 64), 32);
      if (rand() < 0.15) { const at = int(128); p[at] = p[at]! ^ (1 << int(8)); }
      const size = rand() < 0.8 ? 128 : pick([0, 1, 32, 64, 127, 129, 256, 4096]);
      const payload = new Uint8Array(size);
      payload.set(p.subarray(0, Math.min(size, 128)));
      return { op: ioc(3, 0x53, 0, size), fd: rand() < 0.9 ? -1 : fd, payload };
    }
    if (kind === 3) {
      const def = pick(IOCTLS);
      const size = rand() < 0.7 ? def.struct.size : int(300);
      const p = rand() < 0.5 ? new Uint8Array(size) : bytes(size);
      if (size >= 12 && def.struct.name === 'smaf_secure_flag') new DataView(p.buffer).setInt32(8, fd, true);
      return { op: rand() < 0.8 ? def.number : ioc(int(4), def.magic.charCodeAt(0), def.nr, size), fd: def.target === 'buffer' ? fd : -1, payload: p };
    }
    if (kind === 4) return { op: rand() < 0.5 ? int(0x200) : int(2 ** 32), fd, payload: bytes(int(64)) };
    // a buffer op, with a plausible or random payload
    const def = pick(OPS);
    const size = def.payloadSize === null ? 12 + int(4096) : rand() < 0.75 ? def.payloadSize : int(80);
    const p = rand() < 0.5 ? new Uint8Array(size) : bytes(size);
    if (def.op === Op.ATTACH && size === 64) p.set(encodeName(pick(['gpu', 'display', 'vdec', 'isp', 'crypto', 'venc', 'ghost']), 64));
    if (def.op === Op.MMAP && size === 20) {
      const v = new DataView(p.buffer);
      v.setBigUint64(0, pick([0n, 4096n, 2n ** 63n]), true);
      v.setBigUint64(8, pick(LENGTHS), true);
      v.setUint32(16, int(4), true);
    }
    if ((def.op === Op.MAP || def.op === Op.UNMAP || def.op === Op.DETACH) && size >= 4) new DataView(p.buffer).setUint32(0, int(3), true);
    if (def.op === Op.MAP && size === 8) new DataView(p.buffer).setUint32(4, int(4), true);
    return { op: def.op, fd, payload: p };
  };
}

class Conn {
  readonly reader = new FrameReader(8);
  readonly pending = new Map<number, (r: { result: number; payload: Uint8Array }) => void>();
  closed = false;
  constructor(readonly sock: Socket) {
    sock.on('data', (c) => {
      for (const f of this.reader.push(c)) {
        const r = parseResponse(f);
        const cb = this.pending.get(r.id);
        this.pending.delete(r.id);
        cb?.(r);
      }
    });
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => {});
  }
  static open(path: string): Promise<Conn> {
    return new Promise((resolve) => {
      const s = createConnection(path, () => resolve(new Conn(s)));
    });
  }
}

test(`${FRAMES} fuzzed frames: every well-formed frame gets an answer, the daemon stays up and consistent`, { timeout: 600_000 }, async () => {
  const rand = prng(0x5eed);
  const gen = frameGen(rand);
  const conns = await Promise.all(Array.from({ length: 4 }, () => Conn.open(d.socket)));
  const fds: number[][] = conns.map(() => []);
  let answered = 0;
  let succeeded = 0;
  const opsOk = new Set<number>();
  let id = 1;
  const batch = 200;
  for (let sent = 0; sent < FRAMES; sent += batch) {
    await Promise.all(conns.map(async (c, ci) => {
      const waits: Promise<void>[] = [];
      const chunks: Uint8Array[] = [];
      for (let k = 0; k < batch / conns.length; k++) {
        const f = gen(fds[ci]!);
        const rid = id++;
        waits.push(new Promise((resolve) => {
          c.pending.set(rid, (r) => {
            assert.ok(r.result >= 0 || KNOWN_ERRNOS.has(-r.result as never), `result ${r.result} for op 0x${f.op.toString(16)}`);
            if (r.result >= 3 && (f.op === 0xc0805300 || f.op === Op.DUP || f.op === Op.IMPORT)) fds[ci]!.push(r.result);
            if (f.op >= 0x100 && r.result === 0 && f.payload.length >= 28 && (f.op & 0xffff) === 0x5300) {
              const fd = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).getInt32(24, true);
              if (fd >= 3) fds[ci]!.push(fd);
            }
            answered++;
            if (r.result >= 0) {
              succeeded++;
              opsOk.add(f.op);
            }
            resolve();
          });
        }));
        chunks.push(encodeRequest({ id: rid, op: f.op, fd: f.fd, payload: f.payload }));
      }
      c.sock.write(Buffer.concat(chunks));
      await Promise.all(waits);
    }));
    // now and then close some fds so that buffers come and go
    if (rand() < 0.3) {
      for (const [ci, c] of conns.entries()) {
        for (const fd of fds[ci]!.splice(0, Math.floor(fds[ci]!.length / 2))) c.sock.write(encodeRequest({ id: id++, op: Op.CLOSE, fd, payload: new Uint8Array(0) }));
      }
    }
  }
  assert.equal(answered, Math.ceil(FRAMES / batch) * batch);
  assert.ok(succeeded > FRAMES * 0.05, `the fuzzer reaches real work: ${succeeded} successes`);
  for (const op of [0xc0805300, Op.ATTACH, Op.MAP, Op.MMAP, Op.DUP, Op.STAT, Op.EXPORT]) assert.ok(opsOk.has(op), `op 0x${op.toString(16)} succeeded at least once`);
  assert.ok(conns.every((c) => !c.closed), 'well-formed frames never close a connection');

  // malformed frames close only their own connection
  for (const bad of [0, 4, 11, 16 * 1024 * 1024 + 1, 2 ** 32 - 1]) {
    const victim = await Conn.open(d.socket);
    const head = Buffer.alloc(16);
    head.writeUInt32LE(bad, 0);
    victim.sock.write(head);
    await new Promise<void>((resolve) => victim.sock.once('close', () => resolve()));
  }
  assert.ok(conns.every((c) => !c.closed));

  for (const c of conns) c.sock.destroy();
  const checker = await d.admin();
  for (let i = 0; i < 100 && (await checker.state()).buffers.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  const report = await checker.check();
  assert.ok(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
  const st = await checker.state();
  assert.equal(st.buffers.length, 0);
  assert.ok(st.regions.every((r) => r.inUse === 0), 'all memory back after the fuzzing clients went away');
  await checker.close();
});
