/** What every client session of smafd shares: the SMAF instance, export tokens, limits, holders. */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import { selfCheck, type SelfCheckReport, type Smaf, type SmafBuffer } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { WriteGenerations } from './generations.ts';
import { EventJournal } from './journal.ts';
import type { TeeClient } from './tee-client.ts';

export interface LimitSettings {
  /** Open fds per client. */
  readonly maxFds: number;
  /** Bytes of buffers one client may hold (counting every buffer it has an fd of). */
  readonly maxClientBytes: number;
  /** Distinct buffers one client may hold. */
  readonly maxClientBuffers: number;
  /** Attachments and CPU mappings per fd. */
  readonly maxAttachmentsPerFd: number;
  readonly maxMappingsPerFd: number;
  /** Bytes one READ may return. */
  readonly maxIo: number;
  /** Secure buffers one client may have mapped at once (each takes a region of the SDP table). */
  readonly maxClientSecureMaps: number;
  /** Clients connected at once (both sockets), buffers alive and fds open in the whole daemon. */
  readonly maxClients: number;
  readonly maxBuffers: number;
  readonly maxTotalFds: number;
  /** Answer bytes queued for one connection before smafd stops reading its requests. */
  readonly maxClientBacklog: number;
  /** Answer bytes queued for all connections together; past it the one with most is closed. */
  readonly maxTotalBacklog: number;
  /** Bytes held for incomplete requests, all connections together. */
  readonly maxPendingBytes: number;
  /** Milliseconds a connection may leave a request half-sent before it is closed. */
  readonly readTimeoutMs: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  maxFds: 1024,
  maxClientBytes: 512 * 1024 * 1024,
  maxClientBuffers: 1024,
  maxAttachmentsPerFd: 64,
  maxMappingsPerFd: 256,
  maxIo: 16 * 1024 * 1024 - 64,
  maxClientSecureMaps: 8,
  maxClients: 2048,
  maxBuffers: 200_000,
  maxTotalFds: 400_000,
  maxClientBacklog: 64 * 1024 * 1024,
  maxTotalBacklog: 256 * 1024 * 1024,
  maxPendingBytes: 256 * 1024 * 1024,
  readTimeoutMs: 30_000,
};

/** What every limit is called on the command line and in docs (`--max-client-fds` for maxFds...). */
export const LIMIT_OPTIONS: Readonly<Record<keyof LimitSettings, string>> = {
  maxFds: 'max-client-fds',
  maxClientBytes: 'max-client-bytes',
  maxClientBuffers: 'max-client-buffers',
  maxAttachmentsPerFd: 'max-attachments-per-fd',
  maxMappingsPerFd: 'max-mappings-per-fd',
  maxIo: 'max-io',
  maxClientSecureMaps: 'max-client-secure-maps',
  maxClients: 'max-clients',
  maxBuffers: 'max-total-buffers',
  maxTotalFds: 'max-total-fds',
  maxClientBacklog: 'max-client-backlog',
  maxTotalBacklog: 'max-total-backlog',
  maxPendingBytes: 'max-pending-bytes',
  readTimeoutMs: 'read-timeout',
};

interface UsageSource {
  readonly label: string;
  usage(): { fds: number; buffers: number; bytes: number };
}

export class Limits {
  /** fds open in the whole daemon. */
  totalFds = 0;

  constructor(readonly settings: LimitSettings = DEFAULT_LIMITS, private readonly liveBuffers: () => number = () => 0) {}

  get maxIo(): number {
    return this.settings.maxIo;
  }

  checkFds(s: UsageSource, open: number): void {
    if (open >= this.settings.maxFds) throw new SmafError('EMFILE', `${s.label} has ${open} fds open, the limit (max_fds) is ${this.settings.maxFds}`);
    if (this.totalFds >= this.settings.maxTotalFds) throw new SmafError('ENFILE', `smafd has ${this.totalFds} fds open in all, the limit (max_total_fds) is ${this.settings.maxTotalFds}`);
  }

  checkCreate(s: UsageSource, length: bigint): void {
    const live = this.liveBuffers();
    if (live >= this.settings.maxBuffers) throw new SmafError('ENOMEM', `smafd holds ${live} buffers in all, the limit (max_buffers) is ${this.settings.maxBuffers}`);
    const u = s.usage();
    if (u.buffers >= this.settings.maxClientBuffers) {
      throw new SmafError('ENOMEM', `${s.label} holds ${u.buffers} buffers, the per-client limit (max_client_buffers) is ${this.settings.maxClientBuffers}`);
    }
    if (BigInt(u.bytes) + length > BigInt(this.settings.maxClientBytes)) {
      throw new SmafError('ENOMEM', `${s.label} holds ${formatSize(u.bytes)}; ${length} more bytes would pass the per-client limit (max_client_bytes) of ${formatSize(this.settings.maxClientBytes)}`);
    }
  }

  checkAttachments(s: UsageSource, n: number): void {
    if (n >= this.settings.maxAttachmentsPerFd) throw new SmafError('ENOMEM', `${s.label}: ${n} attachments on one fd, the limit (max_attachments_per_fd) is ${this.settings.maxAttachmentsPerFd}`);
  }

  /** A secure buffer mapped takes a region of the platform's small SDP table: a client gets a share. */
  checkSecureMaps(s: UsageSource, mapped: Set<unknown>, already: boolean): void {
    if (!already && mapped.size >= this.settings.maxClientSecureMaps) {
      throw new SmafError('ENOSPC', `${s.label} has ${mapped.size} secure buffers mapped, the per-client limit (max_client_secure_maps) is ${this.settings.maxClientSecureMaps}: the SDP region table is shared by every client`);
    }
  }

  checkMappings(s: UsageSource, n: number): void {
    if (n >= this.settings.maxMappingsPerFd) throw new SmafError('ENOMEM', `${s.label}: ${n} mappings on one fd, the limit (max_mappings_per_fd) is ${this.settings.maxMappingsPerFd}`);
  }
}

/** Export tokens: 16 random bytes naming a live buffer; gone with the buffer. Hold no reference. */
class TokenTable {
  private readonly byToken = new Map<string, SmafBuffer>();
  private readonly byBuffer = new Map<number, string>();

  export(buf: SmafBuffer): Uint8Array {
    let hex = this.byBuffer.get(buf.id);
    if (!hex) {
      hex = randomBytes(16).toString('hex');
      this.byToken.set(hex, buf);
      this.byBuffer.set(buf.id, hex);
    }
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }

  lookup(token: Uint8Array): SmafBuffer {
    const hex = Buffer.from(token).toString('hex');
    const buf = this.byToken.get(hex);
    if (!buf || buf.released) throw new SmafError('ENOENT', 'unknown token, or its buffer has been released');
    return buf;
  }

  forget(bufferId: number): void {
    const hex = this.byBuffer.get(bufferId);
    if (hex) this.byToken.delete(hex);
    this.byBuffer.delete(bufferId);
  }

  get size(): number {
    return this.byToken.size;
  }
}

export interface SessionLike extends UsageSource {
  readonly id: number;
  readonly admin: boolean;
  holds(bufferId: number): boolean;
  readonly pid: number | null;
  readonly comm: string | null;
  heldBuffers(): SmafBuffer[];
  /** Each open fd: its buffer and how many CPU mappings and attachments it has (for `smaf ps`). */
  holdings(): readonly { readonly fd: number; readonly buffer: SmafBuffer; readonly mappings: number; readonly attachments: number }[];
  readonly openFds: readonly number[];
  readonly requests: number;
  readonly connectedAt: number;
  /** Its TEE contexts, sessions and shared memory (a client of the socket has them). */
  readonly tee?: TeeClient;
}

export class DaemonContext {
  readonly tokens = new TokenTable();
  readonly generations = new WriteGenerations();
  readonly limits: Limits;
  private readonly holders = new Map<number, Set<SessionLike>>();
  readonly sessions = new Set<SessionLike>();
  /** The event log with clients, regions and allocators: X_EVENTS, X_TRACE, the timeline, /metrics. */
  readonly journal: EventJournal;

  /** Whether debug logs are on (checked before building log objects on hot paths). */
  readonly verbose: boolean;

  /** Bugs met while handling requests (each answered EIO), and the stacks already logged. */
  internalErrors = 0;
  private readonly loggedStacks = new Set<string>();

  constructor(readonly smaf: Smaf, readonly log: Logger, limits: LimitSettings = DEFAULT_LIMITS) {
    this.limits = new Limits(limits, () => smaf.bufferCount);
    this.verbose = log.isLevelEnabled('debug');
    this.journal = new EventJournal(smaf, smaf.platform.events);
    smaf.platform.events.subscribe((e) => {
      if (e.kind === 'release' && e.buffer !== undefined) {
        this.tokens.forget(e.buffer);
        this.holders.delete(e.buffer);
      }
      if (!this.verbose) return;
      const decision = (e.kind === 'allocate' || e.kind === 'allocate-failed') && e.buffer !== undefined
        ? smaf.buffers.find((b) => b.id === e.buffer)?.decisions.at(-1)
        : undefined;
      this.log.debug({ event: e.kind, actor: e.actor, buffer: e.buffer, ...(decision ? { asked: decision.candidates.map((c) => `${c.allocator}: ${c.verdict} (${c.reason})`) } : {}) }, e.message);
    });
  }

  get platform(): Platform {
    return this.smaf.platform;
  }

  noteHolder(buf: SmafBuffer, s: SessionLike): void {
    let set = this.holders.get(buf.id);
    if (!set) this.holders.set(buf.id, (set = new Set()));
    set.add(s);
  }

  dropHolder(buf: SmafBuffer, s: SessionLike): void {
    this.holders.get(buf.id)?.delete(s);
  }

  holdersOf(bufferId: number): string[] {
    return [...(this.holders.get(bufferId) ?? [])].map((s) => s.label);
  }

  /**
   * A request met a bug: it is answered EIO; the daemon goes on. Counted; each distinct stack is
   * logged once (a client repeating the request cannot flood the log).
   */
  internalError(e: unknown, where: Record<string, unknown>): void {
    this.internalErrors++;
    const stack = e instanceof Error ? e.stack ?? e.message : String(e);
    if (this.loggedStacks.has(stack)) return;
    if (this.loggedStacks.size < 256) this.loggedStacks.add(stack);
    this.log.error({ ...where, err: stack }, 'internal error while handling a request (answered EIO; smafd goes on)');
  }

  /** The core's invariants plus the daemon's: every fd holds a live buffer, references add up. */
  selfCheck(): SelfCheckReport {
    const core = selfCheck(this.smaf);
    const problems: string[] = [];
    const refs = new Map<SmafBuffer, number>();
    for (const s of this.sessions) {
      for (const b of s.heldBuffers()) {
        if (b.released) problems.push(`${s.label} holds an fd of released buffer ${b.id}`);
        refs.set(b, (refs.get(b) ?? 0) + 1);
      }
    }
    for (const b of this.smaf.buffers) {
      const held = refs.get(b) ?? 0;
      if (held !== b.refCount) problems.push(`buffer ${b.id} has ${b.refCount} references but ${held} open fds`);
    }
    const daemon = { name: 'fds and references add up', ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') : `${this.sessions.size} clients, ${[...refs.values()].reduce((a, b) => a + b, 0)} fds` };
    const bugs = { name: 'no internal errors', ok: this.internalErrors === 0, detail: this.internalErrors === 0 ? 'none since start' : `${this.internalErrors} request(s) met a bug and were answered EIO (stacks in smafd's log)` };
    const limits = this.limitUsage().map((l) => ({
      name: `limit ${l.option}`,
      ok: l.used < l.limit,
      detail: `${l.used} of ${l.limit} (${Math.round((100 * l.used) / l.limit)} %)${l.note ? `, ${l.note}` : ''}`,
    }));
    const checks = [...core.checks, daemon, bugs, ...limits];
    return { ok: core.ok && daemon.ok && bugs.ok, checks };
  }

  /** How close each daemon-wide limit is (for `smaf doctor` and the dashboard). */
  limitUsage(): { option: string; used: number; limit: number; note?: string }[] {
    const s = this.limits.settings;
    let worst = { bytes: 0, buffers: 0, fds: 0 };
    for (const c of this.sessions) {
      const u = c.usage();
      worst = { bytes: Math.max(worst.bytes, u.bytes), buffers: Math.max(worst.buffers, u.buffers), fds: Math.max(worst.fds, u.fds) };
    }
    return [
      { option: LIMIT_OPTIONS.maxClients, used: this.sessions.size, limit: s.maxClients },
      { option: LIMIT_OPTIONS.maxBuffers, used: this.smaf.bufferCount, limit: s.maxBuffers },
      { option: LIMIT_OPTIONS.maxTotalFds, used: this.limits.totalFds, limit: s.maxTotalFds },
      { option: LIMIT_OPTIONS.maxClientBytes, used: worst.bytes, limit: s.maxClientBytes, note: 'the client holding most' },
      { option: LIMIT_OPTIONS.maxClientBuffers, used: worst.buffers, limit: s.maxClientBuffers, note: 'the client holding most' },
      { option: LIMIT_OPTIONS.maxFds, used: worst.fds, limit: s.maxFds, note: 'the client holding most' },
      { option: LIMIT_OPTIONS.maxPendingBytes, used: this.pendingBytes, limit: s.maxPendingBytes, note: 'held for half-sent requests' },
    ];
  }

  /** Bytes held for incomplete requests, all connections together (kept by the server). */
  pendingBytes = 0;
}
