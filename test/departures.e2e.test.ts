/**
 * A client that leaves is closed in slices (issue 22): its fds are closed a few at a time by the
 * scheduler, so that a client leaving with thousands of fds does not hold the others up while they
 * are closed; a client with few of them is closed in one unit, never seen half closed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { SmafClient } from '../src/client/client.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { adminSocketFor } from '../src/uapi/socket-path.ts';
import { SmafDaemon } from '../src/daemon/server.ts';

async function withDaemon(body: (d: SmafDaemon, socket: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-teardown-'));
  const socket = join(dir, 'smaf.sock');
  const daemon = new SmafDaemon({ socketPath: socket, adminSocketPath: adminSocketFor(socket), smaf: createSmafSystem().smaf, log: pino({ level: 'silent' }) });
  await daemon.start();
  try {
    await body(daemon, socket);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('4 clients leaving with 1,024 fds each: other requests are answered while their fds are being closed', async () => {
  await withDaemon(async (_d, socket) => {
    const leavers = await Promise.all(Array.from({ length: 4 }, () => SmafClient.connect(socket)));
    await Promise.all(leavers.map((c) => Promise.all(Array.from({ length: 1024 }, () => c.create(4096)))));
    const admin = await SmafClient.connect(adminSocketFor(socket));
    assert.equal((await admin.state({ limit: 0 })).buffersTotal, 4096);
    // the operator keeps asking how many buffers live, a few requests in flight at all times
    const seen: number[] = [];
    let left = 4096;
    const probe = async () => {
      while (left > 0) seen.push((left = (await admin.state({ limit: 0 })).buffersTotal));
    };
    const probes = Array.from({ length: 4 }, probe);
    for (const c of leavers) c.destroy();
    await Promise.all(probes);
    // closed all at once, each leaver's 1,024 buffers would go between two answers: only multiples
    // of 1,024 could be seen
    const between = seen.filter((n) => n % 1024 !== 0);
    assert.ok(between.length > 0, `the operator saw only ${[...new Set(seen)].join(', ')} live buffers`);
    await admin.close();
  });
});

test('a client with few fds is never seen half closed: its teardown is one unit, whatever the machine does meanwhile', async () => {
  await withDaemon(async (_d, socket) => {
    const admin = await SmafClient.connect(adminSocketFor(socket));
    for (let round = 0; round < 20; round++) {
      const c = await SmafClient.connect(socket);
      await Promise.all(Array.from({ length: 48 }, () => c.create(4096)));
      c.destroy();
      // the operator asks until they are gone: each answer sees all 48 or none
      for (let live = 48; live > 0;) {
        live = (await admin.state({ limit: 0 })).buffersTotal;
        assert.ok(live === 48 || live === 0, `round ${round}: ${live} of the client's 48 buffers live`);
      }
    }
    await admin.close();
  });
});
