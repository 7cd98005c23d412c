/** `smaf demo camera --step` waits for Enter before each step; `--hold` keeps the buffers until Ctrl-C. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/daemon.ts';

async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function demo(...args: string[]) {
  const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), 'demo', 'camera', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const io = { out: '', err: '' };
  p.stdout.on('data', (x) => (io.out += x));
  p.stderr.on('data', (x) => (io.err += x));
  return { p, io };
}

test('demo camera --step runs one step per Enter', async () => {
  const { p, io } = demo('--step');
  await until(() => /step 1 \(create .*\): press Enter/.test(io.err));
  await new Promise((r) => setTimeout(r, 300));
  assert.doesNotMatch(io.out, /\[1\]/, 'nothing runs before Enter');
  p.stdin.write('\n');
  await until(() => /\[1\] create/.test(io.out) && /step 2 \(/.test(io.err));
  assert.doesNotMatch(io.out, /\[2\]/);
  p.stdin.end(); // the end of input lets the rest run
  assert.equal(await new Promise((r) => p.once('exit', r)), 0, io.err);
  assert.match(io.out, /\[8\] release both buffers/);
});

test('demo camera --hold keeps the buffers until Ctrl-C, then releases them', async () => {
  const { p, io } = demo('--hold');
  await until(() => /holding the buffers until Ctrl-C/.test(io.err));
  assert.match(io.out, /\[7\]/);
  assert.doesNotMatch(io.out, /\[8\]/, 'not released while held');
  p.kill('SIGINT');
  assert.equal(await new Promise((r) => p.once('exit', r)), 0, io.err);
  assert.match(io.out, /\[8\] release both buffers.*\n.*scrubbed: true/);
});
