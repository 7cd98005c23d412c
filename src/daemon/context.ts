/** What every client session of smafd shares: the SMAF instance, export tokens, limits, holders. */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import { selfCheck, type SelfCheckReport, type Smaf, type SmafBuffer } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { EventJournal } from './journal.ts';
import { snapshot, type DaemonState } from './state.ts';

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
}

export const DEFAULT_LIMITS: LimitSettings = {
  maxFds: 1024,
  maxClientBytes: 512 * 1024 * 1024,
  maxClientBuffers: 1024,
  maxAttachmentsPerFd: 64,
  maxMappingsPerFd: 256,
  maxIo: 16 * 1024 * 1024 - 64,
};

interface UsageSource {
  readonly label: string;
  usage(): { fds: number; buffers: number; bytes: number };
}

export class Limits {
  constructor(readonly settings: LimitSettings = DEFAULT_LIMITS) {}

  get maxIo(): number {
    return this.settings.maxIo;
  }

  checkFds(s: UsageSource, open: number): void {
    if (open >= this.settings.maxFds) throw new SmafError('EMFILE', `${s.label} has ${open} fds open, the limit (max_fds) is ${this.settings.maxFds}`);
  }

  checkCreate(s: UsageSource, length: bigint): void {
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

  checkMappings(s: UsageSource, n: number): void {
    if (n >= this.settings.maxMappingsPerFd) throw new SmafError('ENOMEM', `${s.label}: ${n} mappings on one fd, the limit (max_mappings_per_fd) is ${this.settings.maxMappingsPerFd}`);
  }
}

/** Export tokens: 16 random bytes naming a live buffer; gone with the buffer. Hold no reference. */
export class TokenTable {
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
  readonly pid: number | null;
  readonly comm: string | null;
  heldBuffers(): SmafBuffer[];
  readonly openFds: readonly number[];
  readonly requests: number;
  readonly connectedAt: number;
}

export class DaemonContext {
  readonly tokens = new TokenTable();
  readonly limits: Limits;
  private readonly holders = new Map<number, Set<SessionLike>>();
  readonly sessions = new Set<SessionLike>();
  /** The event log with clients, regions and allocators: X_EVENTS, X_TRACE, the timeline, /metrics. */
  readonly journal: EventJournal;

  /** Whether debug logs are on (checked before building log objects on hot paths). */
  readonly verbose: boolean;

  constructor(readonly smaf: Smaf, readonly log: Logger, limits: LimitSettings = DEFAULT_LIMITS) {
    this.limits = new Limits(limits);
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

  state(): DaemonState {
    return snapshot(this);
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
    return { ok: core.ok && daemon.ok, checks: [...core.checks, daemon] };
  }
}
