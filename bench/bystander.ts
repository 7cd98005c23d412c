/**
 * daemon.bystander: how long one client's request waits while another floods smafd with the
 * heaviest work the protocol allows: 500 pipelined 128 MiB DMA_COPYs in one write (issue 17); 16
 * connections holding 1,024 fds each, pipelining X_EVENTS over a full journal (issue 21); a client
 * mapping and closing 510 MiB buffers of scattered pages, whose first MAP and last CLOSE are the
 * largest units (issue 21). Each flood runs in a process of its own (bench/flood.ts), against a
 * fresh smafd, and ends inside the sampling window: its connections close with everything they
 * hold (16,384 fds for the X_EVENTS flood), which is work for smafd too. The bystander's latency
 * under each flood is compared with its latency on the same smafd idle, just before. Goal: a flood
 * adds at most 10 ms to any request.
 */
import { SmafClient } from '../src/client/client.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import { percentile, startFlood, startServer, type FloodKind } from './spawn.ts';
import { SchedStat, type StallReport } from './stalls.ts';

/**
 * A bystander's latencies (ms, sorted) of `op` for `ms`, one at a time, 2 ms apart; and for each,
 * the CPU time smafd's event loop ran while it waited (its main thread's own count, from the
 * kernel): the work smafd did before answering, whatever else the machine was doing. On a loaded
 * machine the first also holds the time smafd (or the bystander) waited for a CPU; the second does
 * not, and is what smafd's scheduling and the size of its units decide.
 */
async function sample(ms: number, smafd: SchedStat, op: () => Promise<void>): Promise<{ wall: number[]; ran: number[] }> {
  const wall: number[] = [];
  const ran: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const [r0] = smafd.read();
    const t = performance.now();
    await op();
    wall.push(performance.now() - t);
    ran.push(smafd.read()[0] - r0);
    await new Promise((r) => setTimeout(r, 2));
  }
  const sorted = (v: number[]) => v.sort((a, b) => a - b);
  return { wall: sorted(wall), ran: sorted(ran) };
}

interface Flooded {
  readonly idle: { wall: number[]; ran: number[] };
  readonly flooded: { wall: number[]; ran: number[] };
  readonly cycles: number;
  /** smafd's worst event-loop stall in each window. */
  readonly idleStall: StallReport;
  readonly floodStall: StallReport;
}

/**
 * The bystander's `op` on a fresh smafd: idle for `window` ms, then under a flood that stops at
 * four fifths of the next `window` (its teardown inside the samples).
 */
async function underFlood(kind: FloodKind, window: number, op: (c: SmafClient, fd: number) => Promise<void>): Promise<Flooded> {
  const daemon = await startServer('smafd', { watchStalls: true });
  const smafd = new SchedStat(`/proc/${daemon.process.pid}/schedstat`);
  try {
    const bystander = await SmafClient.connect(daemon.socket, { timeoutMs: 60_000 });
    const fd = await bystander.create(4096);
    await daemon.stalls();
    const idle = await sample(window, smafd, () => op(bystander, fd));
    const idleStall = await daemon.stalls();
    const flood = await startFlood(kind, daemon.socket);
    await daemon.stalls(); // the flood's setup is not part of it
    let stopped: Promise<number> | null = null;
    const timer = setTimeout(() => (stopped = flood.stop()), (window * 4) / 5);
    const flooded = await sample(window, smafd, () => op(bystander, fd));
    clearTimeout(timer);
    const cycles = await (stopped ?? flood.stop());
    const floodStall = await daemon.stalls();
    await bystander.close();
    return { idle, flooded, cycles, idleStall, floodStall };
  } finally {
    smafd.close();
    daemon.stop();
  }
}

const createClose = async (c: SmafClient) => c.closeFd(await c.create(4096));
const stat = async (c: SmafClient, fd: number) => void (await c.stat(fd));
const p = (s: readonly number[], q: number) => percentile(s, q);

export async function benchBystander(ctx: BenchContext): Promise<Metric[]> {
  const window = ctx.quick ? 1000 : 5000;
  const dma = await underFlood('dma', window, createClose);
  const intro = await underFlood('introspection', window, stat);
  const huge = await underFlood('huge', window, stat);
  if (huge.cycles === 0) throw new Error('the huge buffers flood never completed a cycle');
  /** The worst flooded request less the idle p50: its latency, or smafd's CPU while it waited. */
  const added = (f: Flooded, k: 'wall' | 'ran') => p(f.flooded[k], 100) - p(f.idle[k], 50);
  const why = (f: Flooded) => `idle, the worst was ${p(f.idle.wall, 100).toFixed(1)} ms; smafd's longest stall under the flood was ${f.floodStall.wallMs.toFixed(1)} ms, in which its event loop ran at most ${f.floodStall.runMs.toFixed(1)} ms of CPU (idle: ${f.idleStall.wallMs.toFixed(1)} and ${f.idleStall.runMs.toFixed(1)} ms)`;
  const ran = (f: Flooded, what: string) => `the most CPU smafd's event loop ran while one bystander request waited ${what}, less the idle p50 (${p(f.idle.ran, 50).toFixed(2)} ms); the machine's load is not in it (idle, the most was ${p(f.idle.ran, 100).toFixed(2)} ms)`;
  return [
    metric('daemon.bystander.p50_under_dma_flood', p(dma.flooded.wall, 50), p(dma.idle.wall, 50), 'ms', `a bystander's CREATE+CLOSE while another client pipelines 500 DMA_COPYs of 128 MiB, vs on the idle smafd (${dma.flooded.wall.length} and ${dma.idle.wall.length} samples)`),
    metric('daemon.bystander.p99_under_dma_flood', p(dma.flooded.wall, 99), p(dma.idle.wall, 99), 'ms'),
    metric('daemon.bystander.max_added_ms', added(dma, 'wall'), 10, 'ms', `the worst bystander request under the flood (the attacker leaving included) less the idle p50, vs the 10 ms goal; ${why(dma)}`),
    metric('daemon.bystander.dma_flood_added_cpu_ms', added(dma, 'ran'), 10, 'ms', ran(dma, 'under the DMA flood (a CREATE+CLOSE)')),
    metric('daemon.bystander.introspection_p50', p(intro.flooded.wall, 50), p(intro.idle.wall, 50), 'ms', `a bystander's STAT while 16 connections of 1,024 fds pipeline X_EVENTS over a full journal, vs idle (${intro.flooded.wall.length} and ${intro.idle.wall.length} samples; ${intro.cycles} rounds of 8 X_EVENTS)`),
    metric('daemon.bystander.introspection_added_ms', added(intro, 'wall'), 10, 'ms', `the worst bystander STAT under the X_EVENTS flood (the 16,384 fds closing at its end included) less the idle p50, vs the 10 ms goal; ${why(intro)}`),
    metric('daemon.bystander.introspection_added_cpu_ms', added(intro, 'ran'), 10, 'ms', ran(intro, 'under the X_EVENTS flood, its end included (a STAT)')),
    metric('daemon.bystander.huge_map_close_added_ms', added(huge, 'wall'), 10, 'ms', `the worst bystander STAT while a client maps and closes 510 MiB buffers of scattered pages (${huge.cycles} cycles), less the idle p50 (${huge.flooded.wall.length} samples); ${why(huge)}`),
    metric('daemon.bystander.huge_map_close_added_cpu_ms', added(huge, 'ran'), 10, 'ms', ran(huge, 'under the huge MAP/CLOSE cycles (a STAT)')),
  ];
}
