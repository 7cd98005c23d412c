/**
 * A TEE emulator in the style of OP-TEE's client API: trusted applications are registered by UUID;
 * the normal world opens a session, invokes commands with up to four parameters and closes it.
 * Results carry a TEE return code (TEEC_*), never a JS exception across the boundary.
 */

export const TeeResult = {
  SUCCESS: 0x00000000,
  ERROR_GENERIC: 0xffff0000,
  ERROR_ACCESS_DENIED: 0xffff0001,
  ERROR_BAD_PARAMETERS: 0xffff0006,
  ERROR_BAD_STATE: 0xffff0007,
  ERROR_ITEM_NOT_FOUND: 0xffff0008,
  ERROR_NOT_SUPPORTED: 0xffff000a,
  ERROR_OUT_OF_MEMORY: 0xffff000c,
} as const;

export function teeResultName(code: number): string {
  const e = Object.entries(TeeResult).find(([, v]) => v === code);
  return e ? `TEEC_${e[0]}` : `0x${code.toString(16)}`;
}

/** A parameter: a pair of values (TEEC_VALUE_*) or a memory reference (TEEC_MEMREF_*). */
export type TeeParam =
  | { readonly type: 'value'; a: number; b: number }
  | { readonly type: 'memref'; data: Uint8Array }
  | { readonly type: 'none' };

export interface TeeInvokeResult {
  readonly code: number;
  /** Human-readable reason on failure (what the TA logged). */
  readonly reason: string;
  readonly params: readonly TeeParam[];
}

/** A trusted application: one instance shared by all sessions (a single-instance TA). */
export interface TrustedApp {
  readonly uuid: string;
  readonly name: string;
  invoke(command: number, params: TeeParam[]): { code: number; reason?: string };
}

export class Tee {
  private readonly apps = new Map<string, TrustedApp>();
  private readonly sessions = new Map<number, TrustedApp>();
  private nextSession = 1;

  register(app: TrustedApp): void {
    if (this.apps.has(app.uuid)) throw new Error(`a TA with UUID ${app.uuid} is already registered`);
    this.apps.set(app.uuid, app);
  }

  openSession(uuid: string): { code: number; session: number } {
    const app = this.apps.get(uuid.toLowerCase());
    if (!app) return { code: TeeResult.ERROR_ITEM_NOT_FOUND, session: 0 };
    const session = this.nextSession++;
    this.sessions.set(session, app);
    return { code: TeeResult.SUCCESS, session };
  }

  invoke(session: number, command: number, params: TeeParam[] = []): TeeInvokeResult {
    const app = this.sessions.get(session);
    if (!app) return { code: TeeResult.ERROR_BAD_STATE, reason: `no open session ${session}`, params };
    if (params.length > 4) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'at most 4 parameters', params };
    try {
      const r = app.invoke(command, params);
      return { code: r.code, reason: r.reason ?? '', params };
    } catch (e) {
      return { code: TeeResult.ERROR_GENERIC, reason: `${app.name} panicked: ${(e as Error).message}`, params };
    }
  }

  closeSession(session: number): void {
    this.sessions.delete(session);
  }
}
