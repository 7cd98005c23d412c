/**
 * The tools against a hostile or broken daemon (issue 17): a server that is silent, sends half a
 * frame, sends a giant frame, never finishes closing, or answers with terminal escape sequences; a
 * socket squatted by another user. Every case ends, with a message, and nothing raw reaches a terminal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SmafClient } from '../src/client/client.ts';
import { isSmafError } from '../src/common/errors.ts';
import { ROOT } from './helpers/daemon.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fake(onConnection: (s: Socket) => void): Promise<{ path: string; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-fake-'));
  dirs.push(dir);
  const path = join(dir, 'smaf.sock');
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(path, () => resolve()));
  return { path, server };
}

function answer(id: number, result: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(8 + payload.length, 0);
  head.writeUInt32LE(id, 4);
  head.writeInt32LE(result, 8);
  return Buffer.concat([head, payload]);
}

test('a silent daemon, or one that sends half a frame: ETIMEDOUT "smafd did not answer", not a hang', async () => {
  for (const behave of [(_s: Socket) => undefined, (s: Socket) => void s.write(Buffer.from([20, 0, 0, 0, 1, 0]))]) {
    const { path, server } = await fake(behave);
    const c = await SmafClient.connect(path, { timeoutMs: 300 });
    const t = Date.now();
    await assert.rejects(c.create(4096), (e) => isSmafError(e, 'ETIMEDOUT') && /did not answer within 300 ms/.test(e.message));
    assert.ok(Date.now() - t < 3000);
    await assert.rejects(c.create(4096), (e) => isSmafError(e, 'ETIMEDOUT'), 'the connection is dropped after a timeout');
    server.close();
  }
});

test('a daemon that announces a giant answer: EPROTO, the connection is dropped, nothing is buffered', async () => {
  const { path, server } = await fake((s) => {
    const head = Buffer.alloc(12);
    head.writeUInt32LE(0xffff_fff0, 0);
    s.write(head);
  });
  const c = await SmafClient.connect(path, { timeoutMs: 2000 });
  await assert.rejects(c.create(4096), (e) => isSmafError(e, 'EPROTO') && /over the 16777216-byte limit/.test(e.message));
  server.close();
});

test('a daemon that never finishes a close: close() returns after the timeout', async () => {
  const held: Socket[] = [];
  const { path, server } = await fake((s) => {
    held.push(s);
    s.on('end', () => undefined); // half-open: never ends its side
  });
  const c = await SmafClient.connect(path, { timeoutMs: 300 });
  const t = Date.now();
  await c.close();
  assert.ok(Date.now() - t < 3000);
  for (const s of held) s.destroy();
  server.close();
});

test('smaf prints a daemon message with escape sequences escaped, never raw', async () => {
  const { path, server } = await fake((s) => {
    s.on('data', (b) => s.write(answer(b.readUInt32LE(4), -5, Buffer.from('\x1b[2J\x1b]0;owned\x07 gotcha'))));
  });
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', path, '--admin-socket', path.replace(/smaf.sock$/, 'none.sock'), 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, err }));
  });
  assert.equal(r.code, 5);
  assert.ok(!r.err.includes('\x1b'), JSON.stringify(r.err));
  assert.match(r.err, /\\x1b\[2J\\x1b\]0;owned\\x07 gotcha/);
  server.close();
});

test('a socket owned by another user is never talked to (socket squatting)', async () => {
  const { path, server } = await fake((s) => s.write(answer(1, 0, Buffer.alloc(0))));
  chownSync(path, 4321, 4321);
  await assert.rejects(SmafClient.connect(path), (e) => isSmafError(e, 'EPERM') && /belongs to uid 4321/.test(e.message));
  server.close();
});

test('smafd refuses a default socket directory that another user created first', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'smaf-squat-'));
  dirs.push(tmp);
  const uid = process.getuid!();
  const squatted = join(tmp, `smaf-${uid}`);
  mkdirSync(squatted, { mode: 0o700 });
  chownSync(squatted, 4321, 4321);
  const run = () => new Promise<{ code: number | null; out: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
    delete env.XDG_RUNTIME_DIR;
    const p = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--no-dashboard'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) p.kill('SIGTERM');
    });
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => resolve({ code, out }));
  });
  const refused = await run();
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /belongs to uid 4321, not to you/);
  // once it is gone, smafd makes its own, mode 0700
  rmSync(squatted, { recursive: true });
  const ok = await run();
  assert.match(ok.out, new RegExp(`listening on ${squatted}/smaf.sock`), ok.out);
  const { statSync } = await import('node:fs');
  assert.equal(statSync(squatted).mode & 0o777, 0o700);
});
