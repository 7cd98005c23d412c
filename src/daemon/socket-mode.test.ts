/**
 * The admin socket's first moment (issue 21, item 5): under a permissive umask, both sockets exist
 * with their final modes from the moment bind() creates them. listen() binds synchronously, so the
 * mode seen right after it returns is the mode the socket was born with, before any later chmod.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import { SmafDaemon } from './server.ts';

test('under umask 000 the admin socket is born 0600 and the client socket 0660: no window before a chmod', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-mode-'));
  const born = new Map<string, number>();
  const listen = Server.prototype.listen;
  const spied = function (this: Server, ...args: unknown[]): Server {
    const r = (listen as (...a: unknown[]) => Server).apply(this, args);
    const path = (args[0] as { path?: string } | undefined)?.path;
    if (path) born.set(path, statSync(path).mode & 0o777);
    return r;
  };
  Server.prototype.listen = spied as typeof Server.prototype.listen;
  const umask = process.umask(0);
  const daemon = new SmafDaemon({ socketPath: join(dir, 'smaf.sock'), adminSocketPath: join(dir, 'smaf-admin.sock'), smaf: createSmafSystem().smaf, log: pino({ level: 'silent' }) });
  try {
    await daemon.start();
    assert.equal(process.umask(0), 0, 'the process umask is left as it was');
    assert.deepEqual(Object.fromEntries([...born].map(([p, m]) => [p.slice(dir.length + 1), m.toString(8)])), { 'smaf.sock': '660', 'smaf-admin.sock': '600' });
    assert.equal(statSync(join(dir, 'smaf-admin.sock')).mode & 0o777, 0o600);
  } finally {
    Server.prototype.listen = listen;
    process.umask(umask);
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
