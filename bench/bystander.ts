/**
 * daemon.bystander: how long one client's request waits while others flood smafd with the heaviest
 * work the protocol allows: 500 pipelined 128 MiB DMA_COPYs in one write (issue 17); 16 connections
 * holding 1,024 fds each, pipelining X_EVENTS over a full journal (issue 21); a client mapping and
 * closing 510 MiB buffers of scattered pages, whose first MAP and last CLOSE are the largest units
 * (issue 21). The bystander's latency under each flood is compared with its latency on an idle
 * daemon, measured in the same run. Goal: a flood adds at most about 10 ms to any request.
 */
import { SmafClient } from '../src/client/client.ts';
import { encodeEventQuery, Op } from '../src/uapi/index.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import { percentile, startServer } from './spawn.ts';

async function sample(c: SmafClient, ms: number): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    const fd = await c.create(4096);
    await c.closeFd(fd);
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out.sort((a, b) => a - b);
}

/** The bystander's STAT latencies, sampled for `ms` (one at a time, 2 ms apart). */
async function sampleStat(c: SmafClient, fd: number, ms: number): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    await c.stat(fd);
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out.sort((a, b) => a - b);
}

/** 16 connections of 1,024 fds each keep pipelining X_EVENTS over a full journal while `during` runs. */
async function introspectionFlood<T>(socket: string, during: () => Promise<T>): Promise<T> {
  const flooders = await Promise.all(Array.from({ length: 16 }, () => SmafClient.connect(socket, { timeoutMs: 600_000 })));
  for (const c of flooders) {
    const fds = await Promise.all(Array.from({ length: 1024 }, () => c.create(4096)));
    // attach/detach cycles fill the journal (10,000 events) with events of buffers these clients hold
    for (let i = 0; i < 40; i++) {
      const fd = fds[i]!;
      await c.detach(fd, await c.attach(fd, 'gpu'));
    }
  }
  let stop = false;
  const query = encodeEventQuery({ limit: 1000 });
  const loops = flooders.map(async (c) => {
    while (!stop) await Promise.all(Array.from({ length: 8 }, () => c.request(Op.X_EVENTS, -1, query)));
  });
  try {
    return await during();
  } finally {
    stop = true;
    await Promise.allSettled(loops);
    for (const c of flooders) c.destroy();
  }
}

/** A client maps and closes 510 MiB buffers of scattered pages for the GPU while `during` runs. */
async function hugeMapCloseFlood<T>(socket: string, during: () => Promise<T>): Promise<T> {
  const c = await SmafClient.connect(socket, { timeoutMs: 600_000 });
  let stop = false;
  let cycles = 0;
  const loop = (async () => {
    while (!stop) {
      const fd = await c.create(510 * 1024 * 1024);
      await c.map(fd, await c.attach(fd, 'gpu'), 0);
      await c.closeFd(fd);
      cycles++;
    }
  })();
  try {
    const r = await during();
    if (cycles === 0) throw new Error('the huge buffers flood never completed a cycle');
    return r;
  } finally {
    stop = true;
    await loop;
    await c.close();
  }
}

export async function benchBystander(ctx: BenchContext): Promise<Metric[]> {
  const window = ctx.quick ? 1000 : 5000;
  const out = await dmaFlood(window);
  const daemon = await startServer('smafd');
  try {
    const bystander = await SmafClient.connect(daemon.socket, { timeoutMs: 60_000 });
    const fd = await bystander.create(4096);
    const idle = await sampleStat(bystander, fd, window);
    const introspection = await introspectionFlood(daemon.socket, () => sampleStat(bystander, fd, window));
    const huge = await hugeMapCloseFlood(daemon.socket, () => sampleStat(bystander, fd, window));
    await bystander.close();
    const p = (x: number[], q: number) => percentile(x, q);
    out.push(
      metric('daemon.bystander.introspection_p50', p(introspection, 50), p(idle, 50), 'ms', `a bystander's STAT while 16 connections of 1,024 fds pipeline X_EVENTS over a full journal, vs idle (${introspection.length} and ${idle.length} samples)`),
      metric('daemon.bystander.introspection_added_ms', p(introspection, 100) - p(idle, 50), 10, 'ms', 'the worst bystander STAT under the X_EVENTS flood less the idle p50, vs the 10 ms goal'),
      metric('daemon.bystander.huge_map_close_added_ms', p(huge, 100) - p(idle, 50), 10, 'ms', `the worst bystander STAT while a client maps and closes 510 MiB buffers of scattered pages, less the idle p50 (${huge.length} samples)`),
    );
    return out;
  } finally {
    daemon.stop();
  }
}

async function dmaFlood(window: number): Promise<Metric[]> {
  const daemon = await startServer('smafd');
  const socket = daemon.socket;
  try {
    const bystander = await SmafClient.connect(socket, { timeoutMs: 60_000 });
    const attacker = await SmafClient.connect(socket, { timeoutMs: 600_000 });
    const idle = await sample(bystander, window);
    const size = 128 * 1024 * 1024;
    const src = await attacker.create(size);
    const dst = await attacker.create(size);
    const a = await attacker.attach(src, 'gpu');
    const b = await attacker.attach(dst, 'gpu');
    await attacker.map(src, a, 1);
    await attacker.map(dst, b, 2);
    // 500 pipelined requests asking for 64 GiB of DMA (their answers never come: the attacker leaves)
    for (let i = 0; i < 500; i++) {
      const p = new Uint8Array(40);
      const v = new DataView(p.buffer);
      v.setUint32(0, b, true);
      v.setInt32(4, src, true);
      v.setUint32(8, a, true);
      v.setBigUint64(32, BigInt(size), true);
      attacker.request(Op.DMA_COPY, dst, p).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 200)); // the flood is under way
    const flooded = await sample(bystander, window);
    attacker.destroy();
    await bystander.close();
    const p = (s: number[], q: number) => percentile(s, q);
    return [
      metric('daemon.bystander.p50_under_dma_flood', p(flooded, 50), p(idle, 50), 'ms', `a bystander's CREATE+CLOSE while another client pipelines 500 DMA_COPYs of 128 MiB, vs on an idle daemon (${flooded.length} and ${idle.length} samples)`),
      metric('daemon.bystander.p99_under_dma_flood', p(flooded, 99), p(idle, 99), 'ms'),
      metric('daemon.bystander.max_added_ms', p(flooded, 100) - p(idle, 50), 10, 'ms', 'the worst bystander request under the flood less the idle p50, vs the 10 ms goal'),
    ];
  } finally {
    daemon.stop();
  }
}
