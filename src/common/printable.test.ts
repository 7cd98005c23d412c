import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable } from './printable.ts';

test('printable escapes ANSI, OSC and C1 control characters and keeps text and newlines', () => {
  assert.equal(printable('plain: ünïcode ok\nnext\tline'), 'plain: ünïcode ok\nnext\tline');
  assert.equal(printable('\x1b[2J\x1b]0;pwned\x07'), '\\x1b[2J\\x1b]0;pwned\\x07');
  assert.equal(printable('a\x9bb\x7fc\x00'), 'a\\x9bb\\x7fc\\x00');
  assert.equal(printable('x\ny', false), 'x\\x0ay');
});
