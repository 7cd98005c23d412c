/** The CLI behaves as a Unix tool: a closed pipe ends it quietly. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SIGPIPE_STATUS } from '../src/common/stdio.ts';
import { runPiped } from './helpers/cli.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

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
