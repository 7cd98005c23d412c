/** docs/protocol.md lists every limit smafd has, with its option and default. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatSize } from '../src/common/units.ts';
import { DEFAULT_LIMITS, LIMIT_OPTIONS } from '../src/daemon/context.ts';
import { ROOT } from './helpers/daemon.ts';

test('every limit is in the Limits table of docs/protocol.md with its current default', () => {
  const doc = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Limits'));
  const optional = new Set(['maxAttachmentsPerFd', 'maxMappingsPerFd', 'maxIo']); // fixed, documented without an option
  for (const [key, option] of Object.entries(LIMIT_OPTIONS) as [keyof typeof LIMIT_OPTIONS, string][]) {
    if (optional.has(key)) continue;
    const row = table.split('\n').find((l) => l.includes(`\`--${option}\``));
    assert.ok(row, `--${option} is documented`);
    const v = DEFAULT_LIMITS[key];
    const shown = [String(v), v.toLocaleString('en-US'), formatSize(v), `${v / 1000} s`];
    assert.ok(shown.some((s) => row.includes(`| ${s} |`)), `the row of --${option} shows its default ${v}: ${row}`);
  }
});
