/**
 * A buffer's file with the real addon: its pages are the emulated memory (both ways, no copy), it
 * follows a migration, it holds the buffer while open, it is scrubbed and cut off at release, and a
 * secure buffer's file never gets its memory.
 */
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { DmaDirection, dmaRead, dmaWrite } from '../core/index.ts';
import { loadAddon, type SmafAddon } from '../native/addon.ts';
import { CPU } from '../platform/index.ts';
import { createFakeAddon, createSmafSystem } from '../testing/index.ts';
import { BufferFiles } from './buffer-files.ts';

let addon: SmafAddon;
before(() => {
  const load = loadAddon();
  if (!load.addon) throw new Error(`the addon is needed here: ${load.reason}`);
  addon = load.addon;
});

const opened: number[] = [];
after(() => {
  for (const fd of opened.splice(0)) closeSync(fd);
});

/** What a C program maps: a view of the file handed out. */
function programView(fd: number, length: number): Uint8Array {
  return new Uint8Array(addon.map(fd, length));
}

/** Wait until the inotify events of closed files have arrived. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

function system() {
  const sys = createSmafSystem();
  let overflows = 0;
  const files = new BufferFiles(addon, sys.smaf, () => overflows++);
  return { ...sys, files, overflows: () => overflows };
}

test('the file is the memory: a program write is what a device reads, a device write is what the program sees', () => {
  const { smaf, platform, files } = system();
  const buf = smaf.create(64 * 1024);
  const gpu = buf.attach(platform.device('gpu'));
  buf.map(gpu, DmaDirection.BIDIRECTIONAL); // scattered pages (system), the GPU behind its IOMMU
  const fd = files.handOut(buf, 2);
  opened.push(fd);
  assert.equal(fstatSync(fd).size, 64 * 1024, "the file is the buffer's size");
  const view = programView(fd, buf.length);
  view.set(new TextEncoder().encode('from the CPU'), 8192);
  assert.equal(new TextDecoder().decode(dmaRead(gpu, 8192, 12)), 'from the CPU', 'the device reads the program page, no copy');
  dmaWrite(gpu, 100, new TextEncoder().encode('from the GPU'));
  assert.equal(new TextDecoder().decode(view.subarray(100, 112)), 'from the GPU');
  assert.ok(platform.memory.sharedBytes >= 64 * 1024);
});

test('bytes written before the file existed move into it; a late attach migrates and the mapping follows', () => {
  const { smaf, platform, files } = system();
  const buf = smaf.create(1 << 20);
  const m = buf.mmap(0, buf.length, 3);
  m.write(0, new TextEncoder().encode('before'));
  buf.munmap(m);
  const fd = files.handOut(buf, 2);
  opened.push(fd);
  const view = programView(fd, buf.length);
  assert.equal(new TextDecoder().decode(view.subarray(0, 6)), 'before');
  assert.equal(buf.backing!.allocator, 'system');
  assert.ok(buf.segments.length > 1, 'scattered pages: the display cannot use them');
  const old = buf.segments.map((s) => s.phys);
  const display = buf.attach(platform.device('display')); // no IOMMU: contiguous memory, a migration
  assert.equal(buf.backing!.allocator, 'smaf-cma', 'the buffer migrated');
  for (const p of old) assert.ok(platform.memory.isZero(p, 4096) && !platform.memory.isShared(p, 4096), 'the old pages are scrubbed and no longer shared');
  view.set(new TextEncoder().encode('after'), 4096);
  buf.map(display, DmaDirection.TO_DEVICE);
  assert.equal(new TextDecoder().decode(dmaRead(display, 4096, 5)), 'after', 'the program mapping follows the migration');
  assert.equal(new TextDecoder().decode(view.subarray(0, 6)), 'before');
});

test('the open files and mappings hold the buffer; when the last one goes it is released and scrubbed', async () => {
  const { smaf, platform, files } = system();
  const buf = smaf.create(16 * 1024);
  buf.allocate('test');
  const fd = files.handOut(buf, 2);
  buf.put(); // the creator's reference goes: only the file holds it now
  assert.equal(buf.released, false);
  assert.ok(files.holdsReference(buf));
  const mapping = addon.map(fd, buf.length);
  new Uint8Array(mapping).fill(0x5e);
  const second = openSync(`/proc/self/fd/${fd}`, 'r'); // another open file of it (IN_OPEN)
  const third = openSync(`/proc/self/fd/${fd}`, 'r'); // and another: its IN_OPEN merges with the second's
  closeSync(fd);
  closeSync(second);
  await settle();
  assert.equal(buf.released, false, 'an open file and a mapping still hold it');
  closeSync(third);
  await settle();
  assert.equal(buf.released, false, 'the mapping (its fd closed) still holds it, whatever inotify merged');
  assert.equal(new Uint8Array(mapping)[0], 0x5e, 'and its bytes are still there');
  const segs = buf.segments.map((s) => ({ phys: s.phys, length: s.length }));
  addon.detach(mapping); // the program unmaps: the last reference anywhere
  await settle();
  assert.equal(buf.released, true, 'released when the last file went');
  assert.equal(files.stats().buffers, 0);
  for (const s of segs) assert.ok(platform.memory.isZero(s.phys, s.length) && !platform.memory.isShared(s.phys, s.length));
});

test('a secure buffer has a file, but its memory never goes into it', () => {
  const { smaf, platform, files } = system();
  const buf = smaf.create(16 * 1024);
  buf.setSecure(true);
  const vdec = buf.attach(platform.device('vdec'));
  buf.map(vdec, DmaDirection.FROM_DEVICE);
  const fd = files.handOut(buf, 2);
  opened.push(fd);
  assert.equal(platform.memory.isShared(buf.segments[0]!.phys, buf.length), false, 'not shared');
  dmaWrite(vdec, 0, new Uint8Array(16).fill(7));
  assert.ok(programView(fd, buf.length).every((b) => b === 0), 'the file holds zeros only');
  assert.throws(() => platform.bus.read(CPU, buf.segments[0]!.phys, new Uint8Array(1)), /firewall/);
});

test('identify: a file of ours names its buffer; any other file is none', () => {
  const { smaf, files } = system();
  const buf = smaf.create(4096);
  const fd = files.handOut(buf, 0);
  opened.push(fd);
  assert.equal(files.identify(fd)?.buf, buf);
  const other = openSync('/dev/null', 'r');
  opened.push(other);
  assert.equal(files.identify(other), null);
});

test("sharing a buffer the memory never wrote writes none of its file's pages; discard gives a file's pages back", () => {
  const { smaf, platform, files } = system();
  const buf = smaf.create(4 << 20);
  const gpu = buf.attach(platform.device('gpu'));
  buf.map(gpu, DmaDirection.BIDIRECTIONAL); // memory, never written
  const fd = files.handOut(buf, 2);
  opened.push(fd);
  assert.equal(fstatSync(fd).blocks, 0, 'the fresh memfd was not filled with zeros page by page');
  const view = programView(fd, buf.length);
  view.fill(0x41);
  assert.ok(fstatSync(fd).blocks >= (4 << 20) / 512);
  addon.discard(view.subarray(100, (2 << 20) + 7)); // whole pages given back, the edges cleared
  assert.ok(fstatSync(fd).blocks <= (2 << 20) / 512 + 8, 'the pages inside went back to the kernel');
  assert.equal(view[99], 0x41);
  assert.ok(view.subarray(100, (2 << 20) + 7).every((b) => b === 0));
  assert.equal(view[(2 << 20) + 7], 0x41);
  assert.deepEqual([...dmaRead(gpu, 98, 3)], [0x41, 0x41, 0], 'the device reads what the program sees');
});

test('discard on a write-sealed memfd zeroes by writing (the kernel refuses to punch its holes)', () => {
  const fd = addon.memfd('sealed-test', 64 * 1024, true);
  try {
    const view = new Uint8Array(addon.map(fd, 64 * 1024));
    view.fill(9);
    addon.sealWrites(fd);
    addon.discard(view.subarray(4096, 3 * 4096));
    assert.ok(view.subarray(4096, 3 * 4096).every((b) => b === 0) && view[4095] === 9 && view[3 * 4096] === 9);
  } finally {
    addon.close(fd);
  }
});

/** BufferFiles over the fake addon: the test decides when the queued events arrive. */
function faked() {
  const fake = createFakeAddon();
  const sys = createSmafSystem();
  const overflows: boolean[] = [];
  const files = new BufferFiles(fake, sys.smaf, (recounted) => overflows.push(recounted));
  const buf = sys.smaf.create(16 * 1024);
  buf.allocate('test');
  return { fake, files, buf, overflows, smaf: sys.smaf };
}

test('two files closed back to back: inotify merges their closes into one event, and the buffer is still freed', () => {
  const { fake, files, buf } = faked();
  const a = files.handOut(buf, 2);
  const b = files.handOut(buf, 2); // their IN_OPENs merge too
  buf.put();
  fake.deliver();
  fake.close(a);
  fake.close(b); // one IN_CLOSE_WRITE for both
  fake.deliver();
  assert.equal(buf.released, true, 'no file is left: the kernel says so, whatever the count');
});

test("a program's open merged into smafd's own is not lost: the buffer stays while the program holds it", () => {
  const { fake, files, buf } = faked();
  const a = files.handOut(buf, 2);
  const b = fake.openAgain(a, 0); // through /proc/PID/fd, before smafd read its own IN_OPEN: merged
  buf.put();
  fake.deliver();
  fake.close(a);
  fake.deliver();
  assert.equal(buf.released, false, 'b still holds it');
  assert.equal(files.openFiles(buf), 1, 'and fdinfo counts it');
  fake.close(b);
  fake.deliver();
  assert.equal(buf.released, true);
});

test('the inotify queue overflows: every buffer is counted again by the kernel, those with no file left go', () => {
  const { fake, files, buf, overflows, smaf } = faked();
  const a = files.handOut(buf, 2);
  buf.put();
  const other = smaf.create(4096);
  other.allocate('test');
  const c = files.handOut(other, 2);
  other.put();
  fake.deliver();
  fake.close(a);
  fake.overflow(); // the close's event is lost
  fake.deliver();
  assert.deepEqual(overflows, [true]);
  assert.equal(buf.released, true);
  assert.equal(other.released, false, 'a buffer whose file is still open stays');
  assert.equal(files.exact, true);
  fake.close(c);
  fake.deliver();
  assert.equal(other.released, true, 'and goes at its close, as before the overflow');
});

test('where the kernel grants no leases, the events count (and smafd says so once)', () => {
  const fake = createFakeAddon();
  fake.alone = () => {
    throw new Error('a write lease: EACCES');
  };
  const { smaf } = createSmafSystem();
  const why: string[] = [];
  const files = new BufferFiles(fake, smaf, () => undefined, undefined, undefined, (w) => why.push(w));
  const buf = smaf.create(4096);
  buf.allocate('test');
  const a = files.handOut(buf, 2);
  buf.put();
  fake.deliver();
  const b = fake.openAgain(a, 0);
  fake.deliver();
  fake.close(a);
  fake.deliver();
  assert.equal(buf.released, false);
  fake.close(b);
  fake.deliver();
  assert.equal(buf.released, true);
  assert.deepEqual(why, ['a write lease: EACCES']);
  assert.equal(files.exact, true, 'exact while no event was lost');
});

test('the kernel still counts the closing file just after its IN_CLOSE: smafd asks again a moment later', async () => {
  const { fake, files, buf } = faked();
  const realAlone = fake.alone.bind(fake);
  let refused = 2; // the probes right after the close see the file that is closing (__fput's order)
  fake.alone = (fd) => (refused-- > 0 ? false : realAlone(fd));
  const a = files.handOut(buf, 2);
  buf.put();
  fake.deliver();
  fake.close(a);
  fake.deliver();
  assert.equal(buf.released, false, 'the first answer was "still open"');
  for (let i = 0; i < 20 && !buf.released; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(buf.released, true, 'asked again, the kernel says it was the last file');
  assert.equal(files.resync(), 0, 'nothing left to find');
});

test('a buffer whose last close went unseen is found by the self-check (resync)', () => {
  const { fake, files, buf } = faked();
  const a = files.handOut(buf, 2);
  buf.put();
  fake.deliver();
  fake.close(a); // its event never delivered
  assert.equal(buf.released, false);
  assert.equal(files.resync(), 1);
  assert.equal(buf.released, true);
});

test("smafd out of file descriptors for a buffer's file: EMFILE for the client", () => {
  const { fake, files, buf } = faked();
  fake.memfd = () => {
    throw Object.assign(new Error('memfd_create: Too many open files'), { code: 'EMFILE', errno: 24 });
  };
  assert.throws(() => files.handOut(buf, 2), (e: Error & { code?: string }) => e.code === 'EMFILE' && /no file descriptor left/.test(e.message));
});

test('a self-check while smafd is about to ask again about a close it saw does not report it as missed', () => {
  const { fake, files, buf } = faked();
  const realAlone = fake.alone.bind(fake);
  let refused = 1;
  fake.alone = (fd) => (refused-- > 0 ? false : realAlone(fd));
  const a = files.handOut(buf, 2);
  buf.put();
  fake.deliver();
  fake.close(a);
  fake.deliver(); // seen, refused once: a recheck is due
  assert.equal(files.resync(), 0, 'freed, but not missed');
  assert.equal(buf.released, true);
});
