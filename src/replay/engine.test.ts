import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlatformSpec, type PlatformSpec } from '../platform/index.ts';
import { parseTraceFile, RECORDED_ARGS, type RecordingHeader } from '../uapi/index.ts';
import { prepareRecording, replay, Replayer, type ReplayOptions } from './engine.ts';
import { REPLAY_OPS } from './ops.ts';

type R = Record<string, unknown>;
const MiB = 1 << 20;
const FRAME = 3_112_960; // 1080p NV12, page-rounded

/** A recording from records written as a program's log would be (JSON Lines). */
function recording(records: R[], header?: Partial<RecordingHeader>) {
  const h = header ? [{ smaf_recording: { version: 1, platform: {}, ops: records.length, complete: true, dropped: 0, limit: 100, ...header } }] : [];
  return prepareRecording(parseTraceFile(`${[...h, ...records].map((r) => JSON.stringify(r)).join('\n')}\n`, 'r.jsonl'));
}

const run = (records: R[], options: Partial<ReplayOptions> = {}, header?: Partial<RecordingHeader>) => replay(recording(records, header), { spec: defaultPlatformSpec(), ...options });

/** The default platform with a smaller CMA pool (same end). */
function cma(bytes: number): PlatformSpec {
  const spec = defaultPlatformSpec();
  return { ...spec, memory: spec.memory.map((m) => (m.name === 'cma' ? { ...m, base: m.base + m.size - bytes, size: bytes } : m)) };
}

const create = (fd: number, length = FRAME, extra: R = {}): R => ({ client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length, flags: 2, name: '' }, result: 0, new_fd: fd, ...extra });
const attach = (fd: number, device: string, id: number, extra: R = {}): R => ({ client: 1, op: 'ATTACH', fd, args: { device }, result: id, ...extra });
const map = (fd: number, att: number, direction: number, extra: R = {}): R => ({ client: 1, op: 'MAP', fd, args: { attachment: att, direction }, result: 1, ...extra });

/** The camera pipeline: the ISP writes a frame, the GPU reads it, the display scans it out (all attached before the first map). */
const camera: R[] = [
  { client: 1, op: 'CONNECT' },
  create(3), attach(3, 'isp', 0), attach(3, 'gpu', 1), attach(3, 'display', 2), map(3, 0, 2), map(3, 1, 0), map(3, 2, 1),
  { client: 1, op: 'CLOSE', fd: 3, result: 0 },
];

test('a recording replays with every outcome matching on its platform; peaks and the largest free range at the peak', () => {
  const r = run(camera);
  assert.deepEqual(r.differences, []);
  assert.equal(r.replayed, camera.length);
  assert.equal(r.firstFailure, null);
  const c = r.regions.find((g) => g.name === 'cma')!;
  assert.deepEqual({ peak: c.peak, largestFree: c.largestFree }, { peak: FRAME, largestFree: 64 * MiB - FRAME });
});

test('on a smaller CMA, the first map fails: the difference names the op, client, buffer, both outcomes and why (every allocator asked)', () => {
  const r = run(camera, { spec: cma(2 * MiB) });
  assert.equal(r.failed, 3, 'the three maps');
  assert.deepEqual({ ...r.firstFailure!, explain: undefined }, { seq: 6, line: 6, op: 'MAP', client: 1, buffer: 1, recorded: 'ok', replayed: 'ENODEV', explain: undefined });
  assert.match(r.firstFailure!.explain!, /^no memory for buffer 1 \(3040 KiB, for isp, gpu, display\): secure-carveout: .*; system: .*display.*; smaf-cma: region cma \(2 MiB\) is smaller than the buffer$/);
  assert.equal(r.regions.find((g) => g.name === 'cma')!.peak, 0);
});

test('eager (ION, dma-heaps): the heap the first device needs, at create; a later device that cannot use it is refused, never migrated', () => {
  const r = run(camera, { policy: 'eager' });
  assert.deepEqual(r.differences.map((d) => [d.seq, d.op, d.replayed]), [[5, 'ATTACH', 'EINVAL'], [8, 'MAP', 'EINVAL']]);
  assert.match(r.firstFailure!.explain!, /Cannot attach device "display" to buffer 1: the backing \(system\) has \d+ physical segments and "display" has no IOMMU.*under the eager policy memory never moves \(it was chosen at create, from system\)/);
  assert.equal(r.regions.find((g) => g.name === 'dram')!.peak, FRAME, 'the system heap, as the ISP (behind an IOMMU) asked');
  // deferred, the same recording: SMAF allocated at the ISP's map, from CMA, and everyone could use it
  assert.equal(run(camera).regions.find((g) => g.name === 'dram')!.peak, 0);
});

test('eager allocates at create (deferred at the first map); a name hint picks the heap', () => {
  const records = [create(3, 8192), create(4, 8192, { args: { length: 8192, flags: 2, name: 'smaf-cma' } }), attach(3, 'gpu', 0), map(3, 0, 0)];
  const held = (policy: 'eager' | 'deferred', n: number) => {
    const p = new Replayer(recording(records), { spec: defaultPlatformSpec(), policy });
    p.runTo(n);
    return p.system.smaf.buffers.map((b) => b.backing?.allocator ?? null);
  };
  assert.deepEqual(held('deferred', 2), [null, null]);
  assert.deepEqual(held('eager', 2), ['system', 'smaf-cma'], 'the gpu (IOMMU) will attach first: the system heap; the hint: CMA');
  assert.deepEqual(held('deferred', 4), ['system', null]);
});

test('eager on a secure pipeline: the protected heap at create, allocated through the first device in its first map\'s direction', () => {
  const secure: R[] = [
    create(3, 65536), { client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: 3, secure: 1 }, result: 0 },
    attach(3, 'crypto', 0), map(3, 0, 2), attach(3, 'display', 1), map(3, 1, 1), attach(3, 'gpu', 2, { result: undefined, errno: 'EPERM' }),
  ];
  assert.deepEqual(run(secure).differences, []);
  const eager = run(secure, { policy: 'eager' });
  assert.deepEqual(eager.differences, [], 'the decrypter may write, not read: a bidirectional map would have been refused');
  assert.equal(eager.regions.find((g) => g.name === 'sdp')!.peak, 65536);
});

test('an operation that failed in the recording and succeeds here is given back at once (the program never had it)', () => {
  const records = [create(3), attach(3, 'display', 0), map(3, 0, 1, { result: undefined, errno: 'ENOMEM', message: 'no memory for buffer 1' }), { client: 1, op: 'DETACH', fd: 3, args: { attachment: 0 }, result: 0 }];
  const p = new Replayer(recording(records), { spec: defaultPlatformSpec() });
  const r = p.run();
  assert.deepEqual(r.differences.map((d) => [d.op, d.recorded, d.replayed]), [['MAP', 'ENOMEM', 'ok']]);
  assert.match(r.differences[0]!.explain!, /^the replay succeeded \(buffer 1 has memory from smaf-cma in cma\); the recording's failure: no memory for buffer 1$/);
  assert.equal(r.failed, 0, 'not a failure: the replay did better');
  assert.equal(r.differencesTotal, 1, 'the DETACH worked: the map was undone');
  const create2 = new Replayer(recording([create(3, 4096, { result: undefined, new_fd: undefined, errno: 'ENOMEM' })]), { spec: defaultPlatformSpec() });
  create2.run();
  assert.equal(create2.system.smaf.bufferCount, 0, 'a CREATE the recording says failed leaves no buffer behind');
});

test('what follows from an earlier failure says so: an fd the replay never got', () => {
  const r = run([create(3, 2048 * MiB), attach(3, 'gpu', 0)]);
  assert.deepEqual(r.differences.map((d) => [d.op, d.replayed]), [['SMAF_IOC_CREATE', 'ENOMEM'], ['ATTACH', 'EBADF']]);
  assert.equal(r.differences[1]!.explain, 'fd 3 is not open in this client (operation #1, which made it in the recording, failed in this replay)');
});

test('smafd\'s limits come with the recording: a refusal by max_client_buffers replays as one', () => {
  const records = [create(3, 4096), create(4, 4096, { result: undefined, new_fd: undefined, errno: 'ENOMEM' })];
  assert.deepEqual(run(records, {}, { limits: { maxClientBuffers: 1 } }).differences, []);
  assert.deepEqual(run(records, { limits: false }, { limits: { maxClientBuffers: 1 } }).differences.map((d) => d.replayed), ['ok'], 'without the limits it would have worked');
  const fds = [create(3, 4096), { client: 1, op: 'DUP', fd: 3, errno: 'EMFILE' }];
  assert.deepEqual(run(fds, {}, { limits: { maxFds: 1 } }).differences, []);
  // smafd checks the attachment limit before it looks the device up
  const atts = [create(3, 4096), attach(3, 'gpu', 0), { client: 1, op: 'ATTACH', fd: 3, args: { device: 'npu' }, errno: 'ENOMEM' }];
  assert.deepEqual(run(atts, {}, { limits: { maxAttachmentsPerFd: 1 } }).differences, []);
});

test('smafd\'s own rules, errno for errno: the fd an op goes to, CPU access of secure buffers, SYNC brackets, devices', () => {
  const r = run([
    create(3, 8192),
    { client: 1, op: 'SMAF_IOC_CREATE', fd: 3, args: { length: 4096, flags: 2, name: '' }, errno: 'ENOTTY' },
    { client: 1, op: 'SMAF_IOC_CREATE', fd: 9, args: { length: 4096, flags: 2, name: '' }, errno: 'EBADF' },
    { client: 1, op: 'IMPORT', fd: 3, errno: 'EINVAL' },
    { client: 1, op: 'MAP', fd: -1, args: { attachment: 0, direction: 0 }, errno: 'EBADF' },
    { client: 1, op: 'ATTACH', fd: 3, args: { device: 'npu' }, errno: 'ENODEV' },
    { client: 1, op: 'DMA_BUF_IOCTL_SYNC', fd: 3, args: { flags: 6 }, result: 0 }, // END without START: 0, as the kernel's
    { client: 1, op: 'DMA_BUF_IOCTL_SYNC', fd: 3, args: { flags: 8 }, errno: 'EINVAL' },
    { client: 1, op: 'DMA_BUF_IOCTL_SYNC', fd: 3, args: { flags: 2 }, result: 0 },
    { client: 1, op: 'DMA_BUF_IOCTL_SYNC', fd: 3, args: { flags: 6 }, result: 0 },
    { client: 1, op: 'MMAP', fd: 3, args: { offset: 4096, length: 8192, prot: 3 }, errno: 'EINVAL' },
    { client: 1, op: 'MMAP', fd: 3, args: { offset: 0, length: 8192, prot: 1 }, result: 0 },
    { client: 1, op: 'WRITE', fd: 3, args: { mapping: 0, offset: 0, length: 16 }, errno: 'EACCES' },
    { client: 1, op: 'READ', fd: 3, args: { mapping: 0, offset: 8000, length: 1000 }, errno: 'EINVAL' },
    { client: 1, op: 'SMAF_IOC_GET_INFO', fd: -1, args: { index: 9 }, errno: 'EINVAL' },
    { client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: 3, secure: 2 }, errno: 'EINVAL' },
    { client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: 3, secure: 1 }, errno: 'EBUSY' },
    create(4, 4096), { client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: 4, secure: 1 }, result: 0 },
    { client: 1, op: 'MMAP', fd: 4, args: { offset: 0, length: 4096, prot: 1 }, errno: 'EPERM' },
    { client: 1, op: 'MAP', fd: 4, args: { attachment: 0, direction: 3 }, errno: 'EINVAL' },
    attach(4, 'vdec', 0), { client: 1, op: 'MAP', fd: 4, args: { attachment: 0, direction: 3 }, errno: 'EINVAL' },
    attach(4, 'gpu', 1, { result: undefined, errno: 'EPERM' }),
    { client: 1, op: 'HELLO', fd: 3, args: { pid: 1, comm: 'x' }, errno: 'EINVAL' },
  ]);
  assert.deepEqual(r.differences, []);
});

test('a client\'s last fd of a buffer ends its CPU access brackets: the memory may move again for another holder', () => {
  // as smafd recorded it: client 1 starts CPU access (memory: system pages), shares the buffer and
  // closes its fd; client 2 attaches the display, which needs contiguous memory: it migrates
  const records = [
    create(3, MiB, { buffer: 1 }), { client: 1, op: 'DMA_BUF_IOCTL_SYNC', fd: 3, args: { flags: 3 }, result: 0 }, { client: 1, op: 'EXPORT', fd: 3, result: 0 },
    { client: 2, op: 'IMPORT', fd: -1, result: 3, buffer: 1 }, { client: 1, op: 'CLOSE', fd: 3, result: 0 }, { client: 2, op: 'ATTACH', fd: 3, args: { device: 'display' }, result: 0 },
  ];
  assert.deepEqual(run(records).differences, []);
  // while client 1 still holds it, its bracket pins the memory
  const held = [...records.slice(0, 4), { client: 2, op: 'ATTACH', fd: 3, args: { device: 'display' }, errno: 'EBUSY' }];
  assert.deepEqual(run(held).differences, []);
});

test('a client may have so many secure buffers mapped at once (the SDP table is shared): ENOSPC past it', () => {
  const secure = (fd: number): R[] => [create(fd, 65536), { client: 1, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd, secure: 1 }, result: 0 }, attach(fd, 'vdec', 0)];
  const records = [...secure(3), map(3, 0, 2), ...secure(4), map(4, 0, 2, { result: undefined, errno: 'ENOSPC' })];
  assert.deepEqual(run(records, {}, { limits: { maxClientSecureMaps: 1 } }).differences, []);
});

test('TEE: a dma-buf registered with the TEE gets its memory then and is held until released; sessions and calls are not replayed, and said so', () => {
  const records: R[] = [
    { client: 1, op: 'TEE_OPEN', fd: -1, result: 1 },
    create(3, 65536), { client: 1, op: 'TEE_SHM_REGISTER_FD', fd: 3, args: { ctx: 1, flags: 0 }, result: 1 },
    { client: 1, op: 'TEE_SHM_REGISTER_FD', fd: 3, args: { ctx: 2, flags: 0 }, errno: 'EBADF' },
    { client: 1, op: 'TEE_SHM_REGISTER_FD', fd: 9, args: { ctx: 1, flags: 0 }, errno: 'EINVAL' },
    { client: 1, op: 'TEE_SHM_ALLOC', fd: -1, args: { ctx: 1, flags: 0, size: 0 }, errno: 'EINVAL' },
    { client: 1, op: 'TEE_INVOKE', fd: -1, args: { ctx: 1, session: 1, func: 0, cancel_id: 0, num_params: 0, length: 0 }, result: 16 },
    { client: 1, op: 'CLOSE', fd: 3, result: 0 },
  ];
  const p = new Replayer(recording(records), { spec: defaultPlatformSpec() });
  const r = p.run();
  assert.deepEqual(r.differences, []);
  assert.deepEqual(r.notReplayed.map((n) => [n.op, n.count]), [['TEE_INVOKE', 1]]);
  assert.match(r.notReplayed[0]!.why, /parameters and the bytes of its memrefs are not recorded/);
  assert.equal(p.system.smaf.bufferCount, 1, 'closed, but the TEE still holds it');
  assert.equal(r.regions.find((g) => g.name === 'dram')!.peak, 65536, 'its memory came at the registration (no device: system pages)');
  const released = new Replayer(recording([...records, { client: 1, op: 'TEE_SHM_RELEASE', fd: -1, args: { shm: 1 }, result: 0 }, { client: 1, op: 'TEE_SHM_RELEASE', fd: -1, args: { shm: 1 }, errno: 'EBADF' }]), { spec: defaultPlatformSpec() });
  assert.deepEqual(released.run().differences, []);
  assert.equal(released.system.smaf.bufferCount, 0, 'released with the shared memory');
});

test('every operation a recording may hold has its row (X_* introspection ops are never recorded)', () => {
  assert.deepEqual(Object.keys(REPLAY_OPS).sort(), [...RECORDED_ARGS.keys()].sort());
});
