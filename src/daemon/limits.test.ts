/** Each limit at its boundary: the request that would pass it is refused with its errno, naming it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { DmaDirection } from '../core/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { MAX_FRAME, RESPONSE_HEADER } from '../uapi/index.ts';
import { Account } from './accounts.ts';
import { DEFAULT_LIMITS, Limits, type LimitSettings, type RegionTable } from './limits.ts';

const refused = (code: ErrnoName, message: string) => (e: unknown) => isSmafError(e, code) && (e as Error).message === message;

function charged(key = 'connection:1') {
  return { label: 'client 1', account: new Account(key) };
}

test('fds: EMFILE at the per-client limit, ENFILE at the daemon-wide one', () => {
  const limits = new Limits({ ...DEFAULT_LIMITS, maxFds: 2, maxTotalFds: 3 });
  const c = charged();
  c.account.fds = 1;
  limits.checkFds(c);
  c.account.fds = 2;
  assert.throws(() => limits.checkFds(c), refused('EMFILE', 'client 1 has 2 fds open, the limit (max_fds) is 2'));
  c.account.fds = 0;
  limits.totalFds = 2;
  limits.checkFds(c);
  limits.totalFds = 3;
  assert.throws(() => limits.checkFds(c), refused('ENFILE', 'smafd has 3 fds open in all, the limit (max_total_fds) is 3'));
});

test('CREATE: live buffers in the daemon, buffers and bytes of the account, each at its boundary', () => {
  const { smaf } = createSmafSystem();
  let live = 0;
  const limits = new Limits({ ...DEFAULT_LIMITS, maxBuffers: 2, maxClientBuffers: 2, maxClientBytes: 16384 }, () => live);
  const c = charged();
  limits.checkCreate(c, 16384n);
  live = 2;
  assert.throws(() => limits.checkCreate(c, 4096n), refused('ENOMEM', 'smafd holds 2 buffers in all, the limit (max_buffers) is 2'));
  live = 1;
  c.account.held.add(smaf.create(8192));
  limits.checkCreate(c, 8192n);
  assert.throws(() => limits.checkCreate(c, 8193n), refused('ENOMEM', 'client 1 holds 8 KiB; 8193 more bytes would pass the per-client limit (max_client_bytes) of 16 KiB'));
  c.account.held.add(smaf.create(4096));
  assert.throws(() => limits.checkCreate(c, 1n), refused('ENOMEM', 'client 1 holds 2 buffers, the per-client limit (max_client_buffers) is 2'));
});

test('attachments and mappings per fd, at their boundaries', () => {
  const limits = new Limits({ ...DEFAULT_LIMITS, maxAttachmentsPerFd: 2, maxMappingsPerFd: 3 });
  const c = charged();
  limits.checkAttachments(c, 1);
  assert.throws(() => limits.checkAttachments(c, 2), refused('ENOMEM', 'client 1: 2 attachments on one fd, the limit (max_attachments_per_fd) is 2'));
  limits.checkMappings(c, 2);
  assert.throws(() => limits.checkMappings(c, 3), refused('ENOMEM', 'client 1: 3 mappings on one fd, the limit (max_mappings_per_fd) is 3'));
  assert.equal(limits.maxIo, DEFAULT_LIMITS.maxIo);
  assert.ok(DEFAULT_LIMITS.maxIo + 4 + RESPONSE_HEADER <= MAX_FRAME, 'the largest READ answer fits in one frame');
});

test('secure maps: the per-account cap; the reserve (at most a quarter of the table) for accounts that have none', () => {
  const { smaf, platform } = createSmafSystem();
  let table: RegionTable | null = { capacity: 16, used: 0 };
  const settings: LimitSettings = { ...DEFAULT_LIMITS, maxClientSecureMaps: 3, sdpReserve: 6 };
  const limits = new Limits(settings, () => 0, () => table);
  const c = charged();
  const secureBuffer = () => {
    const b = smaf.create(4096);
    b.setSecure(true);
    return b;
  };
  const [b1, b2, b3, b4] = [secureBuffer(), secureBuffer(), secureBuffer(), secureBuffer()];
  table = { capacity: 16, used: 15 };
  limits.checkSecureMap(c, b1); // holds none: the last region is its
  c.account.noteSecureMap(b1, 1);
  limits.checkSecureMap(c, b1); // mapped again by the same account: no new share
  table = { capacity: 16, used: 11 }; // 5 free; the reserve is min(6, 16/4) = 4
  limits.checkSecureMap(c, b2);
  table = { capacity: 16, used: 12 };
  assert.throws(() => limits.checkSecureMap(c, b2), refused('ENOSPC', 'client 1 has 1 secure buffers mapped and the SDP region table has 4 of 16 regions free: the last 4 are kept for clients that have none mapped (sdp_reserve)'));
  // a buffer a device has mapped already has its region: no new one is taken
  b2.map(b2.attach(platform.device('vdec')), DmaDirection.FROM_DEVICE);
  table = { capacity: 16, used: 16 };
  limits.checkSecureMap(c, b2);
  c.account.noteSecureMap(b2, 1);
  c.account.noteSecureMap(b3, 1);
  assert.throws(() => limits.checkSecureMap(c, b4), refused('ENOSPC', 'client 1 has 3 secure buffers mapped, the per-client limit (max_client_secure_maps) is 3: the SDP region table is shared by every client'));
  c.account.noteSecureMap(b3, -1);
  table = null; // no SDP table on this platform: only the per-account cap
  limits.checkSecureMap(c, b4);
  table = { capacity: 8, used: 5 }; // a quarter of 8 is 2: 3 free leave 2 after this one
  limits.checkSecureMap(c, b4);
  table = { capacity: 8, used: 6 };
  assert.throws(() => limits.checkSecureMap(c, b4), (e) => isSmafError(e, 'ENOSPC') && /the last 2 are kept/.test((e as Error).message));
});

test('an account counts what its sessions hold; it goes with its last session', async () => {
  const { Accounts } = await import('./accounts.ts');
  const { smaf } = createSmafSystem();
  const accounts = new Accounts();
  const a = accounts.join('pid:1');
  assert.equal(accounts.join('pid:1'), a, 'one account per key');
  assert.notEqual(accounts.join('pid:2'), a);
  assert.deepEqual([a.sessions, accounts.size], [2, 2]);
  const b = smaf.create(4096);
  a.noteSecureMap(b, 1);
  a.noteSecureMap(b, 1);
  a.noteSecureMap(b, -1);
  assert.deepEqual([a.secureMapped, a.hasSecureMapped(b)], [1, true], 'one buffer mapped twice is one share until both go');
  a.noteSecureMap(b, -1);
  assert.deepEqual([a.secureMapped, a.hasSecureMapped(b)], [0, false]);
  accounts.leave(a);
  assert.equal(accounts.size, 2, 'one session left');
  accounts.leave(a);
  assert.equal(accounts.size, 1);
  assert.equal(accounts.join('pid:1').sessions, 1, 'a fresh account');
});
