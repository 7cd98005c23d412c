/** Device DMA on normal buffers: what a mapping allows, ranges, copies in chunks, transforms, CRCs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import crc32 from 'crc-32';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { ContentKey, Platform, SECURE_WORLD } from '../platform/index.ts';
import { createRecordingSecureModule, registerPlatformAllocators, testPlatformSpec } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { DMA_SLICE, dmaCopy, dmaCopySteps, dmaCrc, dmaRead, dmaScanoutSteps, dmaWrite, DmaTransform } from './dma.ts';

const dmaScanout = (att: Parameters<typeof dmaScanoutSteps>[0], offset: number, length: number): number => {
  const steps = dmaScanoutSteps(att, offset, length);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
};
import { Smaf } from './smaf.ts';

const fails = (code: ErrnoName, message: string) => (e: unknown) => isSmafError(e, code) && (e as Error).message === message;

function system() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  return { platform, smaf, dev: (n: string) => platform.device(n) };
}

function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return out;
}

test('a device reads and writes exactly the range it asks for', () => {
  const { smaf, dev } = system();
  const b = smaf.create(3 * 4096);
  const att = b.attach(dev('dec'));
  b.map(att, DmaDirection.BIDIRECTIONAL);
  const data = pattern(5000);
  assert.equal(dmaWrite(att, 4000, data), 5000);
  assert.deepEqual(dmaRead(att, 4000, 5000), data);
  assert.deepEqual(dmaRead(att, 3999, 1), Uint8Array.of(0), 'the byte before is untouched');
  assert.deepEqual(dmaRead(att, 9000, 1), Uint8Array.of(0), 'the byte after is untouched');
  assert.deepEqual(dmaRead(att, 12287, 1), Uint8Array.of(0), 'the last byte can be read');
  assert.equal(dmaRead(att, 12288, 0).length, 0, 'an empty range at the end is fine');
});

test('the direction of a mapping limits the device: to-device reads only, from-device writes only', () => {
  const { smaf, dev } = system();
  const b = smaf.create(4096);
  const r = b.attach(dev('dec'));
  const w = b.attach(dev('disp'));
  b.map(r, DmaDirection.TO_DEVICE);
  b.map(w, DmaDirection.FROM_DEVICE);
  assert.throws(() => dmaWrite(r, 0, Uint8Array.of(1)), fails('EACCES', `"dec" mapped buffer ${b.id} to-device: it may read, not write`));
  assert.throws(() => dmaRead(w, 0, 1), fails('EACCES', `"disp" mapped buffer ${b.id} from-device: it may write, not read`));
  dmaWrite(w, 0, Uint8Array.of(9));
  assert.deepEqual(dmaRead(r, 0, 1), Uint8Array.of(9));
});

test('DMA needs a live, mapped attachment and a range inside the buffer', () => {
  const { smaf, dev } = system();
  const b = smaf.create(8192);
  const att = b.attach(dev('dec'));
  assert.throws(() => dmaRead(att, 0, 1), fails('EINVAL', `buffer ${b.id} is not mapped for "dec"`));
  b.map(att);
  for (const [off, len] of [[-1, 1], [0, -1], [8192, 1], [8000, 193], [0.5, 1], [0, 1.5], [2 ** 53, 1], [1, 2 ** 53]]) {
    assert.throws(() => dmaRead(att, off!, len!), fails('EINVAL', `range ${off}+${len} leaves buffer ${b.id} (8192 bytes)`), `${off}+${len}`);
  }
  assert.throws(() => dmaWrite(att, 8191, Uint8Array.of(1, 2)), fails('EINVAL', `range 8191+2 leaves buffer ${b.id} (8192 bytes)`));
  b.unmap(att);
  b.detach(att);
  assert.throws(() => dmaRead(att, 0, 1), fails('EINVAL', `attachment ${att.id} of "dec" is gone`));
  const c = smaf.create(4096);
  const ca = c.attach(dev('dec'));
  c.map(ca);
  c.put();
  assert.throws(() => dmaWrite(ca, 0, Uint8Array.of(1)), fails('EINVAL', `attachment ${ca.id} of "dec" is gone`));
});

test('a copy moves every byte of a multi-MiB range, at any offsets, in chunks', () => {
  const { smaf, dev } = system();
  const size = 3 * 1024 * 1024;
  const src = smaf.create(size);
  const dst = smaf.create(size);
  const s = src.attach(dev('dec'));
  const d = dst.attach(dev('dec'));
  src.map(s, DmaDirection.BIDIRECTIONAL);
  dst.map(d, DmaDirection.FROM_DEVICE);
  const data = pattern(size - 8192, 3);
  dmaWrite(s, 4096, data);
  const len = 2.5 * 1024 * 1024 + 17;
  assert.equal(dmaCopy(d, 100, s, 4096 + 3, len), len);
  const check = dst.vmap().read(0, size);
  assert.deepEqual(check.subarray(100, 100 + len), data.subarray(3, 3 + len));
  assert.ok(check.subarray(0, 100).every((x) => x === 0) && check.subarray(100 + len).every((x) => x === 0), 'nothing outside the range is written');
});

test('copy transforms: 0 copies, others are refused; both ends are one device, in range', () => {
  const { smaf, dev } = system();
  const src = smaf.create(8192);
  const dst = smaf.create(8192);
  const s = src.attach(dev('crypto'));
  const d = dst.attach(dev('crypto'));
  dst.map(d);
  const data = pattern(6000);
  src.vmap().write(0, data);
  src.map(s, DmaDirection.TO_DEVICE); // the source is only read
  assert.equal(dmaCopy(d, 0, s, 0, 6000, DmaTransform.COPY), 6000);
  assert.deepEqual(dmaRead(d, 0, 6000), data);
  assert.throws(() => dmaCopy(d, 0, s, 0, 1, 2), fails('EINVAL', 'unknown transform 2 (0 copy, 1 decrypt)'));
  const other = dst.attach(dev('dec'));
  dst.map(other);
  assert.throws(() => dmaCopy(other, 0, s, 0, 1), fails('EINVAL', 'both attachments must belong to the same device ("dec" vs "crypto")'));
  assert.throws(() => dmaCopy(d, 8000, s, 0, 193), fails('EINVAL', `range 8000+193 leaves buffer ${dst.id} (8192 bytes)`));
  assert.throws(() => dmaCopy(d, 0, s, 8000, 193), fails('EINVAL', `range 8000+193 leaves buffer ${src.id} (8192 bytes)`));
});

/** A platform whose content key the test knows, with an open bus (to read the clear text back) and a secure module. */
function keyed(key: Uint8Array) {
  const platform = new Platform(testPlatformSpec(), { firewall: 'permissive', contentKey: key });
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  smaf.registerSecureModule(createRecordingSecureModule());
  return { platform, smaf, dev: (n: string) => platform.device(n) };
}

test('decryption uses the secure world\'s content key, at the bytes\' position in the source; its output is the secure world\'s', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const { platform, smaf, dev } = keyed(key);
  const src = smaf.create(8192);
  const data = pattern(6000);
  src.vmap().write(0, data);
  const s = src.attach(dev('crypto'));
  src.map(s, DmaDirection.TO_DEVICE);
  const dst = smaf.create(8192);
  dst.setSecure(true);
  const d = dst.attach(dev('crypto'));
  dst.map(d, DmaDirection.FROM_DEVICE);
  assert.equal(dmaCopy(d, 100, s, 50, 5000, DmaTransform.DECRYPT, 'client 1'), 5000);
  const clear = data.slice(50, 5050);
  new ContentKey(key).apply(clear, 50);
  const base = dst.segments[0]!.phys;
  const got = new Uint8Array(5000);
  platform.memory.read(base + 100, got);
  assert.deepEqual(got, clear, 'the key\'s keystream at source offset 50');
  assert.notDeepEqual(got, data.slice(50, 5050).map((x) => x ^ 0x5a), 'no longer the public XOR 0x5A');
  assert.deepEqual([...platform.provenance.labelOf(base, 8192)].sort(), ['client 1', SECURE_WORLD], 'decrypted pages hold the secure world\'s data');
  const other = keyed(Uint8Array.from({ length: 32 }, (_, i) => i));
  const again = data.slice(50, 5050);
  other.platform.contentKey.apply(again, 50);
  assert.notDeepEqual(again, clear, 'another key, other clear bytes');
});

test('decryption is the decrypter\'s, into secure memory only (EACCES and a denial otherwise)', () => {
  const { platform, smaf, dev } = keyed(new Uint8Array(32).fill(3));
  const src = smaf.create(8192);
  const s = src.attach(dev('crypto'));
  src.map(s, DmaDirection.TO_DEVICE);
  const normal = smaf.create(8192);
  const n = normal.attach(dev('crypto'));
  normal.map(n, DmaDirection.FROM_DEVICE);
  assert.throws(() => dmaCopy(n, 0, s, 0, 16, DmaTransform.DECRYPT), fails('EACCES', `"crypto" may not decrypt into buffer ${normal.id}: decrypted content goes to secure memory only (buffer ${src.id} -> a secure buffer)`));
  assert.equal(platform.events.list({ kinds: ['denial'] }).at(-1)!.buffer, normal.id);
  assert.ok(platform.memory.isZero(normal.segments[0]!.phys, 8192), 'nothing was written');
  const gsrc = smaf.create(8192);
  const g = gsrc.attach(dev('dec'));
  gsrc.map(g, DmaDirection.TO_DEVICE);
  const sec = smaf.create(8192);
  sec.setSecure(true);
  const gd = sec.attach(dev('dec'));
  sec.map(gd, DmaDirection.FROM_DEVICE);
  assert.throws(() => dmaCopy(gd, 0, g, 0, 16, DmaTransform.DECRYPT), fails('EINVAL', '"dec" (decoder) cannot decrypt: only a decrypter (the crypto engine) uses the content key'));
});

test('a CRC capture of a normal buffer covers any range, across chunks', () => {
  const { smaf, dev } = system();
  const size = 2 * 1024 * 1024 + 8192;
  const b = smaf.create(size);
  const att = b.attach(dev('disp'));
  b.map(att, DmaDirection.BIDIRECTIONAL);
  const data = pattern(size, 5);
  dmaWrite(att, 0, data);
  assert.equal(dmaCrc(att, 0, size), crc32.buf(data) >>> 0);
  assert.equal(dmaCrc(att, 13, 1 << 20), crc32.buf(data.subarray(13, 13 + (1 << 20))) >>> 0);
  assert.equal(dmaCrc(att, 5, 3), crc32.buf(data.subarray(5, 8)) >>> 0, 'a few bytes of a normal buffer are not secret');
  assert.equal(dmaCrc(att, 0, 0), 0);
  assert.throws(() => dmaCrc(att, size - 1, 2), fails('EINVAL', `range ${size - 1}+2 leaves buffer ${b.id} (${size} bytes)`));
});

test('a copy checks both mappings again before each slice: one unmapped in between stops it with EINVAL', () => {
  const { smaf, dev } = system();
  const size = 2 * DMA_SLICE;
  const [src, dst] = [smaf.create(size), smaf.create(size)];
  const [sa, da] = [src.attach(dev('dec')), dst.attach(dev('dec'))];
  src.map(sa, DmaDirection.TO_DEVICE);
  dst.map(da, DmaDirection.FROM_DEVICE);
  const fill = src.attach(dev('dec')); // another attachment, to fill the source
  src.map(fill, DmaDirection.FROM_DEVICE);
  dmaWrite(fill, 0, pattern(size));
  for (const [unmap, which] of [[() => dst.unmap(da), dst], [() => src.unmap(sa), src]] as const) {
    const steps = dmaCopySteps(da, 0, sa, 0, size);
    assert.equal(steps.next().done, false, 'the first slice is copied');
    unmap();
    assert.throws(() => steps.next(), fails('EINVAL', `buffer ${which.id} is not mapped for "dec"`));
    if (!da.mapped) dst.map(da, DmaDirection.FROM_DEVICE);
    if (!sa.mapped) src.map(sa, DmaDirection.TO_DEVICE);
  }
});

test('each DMA job leaves a `dma` event on every buffer it touched: the device, the bytes, how long, never a CRC', () => {
  const { platform, smaf, dev } = system();
  const src = smaf.create(4096);
  const dst = smaf.create(4096);
  const s = src.attach(dev('dec'));
  const d = dst.attach(dev('dec'));
  src.map(s, DmaDirection.BIDIRECTIONAL);
  dst.map(d, DmaDirection.BIDIRECTIONAL);
  const after = platform.events.lastSeq;
  dmaCopy(d, 0, s, 0, 100);
  dmaCopy(d, 100, d, 0, 50);
  const crc = dmaCrc(d, 0, 4096);
  const dma = platform.events.list({ kinds: ['dma'], after });
  assert.deepEqual(dma.map((e) => [e.actor, e.buffer, e.length, e.message]), [
    ['dec', src.id, 100, `dec read 100 B of buffer ${src.id} by DMA (copy into buffer ${dst.id})`],
    ['dec', dst.id, 100, `dec wrote 100 B into buffer ${dst.id} by DMA (copy of buffer ${src.id})`],
    ['dec', dst.id, 50, `dec read and wrote 50 B of buffer ${dst.id} by DMA (copy within the buffer)`],
    ['dec', dst.id, 4096, `dec read 4 KiB of buffer ${dst.id} by DMA (CRC capture)`],
  ]);
  assert.ok(dma.every((e) => typeof e.durationUs === 'number' && e.durationUs >= 0));
  assert.ok(!dma.some((e) => e.message.includes(crc.toString(16))), 'a CRC is its asker\'s alone');
  // a job that fails leaves no `dma` event
  const before = platform.events.lastSeq;
  assert.throws(() => dmaCopy(d, 0, s, 4000, 200));
  assert.equal(platform.events.list({ kinds: ['dma'], after: before }).length, 0);
});

test('a scan-out: the device reads the range through the bus, nothing comes back but the count; its mapping must allow reading', () => {
  const { platform, smaf, dev } = system();
  const b = smaf.create(3 * DMA_SLICE);
  const r = b.attach(dev('disp'));
  const w = b.attach(dev('dec'));
  b.map(r, DmaDirection.TO_DEVICE);
  b.map(w, DmaDirection.FROM_DEVICE);
  const before = platform.events.lastSeq;
  const reads = platform.bus.stats()['disp']?.bytesRead ?? 0;
  assert.equal(dmaScanout(r, 0, 3 * DMA_SLICE), 3 * DMA_SLICE);
  assert.equal(platform.bus.stats()['disp']!.bytesRead - reads, 3 * DMA_SLICE, 'every byte read through the bus');
  assert.deepEqual(platform.events.list({ kinds: ['dma'], after: before }).map((e) => e.message), [`disp read 768 KiB of buffer ${b.id} by DMA (scan-out)`]);
  assert.throws(() => dmaScanout(w, 0, 4096), fails('EACCES', `"dec" mapped buffer ${b.id} from-device: it may write, not read`));
  assert.throws(() => dmaScanout(r, 3 * DMA_SLICE - 10, 20), (e) => isSmafError(e, 'EINVAL'));
});
