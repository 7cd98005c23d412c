// Regenerates what the uapi tables generate: the tables of docs/protocol.md and docs/trace.md and
// the C header native/smaf-wire.h. `npm run docs`; test/docs.test.ts and test/c-header.test.ts fail when stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { abiMarkdown, cHeader, recordingMarkdown } from '../src/uapi/index.ts';

export const BEGIN = '<!-- BEGIN GENERATED: npm run docs -->';
export const END = '<!-- END GENERATED -->';
export const HEADER_PATH = new URL('../native/smaf-wire.h', import.meta.url);

function render(current: string, file: string, generated: string): string {
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} lacks the generated-section markers`);
  return `${current.slice(0, a + BEGIN.length)}\n${generated}\n${current.slice(b)}`;
}

export function renderProtocolDoc(current: string): string {
  return render(current, 'docs/protocol.md', abiMarkdown());
}

/** docs/trace.md: the table of recorded operations and their arguments. */
export function renderTraceDoc(current: string): string {
  return render(current, 'docs/trace.md', recordingMarkdown());
}

if (process.argv[1]?.endsWith('gen-docs.ts')) {
  const path = new URL('../docs/protocol.md', import.meta.url);
  writeFileSync(path, renderProtocolDoc(readFileSync(path, 'utf8')));
  const trace = new URL('../docs/trace.md', import.meta.url);
  writeFileSync(trace, renderTraceDoc(readFileSync(trace, 'utf8')));
  writeFileSync(HEADER_PATH, cHeader());
  console.log('docs/protocol.md, docs/trace.md and native/smaf-wire.h regenerated');
}
