/**
 * What one session may see: the one place where smafd decides visibility. Every introspection op
 * (X_STATE, X_EXPLAIN, X_EVENTS, X_PS, X_TRACE, X_CHECK, X_HEAPS, X_NATIVE, X_DEVICES, X_RECORDING and any X_* op added later) gets
 * the asking session's scope and nothing else of the daemon (op-types.ts: an X_* handler's call
 * carries no session and no context), so a new op cannot reach data that the scope does not filter.
 *
 * - A client's scope (`own`): the buffers its connection holds an fd of, their memory and their
 *   events; itself among the clients; region totals, the SoC and the limits; nothing daemon-wide.
 * - The operator's scope (`all`: the admin socket, the dashboard): everything.
 *
 * What only makes sense over everyone (the self-check) is refused in a client's scope with EPERM;
 * the op table marks such ops `operator`, and the dispatcher asks the scope (`requireOperator`).
 */
import { SmafError } from '../common/errors.ts';
import type { Explanation, SelfCheckReport, SmafBuffer } from '../core/index.ts';
import type { Device, RegionStats, SmafEvent } from '../platform/index.ts';
import type { DevicesReport, EventPage, EventQuery, HeapInfo, NativeStatus, RecordingPage } from '../uapi/index.ts';
import type { RegionView } from '../uapi/replies.ts';
import type { DaemonContext, SessionLike } from './context.ts';
import { devicesView } from './devices.ts';
import { heaps } from './heaps.ts';
import { explainReleased } from './released.ts';
import type { JournalEvent } from './journal.ts';

/** A range of memory a buffer holds, as the memory map draws it. */
export type Occupied = RegionView['occupancy'][number];

/** The session behind a scope, as far as visibility needs it (ClientSession). */
export interface ScopeHolder extends SessionLike {
  /** The buffer of one of its fds (EBADF otherwise). */
  bufferOfFd(fd: number): SmafBuffer;
  /** The buffer with this id, when it holds an fd of it. */
  heldBuffer(id: number): SmafBuffer | undefined;
  /** The distinct buffers it holds, in id order. */
  heldList(): SmafBuffer[];
}

/** Daemon-wide figures: the operator's (a client's scope shows them empty). */
export interface DaemonFigures {
  readonly limitUsage: ReturnType<DaemonContext['limitUsage']>;
  readonly internalErrors: number;
  readonly eventCounts: Record<string, number>;
  readonly bus: Record<string, unknown>;
  readonly tokens: number;
}

/** What every client may see: the SoC, its allocators and heaps, region totals, the limits. */
export interface SharedView {
  readonly platform: { readonly name: string; readonly pageSize: number };
  readonly regions: readonly RegionStats[];
  readonly devices: readonly Device[];
  readonly allocators: readonly Record<string, unknown>[];
  readonly secureModule: string | null;
  readonly firewall: string;
  readonly limits: Record<string, number>;
}

export interface Scope {
  /** `own`: what the asking connection holds; `all`: the operator's view of everything. */
  readonly kind: 'own' | 'all';
  /** EPERM, naming `what`, unless this is the operator's scope. */
  requireOperator(what: string): void;
  /** The same for every scope. */
  shared(): SharedView;
  heaps(): HeapInfo[];
  /** How C programs reach smafd (the native socket, zero-copy or why not): the same for everyone. */
  native(): NativeStatus;
  /** The TEE shared memory holding a buffer: every client's for the operator, a client its own. */
  teeShmOf(buf: SmafBuffer): { readonly client: number; readonly label: string; readonly shm: number }[];
  /** One page of the visible buffers, and how many there are in all. */
  bufferPage(offset: number, limit: number): { readonly page: readonly SmafBuffer[]; readonly total: number };
  /** A visible buffer by id. A client: ENOENT for any other, exactly as for one that does not exist; the operator: EBADF for one that does not live. */
  buffer(id: number): SmafBuffer;
  /** The buffer of one of the asking session's fds (EBADF when it has no such fd). */
  bufferOfFd(fd: number): SmafBuffer;
  /** Whether an event may be shown (in a client's scope: only an event of a buffer it holds). */
  seesEvent(e: { readonly buffer?: number | undefined }): boolean;
  /** The memory the visible buffers hold, range by range. */
  occupied(): Iterable<Occupied>;
  /** The latest visible events of the platform's log, oldest first. */
  recentEvents(limit: number): SmafEvent[];
  /** A page of the visible journal, in slices (EventJournal.querySteps). */
  eventSteps(q: EventQuery): Generator<void, EventPage<JournalEvent>>;
  /** The visible journal, oldest first, from `sinceMs` (0: all of it). */
  journal(sinceMs: number): JournalEvent[];
  /** Now, in the journal's clock (epoch microseconds). */
  nowUs(): number;
  /** The visible clients (a client sees itself). */
  sessions(): readonly SessionLike[];
  /** Who holds a buffer (a client's scope names nobody). */
  holdersOf(bufferId: number): string[];
  figures(): DaemonFigures;
  /** The core's and the daemon's invariants over everything: EPERM in a client's scope. */
  selfCheck(): SelfCheckReport;
  /**
   * Each device and what it maps now (X_DEVICES): in a client's scope, only the buffers it holds,
   * and no IOMMU domain use, bus counters or holders (they tell of other clients' work).
   */
  devices(): DevicesReport;
  /** A buffer that is gone, explained from the journal: the operator's (null for a live buffer); null in a client's scope. */
  released(id: number): Explanation | null;
  /** One page of smafd's recording (every client's operations): the operator's (EPERM otherwise). */
  recording(from: number, limit: number): RecordingPage;
  /** When the recording began, on the journal's clock (µs), for a trace: null when nothing is recorded or the scope cannot see it. */
  recordingOrigin(): number | null;
}

/** Items offset..offset+limit of an iteration, walking no further. */
function pageOf<T>(items: Iterable<T>, offset: number, limit: number): T[] {
  const out: T[] = [];
  let i = 0;
  for (const item of items) {
    if (out.length >= limit) break;
    if (i++ >= offset) out.push(item);
  }
  return out;
}

/** What both scopes show alike. */
abstract class BaseScope {
  constructor(protected readonly ctx: DaemonContext, protected readonly holder: ScopeHolder | null) {}

  shared(): SharedView {
    const { smaf, platform } = this.ctx;
    const descriptions = new Map(smaf.registry.allocators.map((a) => [a.name, a.description ?? '']));
    return {
      platform: { name: platform.name, pageSize: platform.pageSize },
      regions: platform.regionStats(),
      devices: platform.devices,
      allocators: smaf.registry.allStats().map((s) => ({ ...s, description: descriptions.get(s.name) })),
      secureModule: smaf.secureModule?.name ?? null,
      firewall: platform.bus.firewall.name,
      limits: { ...this.ctx.limits.settings },
    };
  }

  heaps(): HeapInfo[] {
    return heaps(this.ctx.smaf);
  }

  native(): NativeStatus {
    return this.ctx.nativeStatus();
  }

  teeShmOf(buf: SmafBuffer): { client: number; label: string; shm: number }[] {
    return this.sessions().flatMap((c) => (c.tee?.sharedMemory ?? []).filter((m) => m.buffer === buf).map((m) => ({ client: c.id, label: c.label, shm: m.id })));
  }

  abstract sessions(): readonly SessionLike[];

  bufferOfFd(fd: number): SmafBuffer {
    if (!this.holder) throw new SmafError('EBADF', `fd ${fd} is not open: this view has no fds`);
    return this.holder.bufferOfFd(fd);
  }

  eventSteps(q: EventQuery): Generator<void, EventPage<JournalEvent>> {
    return this.ctx.journal.querySteps(q, (e) => this.seesEvent(e));
  }

  journal(sinceMs: number): JournalEvent[] {
    return this.ctx.journal.all().filter((e) => e.time >= sinceMs && this.seesEvent(e)); // since 0: all
  }

  nowUs(): number {
    return this.ctx.journal.nowUs();
  }

  abstract seesEvent(e: { readonly buffer?: number | undefined }): boolean;
}

/** The operator's scope: everything. */
class OperatorScope extends BaseScope implements Scope {
  readonly kind = 'all';

  requireOperator(): void {}

  bufferPage(offset: number, limit: number): { page: SmafBuffer[]; total: number } {
    // costs its page, never the number of live buffers (which may be 100,000 without memory)
    return { page: pageOf(this.ctx.smaf.liveBuffers(), offset, limit), total: this.ctx.smaf.bufferCount };
  }

  buffer(id: number): SmafBuffer {
    return this.ctx.smaf.buffer(id); // EBADF for an id no live buffer has
  }

  seesEvent(): boolean {
    return true;
  }

  *occupied(): Generator<Occupied> {
    // from the core's record of owned ranges: no walk over the buffers
    for (const r of this.ctx.smaf.ownedRanges()) {
      const b = this.ctx.smaf.find(r.owner);
      if (b?.backing) yield { base: r.base, length: r.length, buffer: b.id, allocator: b.backing.allocator, secure: b.secure };
    }
  }

  recentEvents(limit: number): SmafEvent[] {
    return this.ctx.platform.events.list({ limit });
  }

  sessions(): readonly SessionLike[] {
    return [...this.ctx.sessions];
  }

  holdersOf(bufferId: number): string[] {
    return this.ctx.holdersOf(bufferId);
  }

  figures(): DaemonFigures {
    const { ctx } = this;
    return { limitUsage: ctx.limitUsage(), internalErrors: ctx.internalErrors, eventCounts: { ...ctx.platform.events.counts }, bus: ctx.platform.bus.stats(), tokens: ctx.tokens.size };
  }

  selfCheck(): SelfCheckReport {
    return this.ctx.selfCheck();
  }

  devices(): DevicesReport {
    return devicesView(this.ctx);
  }

  released(id: number): Explanation | null {
    return this.ctx.smaf.find(id) ? null : explainReleased(this.ctx.journal, id);
  }

  recording(from: number, limit: number): RecordingPage {
    return this.ctx.recorder.page(from, limit);
  }

  recordingOrigin(): number | null {
    return this.ctx.recorder.size > 0 ? this.ctx.recorder.originUs : null;
  }
}

/** A client's scope: what its connection holds, and nothing about anybody else. */
class ClientScope extends BaseScope implements Scope {
  readonly kind = 'own';

  constructor(ctx: DaemonContext, private readonly client: ScopeHolder) {
    super(ctx, client);
  }

  requireOperator(what: string): never {
    throw new SmafError('EPERM', `${what} shows every client's buffers: it is only answered on the operator's admin socket`);
  }

  bufferPage(offset: number, limit: number): { page: SmafBuffer[]; total: number } {
    // costs what the client holds (at most --max-client-buffers), sorted by id
    const held = this.client.heldList();
    return { page: held.slice(offset, offset + limit), total: held.length };
  }

  buffer(id: number): SmafBuffer {
    const b = this.client.heldBuffer(id);
    if (!b) throw new SmafError('ENOENT', `no buffer ${id} among those this client holds (the operator's admin socket explains any buffer)`);
    return b;
  }

  seesEvent(e: { readonly buffer?: number | undefined }): boolean {
    return e.buffer !== undefined && this.client.heldBuffer(e.buffer) !== undefined;
  }

  *occupied(): Generator<Occupied> {
    for (const b of this.client.heldList()) {
      const backing = b.backing;
      if (backing) for (const s of backing.segments) yield { base: s.phys, length: s.length, buffer: b.id, allocator: backing.allocator, secure: b.secure };
    }
  }

  recentEvents(limit: number): SmafEvent[] {
    return this.ctx.platform.events.list({}).filter((e) => this.seesEvent(e)).slice(-limit);
  }

  sessions(): readonly SessionLike[] {
    return [this.client];
  }

  holdersOf(): string[] {
    return [];
  }

  figures(): DaemonFigures {
    return { limitUsage: [], internalErrors: 0, eventCounts: {}, bus: {}, tokens: 0 };
  }

  selfCheck(): SelfCheckReport {
    return this.requireOperator('X_CHECK (smaf doctor)');
  }

  devices(): DevicesReport {
    return devicesView(this.ctx, (b) => this.client.heldBuffer(b.id) !== undefined, this.client.heldList());
  }

  released(): null {
    return null; // a buffer it does not hold (any more) is ENOENT, as for one that never existed
  }

  recording(): RecordingPage {
    return this.requireOperator('X_RECORDING (smaf trace export)');
  }

  recordingOrigin(): null {
    return null;
  }
}

/** A session's scope: the operator's on the admin socket, else the client's own. */
export function sessionScope(ctx: DaemonContext, session: ScopeHolder): Scope {
  return session.admin ? new OperatorScope(ctx, session) : new ClientScope(ctx, session);
}

/** The operator's scope without a session (the dashboard, which has no fds). */
export function operatorScope(ctx: DaemonContext): Scope {
  return new OperatorScope(ctx, null);
}
