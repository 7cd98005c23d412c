/** `explain`: the state of a buffer and every allocation decision taken for it, with reasons. */
import { formatSize, hex } from '../common/units.ts';
import type { SmafBuffer } from './buffer.ts';
import { directionName, type DirectionName } from './contracts.ts';
import type { Decision } from './decisions.ts';
import { printable } from '../common/printable.ts';

export interface Explanation {
  readonly buffer: number;
  readonly length: number;
  readonly secure: boolean;
  readonly nameHint: string | null;
  /** The name given with DMA_BUF_SET_NAME, if any. */
  readonly label: string | null;
  readonly allocated: boolean;
  readonly allocator: string | null;
  readonly region: string | null;
  /** The first MAX_EXPLAIN_SEGMENTS physical segments (a scattered buffer has one per page). */
  readonly segments: readonly { phys: number; length: number }[];
  readonly segmentsTotal: number;
  /** Each attachment, and the direction of its DMA mapping while it is mapped. */
  readonly attachments: readonly { id: number; device: string; mapped: boolean; direction: DirectionName | null }[];
  readonly cpuMappings: number;
  readonly refs: number;
  readonly decisions: readonly Decision[];
  /** Decisions taken in all; those between the first and the latest kept ones were dropped. */
  readonly decisionsTotal: number;
  /**
   * A released buffer, explained from the daemon's journal: when it was released, and its story
   * (the events the journal still holds). Absent for a live buffer.
   */
  readonly released?: { readonly time: number };
  readonly history?: readonly { readonly time: number; readonly kind: string; readonly actor: string; readonly message: string }[];
  /** TEE shared memory that holds the buffer (filled in by smafd: the core knows no TEE client). */
  readonly teeShm?: readonly { readonly client: number; readonly label: string; readonly shm: number }[];
}

/** Segments an explanation lists: enough to see the layout, bounded whatever the buffer. */
const MAX_EXPLAIN_SEGMENTS = 256;

export function explain(buf: SmafBuffer): Explanation {
  const b = buf.backing;
  return {
    buffer: buf.id,
    length: buf.length,
    secure: buf.secure,
    nameHint: buf.nameHint ?? null,
    label: buf.label,
    allocated: b !== null,
    allocator: b?.allocator ?? null,
    region: b?.region ?? null,
    segments: (b?.segments ?? []).slice(0, MAX_EXPLAIN_SEGMENTS).map((s) => ({ phys: s.phys, length: s.length })),
    segmentsTotal: b?.segments.length ?? 0,
    attachments: buf.attachments.map((a) => ({ id: a.id, device: a.device.name, mapped: a.mapped, direction: a.mapping ? directionName(a.mapping.direction) : null })),
    cpuMappings: buf.cpuMappings.length,
    refs: buf.refCount,
    decisions: buf.decisions,
    decisionsTotal: buf.decisionsTotal,
  };
}

/** A time of day to the millisecond (UTC, as `smaf events` shows it). */
const clock = (t: number): string => new Date(t).toISOString().slice(11, 23);

/** Human-readable explain, as `smaf explain` prints it. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const released = e.released ? ` (RELEASED at ${clock(e.released.time)}: explained from the daemon's journal)` : '';
  lines.push(`buffer ${e.buffer}${e.label ? ` "${printable(e.label, 'line')}"` : ''}: ${formatSize(e.length)}${e.secure ? ', secure' : ''}${e.nameHint ? `, asks for allocator "${e.nameHint}"` : ''}${released}`);
  if (e.released) {
    lines.push(`  memory: ${e.allocator ? `had ${e.allocator} in region ${e.region}, scrubbed and returned at release` : 'never had any'}`);
    lines.push(`  devices attached in its life: ${e.attachments.length ? e.attachments.map((a) => a.device).join(', ') : 'none'}`);
  } else if (e.allocated) {
    const segs = e.segmentsTotal;
    lines.push(`  memory: ${e.allocator} in region ${e.region}, ${segs} segment${segs > 1 ? 's' : ''}${segs > 0 ? ` starting at ${hex(e.segments[0]!.phys)}` : ''}`);
  } else lines.push('  memory: none yet (deferred until a device maps it or the CPU touches it)');
  if (!e.released) lines.push(`  attachments: ${e.attachments.length ? e.attachments.map((a) => `${a.device}${a.mapped ? ` (mapped ${a.direction})` : ''}`).join(', ') : 'none'}`);
  if (e.teeShm?.length) lines.push(`  TEE shared memory: ${e.teeShm.map((t) => `shm ${t.shm} of ${printable(t.label, 'line')}`).join(', ')}`);
  if (e.decisions.length === 0) lines.push('  no allocation decision yet');
  const dropped = e.decisionsTotal - e.decisions.length;
  e.decisions.forEach((d, i) => {
    if (i === 1 && dropped > 0) lines.push(`  ... ${dropped} more decision${dropped > 1 ? 's' : ''} (only the first and the latest are kept)`);
    lines.push(`  decision at ${d.trigger} for [${d.devices.join(', ') || 'no device'}]${d.secure ? ' (secure)' : ''}: ${d.outcome === 'allocated' ? `allocated by ${d.allocator}` : `failed: ${d.error}`}`);
    for (const c of d.candidates) lines.push(`    ${c.verdict.padEnd(9)} ${c.allocator} (ranking ${c.ranking}): ${c.reason}`);
  });
  if (e.history?.length) {
    lines.push('  its story (the journal\'s events):');
    for (const h of e.history) lines.push(`    ${clock(h.time)} ${h.kind.padEnd(10)} ${h.actor.padEnd(8)} ${h.message}`);
  }
  return lines.join('\n');
}

