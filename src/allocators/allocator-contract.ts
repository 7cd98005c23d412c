/**
 * The shared contract every allocator's tests run with their own fixture: zeroed memory,
 * alignment, device masks respected, exhaustion gives ENOMEM and leaves the pool unchanged,
 * release returns every page, stats add up.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { verdictOf, type Smaf, type SmafBuffer } from '../core/index.ts';
import { maskLimit, physLimit, type Device, type Platform } from '../platform/index.ts';

export interface AllocatorFixture {
  /** A SMAF instance where this allocator is the only one able to serve `devices`. */
  readonly smaf: Smaf;
  readonly platform: Platform;
  readonly allocator: string;
  readonly region: string;
  /** Devices this allocator serves, attached together. */
  readonly devices: readonly Device[];
  readonly secure: boolean;
  /** Alignment (bytes) the allocator promises for a buffer of this length. */
  readonly alignment?: (length: number) => number;
}

function newBuffer(f: AllocatorFixture, length: number): SmafBuffer {
  const b = f.smaf.create(length);
  if (f.secure) b.setSecure(true);
  for (const d of f.devices) b.attach(d);
  return b;
}

function allocate(f: AllocatorFixture, length: number): SmafBuffer {
  const b = newBuffer(f, length);
  const att = b.attachments[0];
  assert.ok(att, 'fixture needs at least one device');
  b.map(att);
  b.unmap(att);
  return b;
}

export function allocatorContract(label: string, make: () => AllocatorFixture): void {
  describe(`allocator contract: ${label}`, () => {
    test('memory is allocated at first map, by this allocator, and not before', () => {
      const f = make();
      const b = newBuffer(f, 3 * 4096);
      assert.equal(b.allocated, false);
      b.map(b.attachments[0]!);
      assert.equal(b.backing?.allocator, f.allocator);
      assert.equal(b.backing?.region, f.region);
    });

    test('hands out zeroed memory; bytes never pass from one buffer to the next', () => {
      const f = make();
      const a = allocate(f, 5 * 4096);
      const pattern = new Uint8Array(4096).fill(0xa5);
      for (const s of a.segments) for (let o = 0; o < s.length; o += 4096) f.platform.memory.write(s.phys + o, pattern);
      const other = allocate(f, 5 * 4096);
      for (const s of other.segments) {
        assert.ok(f.platform.memory.isZero(s.phys, s.length), 'a live buffer next to a dirty one starts zeroed');
        for (const t of a.segments) assert.ok(s.phys + s.length <= t.phys || t.phys + t.length <= s.phys, 'two live buffers never share memory');
      }
      const segs = a.segments.map((s) => ({ ...s }));
      a.put();
      for (const s of segs) assert.ok(f.platform.memory.isZero(s.phys, s.length), 'released memory is scrubbed');
      const again = allocate(f, 5 * 4096);
      for (const s of again.segments) assert.ok(f.platform.memory.isZero(s.phys, s.length));
    });

    test('segments are page-aligned, add up to the length, and respect the promised alignment', () => {
      const f = make();
      for (const len of [1, 4096, 4097, 65536 + 4096, 1 << 20]) {
        const b = allocate(f, len);
        const total = b.segments.reduce((n, s) => n + s.length, 0);
        assert.equal(total, Math.ceil(len / 4096) * 4096);
        for (const s of b.segments) {
          assert.equal(s.phys % 4096, 0);
          assert.equal(s.length % 4096, 0);
        }
        if (f.alignment) assert.equal(b.segments[0]!.phys % f.alignment(b.length), 0, `aligned for ${len}`);
        b.put();
      }
    });

    test('every attached device can address what it is given', () => {
      const f = make();
      const b = newBuffer(f, 256 * 1024);
      for (const att of b.attachments) {
        const segs = b.map(att);
        const limit = att.device.iommu ? maskLimit(att.device.dmaMask) : physLimit(att.device);
        for (const s of segs) {
          assert.ok(s.dma + s.length - 1 <= limit, `${att.device.name}: 0x${s.dma.toString(16)} under its mask`);
          assert.ok(s.length <= att.device.maxSegmentSize);
        }
        if (!att.device.iommu) assert.equal(b.segments.length, 1, `${att.device.name} needs contiguous memory`);
      }
    });

    test('exhaustion gives ENOMEM and leaves the pool unchanged; release returns every page', () => {
      const f = make();
      const before = f.platform.regionStats().find((r) => r.name === f.region)!;
      const chunk = Math.max(4096, Math.floor(before.capacity / 6 / 4096) * 4096);
      const held: SmafBuffer[] = [];
      let failure: unknown;
      for (let i = 0; i < 64 && failure === undefined; i++) {
        const b = newBuffer(f, chunk);
        const mid = f.platform.regionStats().find((r) => r.name === f.region)!;
        try {
          b.map(b.attachments[0]!);
          held.push(b);
        } catch (e) {
          failure = e;
          const after = f.platform.regionStats().find((r) => r.name === f.region)!;
          assert.equal(after.inUse, mid.inUse, 'a failed allocation takes nothing');
          assert.equal(b.allocated, false);
          b.put();
        }
      }
      assert.ok(isSmafError(failure, 'ENOMEM'), `expected ENOMEM, got ${String(failure)}`);
      assert.ok(held.length >= 1);
      for (const b of held) b.put();
      const end = f.platform.regionStats().find((r) => r.name === f.region)!;
      assert.equal(end.inUse, before.inUse, 'every page is back');
      assert.equal(end.largestFree, before.largestFree);
    });

    test('serves only its own kind of buffer: a secure allocator no normal buffer, the others no secure one', () => {
      const f = make();
      const a = f.smaf.registry.allocator(f.allocator)!;
      const info = (secure: boolean) => ({ id: 1, length: 4096, secure, nameHint: undefined, devices: f.devices });
      assert.equal(verdictOf(a.match(info(f.secure))).match, true, 'its own kind matches (else this test proves nothing)');
      const other = verdictOf(a.match(info(!f.secure)));
      assert.equal(other.match, false, f.secure ? 'a normal buffer in secure memory' : 'a secure buffer in normal memory');
      assert.match(other.reason, /secure/);
    });

    test('stats add up', () => {
      const f = make();
      const bufs = [allocate(f, 4096), allocate(f, 3 * 4096), allocate(f, 64 * 1024)];
      bufs[1]!.put();
      const s = f.smaf.registry.stats(f.allocator);
      assert.equal(s.allocations - s.frees, s.buffersInUse);
      assert.equal(s.buffersInUse, 2);
      assert.equal(s.bytesInUse, 4096 + 64 * 1024);
      assert.ok(s.peak >= 4096 * 4 + 64 * 1024);
      const region = f.platform.regionStats().find((r) => r.name === f.region)!;
      assert.equal(region.inUse, s.bytesInUse);
      assert.equal(region.free, region.capacity - region.inUse);
    });
  });
}
