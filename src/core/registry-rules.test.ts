/** Registration rules, one by one, with the exact errno and message a plugin author sees. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { createRecordingSecureModule } from '../testing/index.ts';
import { directionName, verdictOf, type Allocator } from './contracts.ts';
import { Registry } from './registry.ts';

const ok: Allocator = { name: 'a', ranking: 0, match: () => true, allocate: () => ({ declined: true, reason: 'x' }), free: () => {} };
const fails = (code: ErrnoName, message: string) => (e: unknown) => isSmafError(e, code) && (e as Error).message === message;

test('an allocator must be an object with a printable name of 1-63 bytes', () => {
  const r = new Registry();
  assert.throws(() => r.registerAllocator(null as unknown as Allocator), fails('EINVAL', 'cannot register an allocator: not an object'));
  assert.throws(() => r.registerAllocator('smaf-cma' as unknown as Allocator), fails('EINVAL', 'cannot register an allocator: not an object'));
  assert.throws(() => r.registerAllocator({ ...ok, name: 7 } as unknown as Allocator), fails('EINVAL', 'cannot register allocator: name must be 1-63 printable ASCII bytes without spaces'));
  for (const name of ['', 'two words', 'x'.repeat(64), 'tab\t', 'é', ' lead', 'trail ']) {
    assert.throws(() => r.registerAllocator({ ...ok, name }), fails('EINVAL', `cannot register allocator "${name}": name must be 1-63 printable ASCII bytes without spaces`), JSON.stringify(name));
  }
  for (const name of ['x', 'x'.repeat(63), '!~']) r.registerAllocator({ ...ok, name });
  assert.deepEqual(r.allocators.map((a) => a.name), ['!~', 'x', 'x'.repeat(63)]);
});

test('an allocator needs match, allocate and free, a finite ranking, and a name of its own', () => {
  const r = new Registry();
  for (const fn of ['match', 'allocate', 'free']) {
    assert.throws(() => r.registerAllocator({ ...ok, [fn]: undefined } as unknown as Allocator), fails('EINVAL', `cannot register allocator "a": missing ${fn}()`));
  }
  for (const ranking of [NaN, Infinity, '1'] as unknown as number[]) {
    assert.throws(() => r.registerAllocator({ ...ok, ranking }), fails('EINVAL', 'cannot register allocator "a": ranking must be a finite number'));
  }
  r.registerAllocator(ok);
  assert.throws(() => r.registerAllocator({ ...ok }), fails('EEXIST', 'cannot register allocator "a": an allocator with that name is already registered'));
});

test('allocators are asked by ranking, highest first, then by name', () => {
  const r = new Registry();
  for (const [name, ranking] of [['m', 5], ['b', 5], ['z', 10], ['a', -1], ['c', 5]] as const) r.registerAllocator({ ...ok, name, ranking });
  assert.deepEqual(r.allocators.map((a) => a.name), ['z', 'b', 'c', 'm', 'a']);
  assert.equal(r.allocator('c')?.ranking, 5);
  const same = new Registry();
  const names = ['h', 'g', 'f', 'e', 'd', 'c', 'b', 'a', 'k', 'j', 'i'];
  for (const name of names) same.registerAllocator({ ...ok, name, ranking: 1 });
  assert.deepEqual(same.allocators.map((a) => a.name), [...names].sort());
  assert.equal(r.allocator('nope'), undefined);
  assert.deepEqual(r.allStats().map((s) => [s.name, s.ranking, s.allocations, s.bytesInUse]), [['z', 10, 0, 0], ['b', 5, 0, 0], ['c', 5, 0, 0], ['m', 5, 0, 0], ['a', -1, 0, 0]]);
});

test('unregistering removes exactly that allocator, and never one that still backs buffers', () => {
  const r = new Registry();
  for (const name of ['a', 'b', 'c']) r.registerAllocator({ ...ok, name });
  r.counters('b').buffersInUse = 2;
  assert.throws(() => r.unregisterAllocator('b'), fails('EBUSY', 'allocator "b" still backs 2 buffer(s)'));
  assert.throws(() => r.unregisterAllocator('d'), fails('ENOENT', 'no allocator "d" is registered'));
  assert.throws(() => r.stats('d'), fails('ENOENT', 'no allocator "d" is registered'));
  r.unregisterAllocator('c');
  assert.deepEqual(r.allocators.map((a) => a.name), ['a', 'b']);
  r.counters('b').buffersInUse = 0;
  r.unregisterAllocator('a');
  assert.deepEqual(r.allocators.map((a) => a.name), ['b']);
  assert.throws(() => r.stats('a'), fails('ENOENT', 'no allocator "a" is registered'));
  r.registerAllocator({ ...ok, name: 'a' });
});

test('a secure module must be an object with a valid name and every hook; one at a time', () => {
  const r = new Registry();
  const bad = 'cannot register secure module: name must be 1-63 printable ASCII bytes';
  assert.throws(() => r.registerSecureModule(null as never), fails('EINVAL', bad));
  assert.throws(() => r.registerSecureModule('optee' as never), fails('EINVAL', bad));
  assert.throws(() => r.registerSecureModule({ ...createRecordingSecureModule(), name: 3 } as never), fails('EINVAL', bad));
  assert.throws(() => r.registerSecureModule(createRecordingSecureModule({}, 'two words')), fails('EINVAL', bad));
  for (const fn of ['createContext', 'destroyContext', 'grantAccess', 'revokeAccess', 'checkCpuAccess']) {
    assert.throws(() => r.registerSecureModule({ ...createRecordingSecureModule(), [fn]: undefined } as never), fails('EINVAL', `cannot register secure module "recording": missing ${fn}()`));
  }
  r.registerSecureModule(createRecordingSecureModule());
  assert.throws(() => r.registerSecureModule(createRecordingSecureModule({}, 'two')), fails('EBUSY', 'cannot register secure module "two": "recording" is already registered (one at a time)'));
  assert.throws(() => r.unregisterSecureModule('two', 0), fails('ENOENT', 'secure module "two" is not registered'));
  assert.throws(() => r.unregisterSecureModule('recording', 3), fails('EBUSY', 'secure module "recording" still guards 3 secure buffer(s)'));
  assert.equal(r.secureModule?.name, 'recording');
  r.unregisterSecureModule('recording', 0);
  assert.throws(() => r.unregisterSecureModule('recording', 0), fails('ENOENT', 'secure module "recording" is not registered'));
});

test('direction names and match verdicts', () => {
  assert.deepEqual([0, 1, 2].map((d) => directionName(d as 0 | 1 | 2)), ['bidirectional', 'to-device', 'from-device']);
  assert.deepEqual(verdictOf(true), { match: true, reason: 'matches' });
  assert.deepEqual(verdictOf(false), { match: false, reason: 'does not match' });
  const v = { match: false, reason: 'too far' };
  assert.equal(verdictOf(v), v);
});
