/** A buffer that is gone, explained from the daemon's journal (X_EXPLAIN in the operator's scope). */
import { SmafError } from '../common/errors.ts';
import type { Explanation } from '../core/index.ts';
import type { EventJournal } from './journal.ts';

/** Events of a released buffer's story an explanation lists (the first and the latest). */
const MAX_STORY = 40;

/**
 * X_EXPLAIN of a buffer that is gone, for the operator: its story from the journal (size, name,
 * memory, devices, the allocation decisions, every event kept), marked as released. EBADF when the
 * journal never saw it or has forgotten its release.
 */
export function explainReleased(journal: EventJournal, id: number): Explanation {
  const { events, decisions } = journal.storyOf(id);
  const release = events.find((e) => e.kind === 'release');
  if (!release) throw new SmafError('EBADF', `no live buffer ${id}, nor a released one in the journal (its last ${journal.capacityEvents} events)`);
  const created = events.find((e) => e.kind === 'create');
  const allocated = [...events].reverse().find((e) => e.region !== undefined);
  const named = [...events].reverse().find((e) => e.kind === 'name');
  const devices = [...new Set(events.filter((e) => e.kind === 'attach').map((e) => e.actor))];
  const story = events.length > MAX_STORY ? [...events.slice(0, MAX_STORY / 2), ...events.slice(-MAX_STORY / 2)] : events;
  return {
    buffer: id,
    length: release.size ?? created?.size ?? release.length ?? 0,
    secure: release.secure ?? false,
    nameHint: null,
    label: named ? (/named "(.*)"$/.exec(named.message)?.[1] ?? null) : null,
    allocated: false,
    allocator: allocated?.allocator ?? null,
    region: allocated?.region ?? null,
    segments: [],
    segmentsTotal: 0,
    attachments: devices.map((device, i) => ({ id: i, device, mapped: false, direction: null })),
    cpuMappings: 0,
    refs: 0,
    decisions,
    decisionsTotal: decisions.length,
    released: { time: release.time },
    history: story.map((e) => ({ time: e.time, kind: e.kind, actor: e.actor, message: e.message })),
  };
}
