/**
 * Scale: CREATE+CLOSE p50 as live buffers grow to 100,000 (held by 100 clients), and the same at
 * 100,000 with a dashboard viewer connected (the page's two WebSockets: state and events) against
 * without one. The machine is shared, so each figure is measured in alternating rounds against its
 * baseline: the filled smafd against a second, empty one (same code, dashboard server on, no
 * viewer); the viewer connected against not connected. A probe does one CREATE+CLOSE at a time.
 */
import { WebSocket } from 'ws';
import { SmafClient } from '../src/client/client.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import type { ScalePoint } from './report.ts';
import { alternate } from './rounds.ts';
import { percentile, startServer } from './spawn.ts';

const HOLDERS = 100;
const ROUNDS = 4;

async function p50(c: SmafClient, samples: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await c.closeFd(await c.create(4096));
    out.push((performance.now() - t) * 1000);
  }
  return percentile(out.sort((a, b) => a - b), 50);
}

/** Fill to `target` live buffers, spread over the holders (pipelined: each holder sends all its CREATEs at once). */
async function fill(holders: readonly SmafClient[], from: number, target: number): Promise<void> {
  const per = Math.ceil((target - from) / holders.length);
  await Promise.all(holders.map((h, i) => {
    const n = Math.max(0, Math.min(per, target - from - i * per));
    return Promise.all(Array.from({ length: n }, () => h.create(4096)));
  }));
}

/** A dashboard viewer: the page's state and event sockets, reading (and parsing) every message. */
async function viewer(url: string, token: string): Promise<{ bytes: () => number; close: () => void }> {
  const base = new URL(url);
  let bytes = 0;
  const open = (path: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://${base.host}${path}`, { headers: { authorization: `Bearer ${token}` } });
    ws.on('message', (d: Buffer) => {
      bytes += d.length;
      JSON.parse(d.toString());
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const sockets = [await open('/ws'), await open('/ws/events')];
  return { bytes: () => bytes, close: () => sockets.forEach((s) => s.close()) };
}

export async function benchScale(ctx: BenchContext): Promise<{ metrics: Metric[]; curve: ScalePoint[] }> {
  const [full, empty] = await Promise.all([startServer('smafd-dashboard'), startServer('smafd-dashboard')]);
  // --quick stops at 10,000 (filling to 100,000 takes longer than the minute the whole run has); the
  // figures are named by the size they reached
  const points = ctx.quick ? [0, 10_000] : [0, 10_000, 25_000, 50_000, 75_000, 100_000];
  const samples = ctx.quick ? 60 : 400;
  try {
    const probe = await SmafClient.connect(full.socket, { timeoutMs: 120_000 });
    const other = await SmafClient.connect(empty.socket, { timeoutMs: 120_000 });
    const holders = await Promise.all(Array.from({ length: HOLDERS }, () => SmafClient.connect(full.socket, { timeoutMs: 120_000 })));
    const bar = ctx.progress('scale', points.length + 1);
    await Promise.all([p50(probe, ctx.quick ? 1000 : 3000), p50(other, ctx.quick ? 1000 : 3000)]); // warm-up: no point is the JIT's
    const curve: ScalePoint[] = [];
    let live = 0;
    for (const target of points) {
      await fill(holders, live, target);
      live = target;
      const [p, base] = await alternate(ROUNDS, () => p50(probe, samples), () => p50(other, samples));
      curve.push({ live, p50Us: p, emptyUs: base });
      bar.tick();
    }
    const token = new URLSearchParams(new URL(full.info).hash.slice(1)).get('token')!;
    let pushed = 0;
    const [without, watched] = await alternate(ROUNDS, () => p50(probe, samples), async () => {
      const watch = await viewer(full.info, token);
      await new Promise((r) => setTimeout(r, 300)); // the first full state has gone out
      const v = await p50(probe, samples);
      pushed += watch.bytes();
      watch.close();
      return v;
    });
    bar.stop();
    await Promise.all([probe, other, ...holders].map((c) => c.close()));
    const last = curve.at(-1)!;
    const size = `${last.live / 1000}k`;
    return {
      curve,
      metrics: [
        metric(`scale.create_close.${size}`, last.p50Us, last.emptyUs, 'µs', `CREATE+CLOSE p50 with ${last.live.toLocaleString('en')} live buffers held by ${HOLDERS} clients, vs an empty smafd in alternating rounds`),
        metric(`scale.dashboard.${size}`, watched, without, 'µs', `CREATE+CLOSE p50 at ${last.live.toLocaleString('en')} live buffers with a dashboard viewer connected (${(pushed / ROUNDS / 1024).toFixed(0)} KiB pushed to it per round), vs without one, in alternating rounds`),
      ],
    };
  } finally {
    full.stop();
    empty.stop();
  }
}
