import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HEADER_PATH } from '../scripts/gen-docs.ts';
import { cHeader, OP_TABLE } from '../src/uapi/index.ts';

test('native/smaf-wire.h is generated from the current uapi tables (run npm run docs)', () => {
  const text = readFileSync(HEADER_PATH, 'utf8');
  assert.equal(text, cHeader(), 'native/smaf-wire.h is stale: run npm run docs');
  for (const row of OP_TABLE) assert.match(text, new RegExp(`#define SMAF_OP_${row.name} `), `SMAF_OP_${row.name} is in the header`);
  assert.match(text, /#define SMAF_IOC_CREATE 0xC0805300u/);
  assert.match(text, /#define SMAF_MMAP_SIZE 20u/);
  assert.match(text, /struct smaf_read_in \{\n\tuint32_t mapping; [^\n]*\n\tuint64_t offset; [^\n]*\n\tuint32_t length; [^\n]*\n\} __attribute__\(\(packed\)\);/);
});

test('a C compiler accepts the header and its layout asserts', { skip: spawnSync('cc', ['--version']).status !== 0 && 'no C compiler' }, () => {
  const r = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-x', 'c', '-'], { input: `${cHeader()}\nint main(void) { return 0; }\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // a table that disagrees with C's layout does not compile: a u64 moved off its packed offset
  const wrong = cHeader().replace('_Static_assert(offsetof(struct smaf_read_in, offset) == 4,', '_Static_assert(offsetof(struct smaf_read_in, offset) == 8,');
  const bad = spawnSync('cc', ['-std=c11', '-fsyntax-only', '-x', 'c', '-'], { input: wrong, encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'the layout asserts are checked by the compiler');
});
