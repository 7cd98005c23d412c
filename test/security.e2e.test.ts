/**
 * Attacks on a real smafd with only what the protocol allows (issue 11 and 17): a client that
 * pipelines huge READs without reading, half-sent frames, a client flood, introspection of other
 * clients' buffers, the byte-by-byte CRC oracle on secure memory.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import crc32 from 'crc-32';
import type { SmafClient } from '../src/client/client.ts';
import { Errno, isSmafError } from '../src/common/errors.ts';
import { encodeRequest, Op, SMAF_IOC_CREATE } from '../src/uapi/index.ts';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import { eventually, ROOT, startDaemon, waitForLine, type RunningDaemon } from './helpers/daemon.ts';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Send one raw request on a socket and read its answer (the socket has no other traffic). */
function ask(s: Socket, op: number, fd: number, payload: Uint8Array, id = 1): Promise<{ result: number; payload: Buffer }> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const on = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= 4 && got.length >= 4 + got.readUInt32LE(0)) {
        s.off('data', on);
        resolve({ result: got.readInt32LE(8), payload: got.subarray(12, 4 + got.readUInt32LE(0)) });
      }
    };
    s.on('data', on);
    s.write(encodeRequest({ id, op, fd, payload }));
  });
}

const createStruct = (length: bigint): Uint8Array => {
  const b = new Uint8Array(128);
  new DataView(b.buffer).setBigUint64(8, length, true);
  return b;
};

describe('one client cannot take the daemon down', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon(['--no-dashboard']);
  });
  after(async () => {
    assert.equal(await d.stop(), 0);
  });

  test('300 pipelined 16 MiB READs that are never read: bounded RSS, a bystander keeps being served, all freed on disconnect', { timeout: 120_000 }, async () => {
    const op = await d.admin();
    const before = (await op.state()).regions.map((r) => [r.name, r.inUse]);
    const attacker = await open(d.socket);
    const len = 16n * 1024n * 1024n;
    const created = await ask(attacker, SMAF_IOC_CREATE.number, -1, createStruct(len));
    assert.equal(created.result, 0);
    const fd = created.payload.readInt32LE(24);
    const mmap = new Uint8Array(20);
    new DataView(mmap.buffer).setBigUint64(8, len, true);
    new DataView(mmap.buffer).setUint32(16, 1, true);
    const mapped = await ask(attacker, Op.MMAP, fd, mmap, 2);
    assert.equal(mapped.result, 0);
    attacker.pause(); // never read another answer
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const p = new Uint8Array(16);
      const v = new DataView(p.buffer);
      v.setUint32(0, mapped.result, true);
      v.setUint32(12, 16 * 1024 * 1024 - 64, true);
      frames.push(encodeRequest({ id: 10 + i, op: Op.READ, fd, payload: p }));
    }
    attacker.write(Buffer.concat(frames)); // 8,640 bytes: 300 requests of 16 MiB answers

    const bystander = await d.connect();
    const start = Date.now();
    let served = 0;
    let maxRss = 0;
    let slowest = 0;
    while (Date.now() - start < 4000) {
      const t = performance.now();
      const b = await bystander.create(4096);
      await bystander.closeFd(b);
      slowest = Math.max(slowest, performance.now() - t);
      served++;
      maxRss = Math.max(maxRss, rssBytes(d.proc.pid!));
    }
    assert.ok(served > 20, `the bystander was served ${served} times in 4 s`);
    assert.ok(slowest < 2000, `no bystander request waited 2 s (slowest ${slowest.toFixed(0)} ms)`);
    // 64 MiB of queued answers (--max-client-backlog) plus the socket's and Node's own: far from 4 GiB
    assert.ok(maxRss < 400 * 1024 * 1024, `smafd RSS stayed bounded: ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(d.proc.exitCode, null, 'smafd is alive');
    attacker.destroy();
    const after = await eventually(() => op.state(), (s) => s.buffersTotal === 0 && s.clients.length === 2);
    assert.deepEqual(after.regions.map((r) => [r.name, r.inUse]), before);
    await bystander.close();
    await op.close();
  });

  test('a request left half-sent is cut off after --read-timeout, even when it trickles; the half-sent budget closes the largest holder, not the next client', { timeout: 60_000 }, async () => {
    const t = await startDaemon(['--no-dashboard', '--read-timeout', '400', '--max-pending-bytes', '24MiB']);
    try {
      const s = await open(t.socket);
      const frame = encodeRequest({ id: 1, op: Op.WRITE, fd: 3, payload: new Uint8Array(4096) });
      s.write(frame.subarray(0, 100));
      const trickle = setInterval(() => s.write(frame.subarray(100, 101)), 50); // keeps sending, never finishes
      const t0 = Date.now();
      await new Promise<void>((resolve) => s.once('close', () => resolve()));
      clearInterval(trickle);
      assert.ok(Date.now() - t0 < 5000, 'closed by the read timeout despite the trickle');
      // two attackers announce 16 MiB each (held as soon as announced); a client with a 4 MiB WRITE on its way is not the one closed
      const head = Buffer.alloc(16);
      head.writeUInt32LE(16 * 1024 * 1024, 0);
      const a = await open(t.socket);
      a.write(head);
      const victim = await open(t.socket);
      const write = encodeRequest({ id: 5, op: Op.WRITE, fd: 3, payload: new Uint8Array(12 + 4 * 1024 * 1024) });
      victim.write(write.subarray(0, 1024));
      await new Promise((r) => setTimeout(r, 100));
      const closedA = new Promise<void>((resolve) => a.once('close', () => resolve()));
      const b = await open(t.socket);
      b.write(head);
      await closedA; // 16 + 4 + 16 MiB > 24 MiB: the largest holder goes first
      const answered = new Promise<number>((resolve) => victim.once('data', (d: Buffer) => resolve(d.readInt32LE(8))));
      victim.write(write.subarray(1024));
      assert.equal(await answered, -Errno.EBADF, 'the victim was answered (fd 3 does not exist)');
      b.destroy();
      victim.destroy();
    } finally {
      await t.stop();
    }
  });

  test('the answers queued for all clients together are bounded: the connection with most unread answers is closed', { timeout: 120_000 }, async () => {
    // a streamed READ keeps at most 1 MiB queued for a client that does not read: three of them pass 2 MiB
    const t = await startDaemon(['--no-dashboard', '--max-total-backlog', '2MiB']);
    try {
      const attackers: Socket[] = [];
      for (let k = 0; k < 3; k++) {
        const s = await open(t.socket);
        const created = await ask(s, SMAF_IOC_CREATE.number, -1, createStruct(16n * 1024n * 1024n));
        const fd = created.payload.readInt32LE(24);
        const mmap = new Uint8Array(20);
        new DataView(mmap.buffer).setBigUint64(8, 16n * 1024n * 1024n, true);
        new DataView(mmap.buffer).setUint32(16, 1, true);
        const m = (await ask(s, Op.MMAP, fd, mmap, 2)).result;
        s.pause();
        const frames = [];
        for (let i = 0; i < 100; i++) {
          const p = new Uint8Array(16);
          new DataView(p.buffer).setUint32(0, m, true);
          new DataView(p.buffer).setUint32(12, 16 * 1024 * 1024 - 64, true);
          frames.push(encodeRequest({ id: 10 + i, op: Op.READ, fd, payload: p }));
        }
        s.write(Buffer.concat(frames));
        attackers.push(s);
      }
      const bystander = await t.connect();
      let maxRss = 0;
      const end = Date.now() + 4000;
      while (Date.now() < end) {
        await bystander.closeFd(await bystander.create(4096));
        maxRss = Math.max(maxRss, rssBytes(t.proc.pid!));
      }
      // the attackers do not read, so they cannot see the close: smafd's log says it
      assert.match(t.output(), /max_total_backlog/, 'a non-reading connection was closed');
      assert.ok(maxRss < 300 * 1024 * 1024, `smafd RSS stayed bounded with three non-readers: ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
      for (const s of attackers) s.destroy();
      await bystander.close();
    } finally {
      await t.stop();
    }
  });

  test('past --max-clients a new client is refused with a clear EAGAIN, and served again once one leaves', { timeout: 60_000 }, async () => {
    const t = await startDaemon(['--no-dashboard', '--max-clients', '3']);
    try {
      const held = [await t.connect(), await t.connect(), await t.connect()];
      await held[2]!.create(4096); // all three are in
      const late = await t.connect();
      await assert.rejects(late.create(4096), (e) => isSmafError(e, 'EAGAIN') && /max_clients/.test(e.message));
      await held[0]!.close();
      const again = await eventually(async () => {
        const c = await t.connect();
        try {
          await c.create(4096);
          return c;
        } catch {
          return null;
        }
      }, (c) => c !== null);
      assert.ok(again);
      await again.close();
      for (const c of held.slice(1)) await c.close();
    } finally {
      await t.stop();
    }
  });
});

describe('many connections from one process', () => {
  test('64 connections, each with a 16 MiB READ it never reads: answers are streamed, smafd holds little, and gives it back when they go', { timeout: 120_000 }, async () => {
    const d = await startDaemon(['--no-dashboard']);
    try {
      const owner = await d.connect();
      const len = 16 * 1024 * 1024;
      const token = await owner.exportToken(await owner.create(len));
      const socks: Socket[] = [];
      const reads: Uint8Array[] = [];
      for (let i = 0; i < 64; i++) {
        const s = await open(d.socket);
        const imported = await ask(s, Op.IMPORT, -1, token);
        assert.ok(imported.result >= 3, `import ${i}`);
        const mmap = new Uint8Array(20);
        new DataView(mmap.buffer).setBigUint64(8, BigInt(len), true);
        new DataView(mmap.buffer).setUint32(16, 1, true);
        const m = await ask(s, Op.MMAP, imported.result, mmap, 2);
        assert.ok(m.result >= 0, `mmap ${i}`);
        s.pause(); // never read another answer
        const p = new Uint8Array(16);
        new DataView(p.buffer).setUint32(0, m.result, true);
        new DataView(p.buffer).setUint32(12, len - 64, true);
        reads.push(encodeRequest({ id: 3, op: Op.READ, fd: imported.result, payload: p }));
        socks.push(s);
      }
      const start = rssBytes(d.proc.pid!);
      socks.forEach((s, i) => s.write(reads[i]!)); // all at once: 1 GiB of answers asked for
      let peak = start;
      const end = Date.now() + 3000;
      while (Date.now() < end) {
        await owner.stat(3); // a bystander is served throughout
        peak = Math.max(peak, rssBytes(d.proc.pid!));
        await new Promise((r) => setTimeout(r, 50));
      }
      // each non-reading connection holds at most about 1 MiB of its streamed answer (before: the whole 16 MiB, 1 GiB in all)
      assert.ok(peak - start < 300 * 2 ** 20, `smafd grew by ${((peak - start) / 2 ** 20).toFixed(0)} MiB under the attack`);
      for (const s of socks) s.destroy();
      await eventually(async () => rssBytes(d.proc.pid!), (rss) => rss - start < 128 * 2 ** 20, 15_000, 'smafd to give the memory back');
      assert.equal(d.proc.exitCode, null, 'smafd is alive');
      await owner.close();
    } finally {
      await d.stop();
    }
  });

  test('two connections of one process cannot take the whole SDP region table: a client that has none mapped still gets a region', { timeout: 60_000 }, async () => {
    const d = await startDaemon(['--no-dashboard']);
    try {
      const mapSecure = async (c: SmafClient): Promise<boolean> => {
        const fd = await c.create(4096);
        await c.setSecure(fd, true);
        try {
          await c.map(fd, await c.attach(fd, 'vdec'), 2);
          return true;
        } catch (e) {
          if (isSmafError(e, 'ENOSPC')) return false;
          throw e;
        }
      };
      const [a, b] = [await d.connect(), await d.connect()];
      let taken = 0;
      for (const c of [a, b]) while (taken < 32 && (await mapSecure(c))) taken++;
      assert.equal(taken, 12, 'the attacker\'s two connections took 8 + 4 of the 16 regions');
      const victim = await d.connect();
      assert.equal(await mapSecure(victim), true, 'a client that has none mapped gets one');
      for (const c of [a, b, victim]) await c.close();
    } finally {
      await d.stop();
    }
  });

  test('a loop of connections that each send 4 malformed bytes cannot flood the log: a few lines per cause, the rest counted', { timeout: 60_000 }, async () => {
    const d = await startDaemon(['--no-dashboard']);
    try {
      const before = d.output().length;
      let sent = 0;
      const end = Date.now() + 2000;
      while (Date.now() < end) {
        const s = await open(d.socket);
        const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
        s.on('error', () => undefined);
        s.write(Buffer.from([0, 0, 0, 0])); // a frame shorter than its header
        await closed;
        sent++;
      }
      const log = d.output().slice(before);
      const lines = log.split('\n').filter((l) => l.includes('malformed frame'));
      assert.ok(sent > 100, `${sent} malformed frames sent`);
      assert.ok(lines.length <= 10, `${lines.length} log lines for ${sent} malformed frames`);
      assert.ok(log.length < 16 * 1024, `${log.length} bytes of log`);
      assert.equal(d.proc.exitCode, null);
    } finally {
      await d.stop();
    }
    assert.match(d.output(), /malformed frame: closing this connection: suppressed \d+ similar warnings in 10 s/, 'the count is said (at the latest when smafd stops)');
  });
});

describe('hostile scenario files', () => {
  test('a 5-line scenario filling 3900 MiB streams its WRITEs: the CLI never holds the fill', { timeout: 60_000 }, async () => {
    const d = await startDaemon(['--no-dashboard']);
    try {
      const scenario = parseScenario(['name: evil', 'steps:', '  - create: { buffer: b, size: 64MiB }', '  - mmap: { buffer: b, as: m }', '  - write: { mapping: m, fill: { byte: 7, length: 3900MiB }, expect_error: EINVAL }'].join('\n'));
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
      const r = await runScenario(scenario, () => d.connect());
      clearInterval(timer);
      assert.equal(r.ok, true, JSON.stringify(r.steps.at(-1)));
      assert.ok(peak - before < 64 * 2 ** 20, `the CLI held ${((peak - before) / 2 ** 20).toFixed(0)} MiB at most`);
    } finally {
      await d.stop();
    }
  });
});

describe('a client sees only what it holds', () => {
  let d: RunningDaemon;
  let alice: SmafClient;
  let mallory: SmafClient;
  let aliceFd: number;
  let aliceBuffer: number;
  before(async () => {
    d = await startDaemon(['--no-dashboard']);
    alice = await d.connect();
    mallory = await d.connect();
    aliceFd = await alice.create(8192);
    const att = await alice.attach(aliceFd, 'vdec');
    await alice.map(aliceFd, att);
    aliceBuffer = (await alice.explainFd(aliceFd)).buffer;
  });
  after(async () => {
    await alice.close();
    await mallory.close();
    assert.equal(await d.stop(), 0);
  });

  test("X_STATE shows a client its own buffers only: no other client's buffers, addresses, events or identity", async () => {
    const mine = await mallory.create(4096);
    const st = await mallory.state();
    assert.equal(st.scope, 'own');
    assert.deepEqual(st.buffers.map((b) => b.refs), [1]);
    assert.equal(st.buffersTotal, 1);
    assert.ok(st.regions.every((r) => r.occupancy.every((o) => o.buffer !== aliceBuffer)), 'no occupancy of alice');
    assert.ok(st.events.every((e) => e.buffer !== aliceBuffer), 'no event of alice');
    assert.equal(st.clients.length, 1, 'only itself among the clients');
    assert.deepEqual(st.bus, {});
    await mallory.closeFd(mine);
  });

  test("X_EXPLAIN of another client's buffer by id: ENOENT, exactly as for a buffer that does not exist", async () => {
    await assert.rejects(mallory.explain(aliceBuffer), (e) => isSmafError(e, 'ENOENT'));
    await assert.rejects(mallory.explain(999_999), (e) => isSmafError(e, 'ENOENT'));
    assert.equal((await alice.explain(aliceBuffer)).buffer, aliceBuffer, 'the holder may');
  });

  test('X_CHECK (smaf doctor) is the operator’s: EPERM on the client socket, answered on the admin socket', async () => {
    const r = await mallory.request(Op.X_CHECK, -1);
    assert.equal(r.result, -Errno.EPERM);
    const op = await d.admin();
    assert.equal((await op.check()).ok, true);
    const st = await op.state();
    assert.equal(st.scope, 'all');
    assert.ok(st.buffers.some((b) => b.buffer === aliceBuffer), 'the operator sees alice');
    assert.ok((await op.explain(aliceBuffer)).allocated);
    await op.close();
  });

  test('the admin socket is mode 0600, the client socket 0660', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(d.socket).mode & 0o777, 0o660);
    assert.equal(statSync(d.socket.replace(/smaf\.sock$/, 'smaf-admin.sock')).mode & 0o777, 0o600);
  });

  test('started under umask 000, smafd creates its sockets 0600 (admin) and 0660 (clients, C programs) from their first moment (watched as they appear)', { timeout: 30_000 }, async () => {
    const { mkdtempSync, rmSync, statSync, watch } = await import('node:fs');
    const { spawn } = await import('node:child_process');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'smafd-umask-'));
    const seen: string[] = [];
    // every mode the sockets are seen with, from the first inotify event on
    const watcher = watch(dir, (_e, name) => {
      try {
        if (name?.endsWith('.sock')) seen.push(`${name} ${(statSync(join(dir, name)).mode & 0o777).toString(8)}`);
      } catch {
        // gone again
      }
    });
    const proc = spawn('sh', ['-c', `umask 000; exec "${process.execPath}" "${join(ROOT, 'bin/smafd.js')}" --no-dashboard --socket "${join(dir, 'smaf.sock')}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitForLine(proc, /dashboard off/);
      for (const name of ['smaf.sock', 'smaf-admin.sock', 'smaf-native.sock']) seen.push(`${name} ${(statSync(join(dir, name)).mode & 0o777).toString(8)}`);
      assert.deepEqual([...new Set(seen)].sort(), ['smaf-admin.sock 600', 'smaf-native.sock 660', 'smaf.sock 660']);
    } finally {
      watcher.close();
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DMA_CRC is no read oracle for secure memory', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon(['--no-dashboard']);
  });
  after(async () => {
    assert.equal(await d.stop(), 0);
  });

  /** The victim decrypts its content into a secure buffer and shares it (e.g. with a compositor). */
  async function victimSecret(victim: SmafClient, secret: Uint8Array): Promise<string> {
    const clear = await victim.create(4096);
    const m = await victim.mmap(clear, 0, 4096, 3);
    await victim.write(clear, m, 0, secret); // ciphertext (what it decrypts to depends on the secure world's key)
    const s = await victim.create(4096);
    await victim.setSecure(s, true);
    const cin = await victim.attach(clear, 'crypto');
    const cout = await victim.attach(s, 'crypto');
    await victim.map(clear, cin, 1);
    await victim.map(s, cout, 2);
    await victim.dmaCopy(s, cout, clear, cin, secret.length, { transform: 1 });
    await victim.unmap(s, cout);
    await victim.detach(s, cout);
    return Buffer.from(await victim.exportToken(s)).toString('hex');
  }

  test("the byte-by-byte attack of issue 11 (copy to a fresh page, zero all but byte i, CRC, guess) learns nothing: the CRC is refused", async () => {
    const victim = await d.connect();
    const attacker = await d.connect();
    const secret = new TextEncoder().encode('0123456789abcdefg'); // 17 bytes
    const token = await victimSecret(victim, secret);
    const S = await attacker.importToken(Uint8Array.from(Buffer.from(token, 'hex')));
    const T = await attacker.create(4096);
    await attacker.setSecure(T, true);
    const zeros = await attacker.create(4096);
    await attacker.mmap(zeros, 0, 4096, 1);
    const vs = await attacker.attach(S, 'vdec');
    const vt = await attacker.attach(T, 'vdec');
    await attacker.map(S, vs, 1);
    await attacker.map(T, vt, 2);
    await attacker.dmaCopy(T, vt, S, vs, 4096); // secure -> secure is allowed
    await attacker.unmap(T, vt);
    await attacker.detach(T, vt);
    const cz = await attacker.attach(zeros, 'crypto');
    const ct = await attacker.attach(T, 'crypto');
    await attacker.map(zeros, cz, 1);
    await attacker.map(T, ct, 2);
    const i = 0;
    await attacker.dmaCopy(T, ct, zeros, cz, 4096 - i - 1, { dstOffset: i + 1 }); // zero everything after byte i
    await attacker.unmap(T, ct);
    await attacker.detach(T, ct);
    const disp = await attacker.attach(T, 'display');
    await attacker.map(T, disp, 1);
    await assert.rejects(attacker.dmaCrc(T, disp, 0, 4096), (e) => isSmafError(e, 'EACCES') && /client \d+/.test(e.message));
    // and on the victim's own buffer directly
    const sd = await attacker.attach(S, 'display');
    await attacker.map(S, sd, 1);
    await assert.rejects(attacker.dmaCrc(S, sd, 0, 4096), (e) => isSmafError(e, 'EACCES'));
    await attacker.close();
    await victim.close();
  });

  test('a client may check by CRC a test pattern it put in secure memory itself, never what it decrypted (the SDP demo)', async () => {
    const victim = await d.connect();
    const secret = new TextEncoder().encode('a frame the player decrypted');
    await victimSecret(victim, secret);
    const st = await victim.state();
    const fd = 3 + st.buffers.findIndex((b) => b.secure); // the secure buffer's fd (created second)
    assert.ok(st.buffers[fd - 3]!.secure);
    const disp = await victim.attach(fd, 'display');
    await victim.map(fd, disp, 1);
    await assert.rejects(victim.dmaCrc(fd, disp, 0, 4096), (e) => isSmafError(e, 'EACCES'), 'decrypted with the secure world\'s key: the secure world\'s data');
    // a test pattern the client copies into a fresh secure buffer itself
    const pattern = new TextEncoder().encode('TEST PATTERN 0001');
    const src = await victim.create(4096);
    const m = await victim.mmap(src, 0, 4096, 3);
    await victim.write(src, m, 0, pattern);
    const t = await victim.create(4096);
    await victim.setSecure(t, true);
    const vin = await victim.attach(src, 'vdec');
    const vout = await victim.attach(t, 'vdec');
    await victim.map(src, vin, 1);
    await victim.map(t, vout, 2);
    await victim.dmaCopy(t, vout, src, vin, pattern.length);
    const td = await victim.attach(t, 'display');
    await victim.map(t, td, 1);
    const page = Buffer.alloc(4096);
    Buffer.from(pattern).copy(page);
    assert.equal(await victim.dmaCrc(t, td, 0, 4096), crc32.buf(page) >>> 0);
    await victim.close();
  });

});
