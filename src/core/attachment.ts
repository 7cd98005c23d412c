/** A device attached to a buffer, and its DMA mapping once mapped. */
import type { Device, DmaSegment } from '../platform/index.ts';
import type { DmaDirection } from './contracts.ts';
import type { BufferRef } from './host.ts';

/** A physical range the secure module opened to a device at map (revoked at unmap). */
export interface Grant {
  readonly addr: number;
  readonly size: number;
}

export interface DmaMapping {
  readonly direction: DmaDirection;
  /** Addresses as the device emits them. */
  readonly segments: readonly DmaSegment[];
  readonly iova: number | undefined;
  readonly grants: readonly Grant[];
}

export class Attachment {
  mapping: DmaMapping | null = null;
  detached = false;

  constructor(readonly id: number, readonly buffer: BufferRef, readonly device: Device) {}

  get mapped(): boolean {
    return this.mapping !== null;
  }
}
