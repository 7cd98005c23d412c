/**
 * The dashboard's trace viewer, without its drawing (src/web/client/trace-viewer.js draws): a
 * recording replayed in the browser up to any moment, and what stood then: each region's memory
 * map, the live buffers, the events so far (shaped as the journal's, for the timeline), the
 * differences so far. Moving forward replays on; moving back replays again from the start (a
 * replay of 100,000 operations takes well under a second).
 */
import { explain, formatExplanation } from '../core/index.ts';
import type { PlatformSpec, SmafEvent } from '../platform/index.ts';
import { defaultPlatformSpec, validatePlatform } from '../platform/index.ts';
import { parseTraceFile, type OpRecord } from '../uapi/index.ts';
import { prepareRecording, Replayer, type Difference, type PreparedRecording } from './engine.ts';
import type { PolicyName } from './policy.ts';
import type { ReplayClient } from './world.ts';

/** An event as the dashboard's timeline draws it (the journal's shape). */
export interface ViewerEvent {
  readonly seq: number;
  readonly kind: SmafEvent['kind'];
  readonly actor: string;
  readonly message: string;
  readonly buffer?: number;
  /** When, in ms and µs since the epoch (the recording's clock). */
  readonly time: number;
  readonly us: number;
  /** The recorded operation that caused it. */
  readonly op: number;
  readonly clientLabel: string;
  readonly ownerLabel?: string;
  readonly size?: number;
  readonly region?: string;
  readonly allocator?: string;
  readonly secure?: boolean;
}

export interface ViewerRegion {
  readonly name: string;
  readonly kind: string;
  readonly base: number;
  readonly size: number;
  readonly inUse: number;
  readonly largestFree: number;
  readonly occupancy: readonly { base: number; length: number; buffer: number; allocator: string; secure: boolean }[];
}

export interface ViewerBuffer {
  readonly buffer: number;
  readonly length: number;
  readonly allocator: string | null;
  readonly secure: boolean;
  readonly label: string | null;
  readonly attachments: readonly { device: string; mapped: boolean }[];
  readonly cpuMappings: number;
  readonly holders: readonly string[];
}

/** What stood after the first `position` operations. */
export interface Moment {
  readonly position: number;
  readonly total: number;
  /** The last operation replayed (null at the start). */
  readonly op: OpRecord | null;
  /** Its time, in ms since the epoch. */
  readonly time: number;
  readonly regions: readonly ViewerRegion[];
  readonly buffers: readonly ViewerBuffer[];
  readonly events: readonly ViewerEvent[];
  /** Differences up to this moment, and the index of the operation of each. */
  readonly differences: readonly (Difference & { readonly index: number })[];
}

/** Events the viewer keeps (the newest): the dashboard's timeline window. */
const EVENT_WINDOW = 5000;

export class TraceViewer {
  readonly recording: PreparedRecording;
  readonly spec: PlatformSpec;
  /** Every difference of the whole replay (the slider's red marks), by operation index. */
  readonly allDifferences: readonly (Difference & { readonly index: number })[];
  /** The events of the whole replay (the newest EVENT_WINDOW), for the timeline of the whole run. */
  readonly allEvents: readonly ViewerEvent[];
  /** When the last operation ran, in ms since the epoch. */
  readonly endTime: number;
  private replayer!: Replayer;
  private events: ViewerEvent[] = [];
  private differences: (Difference & { index: number })[] = [];
  private readonly originUs: number;

  /** Read a trace (TraceFileError: its line and field) and replay it once whole, for its differences. */
  constructor(text: string, source: string, readonly policy: PolicyName = 'deferred') {
    this.recording = prepareRecording(parseTraceFile(text, source));
    const h = this.recording.header;
    this.spec = h ? validatePlatform(h.platform, `${source}: smaf_recording.platform`) : defaultPlatformSpec();
    this.originUs = h?.origin_us ?? 0;
    this.restart();
    const end = this.at(this.total);
    this.allDifferences = end.differences;
    this.allEvents = end.events;
    this.endTime = end.time;
    this.restart();
  }

  get total(): number {
    return this.recording.records.length;
  }

  private restart(): void {
    this.events = [];
    this.differences = [];
    this.replayer = new Replayer(this.recording, { spec: this.spec, policy: this.policy, onEvent: (e, rec, client) => this.note(e, rec, client) });
  }

  private note(e: SmafEvent, rec: OpRecord, client: ReplayClient): void {
    const us = this.originUs + rec.t;
    const live = e.buffer !== undefined ? this.replayer.system.smaf.find(e.buffer) : undefined;
    // at an allocation the buffer has no backing yet: its latest decision says where (as the journal reads it)
    const d = live?.decisions.at(-1);
    const where = e.kind === 'allocate' || e.kind === 'migrate' ? (d?.outcome === 'allocated' ? { region: d.region, allocator: d.allocator } : null) : live?.backing ?? null;
    const facts = {
      ...(e.buffer !== undefined ? { buffer: e.buffer } : {}),
      ...(e.kind === 'create' ? { size: e.length, ownerLabel: client.label } : {}),
      ...(where?.region !== undefined ? { region: where.region, allocator: where.allocator } : {}),
      ...(live ? { secure: live.secure } : {}),
    };
    this.events.push({ seq: e.seq, kind: e.kind, actor: e.actor, message: e.message, time: us / 1000, us, op: rec.seq, clientLabel: client.label, ...facts });
    if (this.events.length > EVENT_WINDOW * 2) this.events = this.events.slice(-EVENT_WINDOW);
  }

  /** Replay to just after the first `position` operations, and what stood then. */
  at(position: number): Moment {
    const p = Math.max(0, Math.min(this.total, Math.round(position)));
    if (p < this.replayer.position) this.restart();
    while (this.replayer.position < p) {
      const index = this.replayer.position;
      const d = this.replayer.step();
      if (d) this.differences.push({ ...d, index });
    }
    const op = p > 0 ? this.recording.records[p - 1]! : null;
    return {
      position: p, total: this.total, op, time: (this.originUs + (op?.t ?? 0)) / 1000,
      regions: this.regions(), buffers: this.buffers(), events: this.events.slice(-EVENT_WINDOW), differences: [...this.differences],
    };
  }

  private regions(): ViewerRegion[] {
    const { platform, smaf } = this.replayer.system;
    const byRegion = new Map<string, ViewerRegion['occupancy'][number][]>();
    for (const o of smaf.ownedRanges()) {
      const r = platform.regionAt(o.base);
      const buf = smaf.find(o.owner);
      if (!r || !buf) continue;
      let list = byRegion.get(r.name);
      if (!list) byRegion.set(r.name, (list = []));
      list.push({ base: o.base, length: o.length, buffer: o.owner, allocator: buf.backing?.allocator ?? '?', secure: buf.secure });
    }
    return platform.regionStats().filter((r) => r.kind !== 'reserved').map((r) => ({
      name: r.name, kind: r.kind, base: r.base, size: r.size, inUse: r.inUse, largestFree: r.largestFree, occupancy: byRegion.get(r.name) ?? [],
    }));
  }

  private buffers(): ViewerBuffer[] {
    const holders = new Map<number, string[]>();
    for (const c of this.replayer.world.clients.values()) {
      for (const e of c.fds.values()) {
        const list = holders.get(e.buffer.id) ?? [];
        if (!list.includes(c.label)) list.push(c.label);
        holders.set(e.buffer.id, list);
      }
    }
    return [...this.replayer.system.smaf.liveBuffers()].slice(0, 500).map((b) => ({
      buffer: b.id, length: b.length, allocator: b.backing?.allocator ?? null, secure: b.secure, label: b.label,
      attachments: b.attachments.map((a) => ({ device: a.device.name, mapped: a.mapped })), cpuMappings: b.cpuMappings.length, holders: holders.get(b.id) ?? [],
    }));
  }

  /** `smaf explain` of a buffer live at the current moment (replay ids), or null. */
  explainBuffer(id: number): string | null {
    const buf = this.replayer.system.smaf.find(id);
    return buf ? formatExplanation(explain(buf)) : null;
  }

  /** The replay's id of a buffer the recording names, at the current moment. */
  replayedBuffer(recorded: number): number | null {
    return this.replayer.world.buffers.get(recorded)?.id ?? null;
  }
}
