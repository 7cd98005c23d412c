/**
 * The TEE emulator, as OP-TEE's core is to its trusted applications: TAs are plugins registered by
 * UUID (validated once, a duplicate refused, by a preset or the platform: nothing registers itself),
 * the normal world opens a session, invokes commands with up to four GlobalPlatform parameters and
 * closes it. Results carry a TEE return code (TEEC_*) and its origin (TEEC_ORIGIN_*), never a JS
 * exception across the boundary: a TA that throws has panicked (TARGET_DEAD, origin TEE), as an
 * OP-TEE TA that faults.
 *
 * A TA never sees an address. Its memory references are `TeeMemory` views: bounded to what the
 * caller referenced, read and written through the memory bus as the secure world (tee-memory.ts),
 * each write labelled with whose data it is (provenance.ts).
 */
import { SmafError } from '../common/errors.ts';

/** GlobalPlatform TEE Client API return codes (tee_client_api.h). */
export const TeeResult = {
  SUCCESS: 0x00000000,
  ERROR_GENERIC: 0xffff0000,
  ERROR_ACCESS_DENIED: 0xffff0001,
  ERROR_CANCEL: 0xffff0002,
  ERROR_BAD_FORMAT: 0xffff0005,
  ERROR_BAD_PARAMETERS: 0xffff0006,
  ERROR_BAD_STATE: 0xffff0007,
  ERROR_ITEM_NOT_FOUND: 0xffff0008,
  ERROR_NOT_IMPLEMENTED: 0xffff0009,
  ERROR_NOT_SUPPORTED: 0xffff000a,
  ERROR_OUT_OF_MEMORY: 0xffff000c,
  ERROR_BUSY: 0xffff000d,
  ERROR_COMMUNICATION: 0xffff000e,
  ERROR_SECURITY: 0xffff000f,
  ERROR_SHORT_BUFFER: 0xffff0010,
  ERROR_TARGET_DEAD: 0xffff3024,
} as const;

/** Where a return code comes from (TEEC_ORIGIN_*): the client library, the driver, the TEE core, the TA. */
export const TeeOrigin = { API: 1, COMMS: 2, TEE: 3, TRUSTED_APP: 4 } as const;

/** Login methods (TEE_IOCTL_LOGIN_*); REE_KERNEL is the kernel's own, refused to user space by the driver. */
export const TeeLogin = { PUBLIC: 0, USER: 1, GROUP: 2, APPLICATION: 4, USER_APPLICATION: 5, GROUP_APPLICATION: 6, REE_KERNEL: 0x8000_0000 } as const;

/** Parameters a GlobalPlatform TA takes (TEE_NUM_PARAMS). */
export const TEE_NUM_PARAMS = 4;

export function teeResultName(code: number): string {
  const e = Object.entries(TeeResult).find(([, v]) => v === code);
  return e ? `TEEC_${e[0]}` : `0x${code.toString(16)}`;
}

export function teeOriginName(origin: number): string {
  const e = Object.entries(TeeOrigin).find(([, v]) => v === origin);
  return e ? `TEEC_ORIGIN_${e[0]}` : String(origin);
}

export type ParamDirection = 'input' | 'output' | 'inout';

/**
 * Memory a memory reference points at, as a TA reaches it: `size` bytes from offset 0. Reads and
 * writes outside are a fault (RangeError: the TA panics).
 */
export interface TeeMemory {
  readonly size: number;
  /** Secure memory (a secure carveout), or the normal world's (TEE_CheckMemoryAccessRights). */
  readonly secure: boolean;
  /** The dma-buf the memory belongs to, when it is one (for events). */
  readonly buffer?: number;
  read(offset: number, length: number): Uint8Array;
  /** `from`: whose data the bytes are (the principals of provenance.ts). */
  write(offset: number, bytes: Uint8Array, from: ReadonlySet<string>): void;
  /**
   * Rewrite [offset, offset+length) in place with a function of those bytes alone: nothing else
   * enters them, so they stay whose data they were (their labels do not change).
   */
  update(offset: number, length: number, f: (bytes: Uint8Array) => void): void;
  /** Whose data lies in [offset, offset+length): empty for zeros and for normal memory. */
  labels(offset: number, length: number): ReadonlySet<string>;
}

/**
 * A parameter: a pair of values, or a memory reference (`memory` null for a NULL memref). `size` of
 * a memref is what the caller passed; an output or inout memref's TA may change it (the bytes it
 * wrote, or the size it needs with TEEC_ERROR_SHORT_BUFFER). In-process callers may leave the
 * direction out: inout.
 */
export type TeeParam =
  | { readonly type: 'none' }
  | { readonly type: 'value'; readonly direction?: ParamDirection; a: number; b: number }
  | { readonly type: 'memref'; readonly direction?: ParamDirection; readonly memory: TeeMemory | null; size: number };

/** Who calls a TA: the normal-world principal it acts for (whose data it writes) and the login method. */
export interface TeeCaller {
  readonly principal: string;
  readonly login: number;
}

/** Calls made in-process (the secure module, tests) are the REE kernel's. */
export const KERNEL_CALLER: TeeCaller = Object.freeze({ principal: 'kernel', login: TeeLogin.REE_KERNEL });

/** What a TA answers: a return code and, on failure, why (what the TA would log). */
export interface TeeReply {
  readonly code: number;
  readonly reason?: string;
}

/**
 * A trusted application: one instance shared by all sessions (a single-instance TA).
 * - `uuid`: canonical lowercase UUID text, unique in the TEE; `name` for logs and the dashboard.
 * - `openSession(params, caller)`: TA_OpenSessionEntryPoint; refuse a caller by returning a code
 *   (absent: every caller is accepted).
 * - `invoke(command, params, caller)`: TA_InvokeCommandEntryPoint; it may set values and memref
 *   sizes of its output parameters and write through output memrefs. Throwing is a panic.
 */
export interface TrustedApp {
  readonly uuid: string;
  readonly name: string;
  readonly description?: string;
  openSession?(params: TeeParam[], caller: TeeCaller): TeeReply;
  invoke(command: number, params: TeeParam[], caller: TeeCaller): TeeReply;
}

export interface TeeCallResult {
  readonly code: number;
  readonly origin: number;
  /** Human-readable reason on failure (what the TA or the TEE core logged). */
  readonly reason: string;
}

export interface TeeOpenResult extends TeeCallResult {
  /** The session number (0 when the open failed). */
  readonly session: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUID as OP-TEE's uuid_to_octets writes it: the 16 bytes, big-endian fields, as canonical text. */
export function uuidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError(`a UUID is 16 bytes, got ${b.length}`);
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_RE.test(uuid)) throw new RangeError(`"${uuid}" is not a UUID in canonical lowercase form`);
  const h = uuid.replace(/-/g, '');
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

const ok = (code: number, origin: number, reason = ''): TeeCallResult => ({ code, origin, reason });

/** Run a TA entry point: its code with origin TRUSTED_APP, or a panic (TARGET_DEAD, origin TEE). */
function enter(app: TrustedApp, fn: () => TeeReply): TeeCallResult {
  try {
    const r = fn();
    return ok(r.code >>> 0, TeeOrigin.TRUSTED_APP, r.reason ?? '');
  } catch (e) {
    return ok(TeeResult.ERROR_TARGET_DEAD, TeeOrigin.TEE, `${app.name} panicked: ${(e as Error).message}`);
  }
}

export class Tee {
  private readonly apps = new Map<string, TrustedApp>();
  /** Open sessions; `dead` once its TA panicked in it (OP-TEE's TA context is then gone: only a close is left). */
  private readonly sessions = new Map<number, { readonly app: TrustedApp; readonly caller: TeeCaller; dead: boolean }>();
  private nextSession = 1;

  /** Register a TA: EINVAL when it is malformed, EEXIST when its UUID is taken. */
  register(app: TrustedApp): void {
    const what = typeof app?.name === 'string' && app.name ? `trusted application "${app.name}"` : 'a trusted application';
    if (typeof app !== 'object' || app === null) throw new SmafError('EINVAL', 'cannot register a trusted application: not an object');
    if (typeof app.name !== 'string' || !/^[\x21-\x7e]{1,63}$/.test(app.name)) throw new SmafError('EINVAL', `cannot register ${what}: name must be 1-63 printable ASCII bytes without spaces`);
    if (typeof app.uuid !== 'string' || !UUID_RE.test(app.uuid)) throw new SmafError('EINVAL', `cannot register ${what}: UUID "${String(app.uuid)}" is not in canonical lowercase form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
    if (typeof app.invoke !== 'function') throw new SmafError('EINVAL', `cannot register ${what}: missing invoke()`);
    if (app.openSession !== undefined && typeof app.openSession !== 'function') throw new SmafError('EINVAL', `cannot register ${what}: openSession is not a function`);
    const taken = this.apps.get(app.uuid);
    if (taken) throw new SmafError('EEXIST', `cannot register ${what}: UUID ${app.uuid} is already taken by "${taken.name}"`);
    this.apps.set(app.uuid, app);
  }

  /** The TA with this UUID, if registered. */
  app(uuid: string): TrustedApp | undefined {
    return this.apps.get(uuid.toLowerCase());
  }

  /** Registered TAs, in registration order. */
  get trustedApps(): readonly TrustedApp[] {
    return [...this.apps.values()];
  }

  /** TEEC_OpenSession: ITEM_NOT_FOUND (origin TEE) for an unknown UUID; the TA may refuse the caller. */
  openSession(uuid: string, caller: TeeCaller = KERNEL_CALLER, params: TeeParam[] = []): TeeOpenResult {
    const app = this.app(uuid);
    if (!app) return { ...ok(TeeResult.ERROR_ITEM_NOT_FOUND, TeeOrigin.TEE, `no trusted application ${uuid}`), session: 0 };
    if (params.length > TEE_NUM_PARAMS) return { ...ok(TeeResult.ERROR_BAD_PARAMETERS, TeeOrigin.TEE, `at most ${TEE_NUM_PARAMS} parameters`), session: 0 };
    const r = app.openSession ? enter(app, () => app.openSession!(params, caller)) : ok(TeeResult.SUCCESS, TeeOrigin.TRUSTED_APP);
    if (r.code !== TeeResult.SUCCESS) return { ...r, session: 0 };
    const session = this.nextSession++;
    this.sessions.set(session, { app, caller, dead: false });
    return { ...r, session };
  }

  /** TEEC_InvokeCommand on behalf of the session's caller. */
  invoke(session: number, command: number, params: TeeParam[] = []): TeeCallResult {
    const s = this.sessions.get(session);
    if (!s) return ok(TeeResult.ERROR_BAD_STATE, TeeOrigin.TEE, `no open session ${session}`);
    if (s.dead) return ok(TeeResult.ERROR_TARGET_DEAD, TeeOrigin.TEE, `${s.app.name} panicked earlier in session ${session}: close it`);
    if (params.length > TEE_NUM_PARAMS) return ok(TeeResult.ERROR_BAD_PARAMETERS, TeeOrigin.TEE, `at most ${TEE_NUM_PARAMS} parameters`);
    const r = enter(s.app, () => s.app.invoke(command, params, s.caller));
    if (r.code === TeeResult.ERROR_TARGET_DEAD && r.origin === TeeOrigin.TEE) s.dead = true;
    return r;
  }

  /** TEEC_CloseSession; false when no such session is open. */
  closeSession(session: number): boolean {
    return this.sessions.delete(session);
  }
}
