/**
 * daemon.bystander: how long one client's request waits while another client floods smafd with
 * the heaviest work the protocol allows (500 pipelined 128 MiB DMA_COPYs in one write, issue 17).
 * The bystander's CREATE+CLOSE latency under the flood is compared with its latency on an idle
 * daemon, measured in the same run. Goal: the flood adds at most about 10 ms to any request.
 */
import { SmafClient } from '../src/client/client.ts';
import { Op } from '../src/uapi/index.ts';
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

export async function benchBystander(ctx: BenchContext): Promise<Metric[]> {
  const daemon = await startServer('smafd');
  const socket = daemon.socket;
  try {
    const bystander = await SmafClient.connect(socket, { timeoutMs: 60_000 });
    const attacker = await SmafClient.connect(socket, { timeoutMs: 600_000 });
    const window = ctx.quick ? 1000 : 5000;
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
