/**
 * The texts of the core's frequent events, written only when someone reads them (see LazyText):
 * each function gets the values copied at the event, so a text reads the same whenever it is read.
 */
import { formatSize } from '../common/units.ts';
import { lazyText, type EventText } from '../platform/index.ts';
import { directionName, type DmaDirection } from './contracts.ts';

const created = (a: { id: number; length: number; nameHint: string | undefined }): string =>
  `buffer ${a.id} created: ${formatSize(a.length)}, no memory yet${a.nameHint ? `, asks for "${a.nameHint}"` : ''}`;

const allocated = (a: { id: number; length: number; allocator: string; region: string; segments: number; trigger: string }): string =>
  `buffer ${a.id}: ${formatSize(a.length)} from ${a.allocator} (region ${a.region}, ${a.segments} segment${a.segments > 1 ? 's' : ''}) at ${a.trigger}`;

const attached = (a: { id: number; device: string }): string => `${a.device} attached to buffer ${a.id}`;
const detached = (a: { id: number; device: string }): string => `${a.device} detached from buffer ${a.id}`;

const mapped = (a: { id: number; device: string; direction: DmaDirection; segments: number }): string =>
  `buffer ${a.id} mapped for ${a.device} (${directionName(a.direction)}, ${a.segments} DMA segment${a.segments > 1 ? 's' : ''})`;

const unmapped = (a: { id: number; device: string }): string => `buffer ${a.id} unmapped for ${a.device}`;

const cpuMapped = (a: { id: number; kind: string; length: number }): string => `cpu ${a.kind} of buffer ${a.id} (${formatSize(a.length)})`;

const released = (a: { id: number; length: number; label: string | null; allocator: string | null }): string =>
  `buffer ${a.id}${a.label === null ? '' : ` ("${a.label}")`} released${a.allocator !== null ? `: ${formatSize(a.length)} scrubbed and returned to ${a.allocator}` : ' (never allocated)'}`;

/** What a device's DMA did to a buffer, and how much (how long it took is the event's `durationUs`). */
export interface DmaDone {
  readonly device: string;
  readonly id: number;
  readonly length: number;
  readonly access: 'read' | 'wrote' | 'read and wrote';
  readonly how: string;
}

const dmaDone = (a: DmaDone): string => `${a.device} ${a.access} ${formatSize(a.length)} ${a.access === 'wrote' ? 'into' : 'of'} buffer ${a.id} by DMA (${a.how})`;

/** Texts by event: `eventText.map({...})` and so on. */
export const eventText = {
  created: (a: Parameters<typeof created>[0]): EventText => lazyText(created, a),
  allocated: (a: Parameters<typeof allocated>[0]): EventText => lazyText(allocated, a),
  attached: (a: Parameters<typeof attached>[0]): EventText => lazyText(attached, a),
  detached: (a: Parameters<typeof detached>[0]): EventText => lazyText(detached, a),
  mapped: (a: Parameters<typeof mapped>[0]): EventText => lazyText(mapped, a),
  unmapped: (a: Parameters<typeof unmapped>[0]): EventText => lazyText(unmapped, a),
  cpuMapped: (a: Parameters<typeof cpuMapped>[0]): EventText => lazyText(cpuMapped, a),
  released: (a: Parameters<typeof released>[0]): EventText => lazyText(released, a),
  dmaDone: (a: DmaDone): EventText => lazyText(dmaDone, a),
};
