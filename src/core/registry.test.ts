import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { createRecordingSecureModule } from '../testing/index.ts';
import type { Allocator } from './contracts.ts';
import { Registry } from './registry.ts';

const ok: Allocator = { name: 'a', ranking: 0, match: () => true, allocate: () => ({ declined: true, reason: 'x' }), free: () => {} };

test('registration validates name, functions and duplicates', () => {
  const r = new Registry();
  assert.throws(() => r.registerAllocator({ ...ok, name: '' }), (e) => isSmafError(e, 'EINVAL') && /name/.test(e.message));
  assert.throws(() => r.registerAllocator({ ...ok, match: undefined } as unknown as Allocator), /missing match\(\)/);
  assert.throws(() => r.registerAllocator({ ...ok, allocate: 3 } as unknown as Allocator), /missing allocate\(\)/);
  assert.throws(() => r.registerAllocator({ ...ok, ranking: NaN }), /ranking/);
  r.registerAllocator(ok);
  assert.throws(() => r.registerAllocator(ok), (e) => isSmafError(e, 'EEXIST'));
  assert.throws(() => r.unregisterAllocator('zz'), (e) => isSmafError(e, 'ENOENT'));
  r.unregisterAllocator('a');
  assert.equal(r.allocators.length, 0);
});

test('one secure module at a time; it must be complete', () => {
  const r = new Registry();
  assert.throws(() => r.registerSecureModule({ ...createRecordingSecureModule(), grantAccess: undefined } as never), /missing grantAccess/);
  r.registerSecureModule(createRecordingSecureModule());
  assert.throws(() => r.registerSecureModule(createRecordingSecureModule({}, 'two')), (e) => isSmafError(e, 'EBUSY'));
  assert.throws(() => r.unregisterSecureModule('recording', 1), (e) => isSmafError(e, 'EBUSY'));
  r.unregisterSecureModule('recording', 0);
  assert.equal(r.secureModule, null);
});
