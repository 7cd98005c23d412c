/**
 * The replay is faithful: random sequences of every operation the protocol allows, by several
 * clients (errors included: bad fds, missing attachments, secure refusals, exhausted memory, limits),
 * run through smafd's real sessions; their recording, written as a trace file and read back,
 * replays in process with every outcome matching. Nothing here knows the outcomes: the sessions
 * decide them, the replay must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { DaemonContext, DEFAULT_LIMITS } from '../src/daemon/context.ts';
import { traceFileOf } from '../src/daemon/operator-ops.ts';
import { operatorScope } from '../src/daemon/scope.ts';
import { ClientSession } from '../src/daemon/session.ts';
import { defaultPlatformSpec, type PlatformSpec } from '../src/platform/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { prepareRecording, replay } from '../src/replay/engine.ts';
import {
  DMA_BUF_IOCTL_SYNC, encodeName, encodeOpRequest, encodeStruct, Op, opRowNamed, parseTraceFile, SMAF_IOC_CREATE, SMAF_IOC_GET_INFO, SMAF_IOC_GET_SECURE_FLAG,
  SMAF_IOC_SET_SECURE_FLAG, type Request,
} from '../src/uapi/index.ts';

const DEVICES = ['vdec', 'display', 'crypto', 'gpu', 'isp', 'venc', 'npu'];
const RUNS = process.env.SMAF_TEST_LONG ? 400 : 60;

/** The default platform with a 2 MiB CMA: allocations fail and succeed by turns. */
function smallCma(): PlatformSpec {
  const spec = defaultPlatformSpec();
  return { ...spec, memory: spec.memory.map((m) => (m.name === 'cma' ? { ...m, base: m.base + m.size - (2 << 20), size: 2 << 20 } : m)) };
}

type Step = { client: number; a: string; x: number; y: number; z: number };
const ACTIONS: readonly (readonly [string, number])[] = [
  ['create', 6], ['secure', 2], ['getSecure', 1], ['info', 1], ['attach', 6], ['detach', 2], ['map', 6], ['unmap', 2], ['mmap', 3], ['munmap', 1],
  ['read', 2], ['write', 2], ['sync', 2], ['copy', 3], ['crc', 2], ['share', 2], ['dup', 1], ['close', 2], ['stat', 1], ['name', 1], ['generation', 1],
  ['disconnect', 1], ['badFd', 1], ['teeOpen', 1], ['teeRegister', 2], ['teeRelease', 1], ['teeClose', 1],
];
const step = fc.record({
  client: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.nat({ max: 2 }), weight: 1 }),
  a: fc.oneof(...ACTIONS.map(([a, weight]) => ({ arbitrary: fc.constant(a), weight }))),
  x: fc.nat({ max: 6 }),
  y: fc.nat({ max: 6 }),
  z: fc.nat({ max: 3 }),
});

let rid = 1;
const r = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: rid++, op, fd, payload });

/** One world: sessions on a small-CMA smafd; a step picks fds, attachments and mappings by index among what its client was given. */
function world(limits = DEFAULT_LIMITS) {
  const { smaf } = createSmafSystem(smallCma());
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), limits);
  const sessions = [1, 2, 3].map((id) => new ClientSession(id, ctx));
  let nextId = 4; // smafd never gives a client id twice
  const fds = sessions.map(() => [] as number[]);
  const atts = new Map<string, number[]>();
  const maps = new Map<string, number[]>();
  const tokens: Uint8Array[] = [];
  // TEE contexts and shared memory (ids are per client: a wrong client's id is a case too)
  const ctxs: number[] = [];
  const shms: number[] = [];
  // mostly something the client was given; now and then a number it was not (x = 6)
  const pick = <T>(list: readonly T[], i: number, fallback: T): T => (i === 6 ? fallback : list[i % Math.max(1, list.length)] ?? fallback);
  const run = (s: Step): void => {
    const c = sessions[s.client]!;
    const own = fds[s.client]!;
    const fd = pick(own, s.x, 3 + s.x);
    const key = `${s.client}:${fd}`;
    const att = pick(atts.get(key) ?? [], s.y, s.y);
    const map = pick(maps.get(key) ?? [], s.y, s.y);
    const note = (list: Map<string, number[]>, result: number) => {
      if (result >= 0) list.set(key, [...(list.get(key) ?? []), result]);
    };
    switch (s.a) {
      case 'create': {
        const res = c.handle(r(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: BigInt([4096, 65536, 400_000, 900_000][s.z]!), flags: s.y === 6 ? 0 : 2, name: encodeName(['', '', 'smaf-cma', 'system'][s.y % 4]!, 64) })));
        if (res.result >= 0) own.push(new DataView(res.payload.buffer, res.payload.byteOffset).getInt32(24, true));
        return;
      }
      case 'secure': return void c.handle(r(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: s.z % 2 })));
      case 'getSecure': return void c.handle(r(SMAF_IOC_GET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_GET_SECURE_FLAG.struct, { fd })));
      case 'info': return void c.handle(r(SMAF_IOC_GET_INFO.number, -1, encodeStruct(SMAF_IOC_GET_INFO.struct, { index: s.x })));
      case 'attach': return note(atts, c.handle(r(Op.ATTACH, fd, encodeName(DEVICES[s.y]!, 64))).result);
      case 'detach': return void c.handle(r(Op.DETACH, fd, encodeOpRequest(opRowNamed('DETACH'), { attachment: att })));
      case 'map': return void c.handle(r(Op.MAP, fd, encodeOpRequest(opRowNamed('MAP'), { attachment: att, direction: s.z })));
      case 'unmap': return void c.handle(r(Op.UNMAP, fd, encodeOpRequest(opRowNamed('UNMAP'), { attachment: att })));
      case 'mmap': return note(maps, c.handle(r(Op.MMAP, fd, encodeOpRequest(opRowNamed('MMAP'), { offset: BigInt(s.z * 4096), length: 4096n, prot: 1 + (s.y % 3) }))).result);
      case 'munmap': return void c.handle(r(Op.MUNMAP, fd, encodeOpRequest(opRowNamed('MUNMAP'), { mapping: map })));
      case 'read': return void c.handle(r(Op.READ, fd, encodeOpRequest(opRowNamed('READ'), { mapping: map, offset: BigInt(s.z * 1000), length: 2000 })));
      case 'write': return void c.handle(r(Op.WRITE, fd, encodeOpRequest(opRowNamed('WRITE'), { mapping: map, offset: BigInt(s.z * 1000), data: new Uint8Array(1500).fill(s.x) })));
      case 'sync': return void c.handle(r(DMA_BUF_IOCTL_SYNC.number, fd, encodeStruct(DMA_BUF_IOCTL_SYNC.struct, { flags: BigInt([1, 2, 3, 5, 6, 7, 0][s.y]!) })));
      case 'copy': {
        const src = pick(own, s.y, fd);
        return void c.handle(r(Op.DMA_COPY, fd, encodeOpRequest(opRowNamed('DMA_COPY'), { dst_attachment: att, src_fd: src, src_attachment: pick(atts.get(`${s.client}:${src}`) ?? [], s.x, 0), transform: s.z % 2, src_offset: 0n, dst_offset: 0n, length: 4096n })));
      }
      case 'crc': return void c.handle(r(Op.DMA_CRC, fd, encodeOpRequest(opRowNamed('DMA_CRC'), { attachment: att, offset: 0n, length: 4096n })));
      case 'share': {
        const res = c.handle(r(Op.EXPORT, fd));
        if (res.result >= 0) tokens.push(res.payload);
        const other = (s.client + 1 + (s.z % 2)) % 3;
        const got = sessions[other]!.handle(r(Op.IMPORT, -1, pick(tokens, s.y, new Uint8Array(16))));
        if (got.result >= 0) fds[other]!.push(got.result);
        return;
      }
      case 'dup': {
        const res = c.handle(r(Op.DUP, fd));
        if (res.result >= 0) own.push(res.result);
        return;
      }
      case 'close': {
        c.handle(r(Op.CLOSE, fd));
        own.splice(own.indexOf(fd), own.includes(fd) ? 1 : 0);
        return;
      }
      case 'stat': return void c.handle(r(Op.STAT, fd));
      case 'generation': return void c.handle(r(Op.GENERATION, fd));
      case 'name': return void c.handle(r(Op.SET_NAME, fd, encodeName(`frame-${s.x}`, 32)));
      case 'badFd': return void c.handle(r([Op.STAT, Op.MAP, SMAF_IOC_CREATE.number][s.z % 3]!, 40 + s.x, new Uint8Array(s.z % 3 === 1 ? 8 : s.z % 3 === 2 ? 128 : 0)));
      case 'teeOpen': {
        const res = c.handle(r(Op.TEE_OPEN, -1));
        if (res.result >= 0) ctxs.push(res.result);
        return;
      }
      case 'teeRegister': {
        const res = c.handle(r(Op.TEE_SHM_REGISTER_FD, s.z === 3 ? -1 : fd, encodeOpRequest(opRowNamed('TEE_SHM_REGISTER_FD'), { ctx: pick(ctxs, s.y, 1), flags: 0 })));
        if (res.result >= 0) shms.push(res.result);
        return;
      }
      case 'teeRelease': return void c.handle(r(Op.TEE_SHM_RELEASE, -1, encodeOpRequest(opRowNamed('TEE_SHM_RELEASE'), { shm: pick(shms, s.y, 1) })));
      case 'teeClose': return void c.handle(r(Op.TEE_CLOSE, -1, encodeOpRequest(opRowNamed('TEE_CLOSE'), { ctx: pick(ctxs, s.y, 1) })));
      case 'disconnect': {
        c.close();
        sessions[s.client] = new ClientSession(nextId++, ctx);
        own.length = 0;
        return;
      }
    }
  };
  // every client starts with buffers and devices, so that random steps find something to act on
  const setup: Step[] = [
    { client: 0, a: 'create', x: 0, y: 0, z: 1 }, { client: 0, a: 'attach', x: 0, y: 1, z: 0 }, { client: 0, a: 'attach', x: 0, y: 3, z: 0 },
    { client: 0, a: 'create', x: 0, y: 0, z: 0 }, { client: 0, a: 'mmap', x: 1, y: 2, z: 0 },
    { client: 1, a: 'create', x: 0, y: 0, z: 2 }, { client: 1, a: 'attach', x: 0, y: 4, z: 0 },
    { client: 2, a: 'create', x: 0, y: 0, z: 1 }, { client: 2, a: 'secure', x: 0, y: 0, z: 1 }, { client: 2, a: 'attach', x: 0, y: 0, z: 0 }, { client: 2, a: 'attach', x: 0, y: 2, z: 0 },
  ];
  for (const st of setup) run(st);
  return { ctx, run };
}

test('random pipelines of three clients, recorded by smafd and replayed in process: every outcome matches', () => {
  fc.assert(fc.property(fc.array(step, { minLength: 10, maxLength: 150 }), (steps) => {
    const w = world();
    for (const s of steps) w.run(s);
    const text = traceFileOf(operatorScope(w.ctx));
    const rec = prepareRecording(parseTraceFile(text, 'random.json'));
    assert.equal(rec.records.length, w.ctx.recorder.size);
    const result = replay(rec, { spec: smallCma() });
    assert.deepEqual(result.differences.slice(0, 3), [], `${result.differencesTotal} differences`);
    assert.equal(result.internalErrors, 0);
    // and another policy never breaks the replay itself
    assert.equal(replay(rec, { spec: smallCma(), policy: 'eager' }).internalErrors, 0);
  }), { numRuns: RUNS });
});

test('with tight limits (fds, buffers, bytes, attachments, mappings per client), the refusals replay too', () => {
  const limits = { ...DEFAULT_LIMITS, maxFds: 3, maxClientBuffers: 2, maxClientBytes: 1 << 20, maxAttachmentsPerFd: 2, maxMappingsPerFd: 1, maxClientSecureMaps: 1, maxBuffers: 4 };
  fc.assert(fc.property(fc.array(step, { minLength: 10, maxLength: 80 }), (steps) => {
    const w = world(limits);
    for (const s of steps) w.run(s);
    const result = replay(prepareRecording(parseTraceFile(traceFileOf(operatorScope(w.ctx)), 'limits.json')), { spec: smallCma() });
    assert.deepEqual(result.differences.slice(0, 3), [], `${result.differencesTotal} differences`);
  }), { numRuns: Math.ceil(RUNS / 2) });
});
