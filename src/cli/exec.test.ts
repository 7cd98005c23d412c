import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import type { HeapInfo } from '../daemon/heaps.ts';
import { isStaticElf, selectHeaps, writeHeapDir } from './exec.ts';

const heap = (name: string, allocator: string | null, secure = false): HeapInfo => ({ name, allocator, secure, description: '' });
const AVAILABLE = [heap('protected,secure-carveout', 'secure-carveout', true), heap('system', 'system'), heap('linux,cma', 'smaf-cma')];
const names = (h: HeapInfo[]) => h.map((x) => x.name);

test('--heaps: the default is every non-secure heap; names with commas, keywords and repeats add up', () => {
  assert.deepEqual(names(selectHeaps(AVAILABLE, undefined)), ['system', 'linux,cma']);
  assert.deepEqual(names(selectHeaps(AVAILABLE, ['all'])), names(AVAILABLE));
  assert.deepEqual(names(selectHeaps(AVAILABLE, ['linux,cma'])), ['linux,cma']);
  assert.deepEqual(names(selectHeaps(AVAILABLE, ['linux,cma,protected'])), ['protected,secure-carveout', 'linux,cma']);
  assert.deepEqual(names(selectHeaps(AVAILABLE, ['system,protected,secure-carveout'])), ['protected,secure-carveout', 'system']);
  assert.deepEqual(names(selectHeaps(AVAILABLE, ['default', 'protected'])), names(AVAILABLE), 'in the daemon order');
  assert.throws(() => selectHeaps(AVAILABLE, ['system,ion']), (e: unknown) => isSmafError(e) && e.code === 'EINVAL' && /no heap named "ion"/.test(e.message));
});

test('the heap directory holds one file per heap with its allocator and secure flag', () => {
  const dir = writeHeapDir([heap('smaf', null), heap('protected,secure-carveout', 'secure-carveout', true)]);
  try {
    assert.deepEqual(readdirSync(dir).sort(), ['protected,secure-carveout', 'smaf']);
    assert.equal(readFileSync(join(dir, 'smaf'), 'utf8'), 'allocator=\nsecure=0\n');
    assert.equal(readFileSync(join(dir, 'protected,secure-carveout'), 'utf8'), 'allocator=secure-carveout\nsecure=1\n');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('isStaticElf: a dynamically linked executable is not static; a script is not an ELF', () => {
  assert.equal(isStaticElf(process.execPath), false);
  assert.equal(isStaticElf(new URL(import.meta.url).pathname), false);
});
