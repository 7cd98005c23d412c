/** `smaf run --step` waits for Enter before each step; `--hold` keeps the clients until Ctrl-C. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('run --step runs one step per Enter', async () => {
  const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, 'run', 'camera', '--step'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (x) => (out += x));
  p.stderr.on('data', (x) => (err += x));
  await until(() => /step 1 \(create\): press Enter/.test(err));
  await new Promise((r) => setTimeout(r, 500));
  assert.doesNotMatch(out, /1\. create/, 'nothing runs before Enter');
  p.stdin.write('\n');
  await until(() => /1\. create .*ok/.test(out) && /step 2 \(mmap\)/.test(err));
  assert.doesNotMatch(out, /2\. mmap/);
  p.stdin.end(); // the end of input lets the rest run
  const code = await new Promise((r) => p.once('exit', r));
  assert.equal(code, 0, err);
  assert.match(out, /scenario passed/);
});

test('demo sdp --hold keeps its clients until Ctrl-C', async () => {
  const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, 'demo', 'sdp', '--hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (x) => (err += x));
  await until(() => /holding \d+ clients? and their buffers until Ctrl-C/.test(err));
  const c = await d.admin(); // the operator sees every client
  assert.ok((await c.state()).clients.length >= 3, 'the demo\'s clients are still connected');
  p.kill('SIGINT');
  assert.equal(await new Promise((r) => p.once('exit', r)), 0);
  const end = Date.now() + 5000;
  while ((await c.state()).clients.length > 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await c.state()).clients.length, 1);
  await c.close();
});
