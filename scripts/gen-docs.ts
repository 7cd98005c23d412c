// Regenerates what the uapi tables generate: the tables of docs/protocol.md and the C header
// native/smaf-wire.h. `npm run docs`; test/docs.test.ts and test/c-header.test.ts fail when stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { abiMarkdown, cHeader } from '../src/uapi/index.ts';

export const BEGIN = '<!-- BEGIN GENERATED: npm run docs -->';
export const END = '<!-- END GENERATED -->';
export const HEADER_PATH = new URL('../native/smaf-wire.h', import.meta.url);

export function renderProtocolDoc(current: string): string {
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/protocol.md lacks the generated-section markers');
  return `${current.slice(0, a + BEGIN.length)}\n${abiMarkdown()}\n${current.slice(b)}`;
}

if (process.argv[1]?.endsWith('gen-docs.ts')) {
  const path = new URL('../docs/protocol.md', import.meta.url);
  writeFileSync(path, renderProtocolDoc(readFileSync(path, 'utf8')));
  writeFileSync(HEADER_PATH, cHeader());
  console.log('docs/protocol.md and native/smaf-wire.h regenerated');
}
