// Regenerates the generated section of docs/protocol.md from the uapi table: `npm run docs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { abiMarkdown } from '../src/uapi/index.ts';

export const BEGIN = '<!-- BEGIN GENERATED: npm run docs -->';
export const END = '<!-- END GENERATED -->';

export function renderProtocolDoc(current: string): string {
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/protocol.md lacks the generated-section markers');
  return `${current.slice(0, a + BEGIN.length)}\n${abiMarkdown()}\n${current.slice(b)}`;
}

if (process.argv[1]?.endsWith('gen-docs.ts')) {
  const path = new URL('../docs/protocol.md', import.meta.url);
  writeFileSync(path, renderProtocolDoc(readFileSync(path, 'utf8')));
  console.log('docs/protocol.md regenerated');
}
