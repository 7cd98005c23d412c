/**
 * Terminal escapes (issue 21 item 10): a client's HELLO comm or SET_NAME, or a scenario file, may
 * hold ESC, a one-byte CSI (U+009B), OSC (U+009D), BEL, CR or bidi overrides. No command that
 * prints such a string lets one reach the terminal raw: the bytes of stdout and stderr are scanned.
 * Twice: against the real smafd (which escapes what clients say about themselves), and against a
 * daemon whose stored strings are raw (the tools must not trust the daemon to have done it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { SmafClient } from '../src/client/client.ts';
import { SmafDaemon } from '../src/daemon/server.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { runBin } from './helpers/cli.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

/** 15 bytes of UTF-8: ESC sequence, CSI, OSC, BEL, RLO. */
const COMM = '\x1b[2J\u009b\u009d\x07\u202e';
/** At most 31 bytes: an OSC title, a C1 CSI colour, a C1 OSC hyperlink, an isolate, CR. */
const NAME = 'a\x1b]0;t\x07\u009b31m\u009d8;;x\u2066\r';

/** Whether a code point must never reach a terminal raw (newline and tab are layout). */
function raw(c: number): boolean {
  return (c < 0x20 && c !== 0x0a && c !== 0x09) || (c >= 0x7f && c <= 0x9f) || c === 0x061c || (c >= 0x200b && c <= 0x200f)
    || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c === 0xfeff;
}

function assertNoRaw(what: string, text: string): void {
  const at = [...text].findIndex((ch) => raw(ch.codePointAt(0)!));
  const ch = at < 0 ? '' : [...text][at]!;
  const where = [...text].slice(Math.max(0, at - 40), at + 40).join('');
  assert.equal(at, -1, `${what} printed U+${ch.codePointAt(0)?.toString(16).padStart(4, '0')} raw: ${JSON.stringify(where)}`);
}

/** The commands that print client strings, each in text and JSON; every one must succeed and show the strings escaped. */
async function checkCommands(socket: string, admin: string, bufferId: number): Promise<void> {
  const commands = [['ps'], ['events', '-l', '200'], ['info'], ['explain', String(bufferId)]];
  for (const args of commands) {
    for (const json of [false, true]) {
      const argv = ['--socket', socket, '--admin-socket', admin, ...(json ? ['--json'] : []), ...args];
      const r = await runBin('smaf', argv);
      assert.equal(r.code, 0, `smaf ${argv.join(' ')}: ${r.stderr}`);
      assertNoRaw(`smaf ${args.join(' ')}${json ? ' --json' : ''} (stdout)`, r.stdout);
      assertNoRaw(`smaf ${args.join(' ')}${json ? ' --json' : ''} (stderr)`, r.stderr);
      if (json) JSON.parse(r.stdout); // still valid JSON
      // the strings are there, escaped, where a client's strings are shown
      if (!json && args[0] !== 'explain') assert.match(r.stdout, /\\x1b/, `smaf ${args.join(' ')} shows the escaped name`);
      if (!json && args[0] !== 'info') assert.match(r.stdout, /\\u009b/, `smaf ${args.join(' ')} shows the escaped CSI`);
    }
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(() => d?.stop());

test('through the real smafd: ps, events, info and explain show a hostile comm and buffer name escaped', async () => {
  const c = await d.connect();
  await c.hello(4242, COMM);
  const fd = await c.create(4096);
  await c.setName(fd, NAME);
  const bufferId = (await c.explainFd(fd)).buffer;
  await checkCommands(d.socket, `${d.socket.replace(/smaf\.sock$/, 'smaf-admin.sock')}`, bufferId);
  await c.close();
});

test('against a daemon that hands the strings back raw, the tools still escape them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-escapes-'));
  dirs.push(dir);
  const socket = join(dir, 'smaf.sock');
  const admin = join(dir, 'smaf-admin.sock');
  const { smaf } = createSmafSystem();
  const daemon = new SmafDaemon({ socketPath: socket, adminSocketPath: admin, smaf, log: pino({ level: 'silent' }) });
  await daemon.start();
  try {
    const c = await SmafClient.connect(socket);
    await c.hello(4242, 'innocent');
    const fd = await c.create(4096);
    // what a daemon without the escaping would store: the raw strings, newline and all
    for (const s of daemon.context.sessions) (s as { comm: string | null }).comm = `${COMM}\nforged`;
    const buf = smaf.buffers.find((b) => !b.released)!;
    buf.setLabel(`${NAME}\u202e\n`);
    await checkCommands(socket, admin, buf.id);
    void fd;
    await c.close();
  } finally {
    await daemon.stop();
  }
});

test('a scenario file\'s text (description, say, notes, bytes read back) is printed escaped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-escapes-'));
  dirs.push(dir);
  const file = join(dir, 'evil.yaml');
  writeFileSync(file, [
    'name: "evil\\e]0;title\\a"',
    'description: "desc \\x9b2J \\u202e"',
    'steps:',
    '  - say: "hello \\e[31m red \\x9d8;;http://x\\a"',
    '  - create: { buffer: b, size: 4096, note: "note \\u2066 \\x9b" }',
    '  - mmap: { buffer: b, as: m, prot: rw }',
    '  - write: { mapping: m, text: "\\e]0;pwned\\a\\x9b2J" }',
    '  - read: { mapping: m, length: 9, expect_text: "something else" }',
  ].join('\n'));
  const r = await runBin('smaf', ['--socket', d.socket, 'run', file]);
  assert.notEqual(r.code, 0, 'the read step fails');
  assertNoRaw('smaf run (stdout)', r.stdout);
  assertNoRaw('smaf run (stderr)', r.stderr);
  assert.match(r.stdout, /\\x1b\]0;title\\x07/);
  const json = await runBin('smaf', ['--socket', d.socket, '--json', 'run', file]);
  assertNoRaw('smaf run --json (stdout)', json.stdout);
  JSON.parse(json.stdout.split('\n{"error"')[0]!);
});
