/**
 * What the README tells users must hold for any user: paths that exist on their machine (device
 * trees under ~/dtbs, not one machine's directory), the token /metrics needs, a trace viewer that
 * works, and a screenshot of each feature it shows, at desktop and phone sizes, from the script that
 * takes them.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/daemon.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('no path of one particular machine: device trees live under ~/dtbs (or $SMAF_DTB_DIR), everywhere', () => {
  for (const file of ['README.md', 'docs/architecture.md', 'docs/protocol.md', 'docs/c-programs.md', 'platforms/db845c.yaml', 'platforms/khadas-vim3.yaml', 'platforms/rockpro64.yaml', 'scripts/fetch-dtbs']) {
    assert.doesNotMatch(readFileSync(join(ROOT, file), 'utf8'), /\/work\//, `${file} names a directory of one machine`);
  }
  assert.match(readme, /mv \/tmp\/k\/usr\/lib\/linux-image-\*-arm64 ~\/dtbs/);
  assert.match(readme, /`\$SMAF_DTB_DIR` \(default `~\/dtbs`\)/);
});

test('/metrics needs the token, and the README shows Prometheus how to send it', () => {
  assert.match(readme, /`GET \/metrics` on the dashboard's address serves Prometheus metrics \(prom-client\), to the holder of\nthe dashboard's token/);
  assert.match(readme, /scrape_configs:\n {2}- job_name: smafd\n.*\n {4}authorization: \{ type: Bearer, credentials: /);
});

test('every feature the README pictures has its screenshot at 1280 and at 390 px, from scripts/screenshot.ts', () => {
  const script = readFileSync(join(ROOT, 'scripts/screenshot.ts'), 'utf8');
  assert.match(script, /const DESKTOP = \{ width: 1280, height: 900 \};\nconst PHONE = \{ width: 390, height: 844 \};/);
  for (const name of ['streaming', 'devices', 'frame-layout', 'dashboard']) {
    for (const file of [`docs/${name}.png`, `docs/${name}-phone.png`]) {
      assert.ok(existsSync(join(ROOT, file)), file);
      assert.ok(readme.includes(`(${file})`) || readme.includes(`src="${file}"`), `the README shows ${file}`);
    }
  }
  // the documented commands the screenshots come from
  for (const cmd of [`'run', 'camera', '--hold'`, `'run', 'sdp', '--hold'`, `'create', '1920x1080:NV12', '--modifier', 'ALLWINNER_TILED', '--attach', 'vdec,display', '--map', '--hold'`]) assert.ok(script.includes(cmd), cmd);
});
