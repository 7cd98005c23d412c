import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parsePlatform } from '../platform/index.ts';
import { loadPlatformFile } from '../platform-file/load.ts';
import { convertPlatform } from './platform-command.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/devicetree/', import.meta.url));
const soc32 = join(FIXTURES, 'soc32.dts');

test('convert: loading the YAML it prints gives the same platform', () => {
  const overlay = join(mkdtempSync(join(tmpdir(), 'smaf-dt-')), 'board.yaml');
  writeFileSync(overlay, `device_tree: ${soc32}\nsecure_carveout: { size: 8MiB }\ndevices:\n  vdec: { node: /soc/vpu@2000000, class: decoder, secure: true }\n`);
  for (const file of [soc32, join(FIXTURES, 'soc64.dts'), fileURLToPath(new URL('../../platforms/camera-soc.yaml', import.meta.url)), overlay]) {
    const loaded = loadPlatformFile(file);
    assert.deepEqual(parsePlatform(convertPlatform(file, loaded), 'converted'), loaded.spec, file);
  }
});
