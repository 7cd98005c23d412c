/**
 * Scale: CREATE+CLOSE p50 as live buffers grow to 100,000 (held by 100 clients), and the same at
 * 100,000 with a dashboard viewer connected (the page's two WebSockets: state and events) against
 * without one. The machine is shared, so each figure is measured in paired rounds against its
 * baseline (rounds.ts): the filled smafd against a second, empty one (same code, dashboard server
 * on, no viewer), a short burst of one then of the other, many times; the viewer connected against
 * not connected, in windows long enough to hold several of the viewer's event batches and pushes.
 * A probe does one CREATE+CLOSE at a time.
 */
import { WebSocket } from 'ws';
import { SmafClient } from '../src/client/client.ts';
import { pairedMetric, type BenchContext, type Metric } from './metric.ts';
import type { ScalePoint } from './report.ts';
import { median, paired } from './rounds.ts';
import { canPin, pinnedTo, startServer } from './spawn.ts';

const HOLDERS = 100;

/** One CREATE+CLOSE, in µs. */
async function once(c: SmafClient): Promise<number> {
  const t = performance.now();
  await c.closeFd(await c.create(4096));
  return (performance.now() - t) * 1000;
}

/** The p50 of `samples` CREATE+CLOSE pairs. */
async function p50(c: SmafClient, samples: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) out.push(await once(c));
  return median(out);
}

/** The p50 of the CREATE+CLOSE pairs done in `ms`. */
async function p50For(c: SmafClient, ms: number): Promise<number> {
  const out: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) out.push(await once(c));
  return median(out);
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
  // the probe and both servers on one CPU: the same placement for both (spawn.ts, pinnedTo)
  return pinnedTo(0, () => scaleOnOneCpu(ctx));
}

async function scaleOnOneCpu(ctx: BenchContext): Promise<{ metrics: Metric[]; curve: ScalePoint[] }> {
  const [full, empty] = await Promise.all([startServer('smafd-dashboard', { cpu: 0 }), startServer('smafd-dashboard', { cpu: 0 })]);
  // --quick stops at 10,000 (filling to 100,000 takes longer than the minute the whole run has); the
  // figures are named by the size they reached
  const points = ctx.quick ? [0, 10_000] : [0, 10_000, 25_000, 50_000, 75_000, 100_000];
  // rounds of a short burst on each smafd: many of them, so that no moment of the machine's load
  // decides a figure; the last point is the figure, and gets more
  const burst = 40;
  const rounds = (live: number) => (ctx.quick ? 20 : live === points.at(-1) ? 150 : 40);
  const viewerRounds = ctx.quick ? 4 : 12;
  const windowMs = ctx.quick ? 200 : 400;
  try {
    const probe = await SmafClient.connect(full.socket, { timeoutMs: 120_000 });
    const other = await SmafClient.connect(empty.socket, { timeoutMs: 120_000 });
    const holders = await Promise.all(Array.from({ length: HOLDERS }, () => SmafClient.connect(full.socket, { timeoutMs: 120_000 })));
    const bar = ctx.progress('scale', points.length + 1);
    await Promise.all([p50(probe, ctx.quick ? 1000 : 3000), p50(other, ctx.quick ? 1000 : 3000)]); // warm-up: no point is the JIT's
    const curve: ScalePoint[] = [];
    let live = 0;
    let last = null as Awaited<ReturnType<typeof paired>> | null;
    for (const target of points) {
      await fill(holders, live, target);
      live = target;
      last = await paired(rounds(live), () => p50(probe, burst), () => p50(other, burst));
      curve.push({ live, p50Us: last.value, emptyUs: last.baseline });
      bar.tick();
    }
    const token = new URLSearchParams(new URL(full.info).hash.slice(1)).get('token')!;
    let pushed = 0;
    const viewed = await paired(viewerRounds, async () => {
      const watch = await viewer(full.info, token);
      await new Promise((r) => setTimeout(r, 300)); // the first full state has gone out
      const v = await p50For(probe, windowMs);
      pushed += watch.bytes();
      watch.close();
      return v;
    }, () => p50For(probe, windowMs));
    bar.stop();
    await Promise.all([probe, other, ...holders].map((c) => c.close()));
    const size = `${live / 1000}k`;
    const placement = canPin() ? '; the probe and both servers on one CPU' : '; unpinned (no taskset here)';
    return {
      curve,
      metrics: [
        pairedMetric(`scale.create_close.${size}`, last!, 'µs', `CREATE+CLOSE p50 with ${live.toLocaleString('en')} live buffers held by ${HOLDERS} clients, vs an empty smafd: ${rounds(live)} paired rounds of ${burst} pairs on each${placement}`),
        pairedMetric(`scale.dashboard.${size}`, viewed, 'µs', `CREATE+CLOSE p50 at ${live.toLocaleString('en')} live buffers with a dashboard viewer connected (${(pushed / viewerRounds / 1024).toFixed(0)} KiB pushed to it per round), vs without one: ${viewerRounds} paired rounds of ${windowMs} ms on each${placement}`),
      ],
    };
  } finally {
    full.stop();
    empty.stop();
  }
}
