/**
 * Replay a recording in process, on any platform and policy: a SMAF system is built from a
 * platform spec and a preset, and each recorded operation is applied to the core through its row
 * of REPLAY_OPS (ops.ts), in order. Each outcome (success, or the errno) is compared with the
 * recorded one; the replay keeps the differences, the first new failure (an operation that
 * succeeded in the recording and fails here), and each region's peak use with its largest free
 * range at that peak. No Node imports: the dashboard's trace viewer runs this in the browser.
 */
import { SmafError, toSmafError } from '../common/errors.ts';
import type { PlatformSpec, SmafEvent } from '../platform/index.ts';
import { createSmafSystem, type PresetOptions, type SmafSystem } from '../presets/default.ts';
import { IOCTLS, type OpRecord, type RecordArgs, type RecordingHeader, type Recording } from '../uapi/index.ts';
import { checkRecording, targetOf } from './check.ts';
import { REPLAY_OPS, type ReplayCall, type ReplayedOpName, type ReplayRow } from './ops.ts';
import { buffersFuture, policyNamed, type BufferFuture, type PolicyName } from './policy.ts';
import { ReplayClient, ReplayWorld, type ReplayLimits } from './world.ts';

/** A recording checked and ready to replay (any number of times). */
export interface PreparedRecording {
  readonly source: string;
  readonly header: RecordingHeader | null;
  readonly records: readonly OpRecord[];
  readonly lines: readonly number[];
  readonly future: ReadonlyMap<number, BufferFuture>;
}

/** Check a recording's consistency (TraceFileError otherwise) and index what eager looks ahead for. */
export function prepareRecording(rec: Recording): PreparedRecording {
  const records = checkRecording(rec);
  return { source: rec.source, header: rec.header, records, lines: rec.lines, future: buffersFuture(records) };
}

export interface ReplayOptions {
  readonly spec: PlatformSpec;
  readonly policy?: PolicyName;
  /** Which allocators, ranked how (what-if). */
  readonly preset?: PresetOptions;
  /** Enforce smafd's limits of the recording's header (default true). */
  readonly limits?: boolean;
  /** How many differences to keep (all are counted; default all). */
  readonly keepDifferences?: number;
  /** Every platform event, with the record that caused it (the trace viewer). */
  readonly onEvent?: (e: SmafEvent, rec: OpRecord, client: ReplayClient) => void;
}

/** An operation whose replayed outcome differs from the recorded one. */
export interface Difference {
  readonly seq: number;
  readonly line: number;
  readonly op: string;
  readonly client: number;
  readonly buffer: number | null;
  /** "ok" or the errno. */
  readonly recorded: string;
  readonly replayed: string;
  /** Why the replay's operation failed (which allocators were asked and what each said), or what it did instead. */
  readonly explain: string | null;
}

export interface RegionPeak {
  readonly name: string;
  readonly kind: string;
  readonly size: number;
  readonly peak: number;
  /** The largest free range when the region was fullest (all of it, when never used). */
  readonly largestFree: number;
  /** 1 - largestFree/free at that moment. */
  readonly fragmentation: number;
}

export interface ReplayResult {
  readonly source: string;
  readonly platform: string;
  readonly policy: PolicyName;
  readonly replayed: number;
  readonly differences: readonly Difference[];
  readonly differencesTotal: number;
  /** Operations that succeeded in the recording and fail here. */
  readonly failed: number;
  readonly firstFailure: Difference | null;
  readonly regions: readonly RegionPeak[];
  /** A bug met by the replay (anything not a SmafError), answered EIO as smafd would. */
  readonly internalErrors: number;
  /** Operations not replayed, by op, and why (their recorded outcomes stand). */
  readonly notReplayed: readonly { readonly op: string; readonly count: number; readonly why: string }[];
  /** The recording is not whole (its header says operations were dropped). */
  readonly partial: boolean;
}

const IOCTL_NAMES = new Set<string>(IOCTLS.map((d) => d.name));
const NO_ARGS: RecordArgs = {};

/** Where a recorded thing goes missing when the operation that made it fails in the replay. */
const MADE_KEY: Partial<Record<ReplayedOpName, (r: OpRecord) => string | null>> = {
  SMAF_IOC_CREATE: (r) => (r.new_fd !== undefined ? `${r.client}:fd:${r.new_fd}` : null),
  DUP: (r) => `${r.client}:fd:${r.result}`,
  IMPORT: (r) => `${r.client}:fd:${r.result}`,
  ATTACH: (r) => `${r.client}:att:${r.fd}:${r.result}`,
  MMAP: (r) => `${r.client}:map:${r.fd}:${r.result}`,
};

export class Replayer {
  readonly system: SmafSystem;
  readonly world: ReplayWorld;
  private readonly policy;
  private next = 0;
  private readonly differences: Difference[] = [];
  private differencesTotal = 0;
  private failed = 0;
  private firstFailure: Difference | null = null;
  private internalErrors = 0;
  /** Operations not replayed (their rows say why), by op. */
  private readonly notReplayed = new Map<string, number>();
  private allocated = false;
  private readonly peaks = new Map<string, { peak: number; largestFree: number; fragmentation: number }>();
  /** The operation being replayed (one object for all: nothing allocated per operation). */
  private readonly call: ReplayCall;
  private busy = false;

  constructor(readonly recording: PreparedRecording, readonly options: ReplayOptions) {
    this.system = createSmafSystem(options.spec, { eventCapacity: 1, ...options.preset });
    const limits = options.limits === false ? {} : ((recording.header?.limits ?? {}) as ReplayLimits);
    this.world = new ReplayWorld(this.system.smaf, limits);
    this.policy = policyNamed(options.policy ?? 'deferred');
    this.call = { w: this.world, policy: this.policy, future: recording.future, c: new ReplayClient(0), rec: recording.records[0]!, args: NO_ARGS, entry: undefined, made: undefined };
    const onEvent = options.onEvent;
    this.system.platform.events.subscribe((e) => {
      if (e.kind === 'allocate' || e.kind === 'migrate') this.allocated = true;
      if (onEvent && this.busy) onEvent(e, this.call.rec, this.call.c);
    });
    for (const r of this.system.platform.regions) {
      if (r.kind === 'reserved') continue;
      const s = this.system.platform.pool(r.name).stats();
      this.peaks.set(r.name, { peak: 0, largestFree: s.largestFree, fragmentation: s.fragmentation });
    }
  }

  /** Records replayed so far. */
  get position(): number {
    return this.next;
  }

  get done(): boolean {
    return this.next >= this.recording.records.length;
  }

  /** Replay every record left. */
  run(): ReplayResult {
    while (this.next < this.recording.records.length) this.step();
    return this.result();
  }

  /** Replay up to (not including) record index `n`. */
  runTo(n: number): void {
    const end = Math.min(n, this.recording.records.length);
    while (this.next < end) this.step();
  }

  /** Replay one record; its difference, if its outcome differs. */
  step(): Difference | null {
    const i = this.next++;
    const rec = this.recording.records[i]!;
    const call = this.call;
    call.c = this.world.client(rec.client);
    call.rec = rec;
    call.args = rec.args ?? NO_ARGS;
    call.entry = undefined;
    call.made = undefined;
    this.busy = true;
    let replayed: SmafError | null = null;
    const row = REPLAY_OPS[rec.op as ReplayedOpName];
    if (row.notReplayed !== undefined) {
      this.notReplayed.set(rec.op, (this.notReplayed.get(rec.op) ?? 0) + 1);
      this.busy = false;
      return null;
    }
    try {
      this.target(rec, call);
      row.apply(call);
    } catch (e) {
      replayed = toSmafError(e);
      if (!(e instanceof SmafError)) this.internalErrors++;
    }
    const recordedOk = rec.errno === undefined;
    if (replayed === null) replayed = this.settle(row, call, recordedOk);
    this.busy = false;
    if (this.allocated) this.notePeaks();
    if (replayed && recordedOk) {
      const key = MADE_KEY[rec.op as ReplayedOpName]?.(rec);
      if (key) this.world.lost.set(key, rec.seq);
    }
    const replayedText = replayed ? replayed.code : 'ok';
    const recordedText = rec.errno ?? 'ok';
    if (replayedText === recordedText) return null;
    return this.differ(i, rec, recordedText, replayedText, replayed);
  }

  /** What the operation made is filed (the recording says it succeeded) or given back (it failed). */
  private settle(row: ReplayRow, call: ReplayCall, recordedOk: boolean): SmafError | null {
    try {
      if (recordedOk) row.bind?.(call);
      else row.undo?.(call);
      return null;
    } catch (e) {
      this.internalErrors++;
      return toSmafError(e);
    }
  }

  /** The fd the op goes to, checked as smafd does before any handler (the op's row of the uapi tables). */
  private target(rec: OpRecord, call: ReplayCall): void {
    const w = this.world;
    const target = targetOf(rec.op as ReplayedOpName);
    if (target === 'buffer') call.entry = w.entry(call.c, rec.fd!);
    else if (target === 'device' && rec.fd !== -1) {
      if (IOCTL_NAMES.has(rec.op)) {
        w.entry(call.c, rec.fd!); // EBADF first for a bad fd, as the kernel would
        throw new SmafError('ENOTTY', `${rec.op} is an ioctl of /dev/smaf (fd -1), not of a buffer fd`);
      }
      throw new SmafError('EINVAL', `${rec.op} goes to the device (fd -1)`);
    }
  }

  private differ(i: number, rec: OpRecord, recorded: string, replayed: string, err: SmafError | null): Difference {
    const explain = err ? err.message : `the replay succeeded${this.allocationOf(rec)}${rec.message ? `; the recording's failure: ${rec.message}` : ''}`;
    const d: Difference = { seq: rec.seq, line: this.recording.lines[i] ?? 0, op: rec.op, client: rec.client, buffer: rec.buffer ?? null, recorded, replayed, explain };
    this.differencesTotal++;
    if (this.differences.length < (this.options.keepDifferences ?? Infinity)) this.differences.push(d);
    if (err && recorded === 'ok') {
      this.failed++;
      this.firstFailure ??= d;
    }
    return d;
  }

  /** " (memory from smaf-cma in cma)" when the replayed operation's buffer has memory. */
  private allocationOf(rec: OpRecord): string {
    const buf = rec.buffer !== undefined ? this.world.buffers.get(rec.buffer) : undefined;
    return buf?.backing ? ` (buffer ${buf.id} has memory from ${buf.backing.allocator} in ${buf.backing.region})` : '';
  }

  private notePeaks(): void {
    this.allocated = false;
    const platform = this.system.platform;
    for (const [name, p] of this.peaks) {
      const pool = platform.pool(name);
      if (pool.inUse <= p.peak) continue;
      const s = pool.stats();
      p.peak = s.inUse;
      p.largestFree = s.largestFree;
      p.fragmentation = s.fragmentation;
    }
  }

  result(): ReplayResult {
    const platform = this.system.platform;
    return {
      source: this.recording.source,
      platform: platform.name,
      policy: this.policy.name,
      replayed: this.next,
      differences: [...this.differences],
      differencesTotal: this.differencesTotal,
      failed: this.failed,
      firstFailure: this.firstFailure,
      regions: [...this.peaks].map(([name, p]) => {
        const r = platform.region(name);
        return { name, kind: r.kind, size: r.size, ...p };
      }),
      internalErrors: this.internalErrors,
      notReplayed: [...this.notReplayed].map(([op, count]) => ({ op, count, why: REPLAY_OPS[op as ReplayedOpName].notReplayed! })),
      partial: this.recording.header !== null && !this.recording.header.complete,
    };
  }
}

/** Replay a whole recording. */
export function replay(recording: PreparedRecording, options: ReplayOptions): ReplayResult {
  return new Replayer(recording, options).run();
}
