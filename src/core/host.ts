/**
 * What a buffer needs from the core that made it (the `Smaf` object): the platform, the secure
 * module, its allocation and its bookkeeping. Buffers see the core only through this, so that
 * buffer.ts and smaf.ts do not import each other.
 */
import type { Device, Platform } from '../platform/index.ts';
import type { Backing, BufferInfo, SecureModule } from './contracts.ts';
import type { DecisionSink } from './decisions.ts';

export interface BufferHost {
  readonly platform: Platform;
  readonly pageSize: number;
  readonly maxRefs: number;
  readonly secureModule: SecureModule | null;
  /** Memory for a buffer from the allocators, the decision recorded in `log`; throws when none. */
  chooseBacking(info: BufferInfo, trigger: string, log: DecisionSink): Backing;
  /** A backing goes back to its allocator (after revoke and scrub). */
  releaseBacking(b: Backing, length: number): void;
  /** A scrubbed backing that must never be handed out again (the secure world may still grant it). */
  quarantine(b: Backing, length: number, why: string): void;
  /** The buffer's last reference is gone. */
  forget(buf: { readonly id: number }): void;
}

/** What an attachment or a CPU mapping sees of its buffer (the buffer itself: SmafBuffer). */
export interface BufferRef {
  readonly id: number;
  readonly length: number;
  readonly secure: boolean;
  readonly released: boolean;
  readonly core: BufferHost;
  /** What plugins see of the buffer, with `extra` among its devices. */
  info(extra?: Device): BufferInfo;
  /** The memory; EIO when it has none. */
  requireBacking(): Backing;
}
