import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { firstUnsafe, printable } from './printable.ts';

/** Whether `s` holds a code point no output of printable may hold raw (newline and tab aside), written out here, not shared with the code under test. */
const DANGEROUS = {
  test: (s: string): boolean => [...s].some((ch) => {
    const c = ch.codePointAt(0)!;
    return (c < 0x20 && c !== 0x0a && c !== 0x09) || (c >= 0x7f && c <= 0x9f) || c === 0x061c || (c >= 0x200b && c <= 0x200f)
      || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c === 0xfeff || (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xd800 && c <= 0xdfff);
  }),
};

test('printable escapes ANSI, OSC and C1 control characters and keeps text and newlines', () => {
  assert.equal(printable('plain: ünïcode ok 日本 😀\nnext\tline'), 'plain: ünïcode ok 日本 😀\nnext\tline');
  assert.equal(printable('\x1b[2J\x1b]0;pwned\x07'), '\\x1b[2J\\x1b]0;pwned\\x07');
  assert.equal(printable('a\x9bb\x7fc\x00\x9d0;t\x9c'), 'a\\u009bb\\u007fc\\x00\\u009d0;t\\u009c');
  assert.equal(printable('over\rwrite\b'), 'over\\x0dwrite\\x08');
  assert.equal(printable('x\ny\tz', 'line'), 'x\\x0ay\\x09z');
});

test('printable escapes bidirectional overrides, isolates, invisible characters and lone surrogates', () => {
  assert.equal(printable('admin\u202eexe.txt'), 'admin\\u202eexe.txt');
  for (const c of [0x061c, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff, 0xfff9]) {
    const ch = String.fromCharCode(c);
    assert.equal(printable(`a${ch}b`), `a\\u${c.toString(16).padStart(4, '0')}b`);
    assert.deepEqual(firstUnsafe(`ab${ch}`), { index: 2, codePoint: `U+${c.toString(16).toUpperCase().padStart(4, '0')}` });
  }
  assert.equal(printable('x\ud800y\udc00'), 'x\\ud800y\\udc00');
  assert.equal(printable('\ud83d\ude00'), '😀', 'a surrogate pair is one character, kept');
});

test('JSON text stays valid: it parses to the same value and holds no raw control', () => {
  fc.assert(fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, s) => {
    for (const v of [value, s, { s }]) {
      const text = printable(JSON.stringify(v, null, 2));
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      assert.ok(!DANGEROUS.test(text.replace(/\n/g, '')), text);
    }
  }));
});

test('no output of any mode holds a dangerous code point raw', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
    assert.ok(!DANGEROUS.test(printable(s, 'line')));
    assert.ok(!DANGEROUS.test(printable(s).replace(/[\n\t]/g, '')));
    assert.equal(firstUnsafe(s) === null, printable(s, 'line') === s);
  }));
});

test('firstUnsafe names the first unsafe code point, newlines included', () => {
  assert.equal(firstUnsafe('fine name-1.0'), null);
  assert.deepEqual(firstUnsafe('two\nlines'), { index: 3, codePoint: 'U+000A' });
  assert.deepEqual(firstUnsafe('csi\x9b'), { index: 3, codePoint: 'U+009B' });
});
