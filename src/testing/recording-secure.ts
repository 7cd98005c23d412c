/**
 * A recording secure module for tests: it logs every call, keeps the grants it holds, and can be
 * told to refuse a given grant (to test rollback) or CPU access. A fake that records, not a mock.
 */
import { SmafError } from '../common/errors.ts';
import { DmaDirection, type BufferInfo, type CpuAccessKind, type CpuAccessMode, type SecureModule } from '../core/index.ts';
import type { Device } from '../platform/index.ts';

export interface RecordingContext {
  readonly id: number;
  readonly buffer: number;
  destroyed: boolean;
}

export type RecordedCall =
  | { readonly op: 'create' | 'destroy'; readonly ctx: number; readonly buffer: number }
  | { readonly op: 'grant' | 'revoke' | 'refused'; readonly ctx: number; readonly device: string; readonly addr: number; readonly size: number; readonly dir: DmaDirection }
  | { readonly op: 'cpu'; readonly ctx: number | null; readonly buffer: number; readonly kind: CpuAccessKind; readonly mode: CpuAccessMode; readonly allowed: boolean };

export interface RecordingOptions {
  /** Refuse the grant whose 0-based index (counting every grant asked) is this. */
  readonly refuseGrantAt?: number;
  /** Refuse grants to these devices. */
  readonly refuseDevices?: readonly string[];
  /** Refuse CPU access to non-secure buffers too. */
  readonly refuseCpu?: boolean;
}

export interface RecordingSecureModule extends SecureModule<RecordingContext> {
  readonly calls: RecordedCall[];
  /** Grants held now, as "ctx:device:addr:size#n" (n tells apart two grants of one device, mapped twice). */
  readonly held: Set<string>;
  /**
   * What this module's world allows now: whether `device` may `access` the byte at `addr`, from
   * the grants it holds (to-device = read, from-device = write, bidirectional = both).
   */
  mayAccess(device: string, addr: number, access: 'read' | 'write'): boolean;
  readonly liveContexts: Set<number>;
  options: RecordingOptions;
}

interface Grant {
  readonly device: string;
  readonly addr: number;
  readonly size: number;
  readonly dir: DmaDirection;
}

/** Whether one of `grants` lets `device` read (to-device) or write (from-device) at `addr`. */
function grantCovers(grants: Iterable<Grant>, device: string, addr: number, access: 'read' | 'write'): boolean {
  const need = access === 'read' ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
  for (const g of grants) {
    if (g.device === device && addr >= g.addr && addr < g.addr + g.size && (g.dir === DmaDirection.BIDIRECTIONAL || g.dir === need)) return true;
  }
  return false;
}

export function createRecordingSecureModule(options: RecordingOptions = {}, name = 'recording'): RecordingSecureModule {
  let nextCtx = 1;
  let grantsAsked = 0;
  let grantSerial = 0;
  const calls: RecordedCall[] = [];
  const held = new Set<string>();
  const grants = new Map<string, Grant>();
  const liveContexts = new Set<number>();
  const key = (ctx: RecordingContext, d: Device, addr: number, size: number): string => `${ctx.id}:${d.name}:${addr}:${size}`;
  const m: RecordingSecureModule = {
    name,
    description: 'records every call; refuses on request (tests)',
    calls,
    held,
    liveContexts,
    options,
    mayAccess: (device, addr, access) => grantCovers(grants.values(), device, addr, access),
    createContext(buffer: BufferInfo): RecordingContext {
      const ctx = { id: nextCtx++, buffer: buffer.id, destroyed: false };
      liveContexts.add(ctx.id);
      calls.push({ op: 'create', ctx: ctx.id, buffer: buffer.id });
      return ctx;
    },
    destroyContext(ctx: RecordingContext): void {
      if (ctx.destroyed) throw new Error(`context ${ctx.id} destroyed twice`);
      ctx.destroyed = true;
      liveContexts.delete(ctx.id);
      calls.push({ op: 'destroy', ctx: ctx.id, buffer: ctx.buffer });
    },
    grantAccess(ctx: RecordingContext, device: Device, addr: number, size: number, dir: DmaDirection): void {
      const index = grantsAsked++;
      if (index === m.options.refuseGrantAt || m.options.refuseDevices?.includes(device.name)) {
        calls.push({ op: 'refused', ctx: ctx.id, device: device.name, addr, size, dir });
        throw new SmafError('EPERM', `recording module refuses grant #${index} to ${device.name}`);
      }
      const k = `${key(ctx, device, addr, size)}#${grantSerial++}`;
      held.add(k);
      grants.set(k, { device: device.name, addr, size, dir });
      calls.push({ op: 'grant', ctx: ctx.id, device: device.name, addr, size, dir });
    },
    revokeAccess(ctx: RecordingContext, device: Device, addr: number, size: number, dir: DmaDirection): void {
      const base = `${key(ctx, device, addr, size)}#`;
      const k = [...grants].find(([g, v]) => g.startsWith(base) && v.dir === dir)?.[0];
      if (k === undefined) throw new Error(`revoke of a grant never made: ${base.slice(0, -1)} (${dir})`);
      held.delete(k);
      grants.delete(k);
      calls.push({ op: 'revoke', ctx: ctx.id, device: device.name, addr, size, dir });
    },
    checkCpuAccess(ctx: RecordingContext | null, buffer: BufferInfo, kind: CpuAccessKind, mode: CpuAccessMode): void {
      const allowed = !buffer.secure && !m.options.refuseCpu;
      calls.push({ op: 'cpu', ctx: ctx?.id ?? null, buffer: buffer.id, kind, mode, allowed });
      if (!allowed) throw new SmafError('EPERM', buffer.secure ? 'secure buffers are not CPU-accessible' : 'CPU access refused by the recording module');
    },
  };
  return m;
}
