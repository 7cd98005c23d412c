import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { Platform } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import type { Allocator, Backing } from './contracts.ts';
import { explain, formatExplanation } from './explain.ts';
import { SMAF_CLOEXEC } from './flags.ts';
import { Smaf } from './smaf.ts';

function system() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  const dev = (n: string) => platform.device(n);
  return { platform, smaf, dev };
}

const errno = (code: ErrnoName, re?: RegExp) => (e: unknown) => isSmafError(e, code) && (!re || re.test((e as Error).message));

/** An allocator that hands out `pieces` separate ranges of the secure carveout (to drive multi-segment grants). */
function scatteredSecure(platform: Platform, pieces: number): Allocator {
  const pool = platform.contiguousPool('sdp');
  return {
    name: 'scattered-secure',
    ranking: 100,
    match: (b) => b.secure,
    allocate: (_b, length) => {
      const per = length / pieces;
      const segments = [];
      for (let i = 0; i < pieces; i++) {
        const phys = pool.allocate(per, 4096, Number.MAX_SAFE_INTEGER)!;
        pool.allocate(4096, 4096, Number.MAX_SAFE_INTEGER); // a gap, so segments never merge
        segments.push({ phys, length: per });
      }
      return { allocator: 'scattered-secure', region: 'sdp', segments };
    },
    free: (b: Backing) => {
      for (const s of b.segments) {
        pool.free(s.phys, s.length);
        pool.free(s.phys + s.length, 4096);
      }
    },
  };
}

describe('create', () => {
  test('rounds up to the page size and allocates nothing', () => {
    const { smaf, platform } = system();
    const b = smaf.create(5000);
    assert.equal(b.length, 8192);
    assert.equal(b.allocated, false);
    assert.equal(platform.bytesInUse, 0);
  });

  test('rejects length 0, bad flags, unknown or overlong names; ENOMEM for lengths no region holds', () => {
    const { smaf } = system();
    assert.throws(() => smaf.create(0), errno('EINVAL', /length 0/));
    assert.throws(() => smaf.create(4096, { flags: 0x4 }), errno('EINVAL', /invalid flags 0x4/));
    assert.throws(() => smaf.create(4096, { name: 'nope' }), errno('EINVAL', /unknown allocator "nope"/));
    assert.throws(() => smaf.create(4096, { name: 'x'.repeat(64) }), errno('EINVAL', /longer than 63/));
    assert.throws(() => smaf.create(2n ** 64n - 1n), errno('ENOMEM'));
    assert.throws(() => smaf.create(65 << 20), errno('ENOMEM', /largest region/));
    assert.equal(smaf.create(4096, { flags: SMAF_CLOEXEC }).flags, SMAF_CLOEXEC);
  });
});

describe('deferred allocation', () => {
  test('match() sees every attached device: IOMMU-only gets pages, a contiguous device gets CMA', () => {
    const { smaf, dev } = system();
    const a = smaf.create(1 << 20);
    const ga = a.attach(dev('gpu'));
    assert.equal(a.allocated, false, 'attach alone allocates nothing');
    a.map(ga);
    assert.equal(a.backing?.allocator, 'system');

    const b = smaf.create(1 << 20);
    const gb = b.attach(dev('gpu'));
    b.attach(dev('disp'));
    b.map(gb);
    assert.equal(b.backing?.allocator, 'smaf-cma');
    assert.equal(b.segments.length, 1);
  });

  test('allocators are asked by ranking, then by name; the name hint asks only one', () => {
    const { platform, smaf, dev } = system();
    const asked: string[] = [];
    const fake = (name: string, ranking: number): Allocator => ({
      name, ranking, match: () => { asked.push(name); return false; }, allocate: () => ({ declined: true, reason: 'x' }), free: () => {},
    });
    smaf.registerAllocator(fake('zeta', 50));
    smaf.registerAllocator(fake('alpha', 50));
    smaf.registerAllocator(fake('top', 99));
    const b = smaf.create(4096);
    b.map(b.attach(dev('gpu')));
    assert.deepEqual(asked.slice(0, 3), ['top', 'alpha', 'zeta']);
    assert.equal(b.backing?.allocator, 'system');
    const hinted = smaf.create(4096, { name: 'smaf-cma' });
    hinted.map(hinted.attach(dev('gpu')));
    assert.equal(hinted.backing?.allocator, 'smaf-cma');
    assert.equal(hinted.decisions[0]!.candidates.length, 1);
    assert.ok(platform.events.list({ kinds: ['allocate'] }).length >= 2);
  });

  test('ENODEV when nothing matches, with every reason; ENOMEM when memory runs out', () => {
    const { smaf, dev } = system();
    const b = smaf.create(9 << 20);
    b.attach(dev('legacy'));
    assert.throws(() => b.map(b.attachments[0]!), errno('ENODEV', /smaf-cma-low-cma: region low-cma \(0x0f800000\) is above what "legacy" can address/));
    for (let i = 0; i < 3; i++) {
      const ok = smaf.create(6 << 20);
      ok.map(ok.attach(dev('disp')));
    }
    const big = smaf.create(6 << 20);
    assert.throws(() => big.map(big.attach(dev('disp'))), errno('ENOMEM', /no free 6 MiB range in cma.*no free 6 MiB range in low-cma/));
    assert.equal(big.allocated, false);
  });

  test('explain tells which allocators were asked and why', () => {
    const { smaf, dev } = system();
    const b = smaf.create(1 << 20);
    b.attach(dev('gpu'));
    b.map(b.attach(dev('dec')));
    const e = explain(b);
    assert.equal(e.allocator, 'smaf-cma');
    const d = e.decisions[0]!;
    assert.equal(d.trigger, 'map by dec');
    assert.deepEqual(d.devices, ['gpu', 'dec']);
    const sys = d.candidates.find((c) => c.allocator === 'system')!;
    assert.equal(sys.verdict, 'no-match');
    assert.match(sys.reason, /dec has no IOMMU/);
    assert.match(formatExplanation(e), /allocated\s+smaf-cma/);
  });
});

describe('late attach', () => {
  test('migrates to memory the new device can use when nothing is mapped, keeping the bytes', () => {
    const { smaf, dev, platform } = system();
    const b = smaf.create(256 * 1024);
    const g = b.attach(dev('gpu'));
    b.map(g);
    const w = b.vmap();
    const data = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 7) & 0xff);
    w.write(0, data);
    b.munmap(w);
    b.unmap(g);
    const oldSegs = b.segments.map((s) => ({ ...s }));
    assert.equal(b.backing?.allocator, 'system');
    b.attach(dev('disp'));
    assert.equal(b.backing?.allocator, 'smaf-cma');
    assert.deepEqual(b.vmap().read(0, data.length), data);
    for (const s of oldSegs) assert.ok(platform.memory.isZero(s.phys, s.length), 'old memory scrubbed');
    assert.equal(platform.events.list({ kinds: ['migrate'] }).length, 1);
    assert.match(b.decisions[1]!.trigger, /attach of disp \(migration/);
  });

  test('is refused with the reason when a mapping pins the memory', () => {
    const { smaf, dev } = system();
    const b = smaf.create(256 * 1024);
    b.map(b.attach(dev('gpu')));
    assert.throws(() => b.attach(dev('disp')), errno('EBUSY', /has 21 physical segments|physical segments and "disp" has no IOMMU.*DMA mapping of "gpu"/));
    assert.equal(b.attachments.length, 1);
    assert.equal(b.backing?.allocator, 'system');
  });

  test('a device that fits the existing memory attaches without moving it', () => {
    const { smaf, dev } = system();
    const b = smaf.create(4096);
    b.map(b.attach(dev('dec')));
    const before = b.segments[0]!.phys;
    b.attach(dev('gpu'));
    assert.equal(b.segments[0]!.phys, before);
  });
});

describe('CPU access', () => {
  test('mmap allocates at first need; reads and writes go through the bus within prot and range', () => {
    const { smaf, platform } = system();
    const b = smaf.create(8192);
    const m = b.mmap(4096, 4096, 3);
    assert.equal(b.backing?.allocator, 'system', 'no device: CPU-only pages');
    m.write(10, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...m.read(9, 5)], [0, 1, 2, 3, 0]);
    assert.throws(() => m.read(4090, 10), errno('EINVAL'));
    const ro = b.mmap(0, 8192, 1);
    assert.throws(() => ro.write(0, new Uint8Array(1)), errno('EACCES'));
    assert.deepEqual([...ro.read(4096 + 10, 3)], [1, 2, 3]);
    assert.throws(() => b.mmap(100, 4096, 1), errno('EINVAL', /page-aligned/));
    assert.throws(() => b.mmap(0, 4096, 4), errno('EINVAL', /prot/));
    assert.ok((platform.bus.stats().cpu?.bytesWritten ?? 0) >= 3);
    const readonly = smaf.create(4096, { flags: 0 });
    assert.throws(() => readonly.mmap(0, 4096, 2), errno('EACCES', /read-only/));
  });

  test('begin/end cpu access pair up', () => {
    const { smaf } = system();
    const b = smaf.create(4096);
    assert.throws(() => b.endCpuAccess('read'), errno('EINVAL'));
    b.beginCpuAccess('read-write');
    assert.equal(b.allocated, true);
    b.endCpuAccess('read-write');
  });
});

describe('secure buffers', () => {
  test('the secure flag needs a module and can only change before memory exists', () => {
    const { smaf, dev } = system();
    const b = smaf.create(4096);
    assert.throws(() => b.setSecure(true), errno('EINVAL', /no secure module/));
    smaf.registerSecureModule(createRecordingSecureModule());
    assert.throws(() => smaf.registerSecureModule(createRecordingSecureModule({}, 'other')), errno('EBUSY', /one at a time/));
    b.map(b.attach(dev('dec')));
    assert.throws(() => b.setSecure(true), errno('EBUSY', /already has memory/));
  });

  test('map grants each segment; a refusal in the middle rolls back the earlier grants in reverse', () => {
    const { smaf, dev, platform } = system();
    const rec = createRecordingSecureModule({ refuseGrantAt: 2 });
    smaf.registerSecureModule(rec);
    smaf.registerAllocator(scatteredSecure(platform, 4));
    const b = smaf.create(4 * 4096);
    b.setSecure(true);
    const att = b.attach(dev('sec-mmu'));
    assert.throws(() => b.map(att), errno('EPERM', /refuses grant #2/));
    const ops = rec.calls.filter((c) => c.op !== 'create').map((c) => `${c.op}:${'addr' in c ? c.addr : ''}`);
    const [s0, s1, s2] = b.segments.map((s) => s.phys);
    assert.deepEqual(ops, [`grant:${s0}`, `grant:${s1}`, `refused:${s2}`, `revoke:${s1}`, `revoke:${s0}`]);
    assert.equal(rec.held.size, 0);
    assert.equal(att.mapped, false);
    assert.equal(platform.iommu(dev('sec-mmu')).mappedCount, 0, 'IOVA unwound too');
    rec.options = {};
    b.map(att);
    assert.equal(rec.held.size, 4);
    b.unmap(att);
    assert.equal(rec.held.size, 0);
  });

  test('release revokes every grant, scrubs, frees and destroys the context', () => {
    const { smaf, dev, platform } = system();
    const rec = createRecordingSecureModule();
    smaf.registerSecureModule(rec);
    const b = smaf.create(64 * 1024);
    b.setSecure(true);
    b.map(b.attach(dev('dec')));
    b.map(b.attach(dev('disp')));
    assert.equal(b.backing?.allocator, 'secure-carveout');
    const seg = b.segments[0]!;
    platform.memory.write(seg.phys, new Uint8Array(64).fill(9));
    assert.equal(rec.held.size, 2);
    b.put();
    assert.equal(rec.held.size, 0);
    assert.equal(rec.liveContexts.size, 0);
    assert.ok(platform.memory.isZero(seg.phys, seg.length));
    assert.equal(platform.pool('sdp').inUse, 0);
    assert.throws(() => b.attach(dev('dec')), errno('EBADF'));
  });

  test('mmap, vmap and begin_cpu_access are all refused, and the module is asked each time', () => {
    const { smaf, dev } = system();
    const rec = createRecordingSecureModule();
    smaf.registerSecureModule(rec);
    const b = smaf.create(4096);
    b.setSecure(true);
    b.map(b.attach(dev('dec')));
    assert.throws(() => b.mmap(0, 4096, 1), errno('EPERM', /Cannot mmap buffer \d+ from the CPU: secure buffers are not CPU-accessible/));
    assert.throws(() => b.vmap(), errno('EPERM'));
    assert.throws(() => b.beginCpuAccess('read'), errno('EPERM'));
    assert.deepEqual(rec.calls.filter((c) => c.op === 'cpu').map((c) => (c as { kind: string }).kind), ['mmap', 'vmap', 'begin_cpu_access']);
    const plain = smaf.create(4096);
    plain.vmap();
    assert.equal(rec.calls.filter((c) => c.op === 'cpu').length, 4, 'non-secure buffers are checked too');
  });

  test('a device that is not secure-capable is refused at attach, with or without memory, and logged as a denial', () => {
    const { smaf, dev, platform } = system();
    smaf.registerSecureModule(createRecordingSecureModule());
    const denials = () => platform.events.list({ kinds: ['denial'] }).map((e) => e.message);
    const b = smaf.create(4096);
    b.setSecure(true);
    b.attach(dev('dec'));
    assert.throws(() => b.attach(dev('gpu')), errno('EPERM', /^Cannot attach device "gpu" to buffer \d+: device "gpu" is not secure-capable and the buffer is secure$/));
    assert.equal(b.attachments.length, 1, 'the refused device is not attached');
    assert.equal(platform.bytesInUse, 0, 'no memory was allocated for the refusal');
    assert.deepEqual(denials(), [`Cannot attach device "gpu" to buffer ${b.id}: device "gpu" is not secure-capable and the buffer is secure`]);
    b.map(b.attachments[0]!);
    assert.throws(() => b.attach(dev('gpu')), errno('EPERM', /not secure-capable/));
    assert.equal(denials().length, 2);
  });

  test('a buffer with a device that is not secure-capable cannot become secure until that device detaches', () => {
    const { smaf, dev, platform } = system();
    smaf.registerSecureModule(createRecordingSecureModule());
    const b = smaf.create(4096);
    b.attach(dev('dec'));
    const gpu = b.attach(dev('gpu'));
    assert.throws(() => b.setSecure(true), errno('EPERM', /^cannot make buffer \d+ secure: device "gpu" is attached and is not secure-capable \(detach it first\)$/));
    assert.equal(b.secure, false);
    assert.equal(platform.events.list({ kinds: ['denial'] }).length, 1);
    b.detach(gpu);
    b.setSecure(true);
    assert.equal(b.secure, true);
  });
});

describe('references and release', () => {
  test('the last reference releases; two buffers never share or leak bytes', () => {
    const { smaf, dev, platform } = system();
    const a = smaf.create(4096);
    a.get();
    const m = a.vmap();
    m.write(0, new Uint8Array(4096).fill(0xee));
    a.put();
    assert.equal(a.released, false);
    const seg = a.segments[0]!;
    a.put();
    assert.equal(a.released, true);
    assert.throws(() => m.read(0, 1), errno('EBADF'));
    const b = smaf.create(4096);
    b.map(b.attach(dev('gpu')));
    assert.deepEqual(b.segments[0], seg, 'the same page comes back (LIFO)...');
    assert.ok(b.vmap().read(0, 4096).every((x) => x === 0), '...zeroed');
    assert.equal(platform.bytesInUse, 4096);
    assert.throws(() => a.put(), errno('EBADF'));
  });

  test('detach refuses while mapped; stats follow every step', () => {
    const { smaf, dev } = system();
    const b = smaf.create(4096);
    const att = b.attach(dev('dec'));
    b.map(att);
    assert.throws(() => b.detach(att), errno('EBUSY', /unmap first/));
    assert.throws(() => b.map(att), errno('EBUSY', /already mapped/));
    b.unmap(att);
    assert.throws(() => b.unmap(att), errno('EINVAL'));
    b.detach(att);
    assert.throws(() => b.map(att), errno('EINVAL', /not attached/));
    const s = smaf.stats();
    assert.equal(s.allocatedBuffers, 1);
    assert.equal(s.allocators.find((a) => a.name === 'smaf-cma')!.bytesInUse, 4096);
    b.put();
    assert.equal(smaf.stats().buffers, 0);
    assert.equal(smaf.stats().allocators.find((a) => a.name === 'smaf-cma')!.bytesInUse, 0);
  });
});
