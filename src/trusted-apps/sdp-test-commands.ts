/**
 * What OP-TEE's SDP basic test TA and libsmaf's SDP test TA do, in our own words (their command
 * numbers differ): move test data into a secure buffer, transform it there, and read it back out.
 *
 * - INJECT: a non-secure input memref is copied into a secure output memref (SHORT_BUFFER when the
 *   output is smaller). The bytes written are the caller's data (plus whoever's data the input held).
 * - TRANSFORM: every byte `b` of a secure inout memref becomes `(~b + 1) & 0xff`, in place: a
 *   function of the bytes and nothing secret, so they stay whose data they were.
 * - DUMP: a secure input memref is copied into a non-secure output memref (SHORT_BUFFER when the
 *   output is smaller). It moves secure bytes to the normal world, as only a test TA does: allowed
 *   only when every page of the range holds data the calling client itself put there (or nobody's:
 *   zeros). Otherwise ACCESS_DENIED and a denial event: another client's content, or what the
 *   secure world decrypted with its key, never leaves.
 *
 * Parameter types are checked exactly, as TEE_PARAM_TYPES comparisons do (BAD_PARAMETERS), and
 * where each memref lies, as TEE_CheckMemoryAccessRights does (ACCESS_DENIED).
 */
import { TeeResult, type EventLog, type ParamDirection, type TeeCaller, type TeeMemory, type TeeParam, type TeeReply, type TrustedApp } from '../platform/index.ts';

export interface SdpTestCommands {
  readonly inject: number;
  readonly transform: number;
  readonly dump: number;
}

export interface SdpTestTaOptions {
  readonly uuid: string;
  readonly name: string;
  readonly description: string;
  readonly commands: SdpTestCommands;
  /** Where denials are logged (the platform's event log). */
  readonly events: EventLog;
}

type Memref = Extract<TeeParam, { type: 'memref' }>;
type Want = 'none' | `memref-${ParamDirection}`;

/** The parameters when their types are exactly `want` (missing ones are NONE), else null. */
function typed(params: readonly TeeParam[], want: readonly Want[]): Memref[] | null {
  if (params.length > want.length) return null;
  const out: Memref[] = [];
  for (let i = 0; i < want.length; i++) {
    const p = params[i] ?? { type: 'none' as const };
    const kind: Want | 'value' = p.type === 'none' ? 'none' : p.type === 'value' ? 'value' : `memref-${p.direction ?? 'inout'}`;
    if (kind !== want[i]) return null;
    if (p.type === 'memref') out.push(p);
  }
  return out;
}

/** TEE_CheckMemoryAccessRights: the referenced memory is secure (or not), as the command needs. */
function where(p: Memref, secure: boolean): TeeMemory | string {
  const size = p.size;
  if (!p.memory) return size === 0 ? 'a NULL memory reference' : `a NULL memory reference of ${size} bytes`;
  if (size > p.memory.size) return `a size of ${size} bytes over the ${p.memory.size} referenced`;
  if (p.memory.secure !== secure) return `${secure ? 'non-secure' : 'secure'} memory where ${secure ? 'secure' : 'non-secure'} memory is required`;
  return p.memory;
}

const BAD_TYPES: TeeReply = { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'bad parameter types' };

function accessDenied(what: string): TeeReply {
  return { code: TeeResult.ERROR_ACCESS_DENIED, reason: `TEE_CheckMemoryAccessRights: ${what}` };
}

function inject(params: TeeParam[], caller: TeeCaller): TeeReply {
  const p = typed(params, ['memref-input', 'memref-output', 'none', 'none']);
  if (!p) return BAD_TYPES;
  const [ns, sec] = p as [Memref, Memref];
  if (sec.size < ns.size) return { code: TeeResult.ERROR_SHORT_BUFFER, reason: `the secure output (${sec.size} bytes) is smaller than the input (${ns.size})` };
  const from = where(ns, false);
  if (typeof from === 'string') return accessDenied(`input: ${from}`);
  const to = where(sec, true);
  if (typeof to === 'string') return accessDenied(`output: ${to}`);
  const bytes = from.read(0, ns.size);
  to.write(0, bytes, new Set([...from.labels(0, ns.size), caller.principal]));
  return { code: TeeResult.SUCCESS };
}

function transform(params: TeeParam[]): TeeReply {
  const p = typed(params, ['memref-inout', 'none', 'none', 'none']);
  if (!p) return BAD_TYPES;
  const [ref] = p as [Memref];
  const mem = where(ref, true);
  if (typeof mem === 'string') return accessDenied(mem);
  mem.update(0, ref.size, (bytes) => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = (~bytes[i]! + 1) & 0xff;
  });
  return { code: TeeResult.SUCCESS };
}

function dump(params: TeeParam[], caller: TeeCaller, name: string, events: EventLog): TeeReply {
  const p = typed(params, ['memref-input', 'memref-output', 'none', 'none']);
  if (!p) return BAD_TYPES;
  const [sec, ns] = p as [Memref, Memref];
  if (ns.size < sec.size) return { code: TeeResult.ERROR_SHORT_BUFFER, reason: `the output (${ns.size} bytes) is smaller than the secure input (${sec.size})` };
  const to = where(ns, false);
  if (typeof to === 'string') return accessDenied(`output: ${to}`);
  const from = where(sec, true);
  if (typeof from === 'string') return accessDenied(`input: ${from}`);
  if ([...from.labels(0, sec.size)].some((who) => who !== caller.principal)) {
    // whose data it is stays out of the message: that would tell one client about another
    const message = `${name}: DUMP refused to ${caller.principal}: the secure range holds data that ${caller.principal} did not put there`;
    events.emit({ kind: 'denial', actor: `tee:${name}`, ...(from.buffer !== undefined ? { buffer: from.buffer } : {}), message });
    return { code: TeeResult.ERROR_ACCESS_DENIED, reason: message };
  }
  to.write(0, from.read(0, sec.size), new Set([caller.principal]));
  return { code: TeeResult.SUCCESS };
}

/** A TA with the SDP test commands under its own numbers (unknown ones: BAD_PARAMETERS, as the TAs answer). */
export function createSdpTestTa(o: SdpTestTaOptions): TrustedApp {
  const { commands: c, name, events } = o;
  return {
    uuid: o.uuid,
    name,
    description: o.description,
    invoke(command: number, params: TeeParam[], caller: TeeCaller): TeeReply {
      if (command === c.inject) return inject(params, caller);
      if (command === c.transform) return transform(params);
      if (command === c.dump) return dump(params, caller, name, events);
      return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: `unknown command ${command} (INJECT ${c.inject}, TRANSFORM ${c.transform}, DUMP ${c.dump})` };
    },
  };
}
