/**
 * smafd out of file descriptors: a C program's connection that arrives then is closed at once (its
 * peer reads EOF) instead of waiting in the listen queue while smafd's loop spins on the listener;
 * the clients already connected are still served, and smafd goes on once descriptors free.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { nativeSocketFor } from '../src/uapi/socket-path.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

/** Connect and wait until smafd closes the connection (true) or `ms` pass (false). */
function closedBySmafd(path: string, ms: number, keep: Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    keep.push(s);
    const timer = setTimeout(() => resolve(false), ms);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('at its descriptor limit, smafd closes new connections at once and still serves the others', async () => {
  const pid = d.proc.pid!;
  const client = await d.connect();
  const open = readdirSync(`/proc/${pid}/fd`).length;
  const hard = /Max open files\s+\d+\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]!;
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${open + 4}:`]); // the soft limit: what EMFILE follows
  const sockets: Socket[] = [];
  try {
    const path = nativeSocketFor(d.socket);
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => closedBySmafd(path, 3000, sockets)));
    assert.ok(outcomes.filter(Boolean).length >= 6, `the connections beyond the 4 descriptors left are closed by smafd (${outcomes.filter(Boolean).length} of 12)`);
    assert.ok(Array.isArray((await client.state()).buffers), 'an existing client is still served');
  } finally {
    for (const s of sockets) s.destroy();
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${hard}:`]);
    await client.close();
  }
});
