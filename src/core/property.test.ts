/**
 * Property tests: random sequences of create / attach / detach / map / unmap / mmap / secure /
 * dup / release over every device of the test platform, with the real optee-sdp module and SDP
 * firewall. After every step the invariants hold (self-check); every fresh allocation is zero; at
 * the end every region is exactly as free as at the start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSmafError } from '../common/errors.ts';
import { testPlatformSpec, createSmafSystem } from '../testing/index.ts';
import type { Attachment } from './attachment.ts';
import type { SmafBuffer } from './buffer.ts';
import type { CpuMapping } from './cpu-mapping.ts';
import { DmaDirection } from './contracts.ts';
import { dmaWrite } from './dma.ts';
import { selfCheck } from './self-check.ts';

const DEVICES = ['dec', 'disp', 'gpu', 'cam', 'legacy', 'sec-mmu', 'crypto'];
const LONG = process.env.SMAF_TEST_LONG === '1';

const opArb = fc.oneof(
  fc.record({ op: fc.constant('create' as const), pages: fc.integer({ min: 1, max: 64 }), secure: fc.boolean() }),
  fc.record({ op: fc.constant('attach' as const), buf: fc.nat(), dev: fc.constantFrom(...DEVICES) }),
  fc.record({ op: fc.constant('detach' as const), buf: fc.nat(), att: fc.nat() }),
  fc.record({ op: fc.constant('map' as const), buf: fc.nat(), att: fc.nat(), dir: fc.constantFrom(0, 1, 2) }),
  fc.record({ op: fc.constant('unmap' as const), buf: fc.nat(), att: fc.nat() }),
  fc.record({ op: fc.constant('write' as const), buf: fc.nat(), att: fc.nat() }),
  fc.record({ op: fc.constant('mmap' as const), buf: fc.nat() }),
  fc.record({ op: fc.constant('munmap' as const), buf: fc.nat() }),
  fc.record({ op: fc.constant('dup' as const), buf: fc.nat() }),
  fc.record({ op: fc.constant('put' as const), buf: fc.nat() }),
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function run(ops: Op[]): void {
  const { smaf, platform } = createSmafSystem(testPlatformSpec());
  const start = platform.regionStats().map((r) => [r.name, r.inUse, r.largestFree]);
  const live: SmafBuffer[] = [];
  const maps = new Map<SmafBuffer, CpuMapping[]>();
  const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
  const seenAllocated = new Set<number>();
  for (const o of ops) {
    try {
      const b = o.op === 'create' ? undefined : pick(live, o.buf);
      switch (o.op) {
        case 'create': {
          const nb = smaf.create(o.pages * 4096);
          if (o.secure) nb.setSecure(true);
          live.push(nb);
          break;
        }
        case 'attach': if (b) b.attach(platform.device(o.dev)); break;
        case 'detach': { const a = b && pick(b.attachments, o.att); if (b && a) b.detach(a); break; }
        case 'map': { const a = b && pick(b.attachments, o.att); if (b && a) b.map(a, o.dir as DmaDirection); break; }
        case 'unmap': { const a = b && pick(b.attachments, o.att); if (b && a) b.unmap(a); break; }
        case 'write': {
          const a: Attachment | undefined = b && pick(b.attachments.filter((x) => x.mapping && x.mapping.direction !== DmaDirection.TO_DEVICE), o.att);
          if (b && a) dmaWrite(a, 0, new Uint8Array(64).fill(b.id & 0xff || 1));
          break;
        }
        case 'mmap': if (b) { const m = b.mmap(0, 4096, 3); m.write(0, new Uint8Array(8).fill(0xee)); maps.set(b, [...(maps.get(b) ?? []), m]); } break;
        case 'munmap': { const m = b && maps.get(b)?.pop(); if (b && m) b.munmap(m); break; }
        case 'dup': if (b) { b.get(); live.push(b); } break;
        case 'put': if (b) { live.splice(live.indexOf(b), 1); b.put(); if (b.released) maps.delete(b); } break;
      }
    } catch (e) {
      if (!isSmafError(e)) throw e; // refusals are fine; anything else is a bug
      if (e.code === 'EIO') throw e;
    }
    // a buffer that just got memory must start zeroed (it never sees another buffer's bytes)
    for (const buf of new Set(live)) {
      if (buf.backing && !seenAllocated.has(buf.id)) {
        seenAllocated.add(buf.id);
        const writes = maps.get(buf)?.length ?? 0;
        const anyDma = buf.attachments.some((a) => a.mapped);
        if (writes === 0 && !anyDma) for (const s of buf.segments) assert.ok(platform.memory.isZero(s.phys, s.length), `buffer ${buf.id} got dirty memory`);
      }
    }
    const report = selfCheck(smaf);
    assert.ok(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
  }
  for (const b of [...live]) b.put();
  assert.equal(smaf.buffers.length, 0);
  assert.deepEqual(platform.regionStats().map((r) => [r.name, r.inUse, r.largestFree]), start, 'every region is exactly as free as at the start');
  assert.equal(platform.sdp!.status().regions.length, 0, 'no SDP region outlives its buffer');
  assert.ok(selfCheck(smaf).ok);
}

test('random sequences keep every invariant and leave no page behind', () => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: LONG ? 120 : 50 }), run), { numRuns: LONG ? 2000 : 150 });
});
