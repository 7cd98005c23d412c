/**
 * Accounts: who is charged for what sessions hold. Every per-client limit (fds, buffers, bytes,
 * secure buffers mapped) counts per account, and an account is named by its key: what smafd can
 * prove about the peer. On the socket, smafd cannot tell two connections of one process apart (the
 * pid a client announces with HELLO is not proof), so the key is the connection (`connection:7`)
 * and each connection is its own account. A transport that knows the kernel-verified peer
 * (SO_PEERCRED) gives its sessions the key of the process (`pid:4242`, SessionOptions.accountKey):
 * its connections then share one account, and every limit holds per process.
 */
import type { SmafBuffer } from '../core/index.ts';
import { HeldBuffers } from './held-buffers.ts';

export class Account {
  /** Sessions charged to this account now. */
  sessions = 0;
  /** fds its sessions have open. */
  fds = 0;
  /** Buffers its sessions hold, each counted once whatever its number of fds. */
  readonly held = new HeldBuffers();
  /** Secure buffers its sessions have mapped for a device, with their number of DMA mappings. */
  private readonly secure = new Map<SmafBuffer, number>();

  constructor(readonly key: string) {}

  /** Distinct secure buffers mapped (each holds a region of the SDP table). */
  get secureMapped(): number {
    return this.secure.size;
  }

  hasSecureMapped(buf: SmafBuffer): boolean {
    return this.secure.has(buf);
  }

  /** One DMA mapping of a secure buffer more (+1) or less (-1). */
  noteSecureMap(buf: SmafBuffer, delta: 1 | -1): void {
    const n = (this.secure.get(buf) ?? 0) + delta;
    if (n > 0) this.secure.set(buf, n);
    else this.secure.delete(buf);
  }
}

/** The accounts of live sessions, by key: one per key, gone with its last session. */
export class Accounts {
  private readonly byKey = new Map<string, Account>();

  join(key: string): Account {
    let a = this.byKey.get(key);
    if (!a) this.byKey.set(key, (a = new Account(key)));
    a.sessions++;
    return a;
  }

  leave(a: Account): void {
    if (--a.sessions <= 0) this.byKey.delete(a.key);
  }

  get size(): number {
    return this.byKey.size;
  }
}
