/** The CLI behaves as a Unix tool: a closed pipe ends it quietly. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SIGPIPE_STATUS } from '../src/common/stdio.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPiped } from './helpers/cli.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

test('a closed pipe ends info, run and demo quietly (no EPIPE, no stack trace), as SIGPIPE would', async () => {
  for (const args of [['info'], ['run', 'camera'], ['demo', 'camera'], ['demo', 'sdp'], ['info', '--abi']]) {
    // `true` exits at once: smaf's first write meets a closed pipe
    const r = await runPiped(['--socket', d.socket, ...args], 'true');
    assert.equal(r.stderr, '', `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.code, SIGPIPE_STATUS, args.join(' '));
    const head = await runPiped(['--socket', d.socket, ...args], 'head -1');
    assert.equal(head.stderr, '', `${args.join(' ')} | head -1: ${head.stderr}`);
    assert.equal(head.stdout.split('\n').length, 2, 'exactly one line');
  }
});

test('what the README says of `smaf info | head -1`: one line, and smaf exits 0 (its output fits in the pipe at once)', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  assert.match(readme, /`smaf info \| head -1` prints one line and `smaf` exits 0/);
  assert.match(readme, /`smaf info \| true`.* ends with status 141/);
  for (let i = 0; i < 3; i++) {
    const r = await runPiped(['--socket', d.socket, 'info'], 'head -1'); // pipefail: smaf's status when it fails
    assert.equal(r.code, 0, `smaf info | head -1: ${r.stderr}`);
    assert.match(r.stdout, /^platform media-soc/);
  }
  assert.equal((await runPiped(['--socket', d.socket, 'info'], 'true')).code, SIGPIPE_STATUS);
});
