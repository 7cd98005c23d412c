import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderProtocolDoc } from '../scripts/gen-docs.ts';

test('docs/protocol.md is generated from the current uapi table (run npm run docs)', () => {
  const text = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  assert.equal(renderProtocolDoc(text), text);
  assert.match(text, /SMAF_IOC_CREATE \| 'S' \| 0 \| RW \| smaf_create_data \(128\) \| 0xC0805300/);
});
