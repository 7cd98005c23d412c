import { isSmafError } from './errors.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSize, parseSize } from './units.ts';

test('parseSize reads what users write and refuses the rest', () => {
  assert.equal(parseSize('64MiB'), 64 << 20);
  assert.equal(parseSize('0x1000'), 4096);
  assert.equal(parseSize('1 GiB'), 1 << 30);
  assert.equal(parseSize('1_048_576'), 1 << 20);
  assert.equal(parseSize(4096), 4096);
  assert.throws(() => parseSize('12MiQ'), /unknown size suffix/);
  assert.throws(() => parseSize('-1'), (e) => isSmafError(e, 'EINVAL'));
  assert.throws(() => parseSize('1.5'), /whole number/);
  assert.throws(() => parseSize(2 ** 60), /below 2\^53/);
});

test('formatSize is exact when it can be, short when it cannot', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(4096), '4 KiB');
  assert.equal(formatSize(3040 * 1024), '3040 KiB');
  assert.equal(formatSize(31 << 20), '31 MiB');
  assert.equal(formatSize(2 ** 32 - 4096), '4 GiB');
  assert.equal(formatSize(2 ** 32 - 1), '4 GiB');
  assert.equal(formatSize(16.5 * 1024 * 1024 + 1), '16.5 MiB');
  assert.equal(formatSize(1000), '1000 B');
  assert.equal(formatSize(16 * 1024 * 1024 - 64), '16 MiB');
});
