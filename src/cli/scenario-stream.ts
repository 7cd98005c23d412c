/**
 * A scenario's `stream` step: N frames through a pipeline of device stages over rings of buffers
 * (pools), as a camera or a secure video path runs. Each stage is one device's DMA request (a copy
 * from what it reads into what it writes; when it only reads, a scan-out, or with `expect_crc_text`
 * a CRC capture checked against the text), sent by the client
 * that drives that device (a stage's `client`: it is given the buffers by export and import; by
 * default the buffers' owner). Stages of different clients run at the same time, smafd serving
 * their requests in turn; so the runner keeps a fence per (frame, stage), signalled when that
 * request completes, and starts a stage only when (1) the same frame's previous stage has
 * signalled and (2) the ring buffer it writes is free again: the frame that used it last has been
 * through every stage that touches that pool. A device works on its frames in order without a
 * fence: its client's requests are answered in the order they were sent. Before the first frame,
 * every device is attached to every buffer it touches, and only then mapped (read: to-device,
 * write: from-device, both: bidirectional): the memory is chosen knowing all of them.
 */
import crc32 from 'crc-32';
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import type { SmafClient } from '../client/client.ts';
import type { StageSpec } from './scenario-schema.ts';

/** What the runner knows of the scenario's buffers, pools and attachments (ScenarioRun). */
export interface StreamRun {
  readonly buffers: Map<string, { readonly client: string; readonly fd: number }>;
  /** The fds other clients got of a buffer (`CLIENT:BUFFER`), by import. */
  readonly imported: Map<string, { readonly client: string; readonly fd: number }>;
  readonly attachments: Map<string, { readonly client: string; readonly fd: number; readonly id: number; readonly device: string }>;
  readonly pools: ReadonlyMap<string, { readonly buffers: readonly string[] }>;
  client(name: string): Promise<SmafClient>;
  need<T>(m: ReadonlyMap<string, T>, key: string, what: string): T;
}

export interface StreamReport {
  readonly frames: number;
  /** Buffers in each pool the stream cycles through. */
  readonly rings: Readonly<Record<string, number>>;
  readonly stages: readonly { readonly device: string; readonly does: string; readonly avgMs: number; readonly maxMs: number }[];
  /** From the first stage's request to the last stage's answer, per frame. */
  readonly latencyMs: { readonly avg: number; readonly p50: number; readonly p95: number; readonly max: number };
  readonly perFrameMs: readonly number[];
  readonly elapsedMs: number;
  readonly framesPerSecond: number;
}

interface Stage {
  readonly spec: StageSpec;
  readonly index: number;
  /** The buffer it reads and the one it writes for frame f (names), or null. */
  readonly source: (f: number) => string | null;
  readonly target: (f: number) => string | null;
  readonly does: string;
}

const ms = (x: number): number => Math.round(x * 100) / 100;

function ringOf(run: StreamRun, pool: string): readonly string[] {
  return run.need(run.pools, pool, 'pool').buffers;
}

function stagesOf(run: StreamRun, specs: readonly StageSpec[]): Stage[] {
  return specs.map((spec, index) => {
    const pick = (pool: string | undefined): ((f: number) => string | null) => {
      if (pool === undefined) return () => null;
      const ring = ringOf(run, pool);
      return (f) => ring[f % ring.length]!;
    };
    const source = spec.from !== undefined ? () => spec.from! : pick(spec.reads);
    const target = pick(spec.writes);
    const from = spec.from ?? spec.reads;
    const does = spec.writes === undefined
      ? `reads ${spec.reads} (${spec.expect_crc_text !== undefined ? 'CRC' : 'scan-out'})`
      : spec.reads === spec.writes ? `reads+writes ${spec.writes}` : `${spec.transform === 'decrypt' ? 'decrypts' : 'reads'} ${from}, writes ${spec.writes}`;
    return { spec, index, source, target, does };
  });
}

interface Access {
  readonly read: boolean;
  readonly write: boolean;
  /** The client driving the device (null: the buffer's owner). */
  readonly client: string | null;
}

/** Every (buffer, device) the stream touches and how: read, write or both, and by which client. */
function accesses(run: StreamRun, stages: readonly Stage[]): Map<string, Map<string, Access>> {
  const out = new Map<string, Map<string, Access>>();
  const note = (buffer: string, s: Stage, read: boolean): void => {
    let devices = out.get(buffer);
    if (!devices) out.set(buffer, (devices = new Map()));
    const a = devices.get(s.spec.device) ?? { read: false, write: false, client: s.spec.client ?? null };
    devices.set(s.spec.device, read ? { ...a, read: true } : { ...a, write: true });
  };
  for (const s of stages) {
    const reads = s.spec.from !== undefined ? [s.spec.from] : s.spec.reads !== undefined ? ringOf(run, s.spec.reads) : [];
    for (const b of reads) note(b, s, true);
    for (const b of s.spec.writes !== undefined ? ringOf(run, s.spec.writes) : []) note(b, s, false);
  }
  return out;
}

/** The fd of `buffer` in `client`: its own, or one imported once from the owner's export token. */
async function fdIn(run: StreamRun, buffer: string, client: string | null): Promise<{ client: string; fd: number }> {
  const own = run.need(run.buffers, buffer, 'buffer');
  if (client === null || client === own.client) return own;
  const key = `${client}:${buffer}`;
  let got = run.imported.get(key);
  if (!got) {
    const token = await (await run.client(own.client)).exportToken(own.fd);
    got = { client, fd: await (await run.client(client)).importToken(token) };
    run.imported.set(key, got);
  }
  return got;
}

/** Attach every device to every buffer it touches, then map them all: allocation sees every device. */
async function setUp(run: StreamRun, stages: readonly Stage[]): Promise<string[]> {
  const lines: string[] = [];
  const toMap: { key: string; direction: 0 | 1 | 2 }[] = [];
  for (const [buffer, devices] of accesses(run, stages)) {
    for (const [device, a] of devices) {
      const key = `${buffer}@${device}`;
      if (run.attachments.has(key)) continue;
      const b = await fdIn(run, buffer, a.client);
      run.attachments.set(key, { ...b, id: await (await run.client(b.client)).attach(b.fd, device), device });
      toMap.push({ key, direction: a.read && a.write ? 0 : a.read ? 1 : 2 });
    }
  }
  for (const { key, direction } of toMap) {
    const a = run.attachments.get(key)!;
    await (await run.client(a.client)).map(a.fd, a.id, direction);
  }
  if (toMap.length) {
    const devices = [...new Set(toMap.map((m) => m.key.split('@')[1]))].join(', ');
    lines.push(`${toMap.length} attachment${toMap.length > 1 ? 's' : ''} (${devices}) made before the first map: each buffer's memory was chosen knowing every device that uses it`);
  }
  return lines;
}

/** One stage of one frame: the device's DMA request, by the client driving it; its answer is the stage's fence. */
async function runStage(run: StreamRun, s: Stage, f: number, sizes: Map<string, number>): Promise<void> {
  const src = s.source(f);
  const dst = s.target(f);
  const dev = s.spec.device;
  if (dst === null) {
    const a = run.need(run.attachments, `${src}@${dev}`, 'attachment');
    const length = s.spec.bytes ?? sizes.get(src!)!;
    const c = await run.client(a.client);
    if (s.spec.expect_crc_text === undefined) {
      await c.dmaScanout(a.fd, a.id, 0, length); // the device reads the frame; nothing comes back
      return;
    }
    const crc = await c.dmaCrc(a.fd, a.id, 0, length);
    const want = new Uint8Array(length);
    want.set(new TextEncoder().encode(s.spec.expect_crc_text).subarray(0, length));
    if ((crc32.buf(want) >>> 0) !== crc) throw new SmafError('EIO', `frame ${f}: ${dev}'s CRC of ${src} is 0x${crc.toString(16)}, not the CRC of the expected text`);
    return;
  }
  const from = run.need(run.attachments, `${src}@${dev}`, 'attachment');
  const to = run.need(run.attachments, `${dst}@${dev}`, 'attachment');
  const length = s.spec.bytes ?? Math.min(sizes.get(src!)!, sizes.get(dst)!);
  await (await run.client(to.client)).dmaCopy(to.fd, to.id, from.fd, from.id, length, { transform: s.spec.transform === 'decrypt' ? 1 : 0 });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Run the stream: every stage of every frame as a promise that waits on its fences. The first
 * failure stops every stage that has not started (their fences never signal).
 */
export async function runStream(run: StreamRun, frames: number, specs: readonly StageSpec[]): Promise<{ detail: string; report: StreamReport }> {
  const stages = stagesOf(run, specs);
  const lines = await setUp(run, stages);
  const sizes = new Map<string, number>();
  for (const b of accesses(run, stages).keys()) {
    const own = run.need(run.buffers, b, 'buffer');
    sizes.set(b, Number((await (await run.client(own.client)).stat(own.fd)).size));
  }
  // the last stage that touches each pool: a ring buffer is free once the frame that used it has passed it
  const lastUse = new Map<string, number>();
  for (const s of stages) for (const p of [s.spec.reads, s.spec.writes]) if (p !== undefined) lastUse.set(p, s.index);
  const fences: Promise<void>[][] = [];
  const started: number[] = [];
  const ended: number[] = [];
  const took = stages.map(() => [] as number[]);
  const t0 = performance.now();
  for (let f = 0; f < frames; f++) {
    fences.push([]);
    for (const s of stages) {
      const waits: Promise<void>[] = [];
      if (s.index > 0) waits.push(fences[f]![s.index - 1]!);
      if (s.spec.writes !== undefined) {
        const ring = ringOf(run, s.spec.writes).length;
        if (f >= ring) waits.push(fences[f - ring]![lastUse.get(s.spec.writes)!]!);
      }
      fences[f]!.push(Promise.all(waits).then(async () => {
        const at = performance.now();
        if (s.index === 0) started[f] = at;
        await runStage(run, s, f, sizes);
        const end = performance.now();
        took[s.index]!.push(end - at);
        if (s.index === stages.length - 1) ended[f] = end;
      }));
    }
  }
  const settled = await Promise.allSettled(fences.flat());
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const elapsed = performance.now() - t0;
  const perFrame = ended.map((e, f) => e - started[f]!);
  const sorted = [...perFrame].sort((a, b) => a - b);
  const report: StreamReport = {
    frames,
    rings: Object.fromEntries([...new Set(specs.flatMap((s) => [s.reads, s.writes]).filter((p): p is string => p !== undefined))].map((p) => [p, ringOf(run, p).length])),
    stages: stages.map((s) => ({ device: s.spec.device, does: s.does, avgMs: ms(took[s.index]!.reduce((a, b) => a + b, 0) / frames), maxMs: ms(Math.max(...took[s.index]!)) })),
    latencyMs: { avg: ms(perFrame.reduce((a, b) => a + b, 0) / frames), p50: ms(percentile(sorted, 50)), p95: ms(percentile(sorted, 95)), max: ms(sorted.at(-1)!) },
    perFrameMs: perFrame.map(ms),
    elapsedMs: ms(elapsed),
    framesPerSecond: Math.round((frames / elapsed) * 1000 * 10) / 10,
  };
  const clients = [...new Set(stages.map((x) => run.need(run.attachments, `${x.source(0) ?? x.target(0)}@${x.spec.device}`, 'attachment').client))];
  return { detail: describe(report, lines, sizes, clients), report };
}

function describe(r: StreamReport, lines: readonly string[], sizes: ReadonlyMap<string, number>, clients: readonly string[]): string {
  const rings = Object.entries(r.rings).map(([p, n]) => `${p} (${n} buffers)`).join(', ');
  const bytes = [...sizes.values()].reduce((a, b) => Math.max(a, b), 0);
  return [
    `${r.frames} frames through ${rings}: ${r.stages.map((s) => `${s.device} ${s.does}`).join(' -> ')}`,
    ...lines,
    `fences: each stage started when the previous stage's DMA for that frame completed and the ring buffer it writes was free${clients.length > 1 ? ` (the stages ran at once, in ${clients.length} clients: ${clients.join(', ')})` : ''}`,
    `latency per frame: avg ${r.latencyMs.avg} ms, p50 ${r.latencyMs.p50}, p95 ${r.latencyMs.p95}, max ${r.latencyMs.max}; throughput ${r.framesPerSecond} frames/s (${r.frames} frames in ${r.elapsedMs} ms, frames up to ${formatSize(bytes)})`,
    `per stage: ${r.stages.map((s) => `${s.device} avg ${s.avgMs} ms (max ${s.maxMs})`).join(', ')}`,
  ].join('\n');
}
