/**
 * The buffer's rules one by one, with the errno and message a client sees and the events the
 * dashboard shows: CPU mappings and their checks, access brackets, attach/detach/map/unmap,
 * migration, references and release.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { Platform } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { Smaf } from './smaf.ts';

const fails = (code: ErrnoName, message: string) => (e: unknown) => isSmafError(e, code) && (e as Error).message === message;

function system(maxRefs?: number) {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform, maxRefs === undefined ? {} : { maxRefs });
  registerPlatformAllocators(smaf);
  const module = createRecordingSecureModule();
  smaf.registerSecureModule(module);
  return { platform, smaf, module, dev: (n: string) => platform.device(n) };
}

test('mmap checks prot, the range and the buffer\'s write permission, and tells the module the mode', () => {
  const { smaf, module } = system();
  const b = smaf.create(3 * 4096);
  for (const prot of [0, 4, 7, -1, 1.5]) {
    assert.throws(() => b.mmap(0, 4096, prot), fails('EINVAL', `invalid prot ${prot} (1 read, 2 write, 3 both)`), `prot ${prot}`);
  }
  for (const [off, len] of [[1, 4096], [-4096, 4096], [0, 0], [0, -1], [4096, 8193], [0.5, 1], [0, 2 ** 53]]) {
    assert.throws(() => b.mmap(off!, len!, 1), fails('EINVAL', `cannot map ${off}+${len} of buffer ${b.id} (12288 bytes): the offset must be page-aligned and the range inside the buffer`), `${off}+${len}`);
  }
  const ro = smaf.create(4096, { flags: 0 });
  assert.throws(() => ro.mmap(0, 4096, 2), fails('EACCES', `buffer ${ro.id} was created read-only (no SMAF_RDWR): it cannot be mapped for writing`));
  assert.throws(() => ro.mmap(0, 4096, 3), (e) => isSmafError(e, 'EACCES'));
  ro.mmap(0, 4096, 1);
  assert.equal(b.allocated, false, 'a refused mmap allocates nothing');
  b.mmap(4096, 8192, 1);
  b.mmap(0, 4096, 2);
  b.mmap(0, 12288, 3);
  b.vmap();
  b.beginCpuAccess('write');
  const cpu = module.calls.filter((c) => c.op === 'cpu' && c.buffer === b.id).map((c) => (c.op === 'cpu' ? `${c.kind}:${c.mode}:${c.ctx}` : ''));
  assert.deepEqual(cpu, ['mmap:read:null', 'mmap:write:null', 'mmap:read-write:null', 'vmap:read-write:null', 'begin_cpu_access:write:null']);
  assert.deepEqual(b.decisions.map((d) => d.trigger), ['mmap by cpu']);
});

test('a CPU mapping reads and writes only inside itself, as its prot allows', () => {
  const { smaf } = system();
  const b = smaf.create(3 * 4096);
  const rw = b.mmap(4096, 8192, 3);
  const ro = b.mmap(0, 12288, 1);
  const wo = b.mmap(8192, 4096, 2);
  assert.deepEqual([rw.id, ro.id, wo.id], [0, 1, 2]);
  assert.deepEqual([rw.kind, rw.offset, rw.length, rw.prot], ['mmap', 4096, 8192, 3]);
  assert.equal(rw.write(10, Uint8Array.of(1, 2, 3)), 3);
  assert.deepEqual(ro.read(4096 + 9, 5), Uint8Array.of(0, 1, 2, 3, 0), 'offsets are relative to the mapping');
  assert.throws(() => ro.write(0, Uint8Array.of(1)), fails('EACCES', `mapping 1 of buffer ${b.id} does not allow writing`));
  assert.throws(() => wo.read(0, 1), fails('EACCES', `mapping 2 of buffer ${b.id} does not allow reading`));
  for (const [off, len] of [[-1, 1], [0, -1], [8192, 1], [8191, 2], [0.5, 1], [0, 1.5]]) {
    assert.throws(() => rw.read(off!, len!), fails('EINVAL', `range ${off}+${len} leaves mapping 0 (8192 bytes)`), `${off}+${len}`);
  }
  assert.equal(rw.read(8192, 0).length, 0);
  assert.equal(rw.read(8191, 1).length, 1);
  assert.throws(() => rw.write(8190, Uint8Array.of(1, 2, 3)), fails('EINVAL', 'range 8190+3 leaves mapping 0 (8192 bytes)'));
  assert.equal(b.cpuMappings.length, 3);
  b.munmap(rw);
  assert.deepEqual(b.cpuMappings.map((m) => m.id), [1, 2]);
  assert.throws(() => rw.read(0, 1), fails('EBADF', `mapping 0 of buffer ${b.id} is unmapped`));
  assert.throws(() => b.munmap(rw), fails('EINVAL', `mapping 0 is not a live mapping of buffer ${b.id}`));
  const other = smaf.create(4096);
  const om = other.mmap(0, 4096, 1);
  assert.throws(() => b.munmap(om), fails('EINVAL', `mapping 0 is not a live mapping of buffer ${b.id}`));
  assert.equal(om.closed, false, 'a refused munmap leaves the mapping alone');
  assert.equal(b.mmap(0, 4096, 1).id, 3, 'mapping ids are never reused');
});

test('CPU access brackets nest and must balance', () => {
  const { smaf } = system();
  const b = smaf.create(4096);
  b.beginCpuAccess('read');
  b.beginCpuAccess('read-write');
  b.endCpuAccess('read');
  b.endCpuAccess('read');
  assert.throws(() => b.endCpuAccess('read'), fails('EINVAL', `end_cpu_access on buffer ${b.id} without begin_cpu_access`));
  assert.deepEqual(b.decisions.map((d) => d.trigger), ['begin_cpu_access by cpu']);
});

test('attach, map, unmap and detach: their checks and their events', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(8192);
  const a = b.attach(dev('dec'));
  const g = b.attach(dev('gpu'));
  assert.deepEqual([a.id, g.id], [0, 1]);
  assert.throws(() => b.map(a, 3 as DmaDirection), fails('EINVAL', 'invalid DMA direction 3 (0 bidirectional, 1 to device, 2 from device)'));
  assert.throws(() => b.map(a, -1 as DmaDirection), (e) => isSmafError(e, 'EINVAL'));
  assert.equal(b.allocated, false);
  const segs = b.map(a, DmaDirection.TO_DEVICE);
  assert.deepEqual(segs, b.segments.map((s) => ({ dma: s.phys, length: s.length })), 'a device without IOMMU sees physical addresses');
  assert.throws(() => b.map(a), fails('EBUSY', `buffer ${b.id} is already mapped for "dec" (unmap first)`));
  assert.throws(() => b.detach(a), fails('EBUSY', `cannot detach "dec" from buffer ${b.id}: it is still mapped (unmap first)`));
  assert.throws(() => b.unmap(g), fails('EINVAL', `buffer ${b.id} is not mapped for "gpu"`));
  b.map(g, DmaDirection.FROM_DEVICE);
  b.unmap(a);
  b.detach(a);
  assert.equal(a.detached, true);
  assert.throws(() => b.detach(a), fails('EINVAL', `attachment 0 is not attached to buffer ${b.id}`));
  assert.throws(() => b.map(a), fails('EINVAL', `attachment 0 is not attached to buffer ${b.id}`));
  const other = smaf.create(4096);
  const oa = other.attach(dev('dec'));
  assert.throws(() => b.map(oa), fails('EINVAL', `attachment 0 is not attached to buffer ${b.id}`));
  assert.deepEqual(b.attachments.map((x) => x.id), [1]);
  assert.deepEqual(b.devices.map((d) => d.name), ['gpu']);
  const events = platform.events.list({ kinds: ['attach', 'map', 'unmap', 'detach'] }).filter((e) => e.buffer === b.id).map((e) => [e.kind, e.actor, e.message]);
  assert.deepEqual(events, [
    ['attach', 'dec', `dec attached to buffer ${b.id}`],
    ['attach', 'gpu', `gpu attached to buffer ${b.id}`],
    ['map', 'dec', `buffer ${b.id} mapped for dec (to-device, 1 DMA segment)`],
    ['map', 'gpu', `buffer ${b.id} mapped for gpu (from-device, 1 DMA segment)`],
    ['unmap', 'dec', `buffer ${b.id} unmapped for dec`],
    ['detach', 'dec', `dec detached from buffer ${b.id}`],
  ]);
  const mapEvent = platform.events.list({ kinds: ['map'] }).find((e) => e.actor === 'dec')!;
  assert.deepEqual([mapEvent.addr, mapEvent.length], [b.segments[0]!.phys, 8192]);
});

test('a device with an IOMMU gets IOVAs split by its segment size; unmap gives the IOVA back', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(256 * 1024);
  const g = b.attach(dev('gpu'));
  const segs = b.map(g);
  assert.equal(segs.length, 4, 'gpu has 64 KiB segments');
  assert.ok(segs.every((s) => s.length === 65536));
  assert.match(platform.events.list({ kinds: ['map'] }).at(-1)!.message, /\(bidirectional, 4 DMA segments\)$/);
  const iova = g.mapping!.iova!;
  b.unmap(g);
  assert.equal(b.map(g)[0]!.dma, iova, 'the IOVA range was freed and is handed out again');
});

test('attaching a device the memory does not suit migrates it when nothing pins it, or says what pins it', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(8192);
  const m = b.mmap(0, 8192, 3);
  m.write(100, Uint8Array.of(42));
  assert.equal(b.backing?.allocator, 'system', 'CPU-only memory: pages of dram, above what legacy reaches');
  const end = b.segments.length === 1 ? `0x${(b.segments[0]!.phys + 8191).toString(16)}` : '';
  const why = b.segments.length === 1
    ? `the backing ends at ${end}, above the 28-bit DMA mask of "legacy"`
    : `the backing (system) has ${b.segments.length} physical segments and "legacy" has no IOMMU, so it needs contiguous memory`;
  const pinned = `Cannot attach device "legacy" to buffer ${b.id}: ${why}; the memory cannot move while the buffer has `;
  assert.throws(() => b.attach(dev('legacy')), fails('EBUSY', `${pinned}1 CPU mapping(s)`));
  b.beginCpuAccess('read');
  const g = b.attach(dev('gpu'));
  b.map(g);
  assert.throws(() => b.attach(dev('legacy')), fails('EBUSY', `${pinned}a DMA mapping of "gpu" and 1 CPU mapping(s) and a CPU access in progress`));
  b.munmap(m);
  b.endCpuAccess('read');
  assert.throws(() => b.attach(dev('legacy')), fails('EBUSY', `${pinned}a DMA mapping of "gpu"`));
  b.unmap(g);
  const old = b.segments.map((s) => ({ ...s }));
  b.attach(dev('legacy'));
  assert.equal(b.backing?.allocator, 'smaf-cma-low-cma');
  assert.equal(b.segments.length, 1);
  assert.deepEqual(b.vmap().read(99, 3), Uint8Array.of(0, 42, 0), 'the content moved with it');
  for (const s of old) assert.ok(platform.memory.isZero(s.phys, s.length), 'the old memory is scrubbed');
  const moved = platform.events.list({ kinds: ['migrate'] });
  assert.equal(moved.length, 1);
  assert.deepEqual([moved[0]!.actor, moved[0]!.buffer, moved[0]!.addr, moved[0]!.length], ['core', b.id, b.segments[0]!.phys, 8192]);
  assert.equal(moved[0]!.message, `buffer ${b.id} moved from system to smaf-cma-low-cma so that legacy can use it (${why})`);
  assert.equal(b.decisions.at(-1)!.trigger, `attach of legacy (migration: ${why})`);
});

test('a migration of memory allocated with no device considers the new device', () => {
  const { smaf, dev } = system();
  const b = smaf.create(4096 * 4);
  b.munmap(b.mmap(0, 4096, 1));
  b.attach(dev('legacy'));
  assert.equal(b.backing?.allocator, 'smaf-cma-low-cma', 'memory a 28-bit device can reach');
});

test('a secure device cannot be given to a non-secure-capable one after allocation (EPERM, logged)', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(4096);
  b.setSecure(true);
  b.map(b.attach(dev('dec')));
  assert.throws(() => b.attach(dev('gpu')), fails('EPERM', `Cannot attach device "gpu" to buffer ${b.id}: device "gpu" is not secure-capable and the buffer is secure`));
  const denial = platform.events.list({ kinds: ['denial'] }).at(-1)!;
  assert.deepEqual([denial.actor, denial.buffer, denial.message], ['gpu', b.id, `Cannot attach device "gpu" to buffer ${b.id}: device "gpu" is not secure-capable and the buffer is secure`]);
});

test('grants and revokes are logged with the device, the direction and the range', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(8192);
  b.setSecure(true);
  const a = b.attach(dev('dec'));
  b.map(a, DmaDirection.FROM_DEVICE);
  b.unmap(a);
  const s = b.segments[0]!;
  const addr = `0x${s.phys.toString(16).padStart(8, '0')}`;
  assert.deepEqual(platform.events.list({ kinds: ['grant', 'revoke'] }).map((e) => [e.kind, e.actor, e.buffer, e.addr, e.length, e.message]), [
    ['grant', 'dec', b.id, s.phys, 8192, `recording granted dec from-device access to ${addr}+8 KiB`],
    ['revoke', 'dec', b.id, s.phys, 8192, `revoked dec access to ${addr}+8 KiB`],
  ]);
});

test('a refused grant is rolled back, logged, and its cause kept', () => {
  const { smaf, platform, module, dev } = system();
  module.options = { refuseDevices: ['disp'] };
  const b = smaf.create(4096);
  b.setSecure(true);
  const a = b.attach(dev('disp'));
  assert.throws(() => b.map(a), (e) => isSmafError(e, 'EPERM') && (e as Error).message === `Cannot map buffer ${b.id} for device "disp": recording module refuses grant #0 to disp` && (e as Error).cause instanceof Error);
  const denial = platform.events.list({ kinds: ['denial'] }).at(-1)!;
  assert.deepEqual([denial.actor, denial.buffer], ['disp', b.id]);
  assert.equal(a.mapped, false);
});

test('a CPU access refused by the module is logged as the CPU\'s denial', () => {
  const { smaf, platform, module } = system();
  module.options = { refuseCpu: true };
  const b = smaf.create(4096);
  assert.throws(() => b.vmap(), fails('EPERM', `Cannot vmap buffer ${b.id} from the CPU: CPU access refused by the recording module`));
  const denial = platform.events.list({ kinds: ['denial'] }).at(-1)!;
  assert.deepEqual([denial.actor, denial.buffer, denial.message], ['cpu', b.id, `Cannot vmap buffer ${b.id} from the CPU: CPU access refused by the recording module`]);
  assert.equal(b.allocated, false);
});

test('the secure flag: set once, cleared before memory, never changed after', () => {
  const { smaf, module, dev } = system();
  const b = smaf.create(4096);
  b.setSecure(false);
  assert.equal(module.calls.length, 0, 'clearing a clear flag does nothing');
  b.setSecure(true);
  b.setSecure(true);
  assert.deepEqual(module.calls.map((c) => c.op), ['create'], 'setting it twice makes one context');
  b.setSecure(false);
  assert.deepEqual(module.calls.map((c) => c.op), ['create', 'destroy']);
  assert.equal(module.liveContexts.size, 0);
  b.setSecure(true);
  b.map(b.attach(dev('dec')));
  assert.throws(() => b.setSecure(false), fails('EBUSY', `cannot change the secure flag of buffer ${b.id}: it already has memory (secure-carveout)`));
  b.put();
  assert.equal(module.liveContexts.size, 0);
});

test('references: get up to the limit, put to release; a released buffer refuses everything', () => {
  const { smaf, platform } = system(3);
  const b = smaf.create(4096);
  b.get().get();
  assert.equal(b.refCount, 3);
  assert.throws(() => b.get(), fails('EOVERFLOW', `buffer ${b.id} has too many references (3)`));
  b.put();
  b.put();
  assert.equal(b.released, false);
  b.put();
  assert.equal(b.released, true);
  for (const op of [() => b.get(), () => b.put(), () => b.vmap(), () => b.mmap(0, 4096, 1), () => b.beginCpuAccess('read'), () => b.endCpuAccess('read'), () => b.setSecure(true)]) {
    assert.throws(op, fails('EBADF', `buffer ${b.id} has been released`));
  }
  const used = smaf.create(8192);
  used.vmap();
  used.put();
  assert.deepEqual(platform.events.list({ kinds: ['release'] }).map((e) => [e.actor, e.buffer, e.length, e.message]), [
    ['core', b.id, 4096, `buffer ${b.id} released (never allocated)`],
    ['core', used.id, 8192, `buffer ${used.id} released: 8 KiB scrubbed and returned to system`],
  ]);
  assert.deepEqual(used.segments, []);
  assert.throws(() => used.requireBacking(), fails('EIO', `buffer ${used.id} has no memory`));
});

test('CPU access is logged with its kind and size', () => {
  const { smaf, platform } = system();
  const b = smaf.create(8192);
  b.mmap(4096, 4096, 1);
  b.vmap();
  assert.deepEqual(platform.events.list({ kinds: ['cpu-access'] }).map((e) => [e.actor, e.buffer, e.message]), [
    ['cpu', b.id, `cpu mmap of buffer ${b.id} (4 KiB)`],
    ['cpu', b.id, `cpu vmap of buffer ${b.id} (8 KiB)`],
  ]);
  assert.deepEqual(b.cpuMappings.map((m) => m.kind), ['mmap', 'vmap']);
  const v = smaf.create(4096);
  const vm = v.vmap();
  assert.deepEqual(v.decisions.map((d) => d.trigger), ['vmap by cpu']);
  v.put();
  assert.equal(vm.closed, true, 'release closes every CPU mapping');
  assert.throws(() => vm.read(0, 1), fails('EBADF', `mapping 0 of buffer ${v.id} is unmapped`));
});
