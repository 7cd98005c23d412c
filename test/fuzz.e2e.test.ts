/**
 * A wire fuzzer against a running smafd, its frames generated from the uapi tables: for every op row
 * and every ioctl, valid requests (with plausible values for ids, lengths and names), boundary
 * requests (every field at its edges, reserved fields included) and garbage payloads of wrong
 * lengths; plus unknown op numbers, bad fds, pipelined. The daemon never crashes, answers every
 * well-formed frame with a result, closes only a connection that sends a malformed frame, and its
 * invariants hold afterwards. SMAF_TEST_LONG=1 (npm run test:long) sends 100,000 frames.
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { prng } from '../bench/deferred.ts';
import { Errno } from '../src/common/errors.ts';
import {
  encodeName, encodeOpRequest, encodeRequest, encodeStruct, FrameReader, ioc, IOCTLS, OP_TABLE, opRowNamed, parseResponse,
  SMAF_IOC_CREATE, type FieldDef, type IoctlDef, type OpRow, type OpTableRow,
} from '../src/uapi/index.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { boundaryRequestArb, fieldArb, garbagePayloadArb, requestArb, structArb, type FieldHints } from './helpers/wire-arbitraries.ts';

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
const DEVICES = ['gpu', 'display', 'vdec', 'isp', 'crypto', 'venc', 'ghost'];
const ALLOCATORS = ['smaf-cma', 'system', 'secure-carveout', 'nope', ''];

/** Plausible values, by field name and type, so that valid frames reach real work. */
const hints: FieldHints = (f: FieldDef) => {
  if (f.type === 'char') {
    const names = f.name === 'device' ? DEVICES : f.name === 'name' && f.size === 64 ? ALLOCATORS : ['fuzz', ''];
    return fc.constantFrom(...names).map((n) => encodeName(n, f.size));
  }
  if (f.type === 'u64') {
    if (f.name === 'version' || f.name === 'since' || f.name === 'after') return fc.constantFrom(0n, 0n, 0n, 1n);
    if (/offset$/.test(f.name)) return fc.constantFrom(0n, 0n, 0n, 4096n, ...LENGTHS);
    return fc.constantFrom(...LENGTHS, 2n ** 63n);
  }
  if (f.type === 's32' && /fd$/.test(f.name)) return fc.constantFrom(0, 0, 0, 3, 4, -1);
  if (/attachment|mapping|buffer|index|direction|prot|secure|transform|flags/.test(f.name)) return f.name === 'flags' ? fc.constantFrom(2, 2, 0x80002, 1, 0) : fc.nat(3);
  if (f.name === 'length' || f.name === 'limit') return fc.constantFrom(0, 1, 16, 4096, 1000);
  if (f.name === 'kinds' || f.name === 'client') return fc.constantFrom(0, 1, 0x8000);
  // the TEE ops: context, session and shm ids are small per-client counters
  if (/^(ctx|session|shm|func|cancel_id)$/.test(f.name)) return fc.nat(3);
  if (f.name === 'num_params') return fc.constantFrom(0, 0, 1, 4, 5);
  if (f.name === 'clnt_login') return fc.constantFrom(0, 0, 1, 2, 4, 0x8000_0000);
  return undefined;
};

/** A frame of the op table: valid, at the edges, or garbage. `fd`: which fd to aim at (resolved when sent). */
interface Frame {
  readonly op: number;
  readonly payload: Uint8Array;
  /** Aim at: a held fd, the device, or a bad fd. */
  readonly aim: 'held' | 'device' | 'bad';
}

const encodeAny = (row: OpRow, v: object | null): Uint8Array => encodeOpRequest(row as OpTableRow, v as never);

function opFrameArb(row: OpRow): fc.Arbitrary<Frame> {
  const aim = row.target === 'device' ? fc.constantFrom<Frame['aim']>('device', 'device', 'device', 'bad') : fc.constantFrom<Frame['aim']>('held', 'held', 'held', 'device', 'bad');
  const payload = fc.oneof(
    { weight: 6, arbitrary: requestArb(row, hints).map((v) => encodeAny(row, v)) },
    { weight: 2, arbitrary: boundaryRequestArb(row).map((v) => encodeAny(row, v)) },
    { weight: 2, arbitrary: garbagePayloadArb(row) },
  );
  return fc.record({ op: fc.constant(row.op), payload, aim });
}

/** An ioctl: its struct (valid, version 0, plausible fields) at its size, or at a caller's other size. */
function ioctlFrameArb(def: IoctlDef, weightValid = 8): fc.Arbitrary<Frame> {
  const value = structArb(def.struct, (f) => fieldArb(f, hints));
  const size = fc.oneof({ weight: weightValid, arbitrary: fc.constant(def.struct.size) }, { weight: 2, arbitrary: fc.constantFrom(0, 1, 32, 64, 127, 129, 256, 4096) });
  const flip = fc.option(fc.nat(def.struct.size * 8 - 1), { freq: 6 }); // now and then one bit flipped anywhere
  return fc.tuple(value, size, flip).map(([v, size, bit]) => {
    const full = encodeStruct(def.struct, v);
    if (bit !== null) full[bit >> 3]! ^= 1 << (bit & 7);
    const payload = new Uint8Array(size);
    payload.set(full.subarray(0, Math.min(size, full.length)));
    return { op: size === def.struct.size ? def.number : ioc(3, def.magic.charCodeAt(0), def.nr, size), payload, aim: def.target === 'buffer' ? 'held' as const : 'device' as const };
  });
}

/** The ops whose work the others build on (a buffer, a device on it, a mapping): as likely as all the rest together. */
const CORE_OPS = new Set(['ATTACH', 'MAP', 'MMAP', 'DUP', 'STAT', 'EXPORT', 'WRITE', 'READ', 'DMA_COPY', 'DMA_CRC']);
const ROWS = OP_TABLE as readonly OpRow[];

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 3, arbitrary: ioctlFrameArb(SMAF_IOC_CREATE) },
  { weight: 1, arbitrary: fc.oneof(...IOCTLS.map((def) => ioctlFrameArb(def, 7))) },
  { weight: 1, arbitrary: fc.record({ op: fc.oneof(fc.nat(0x1ff), fc.nat(2 ** 32 - 1)), payload: fc.uint8Array({ maxLength: 64 }), aim: fc.constantFrom<Frame['aim']>('held', 'device', 'bad') }) },
  { weight: 3, arbitrary: fc.oneof(...ROWS.filter((r) => CORE_OPS.has(r.name)).map(opFrameArb)) },
  { weight: 3, arbitrary: fc.oneof(...ROWS.map(opFrameArb)) },
);

/** Frames of one batch, reproducible (seeded per batch). */
function frames(batch: number, n: number): Frame[] {
  return fc.sample(frameArb, { seed: 0x5eed + batch, numRuns: n });
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

/** What the daemon answered: every result a known errno, new fds kept for later frames. */
class Stats {
  answered = 0;
  succeeded = 0;
  readonly ok = new Set<number>();
  readonly sent = new Set<number>();

  record(f: { op: number; fd: number; payload: Uint8Array }, r: { result: number; payload: Uint8Array }, held: number[], attached: number[]): void {
    assert.ok(r.result >= 0 || KNOWN_ERRNOS.has(-r.result as never), `result ${r.result} for op 0x${f.op.toString(16)}`);
    if (r.result >= 3 && (f.op === opRowNamed('DUP').op || f.op === opRowNamed('IMPORT').op)) held.push(r.result);
    if (r.result >= 0 && f.op === opRowNamed('ATTACH').op) attached.push(f.fd);
    if (f.op >= 0x100 && (f.op & 0xffff) === 0x5300 && r.result === 0 && f.payload.length >= 28) { // a CREATE, of any struct size
      const fd = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).getInt32(24, true);
      if (fd >= 3) held.push(fd);
    }
    this.answered++;
    if (r.result >= 0) {
      this.succeeded++;
      this.ok.add(f.op);
    }
  }

  /** The generated frames reach real work, in every op that should succeed at least once. */
  check(): void {
    assert.ok(this.succeeded > FRAMES * 0.05, `the fuzzer reaches real work: ${this.succeeded} successes`);
    for (const op of [SMAF_IOC_CREATE.number, ...(['ATTACH', 'MAP', 'MMAP', 'DUP', 'STAT', 'EXPORT'] as const).map((n) => opRowNamed(n).op)]) assert.ok(this.ok.has(op), `op 0x${op.toString(16)} succeeded at least once`);
    for (const row of OP_TABLE) assert.ok(this.sent.has(row.op), `${row.name} was fuzzed`);
    const okRows = OP_TABLE.filter((r) => this.ok.has(r.op)).map((r) => r.name);
    assert.ok(okRows.length >= 10, `the generated frames reach real work in most ops; succeeded: ${okRows.join(' ')}`);
  }
}

test(`${FRAMES} fuzzed frames: every well-formed frame gets an answer, the daemon stays up and consistent`, { timeout: 600_000 }, async () => {
  const rand = prng(0x5eed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const fdFor = (aim: Frame['aim'], held: number[]): number => (aim === 'bad' ? pick([-2, 0, 1, 2, 999, 0x7fffffff]) : aim === 'held' && held.length ? pick(held) : -1);
  const conns = await Promise.all(Array.from({ length: 4 }, () => Conn.open(d.socket)));
  const fds: number[][] = conns.map(() => []);
  // fds with a device attached: ops on an attachment aim there mostly (a map then reaches real work
  // whatever the seeded sample, rather than by the luck of an attachment id on a random fd)
  const attached: number[][] = conns.map(() => []);
  const onAttachment = new Set<number>((['MAP', 'UNMAP', 'DETACH', 'DMA_CRC', 'DMA_COPY'] as const).map((n) => opRowNamed(n).op));
  const stats = new Stats();
  let id = 1;
  const batch = 200;
  for (let sent = 0; sent < FRAMES; sent += batch) {
    const sample = frames(sent / batch, batch);
    await Promise.all(conns.map(async (c, ci) => {
      const waits: Promise<void>[] = [];
      const chunks: Uint8Array[] = [];
      for (let k = 0; k < batch / conns.length; k++) {
        const t = sample[ci * (batch / conns.length) + k]!;
        const toAttached = t.aim === 'held' && onAttachment.has(t.op) && attached[ci]!.length > 0 && rand() < 0.7;
        const f = { op: t.op, fd: toAttached ? pick(attached[ci]!) : fdFor(t.aim, fds[ci]!), payload: t.payload };
        stats.sent.add(f.op);
        // SMAF_IOC_GET/SET_SECURE_FLAG name their buffer in the struct: aim it at a held fd too
        if (f.payload.length === 64 && (f.op & 0xff00) === 0x5300 && fds[ci]!.length && rand() < 0.7) new DataView(f.payload.buffer).setInt32(8, pick(fds[ci]!), true);
        const rid = id++;
        waits.push(new Promise((resolve) => {
          c.pending.set(rid, (r) => {
            stats.record(f, r, fds[ci]!, attached[ci]!);
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
        for (const fd of fds[ci]!.splice(0, Math.floor(fds[ci]!.length / 2))) {
          c.sock.write(encodeRequest({ id: id++, op: opRowNamed('CLOSE').op, fd, payload: new Uint8Array(0) }));
          attached[ci] = attached[ci]!.filter((a) => a !== fd);
        }
      }
    }
  }
  assert.equal(stats.answered, Math.ceil(FRAMES / batch) * batch);
  stats.check();
  assert.ok(conns.every((c) => !c.closed), 'well-formed frames never close a connection');
  await malformedAndConsistent(conns);
});

/** Malformed frames close only their own connection; once every client is gone, all is back. */
async function malformedAndConsistent(conns: readonly Conn[]): Promise<void> {
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
}
