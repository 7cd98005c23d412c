/**
 * One client's side of the TEE subsystem, as the kernel's tee_core and OP-TEE driver keep it for a
 * process: its TEE contexts (each an open of /dev/tee0), the sessions of each context, and its
 * shared memory. Ids are the client's own (a context, session or shm id of another client means
 * nothing here). Errno for errno with the kernel:
 * - a context this client did not open: EBADF (the fd of /dev/tee0 is not open);
 * - shared memory: flags other than 0 or a size of 0, EINVAL; a shm id of no shm of this context,
 *   EINVAL; TEE_SHM_REGISTER_FD of something that is not a dma-buf, EINVAL;
 * - sessions: a login in the REE kernel's range, EPERM; a login the kernel cannot compute a client
 *   identity for (APPLICATION logins, unknown ones), EINVAL; GROUP logins, EPERM (smafd cannot
 *   check a group membership); a session this context did not open, EINVAL.
 * TEE-level outcomes (an unknown UUID, a TA's refusal) are `ret`/`ret_origin` of a successful call.
 *
 * Closing a context closes its sessions; its shared memory stays until released (each shm holds
 * the context, as in the kernel). A client that goes away releases everything.
 */
import { SmafError } from '../common/errors.ts';
import type { SmafBuffer } from '../core/index.ts';
import { BusMemory, TeeLogin, TeeOrigin, TeeResult, uuidFromBytes, type Platform, type TeeCaller } from '../platform/index.ts';
import {
  TEE_GEN_CAP_GP, TEE_GEN_CAP_MEMREF_NULL, TEE_GEN_CAP_REG_MEM, TEE_IMPL_ID_OPTEE, TEE_INVOKE_ARG, TEE_MAX_ARG_SIZE, TEE_OPEN_SESSION_ARG, TEE_OPTEE_CAP_TZ,
  TeeShmFlag, teeParam, type TeeCallReply, type WireTeeParam,
} from '../uapi/index.ts';
import { teeEvent, type TeeEventSink } from './tee-events.ts';
import { prepareCall, type CallShm } from './tee-params.ts';

/** Per-client bounds (docs/protocol.md, "Limits"). */
export const TEE_LIMITS = {
  contexts: 64,
  shm: 256,
  sessions: 64,
  /** Bytes of one ALLOC'd or REGISTERed shared memory: its memrefs travel with the calls. */
  shmBytes: 256 * 1024 * 1024,
} as const;

export type TeeShmKind = 'alloc' | 'registered' | 'dma-buf';

export interface TeeShm {
  readonly id: number;
  readonly ctx: number;
  readonly kind: TeeShmKind;
  readonly size: number;
  readonly flags: number;
  /** The client's address of registered memory (shown, never used). */
  readonly addr?: bigint;
  /** The dma-buf of a TEE_SHM_REGISTER_FD, of which the shm holds a reference. */
  readonly buffer?: SmafBuffer;
}

export interface TeeSessionInfo {
  readonly id: number;
  readonly ctx: number;
  readonly uuid: string;
  readonly ta: string;
  /** The TEE's own session number. */
  readonly tee: number;
}

interface TeeContext {
  readonly id: number;
  open: boolean;
  readonly sessions: Map<number, TeeSessionInfo>;
}

/** Who the TEE client belongs to: the session's identity and what it reaches. */
export interface TeeOwner {
  readonly id: number;
  readonly label: string;
  readonly principal: string;
  readonly platform: Platform;
  readonly events: TeeEventSink;
  /** Told when a shared memory starts and stops holding a buffer (the session counts it as held). */
  readonly holding?: { hold(buf: SmafBuffer): void; unhold(buf: SmafBuffer): void };
}

/** What an OPEN_SESSION or INVOKE answers: the call's outcome and the memrefs' output bytes. */
export type TeeCallOutcome = Omit<TeeCallReply, 'data'> & { readonly out: Uint8Array[] };

export interface TeeCallArgs {
  readonly ctx: number;
  readonly params: readonly WireTeeParam[];
  readonly data: Uint8Array;
}

/** The login methods the kernel accepts from user space (tee_session_calc_client_uuid). */
function checkLogin(login: number): void {
  if (login >= TeeLogin.REE_KERNEL && login <= 0xbfff_ffff) throw new SmafError('EPERM', `TEE_OPEN_SESSION: login 0x${login.toString(16)} is the REE kernel's, not user space's`);
  if (login === TeeLogin.GROUP || login === TeeLogin.GROUP_APPLICATION) throw new SmafError('EPERM', 'TEE_OPEN_SESSION: a GROUP login needs a group membership smafd cannot check (use PUBLIC or USER)');
  if (login !== TeeLogin.PUBLIC && login !== TeeLogin.USER) throw new SmafError('EINVAL', `TEE_OPEN_SESSION: login ${login} has no client identity the kernel can compute (PUBLIC 0, USER 1)`);
}

function checkArgSize(what: string, arg: number, n: number): void {
  if (arg + n * teeParam.size > TEE_MAX_ARG_SIZE) throw new SmafError('EINVAL', `${what}: ${n} parameters pass TEE_MAX_ARG_SIZE (${TEE_MAX_ARG_SIZE} bytes)`);
}

export class TeeClient {
  private readonly contexts = new Map<number, TeeContext>();
  private readonly shms = new Map<number, TeeShm>();
  private nextCtx = 1;
  private nextShm = 1;
  private nextSession = 1;

  constructor(private readonly owner: TeeOwner) {}

  private get caller(): TeeCaller {
    return { principal: this.owner.principal, login: TeeLogin.PUBLIC };
  }

  // ---- contexts ----------------------------------------------------------------------------

  open(): number {
    if (this.contexts.size >= TEE_LIMITS.contexts) throw new SmafError('EMFILE', `${this.owner.label} has ${this.contexts.size} TEE contexts open, the limit is ${TEE_LIMITS.contexts}`);
    const id = this.nextCtx++;
    this.contexts.set(id, { id, open: true, sessions: new Map() });
    return id;
  }

  private context(id: number, what: string): TeeContext {
    const c = this.contexts.get(id);
    if (!c || !c.open) throw new SmafError('EBADF', `${what}: no open TEE context ${id} in this client`);
    return c;
  }

  version(ctx: number): { impl_id: number; impl_caps: number; gen_caps: number } {
    this.context(ctx, 'TEE_VERSION');
    return { impl_id: TEE_IMPL_ID_OPTEE, impl_caps: TEE_OPTEE_CAP_TZ, gen_caps: TEE_GEN_CAP_GP | TEE_GEN_CAP_REG_MEM | TEE_GEN_CAP_MEMREF_NULL };
  }

  /** The release of /dev/tee0: every session of the context closes. */
  close(ctx: number): void {
    const c = this.context(ctx, 'TEE_CLOSE');
    for (const s of [...c.sessions.values()]) this.endSession(c, s);
    c.open = false;
    this.forgetIfUnused(c);
  }

  private forgetIfUnused(c: TeeContext): void {
    if (!c.open && ![...this.shms.values()].some((s) => s.ctx === c.id)) this.contexts.delete(c.id);
  }

  // ---- shared memory -----------------------------------------------------------------------

  private addShm(ctx: number, what: string, flags: number, make: (id: number) => TeeShm): TeeShm {
    this.context(ctx, what);
    if (flags !== 0) throw new SmafError('EINVAL', `${what}: flags must be 0 on input, got 0x${flags.toString(16)}`);
    if (this.shms.size >= TEE_LIMITS.shm) throw new SmafError('ENOMEM', `${this.owner.label} holds ${this.shms.size} TEE shared memory objects, the limit is ${TEE_LIMITS.shm}`);
    const shm = make(this.nextShm);
    this.nextShm++;
    this.shms.set(shm.id, shm);
    if (shm.buffer) this.owner.holding?.hold(shm.buffer);
    this.owner.events.emit(teeEvent.shmRegistered(this.owner, shm));
    return shm;
  }

  private userSize(what: string, size: bigint): number {
    if (size === 0n) throw new SmafError('EINVAL', `${what}: size 0`);
    if (size > BigInt(TEE_LIMITS.shmBytes)) throw new SmafError('ENOMEM', `${what}: ${size} bytes is more than the ${TEE_LIMITS.shmBytes} bytes one shared memory of the client may have (its memrefs travel with each call)`);
    return Number(size);
  }

  shmAlloc(ctx: number, flags: number, size: bigint): TeeShm {
    return this.addShm(ctx, 'TEE_SHM_ALLOC', flags, (id) => ({ id, ctx, kind: 'alloc', size: this.userSize('TEE_SHM_ALLOC', size), flags: TeeShmFlag.DYNAMIC | TeeShmFlag.POOL }));
  }

  shmRegister(ctx: number, flags: number, addr: bigint, length: bigint): TeeShm {
    return this.addShm(ctx, 'TEE_SHM_REGISTER', flags, (id) => ({ id, ctx, kind: 'registered', size: this.userSize('TEE_SHM_REGISTER', length), flags: TeeShmFlag.DYNAMIC | TeeShmFlag.USER_MAPPED, addr }));
  }

  /**
   * The dma-buf gets its memory now if it has none (the kernel maps it), and one more reference. Any
   * failure of that is EINVAL, as the kernel's tee_shm_register_fd answers (the reason in the message).
   */
  shmRegisterFd(ctx: number, flags: number, buffer: SmafBuffer): TeeShm {
    return this.addShm(ctx, 'TEE_SHM_REGISTER_FD', flags, (id) => {
      try {
        buffer.allocate(`registered with the TEE by ${this.owner.label}`);
        buffer.get();
      } catch (e) {
        throw new SmafError('EINVAL', `TEE_SHM_REGISTER_FD: buffer ${buffer.id} cannot be registered: ${(e as Error).message}`);
      }
      return { id, ctx, kind: 'dma-buf', size: buffer.length, flags: TeeShmFlag.DMA_BUF, buffer };
    });
  }

  shmRelease(id: number): void {
    const shm = this.shms.get(id);
    if (!shm) throw new SmafError('EBADF', `TEE_SHM_RELEASE: no shared memory ${id} in this client`);
    this.dropShm(shm);
  }

  private dropShm(shm: TeeShm): void {
    this.shms.delete(shm.id);
    this.owner.events.emit(teeEvent.shmReleased(this.owner, shm));
    if (shm.buffer) this.owner.holding?.unhold(shm.buffer);
    if (shm.buffer && !shm.buffer.released) shm.buffer.put();
    const c = this.contexts.get(shm.ctx);
    if (c) this.forgetIfUnused(c);
  }

  /** A shm id of the context as a call sees it (EINVAL otherwise, as tee_shm_get_from_id). */
  private callShm(ctx: number, ta: string, what: string): (id: bigint) => CallShm {
    return (id) => {
      const shm = id <= BigInt(Number.MAX_SAFE_INTEGER) ? this.shms.get(Number(id)) : undefined;
      if (!shm || shm.ctx !== ctx) throw new SmafError('EINVAL', `${what}: no shared memory ${id} in TEE context ${ctx}`);
      const buf = shm.buffer;
      return {
        size: shm.size,
        travels: !buf,
        memory: (offset, size) => new BusMemory(this.owner.platform, buf!.allocate('a TEE call').segments, offset, size, ta, buf!.id),
      };
    };
  }

  // ---- sessions ----------------------------------------------------------------------------

  openSession(args: TeeCallArgs & { uuid: Uint8Array; login: number }): TeeCallOutcome {
    const c = this.context(args.ctx, 'TEE_OPEN_SESSION');
    checkArgSize('TEE_OPEN_SESSION', TEE_OPEN_SESSION_ARG, args.params.length);
    const uuid = uuidFromBytes(args.uuid);
    const ta = this.owner.platform.tee.app(uuid)?.name ?? 'tee';
    const call = prepareCall(args.params, args.data, this.callShm(c.id, ta, 'TEE_OPEN_SESSION'), 'TEE_OPEN_SESSION');
    checkLogin(args.login);
    const t0 = performance.now();
    const r = this.sessionCount() >= TEE_LIMITS.sessions
      ? { code: TeeResult.ERROR_OUT_OF_MEMORY, origin: TeeOrigin.TEE, reason: `${this.owner.label} has ${TEE_LIMITS.sessions} TEE sessions open`, session: 0 }
      : this.owner.platform.tee.openSession(uuid, this.caller, call.params);
    let id = 0;
    if (r.session !== 0) {
      id = this.nextSession++;
      c.sessions.set(id, { id, ctx: c.id, uuid, ta, tee: r.session });
    }
    this.owner.events.emit(teeEvent.opened(this.owner, { uuid, ta, session: id, code: r.code, origin: r.origin, reason: r.reason, us: performance.now() - t0, buffer: call.buffers[0] }));
    const done = call.finish();
    return { ret: r.code, origin: r.origin, session: id, params: done.params, out: done.data };
  }

  private sessionCount(): number {
    let n = 0;
    for (const c of this.contexts.values()) n += c.sessions.size;
    return n;
  }

  private session(c: TeeContext, id: number, what: string): TeeSessionInfo {
    const s = c.sessions.get(id);
    if (!s) throw new SmafError('EINVAL', `${what}: no session ${id} in TEE context ${c.id}`);
    return s;
  }

  invoke(args: TeeCallArgs & { session: number; func: number }): TeeCallOutcome {
    const c = this.context(args.ctx, 'TEE_INVOKE');
    checkArgSize('TEE_INVOKE', TEE_INVOKE_ARG, args.params.length);
    const s = this.session(c, args.session, 'TEE_INVOKE');
    const call = prepareCall(args.params, args.data, this.callShm(c.id, s.ta, 'TEE_INVOKE'), 'TEE_INVOKE');
    const t0 = performance.now();
    const r = this.owner.platform.tee.invoke(s.tee, args.func, call.params);
    const us = performance.now() - t0;
    this.owner.events.emit(teeEvent.invoked(this.owner, { uuid: s.uuid, ta: s.ta, session: s.id, command: args.func, code: r.code, origin: r.origin, reason: r.reason, us, buffer: call.buffers[0] }));
    const done = call.finish();
    return { ret: r.code, origin: r.origin, session: 0, params: done.params, out: done.data };
  }

  closeSession(ctx: number, id: number): void {
    const c = this.context(ctx, 'TEE_CLOSE_SESSION');
    this.endSession(c, this.session(c, id, 'TEE_CLOSE_SESSION'));
  }

  private endSession(c: TeeContext, s: TeeSessionInfo): void {
    c.sessions.delete(s.id);
    this.owner.platform.tee.closeSession(s.tee);
    this.owner.events.emit(teeEvent.closed(this.owner, s));
  }

  /** TEE_IOC_CANCEL: the TA's calls run to their end in one step, so nothing is ever still running. */
  cancel(ctx: number, session: number): void {
    const c = this.context(ctx, 'TEE_CANCEL');
    this.session(c, session, 'TEE_CANCEL');
  }

  /** The client is gone: sessions closed, shared memory released, as a process exit. */
  releaseAll(): void {
    for (const c of [...this.contexts.values()]) if (c.open) this.close(c.id);
    for (const shm of [...this.shms.values()]) this.dropShm(shm);
  }

  // ---- what the operator sees --------------------------------------------------------------

  /** Buffers held through shared memory (one entry per shm). */
  heldBuffers(): SmafBuffer[] {
    return [...this.shms.values()].flatMap((s) => (s.buffer ? [s.buffer] : []));
  }

  holds(bufferId: number): boolean {
    for (const s of this.shms.values()) if (s.buffer?.id === bufferId) return true;
    return false;
  }

  get sharedMemory(): readonly TeeShm[] {
    return [...this.shms.values()];
  }

  get sessions(): readonly TeeSessionInfo[] {
    return [...this.contexts.values()].flatMap((c) => [...c.sessions.values()]);
  }

  get contextCount(): number {
    return [...this.contexts.values()].filter((c) => c.open).length;
  }
}
