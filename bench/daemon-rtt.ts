/**
 * daemon.rtt: CREATE+CLOSE over the Unix socket against a minimal Node echo server doing the same
 * two round trips with frames of the same sizes, both in their own process, in the same run.
 */
import { Bench } from 'tinybench';
import { encodeStruct, Op, SMAF_IOC_CREATE } from '../src/uapi/index.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import { RawRtt } from './raw-client.ts';
import { startServer } from './spawn.ts';

export const CREATE_PAYLOAD = encodeStruct(SMAF_IOC_CREATE.struct, { length: 4096n, flags: 2 });
const EMPTY = new Uint8Array(0);

export async function createClose(c: RawRtt): Promise<void> {
  const r = await c.send(SMAF_IOC_CREATE.number, -1, CREATE_PAYLOAD);
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  if (v.getInt32(4, true) !== 0) throw new Error('CREATE failed in the benchmark');
  await c.send(Op.CLOSE, v.getInt32(8 + 24, true), EMPTY);
}

async function echoPair(c: RawRtt): Promise<void> {
  await c.send(SMAF_IOC_CREATE.number, -1, CREATE_PAYLOAD);
  await c.send(Op.CLOSE, 3, EMPTY);
}

async function throughput(path: string, clients: number, ms: number, op: (c: RawRtt) => Promise<void>): Promise<number> {
  const conns = await Promise.all(Array.from({ length: clients }, () => RawRtt.open(path)));
  let ops = 0;
  const end = Date.now() + ms;
  await Promise.all(conns.map(async (c) => {
    while (Date.now() < end) {
      await op(c);
      ops++;
    }
  }));
  conns.forEach((c) => c.close());
  return ops / (ms / 1000);
}

export async function benchDaemonRtt(ctx: BenchContext): Promise<Metric[]> {
  const [daemon, echo] = await Promise.all([startServer('smafd'), startServer('echo')]);
  const smafSock = daemon.socket;
  const echoSock = echo.socket;
  try {
    const sc = await RawRtt.open(smafSock);
    const ec = await RawRtt.open(echoSock);
    const bench = new Bench({ time: ctx.quick ? 800 : 5000, warmupTime: 300 });
    bench.add('echo', () => echoPair(ec));
    bench.add('smafd', () => createClose(sc));
    await bench.run();
    const [e, s] = bench.tasks.map((t) => t.result);
    if (e?.state !== 'completed' || s?.state !== 'completed') throw new Error('RTT benchmark did not complete');
    const us = (ms: number) => ms * 1000;
    const out: Metric[] = [
      metric('daemon.rtt.create_close.p50_ratio', us(s.latency.p50), us(e.latency.p50), 'µs', 'p50 of CREATE+CLOSE vs the echo server doing the same two round trips'),
      metric('daemon.rtt.create_close.p99_ratio', us(s.latency.p99), us(e.latency.p99), 'µs'),
    ];
    sc.close();
    ec.close();
    const window = ctx.quick ? 300 : 2000;
    const bar = ctx.progress('daemon throughput', 6);
    for (const n of [1, 8, 64]) {
      const echoOps = await throughput(echoSock, n, window, echoPair);
      bar.tick();
      const smafOps = await throughput(smafSock, n, window, createClose);
      bar.tick();
      out.push(metric(`daemon.ops_per_s.c${n}`, smafOps, echoOps, 'ops/s', `CREATE+CLOSE pairs per second with ${n} concurrent client(s), vs echo pairs`));
    }
    bar.stop();
    return out;
  } finally {
    daemon.stop();
    echo.stop();
  }
}
