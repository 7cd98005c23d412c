/**
 * Sync files as smafd keeps them, over the fake addon (a sync file is a pipe: the program gets the
 * read end): which sync file a descriptor is, merges, FILE_INFO's view, and the bounds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFakeAddon, createSmafSystem } from '../testing/index.ts';
import { Fences, MAX_KNOWN_FENCES, MAX_KNOWN_PER_CLIENT, MAX_MERGED_FENCES } from './fences.ts';

const DMA_BUF_SYNC_READ = 1;
const DMA_BUF_SYNC_WRITE = 2;

function setup() {
  const addon = createFakeAddon();
  const { smaf } = createSmafSystem();
  const fences = new Fences(addon);
  /** Device work on `buf` that is in flight until the returned function is called. */
  const work = (buf: ReturnType<typeof smaf.create>, access: 'read' | 'write' = 'write') => {
    const g = fences.device([[buf, access]], (function* () {
      yield;
    })());
    g.next();
    return () => void g.next();
  };
  return { addon, smaf, fences, work };
}

test('an older sync file imported is that one, not the newest', () => {
  const { smaf, fences, work } = setup();
  const [x, y] = [smaf.create(4096), smaf.create(4096)];
  const end = work(y);
  const older = fences.exportFence(y, DMA_BUF_SYNC_READ); // waits for y's write
  const newer = fences.exportFence(x, DMA_BUF_SYNC_WRITE); // x is idle: signalled
  assert.equal(fences.info(older)[0]!.status, 0);
  assert.equal(fences.info(newer)[0]!.status, 1);
  fences.importFence(x, DMA_BUF_SYNC_WRITE, older);
  assert.equal(fences.cpuMustWait(x, 'read'), true, 'x waits for the older sync file, the one imported');
  end();
  assert.equal(fences.cpuMustWait(x, 'read'), false);
  assert.equal(fences.info(older)[0]!.status, 1);
});

test('a merge waits for every fence of both, flattened and each once; FILE_INFO shows them', () => {
  const { smaf, fences, work } = setup();
  const [x, y] = [smaf.create(4096), smaf.create(4096)];
  const end = work(y);
  const busy = fences.exportFence(y, DMA_BUF_SYNC_READ);
  const idle = fences.exportFence(x, DMA_BUF_SYNC_READ);
  const [b, i] = [fences.info(busy)[0]!, fences.info(idle)[0]!];
  const m = fences.merge(fences.byId(b.id)!, idle, 'both');
  const info = fences.info(m);
  assert.deepEqual(info.map((e) => [e.status, e.name]), [[0, 'both'], [0, `buffer${y.id}`], [1, `buffer${x.id}`]]);
  assert.ok(info[2]!.timestampNs > 0n && info[1]!.timestampNs === 0n);
  const again = fences.merge(fences.byId(info[0]!.id)!, idle, '');
  assert.equal(fences.info(again).length, 3, 'a merge of a merge holds each fence once');
  assert.match(fences.info(again)[0]!.name, /^smafd-merge-\d+$/);
  assert.equal(i.name, `smafd-buffer${x.id}-${i.id}`);
  end();
  assert.deepEqual(fences.info(m).map((e) => e.status), [1, 1, 1]);
  assert.equal(fences.info(again)[0]!.status, 1);
});

test('files that are no sync file: ENOTTY for FILE_INFO, ENOENT as a merge\'s second, EINVAL for IMPORT', () => {
  const { addon, smaf, fences } = setup();
  const x = smaf.create(4096);
  const [plain] = addon.syncFile(); // a pipe that is no sync file of smafd's
  const mem = addon.memfd('m', 4096);
  const sf = fences.exportFence(x, DMA_BUF_SYNC_READ);
  const first = fences.byId(fences.info(sf)[0]!.id)!;
  for (const fd of [plain, mem]) {
    assert.throws(() => fences.info(fd), (e: Error & { code?: string }) => e.code === 'ENOTTY');
    assert.throws(() => fences.merge(first, fd, 'm'), (e: Error & { code?: string }) => e.code === 'ENOENT');
    assert.throws(() => fences.importFence(x, DMA_BUF_SYNC_READ, fd), (e: Error & { code?: string }) => e.code === 'EINVAL');
  }
});

test(`a merge holds at most ${MAX_MERGED_FENCES} fences (ENOMEM beyond, nothing made)`, () => {
  const { smaf, fences } = setup();
  const bufs = Array.from({ length: MAX_MERGED_FENCES + 1 }, () => smaf.create(4096));
  let acc = fences.exportFence(bufs[0]!, DMA_BUF_SYNC_READ);
  for (const b of bufs.slice(1, MAX_MERGED_FENCES)) acc = fences.merge(fences.byId(fences.info(acc)[0]!.id)!, fences.exportFence(b, DMA_BUF_SYNC_READ), '');
  assert.equal(fences.info(acc).length, 1 + MAX_MERGED_FENCES);
  const one = fences.exportFence(bufs[MAX_MERGED_FENCES]!, DMA_BUF_SYNC_READ);
  assert.throws(() => fences.merge(fences.byId(fences.info(acc)[0]!.id)!, one, ''), (e: Error & { code?: string }) => e.code === 'ENOMEM');
});

test('sync files waiting for device work are bounded: ENOMEM beyond 4,096, and a signal frees room', () => {
  const { smaf, fences, work } = setup();
  const y = smaf.create(4096);
  const end = work(y);
  for (let i = 0; i < 4096; i++) fences.exportFence(y, DMA_BUF_SYNC_READ);
  assert.throws(() => fences.exportFence(y, DMA_BUF_SYNC_READ), (e: Error & { code?: string }) => e.code === 'ENOMEM');
  end();
  assert.doesNotThrow(() => fences.exportFence(y, DMA_BUF_SYNC_READ));
});

test("one client's sync files cannot push another's out: each forgets only its own oldest", () => {
  const { smaf, fences } = setup();
  const x = smaf.create(4096);
  const [victim, attacker] = [{}, {}];
  const mine = fences.exportFence(x, DMA_BUF_SYNC_READ, victim);
  const first = fences.exportFence(x, DMA_BUF_SYNC_READ, attacker);
  for (let i = 0; i < 2 * MAX_KNOWN_PER_CLIENT; i++) fences.exportFence(x, DMA_BUF_SYNC_READ, attacker);
  assert.equal(fences.info(mine)[0]!.status, 1, "the victim's sync file is still known");
  assert.throws(() => fences.info(first), (e: Error & { code?: string }) => e.code === 'ENOTTY', "the attacker's oldest was forgotten");
});

test('when every known sync file is held open, EXPORT is ENOMEM; one closed makes room', () => {
  const { addon, smaf, fences } = setup();
  const x = smaf.create(4096);
  const owners = Array.from({ length: MAX_KNOWN_FENCES / MAX_KNOWN_PER_CLIENT }, () => ({}));
  const held: number[] = [];
  for (const o of owners) for (let i = 0; i < MAX_KNOWN_PER_CLIENT; i++) held.push(fences.exportFence(x, DMA_BUF_SYNC_READ, o));
  const late = {};
  assert.throws(() => fences.exportFence(x, DMA_BUF_SYNC_READ, late), (e: Error & { code?: string }) => e.code === 'ENOMEM');
  addon.close(held[5]!); // a program closes one sync file: nobody can pass it again
  const sf = fences.exportFence(x, DMA_BUF_SYNC_READ, late);
  assert.equal(fences.info(sf)[0]!.status, 1);
  assert.equal(fences.info(held[6]!)[0]!.status, 1, 'the others held stay known');
});

test('work that ends after its buffer was released still signals the sync files waiting for it', () => {
  const { smaf, fences, work } = setup();
  const y = smaf.create(4096);
  const end = work(y);
  const sf = fences.exportFence(y, DMA_BUF_SYNC_WRITE);
  fences.released(y.id);
  end();
  assert.equal(fences.info(sf)[0]!.status, 1);
});

test('sync files closed everywhere are forgotten as new ones come (their descriptors do not pile up)', () => {
  const { addon, smaf, fences } = setup();
  const x = smaf.create(4096);
  const made = Array.from({ length: 100 }, () => fences.exportFence(x, DMA_BUF_SYNC_READ));
  assert.equal(fences.counts.known, 100);
  for (const fd of made) addon.close(fd); // every program closed them
  for (let i = 0; i < 60; i++) addon.close(fences.exportFence(x, DMA_BUF_SYNC_READ));
  assert.ok(fences.counts.known < 50, `known ${fences.counts.known}: each new one forgot two closed ones`);
});

test('smafd out of file descriptors: the client gets EMFILE, not an internal error', () => {
  const { addon, smaf, fences } = setup();
  addon.syncFile = () => {
    throw Object.assign(new Error('pipe2: Too many open files'), { code: 'EMFILE', errno: 24 });
  };
  assert.throws(() => fences.exportFence(smaf.create(4096), DMA_BUF_SYNC_READ), (e: Error & { code?: string }) => e.code === 'EMFILE' && /no file descriptor left for a sync file/.test(e.message));
});

test('a sync file held for long does not stop the others behind it from being forgotten', () => {
  const { addon, smaf, fences } = setup();
  const x = smaf.create(4096);
  const kept = [fences.exportFence(x, DMA_BUF_SYNC_READ), fences.exportFence(x, DMA_BUF_SYNC_READ)]; // a compositor keeps these
  for (let i = 0; i < 300; i++) addon.close(fences.exportFence(x, DMA_BUF_SYNC_READ));
  assert.ok(fences.counts.known < 10, `known ${fences.counts.known}`);
  assert.equal(fences.info(kept[0]!)[0]!.status, 1, 'the held ones stay known');
});
