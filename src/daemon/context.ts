/** What every client session of smafd shares: the SMAF instance, export tokens, limits, holders. */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SmafError } from '../common/errors.ts';
import { selfCheck, type SelfCheckReport, type Smaf, type SmafBuffer } from '../core/index.ts';
import type { SmafAddon } from '../native/addon.ts';
import { platformDocument, type Platform } from '../platform/index.ts';
import type { NativeStatus } from '../uapi/index.ts';
import { Accounts } from './accounts.ts';
import { BufferFiles } from './buffer-files.ts';
import { Fences } from './fences.ts';
import { WriteGenerations } from './generations.ts';
import { EventJournal } from './journal.ts';
import { DEFAULT_LIMITS, LIMIT_OPTIONS, Limits, type LimitSettings } from './limits.ts';
import { RateLimitedLog } from './log-limit.ts';
import { DEFAULT_RECORDED_OPS, Recorder } from './recorder.ts';
import type { TeeClient } from './tee-client.ts';

// the limits live in limits.ts; smafd's library is used through this file
export { DEFAULT_LIMITS, LIMIT_OPTIONS, type LimitSettings } from './limits.ts';

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

  /** The live buffer a token names, or undefined (never throws: for the recording). */
  find(token: Uint8Array): SmafBuffer | undefined {
    const buf = this.byToken.get(Buffer.from(token).toString('hex'));
    return buf && !buf.released ? buf : undefined;
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

export interface SessionLike {
  readonly id: number;
  readonly label: string;
  /** What this session holds now (an account may have several sessions). */
  usage(): { fds: number; buffers: number; bytes: number };
  readonly admin: boolean;
  readonly pid: number | null;
  readonly comm: string | null;
  heldBuffers(): SmafBuffer[];
  /** Each open fd: its buffer and how many CPU mappings and attachments it has (for `smaf ps`). */
  holdings(): readonly { readonly fd: number; readonly buffer: SmafBuffer; readonly mappings: number; readonly attachments: number }[];
  /** The buffers whose fds in this client hold a reference (handles hold none). */
  referencedBuffers(): SmafBuffer[];
  /** A buffer was released: handles of it (which held no reference) go. */
  forgetReleased(bufferId: number): void;
  readonly openFds: readonly number[];
  readonly requests: number;
  readonly connectedAt: number;
  /** Its TEE contexts, sessions and shared memory (a client of the socket has them). */
  readonly tee?: TeeClient;
}

export class DaemonContext {
  readonly tokens = new TokenTable();
  /** Who is charged for what sessions hold (accounts.ts). */
  readonly accounts = new Accounts();
  readonly generations = new WriteGenerations();
  readonly limits: Limits;
  /** Who holds each buffer: the session itself while there is one (most buffers), a set past it. */
  private readonly holders = new Map<number, SessionLike | Set<SessionLike>>();
  readonly sessions = new Set<SessionLike>();
  /** The event log with clients, regions and allocators: X_EVENTS, X_TRACE, the timeline, /metrics. */
  readonly journal: EventJournal;

  /** Every client's operations, for replay (X_RECORDING, `smaf trace export`). */
  readonly recorder: Recorder;

  /** Whether debug logs are on (checked before building log objects on hot paths). */
  readonly verbose: boolean;

  /** smafd's warnings, rate-limited per cause. */
  readonly warnings: RateLimitedLog;

  /** Bugs met while handling requests (each answered EIO), and the stacks already logged. */
  internalErrors = 0;
  private readonly loggedStacks = new Set<string>();

  /** A C program's buffers as files (zero-copy), with smafd's addon; null without it. */
  readonly files: BufferFiles | null;
  /** Implicit fences: device work in flight, sync files. */
  readonly fences: Fences;
  /** The native socket C programs use, set by the server once it listens (null: none). */
  native: string | null = null;
  /** Why there is no native socket (no addon: the reason it could not be loaded). */
  nativeReason: string | null = null;
  /** The exporter a dma-buf shows in fdinfo (exp_name): the heap it came from; `smaf` otherwise. */
  private readonly exporters = new Map<number, string>();

  /** `recordedOps`: operations the recording keeps (0: no recording). */
  constructor(readonly smaf: Smaf, readonly log: Logger, limits: LimitSettings = DEFAULT_LIMITS, readonly addon: SmafAddon | null = null, recordedOps = DEFAULT_RECORDED_OPS) {
    this.limits = new Limits(limits, () => smaf.bufferCount, () => {
      const sdp = smaf.platform.sdp;
      return sdp ? { capacity: sdp.maxRegions, used: sdp.table.size } : null;
    });
    this.verbose = log.isLevelEnabled('debug');
    this.warnings = new RateLimitedLog(log);
    this.journal = new EventJournal(smaf, smaf.platform.events);
    this.fences = new Fences(addon);
    const overflow = (recounted: boolean): void => {
      if (recounted) this.warnings.warn('the inotify queue overflowed: the open files of every dma-buf were counted again by the kernel', {});
      else log.error('the inotify queue overflowed: smafd no longer knows when C programs close their dma-bufs, and keeps every buffer that has a file until it stops');
    };
    const noLeases = (why: string): void => log.warn(`the kernel grants smafd no file leases (${why}): a dma-buf's last close is counted from inotify events, which can merge; buffers may then outlive their files`);
    this.files = addon ? new BufferFiles(addon, smaf, overflow, (buf) => this.fences.busy(buf), (buf) => this.recorder.filesClosed(buf.id), noLeases) : null;
    const files = this.files;
    if (files) this.fences.onBusy = (id, busy) => files.busy(id, busy);
    this.recorder = new Recorder(recordedOps, () => this.journal.nowUs(), platformDocument(smaf.platform.spec), { ...limits }, (t) => this.tokens.find(t)?.id);
    smaf.platform.events.subscribe((e) => {
      if (e.kind === 'release' && e.buffer !== undefined) this.released(e.buffer);
      // a plugin failed while tearing something down (the teardown went on): a bug, counted and logged
      if (e.kind === 'internal-error') this.internalError(new Error(e.message), { actor: e.actor, buffer: e.buffer, where: 'teardown' });
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

  private released(bufferId: number): void {
    this.tokens.forget(bufferId);
    this.exporters.delete(bufferId);
    const holders = this.holdersSet(bufferId);
    this.holders.delete(bufferId);
    // handles held no reference: they go with the buffer (strong fds cannot exist any more)
    for (const s of holders) s.forgetReleased(bufferId);
    this.fences.released(bufferId);
  }

  exporterOf(buf: SmafBuffer): string {
    return this.exporters.get(buf.id) ?? 'smaf';
  }

  setExporter(buf: SmafBuffer, name: string): void {
    this.exporters.set(buf.id, name);
  }

  /** The files of C programs (EOPNOTSUPP without smafd's addon). */
  requireFiles(what: string): BufferFiles {
    if (!this.files) throw new SmafError('EOPNOTSUPP', `${what} needs smafd's addon (zero-copy files): ${this.nativeReason ?? 'not loaded'}`);
    return this.files;
  }

  nativeStatus(): NativeStatus {
    const files = this.files?.stats() ?? { buffers: 0, open: 0, sharedBytes: 0 };
    const reason = this.native ? null : this.nativeReason ?? (this.addon ? 'no native socket' : "smafd's addon is not loaded");
    return { socket: this.native, zeroCopy: this.native !== null && this.files !== null, reason, files };
  }

  noteHolder(buf: SmafBuffer, s: SessionLike): void {
    const h = this.holders.get(buf.id);
    if (h === undefined) this.holders.set(buf.id, s);
    else if (h instanceof Set) h.add(s);
    else if (h !== s) this.holders.set(buf.id, new Set([h, s]));
  }

  dropHolder(buf: SmafBuffer, s: SessionLike): void {
    const h = this.holders.get(buf.id);
    if (h instanceof Set) h.delete(s);
    else if (h === s) this.holders.delete(buf.id);
  }

  private holdersSet(bufferId: number): SessionLike[] {
    const h = this.holders.get(bufferId);
    return h === undefined ? [] : h instanceof Set ? [...h] : [h];
  }

  holdersOf(bufferId: number): string[] {
    return this.holdersSet(bufferId).map((s) => s.label);
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
    this.warn('internal error while handling a request (answered EIO; smafd goes on)', { ...where, err: stack }, 'error');
  }

  /** Log a warning, at most a few per cause every 10 s (log-limit.ts): clients cannot flood the log. */
  warn(cause: string, fields: Record<string, unknown>, level: 'warn' | 'error' = 'warn'): void {
    this.warnings.warn(cause, fields, level);
  }

  /** The core's invariants plus the daemon's: every fd holds a live buffer, references add up. */
  selfCheck(): SelfCheckReport {
    const core = selfCheck(this.smaf);
    const problems: string[] = [];
    const refs = new Map<SmafBuffer, number>();
    for (const s of this.sessions) {
      for (const b of s.heldBuffers()) if (b.released) problems.push(`${s.label} holds an fd of released buffer ${b.id}`);
      for (const b of s.referencedBuffers()) refs.set(b, (refs.get(b) ?? 0) + 1);
    }
    for (const b of this.smaf.buffers) {
      const files = this.files?.holdsReference(b) ? 1 : 0;
      const held = (refs.get(b) ?? 0) + files;
      if (held !== b.refCount) problems.push(`buffer ${b.id} has ${b.refCount} references but ${held} (open fds${files ? ', and its files' : ''})`);
    }
    const daemon = { name: 'fds and references add up', ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') : `${this.sessions.size} clients, ${[...refs.values()].reduce((a, b) => a + b, 0)} fds` };
    const bugs = { name: 'no internal errors', ok: this.internalErrors === 0, detail: this.internalErrors === 0 ? 'none since start' : `${this.internalErrors} request(s) met a bug and were answered EIO (stacks in smafd's log)` };
    const limits = this.limitUsage().map((l) => ({
      name: `limit ${l.option}`,
      ok: l.used < l.limit,
      detail: `${l.used} of ${l.limit} (${Math.round((100 * l.used) / l.limit)} %)${l.note ? `, ${l.note}` : ''}`,
    }));
    const native = this.nativeCheck();
    const checks = [...core.checks, daemon, bugs, native, ...limits];
    return { ok: core.ok && daemon.ok && bugs.ok && native.ok, checks };
  }

  /**
   * How C programs reach smafd: zero-copy (fails when the inotify queue overflowed where the kernel
   * grants no file leases: smafd no longer knows when their files close; or when a buffer was still
   * held after its last file had closed, which the check finds by asking the kernel, and frees), or
   * the copying path and why.
   */
  private nativeCheck(): SelfCheckReport['checks'][number] {
    const unseen = this.files?.resync() ?? 0; // buffers whose last close smafd missed: freed now
    const st = this.nativeStatus();
    if (!st.zeroCopy) return { name: 'zero-copy for C programs', ok: true, detail: `off: ${st.reason ?? 'no native socket'} (C programs under smaf exec copy their dma-bufs' bytes at SYNC, msync and munmap)` };
    const exact = this.files?.exact ?? true;
    const detail = `native socket ${st.socket}; ${st.files.buffers} buffers have files (${st.files.open} open)`;
    if (unseen > 0) return { name: 'zero-copy for C programs', ok: false, detail: `${detail}; ${unseen} buffer(s) were kept after their last file closed unseen: freed now` };
    return exact
      ? { name: 'zero-copy for C programs', ok: true, detail }
      : { name: 'zero-copy for C programs', ok: false, detail: `${detail}; the inotify queue overflowed and the kernel grants no file leases: buffers with files are kept until smafd stops` };
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
