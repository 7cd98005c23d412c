/**
 * The two plugin contracts of SMAF: allocators and the secure module. Plugins implement these;
 * the core never imports a plugin, a preset registers them.
 */
import type { Device, SgSegment } from '../platform/index.ts';

/** DMA direction, as in the kernel's enum dma_data_direction (and the wire protocol). */
export const DmaDirection = { BIDIRECTIONAL: 0, TO_DEVICE: 1, FROM_DEVICE: 2 } as const;
export type DmaDirection = (typeof DmaDirection)[keyof typeof DmaDirection];

export type DirectionName = 'bidirectional' | 'to-device' | 'from-device';

export function directionName(d: DmaDirection): DirectionName {
  return d === 0 ? 'bidirectional' : d === 1 ? 'to-device' : 'from-device';
}

/** What a plugin may see of a buffer: enough to decide, nothing to mutate. */
export interface BufferInfo {
  readonly id: number;
  /** Length in bytes, a multiple of the page size. */
  readonly length: number;
  readonly secure: boolean;
  /** The allocator name hint given at create, if any. */
  readonly nameHint: string | undefined;
  /** Every device attached right now, in attach order (one entry per device). */
  readonly devices: readonly Device[];
}

/** Memory behind a buffer, as an allocator hands it out. */
export interface Backing {
  /** Name of the allocator that owns this memory (the one to give it back to). */
  readonly allocator: string;
  /** Region the memory comes from. */
  readonly region: string;
  /** Physical segments, page-aligned, adding up to the buffer length. */
  readonly segments: readonly SgSegment[];
}

export interface Decline {
  readonly declined: true;
  readonly reason: string;
}

/** A match answer: a boolean, or a boolean with the reason (shown by explain). */
export type MatchVerdict = boolean | { readonly match: boolean; readonly reason: string };

/**
 * An allocator plugin (the SMAF `smaf_allocator`).
 *
 * - `name`: unique, 1-63 bytes; it is what a client's name hint asks for.
 * - `ranking`: higher is asked first; ties are broken by name.
 * - `match(buffer)`: whether this allocator can serve *every* device attached now (masks,
 *   contiguity, IOMMU, secure capability). Pure: no side effects, may be called any time.
 * - `allocate(buffer, length)`: memory for the buffer, zeroed, or a `Decline` with the reason (out
 *   of memory, no range under a mask...). Must not throw for an ordinary refusal.
 * - `free(backing)`: take back memory this allocator handed out. The core has already revoked all
 *   access and scrubbed it.
 */
export interface Allocator {
  readonly name: string;
  readonly ranking: number;
  readonly description?: string;
  match(buffer: BufferInfo): MatchVerdict;
  allocate(buffer: BufferInfo, length: number): Backing | Decline;
  free(backing: Backing): void;
}

export type CpuAccessKind = 'mmap' | 'vmap' | 'begin_cpu_access';
export type CpuAccessMode = 'read' | 'write' | 'read-write';

/**
 * The secure module (the SMAF `smaf_secure`); one at a time.
 *
 * - `createContext(buffer)` when a buffer becomes secure; `destroyContext(ctx)` at release (after
 *   every grant was revoked) or when the flag is cleared before allocation.
 * - `grantAccess(ctx, device, addr, size, dir)` for each sg segment at map time; refuse by throwing
 *   a SmafError (EPERM/EACCES/ENOSPC...). The core rolls back the grants already made.
 * - `revokeAccess(...)` with the same arguments at unmap and release; must not fail. Teardown does
 *   not depend on it: a revoke or destroy that throws anyway is an `internal-error` event and the
 *   unmap or release completes; memory whose context could not be destroyed is never reused.
 * - `checkCpuAccess(ctx, buffer, kind, mode)` before every CPU mapping (mmap, vmap,
 *   begin_cpu_access) of *any* buffer (ctx is null for a non-secure one); refuse by throwing.
 */
export interface SecureModule<Ctx = unknown> {
  readonly name: string;
  readonly description?: string;
  createContext(buffer: BufferInfo): Ctx;
  destroyContext(ctx: Ctx): void;
  grantAccess(ctx: Ctx, device: Device, addr: number, size: number, dir: DmaDirection): void;
  revokeAccess(ctx: Ctx, device: Device, addr: number, size: number, dir: DmaDirection): void;
  checkCpuAccess(ctx: Ctx | null, buffer: BufferInfo, kind: CpuAccessKind, mode: CpuAccessMode): void;
}

export function isDecline(r: Backing | Decline): r is Decline {
  return (r as Decline).declined === true;
}

export function verdictOf(v: MatchVerdict): { match: boolean; reason: string } {
  return typeof v === 'boolean' ? { match: v, reason: v ? 'matches' : 'does not match' } : v;
}
