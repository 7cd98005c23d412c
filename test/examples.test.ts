/** The README's quick tour is a real program: run it and check that it prints what the README shows. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, startDaemon } from './helpers/daemon.ts';

test('examples/quick-tour.ts runs and prints the output quoted in the README', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/quick-tour.ts')], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  // the README shows the program itself and exactly what it prints, every line
  const code = /## Quick tour of the library\n\n```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  assert.equal(code, readFileSync(join(ROOT, 'examples/quick-tour.ts'), 'utf8'), 'the README quotes examples/quick-tour.ts as it is');
  const quoted = /It prints:\n\n```\n([\s\S]*?)```/.exec(readme)![1]!;
  assert.equal(quoted, r.stdout, 'the README shows the quick tour\'s whole output');
  assert.match(r.stdout, /bytes in use: 0/);
});

test('examples/client.ts imports smaf-ts/client by package name and allocates a frame through smafd', async () => {
  const d = await startDaemon(['--no-dashboard']);
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/client.ts')], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, SMAF_SOCKET: d.socket } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /a 1920x1080 NV12 frame: \d+ bytes in 2 planes/);
    assert.match(r.stdout, /allocated by smaf-cma: 1 segment at 0x/);
  } finally {
    await d.stop();
  }
});
