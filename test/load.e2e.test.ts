/**
 * Load: 1,024 client connections in 4 processes create, map and share buffers, then the processes
 * are killed abruptly. Afterwards every region is back to its starting free size and the daemon's
 * invariants hold.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allBuffers, eventually, spawnTs, startDaemon, waitForLine, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

test('1,024 connections that share buffers and die abruptly leave every region as free as before', { timeout: 300_000 }, async () => {
  const c = await d.admin();
  const start = (await c.state()).regions.map((r) => [r.name, r.inUse, r.largestFree]);
  const children = Array.from({ length: 4 }, () => spawnTs('test/helpers/load-client.ts', [d.socket, '256']));
  await Promise.all(children.map((p) => waitForLine(p, /^ready 256/, 120_000)));
  const busy = await c.state();
  assert.equal(busy.clients.length, 1025);
  assert.equal(busy.buffersTotal, 1024);
  const all = await allBuffers(c);
  assert.equal(all.length, 1024);
  assert.ok(all.every((b) => b.refs === 3), 'each buffer: its creator, an importer and a dup');
  assert.ok((await c.check()).ok);
  for (const p of children) p.kill('SIGKILL');
  const after = await eventually(() => c.state(), (s) => s.buffersTotal === 0 && s.clients.length === 1, 60_000, 'every killed client to be gone with its buffers');
  assert.equal(after.buffers.length, 0);
  assert.deepEqual(after.regions.map((r) => [r.name, r.inUse, r.largestFree]), start);
  assert.equal(after.tokens, 0);
  const report = await c.check();
  assert.ok(report.ok, JSON.stringify(report.checks.filter((x) => !x.ok)));
  await c.close();
});
