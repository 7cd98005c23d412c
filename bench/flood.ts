// Child process for the bystander benchmark: `flood.ts dma|introspection|huge SOCKET` floods smafd
// with the heaviest work the protocol allows, prints "ready" once the flood is under way, and on
// SIGTERM stops, prints what it did ("done <cycles>") and exits. In a process of its own: the
// flood's own work (parsing thousands of X_EVENTS answers) must not delay the bystander's process.
import { SmafClient } from '../src/client/client.ts';
import { encodeEventQuery, Op } from '../src/uapi/index.ts';

const [kind, socket] = process.argv.slice(2) as [string, string];
let stop = false;
let cycles = 0;
const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => {
  stop = true;
  resolve();
}));

/** 500 pipelined DMA_COPYs of 128 MiB in one write, asking for 64 GiB of DMA (issue 17). */
async function dma(): Promise<() => void> {
  const attacker = await SmafClient.connect(socket, { timeoutMs: 600_000 });
  const size = 128 * 1024 * 1024;
  const src = await attacker.create(size);
  const dst = await attacker.create(size);
  const a = await attacker.attach(src, 'gpu');
  const b = await attacker.attach(dst, 'gpu');
  await attacker.map(src, a, 1);
  await attacker.map(dst, b, 2);
  for (let i = 0; i < 500; i++) {
    const p = new Uint8Array(40);
    const v = new DataView(p.buffer);
    v.setUint32(0, b, true);
    v.setInt32(4, src, true);
    v.setUint32(8, a, true);
    v.setBigUint64(32, BigInt(size), true);
    attacker.request(Op.DMA_COPY, dst, p).then(() => cycles++, () => {});
  }
  await new Promise((r) => setTimeout(r, 200)); // the flood is under way
  return () => attacker.destroy(); // their answers never come: the attacker leaves
}

/** 16 connections of 1,024 fds each keep pipelining X_EVENTS over a full journal (issue 21). */
async function introspection(): Promise<() => void> {
  const flooders = await Promise.all(Array.from({ length: 16 }, () => SmafClient.connect(socket, { timeoutMs: 600_000 })));
  for (const c of flooders) {
    const fds = await Promise.all(Array.from({ length: 1024 }, () => c.create(4096)));
    // attach/detach cycles fill the journal (10,000 events) with events of buffers these clients hold
    for (let i = 0; i < 40; i++) {
      const fd = fds[i]!;
      await c.detach(fd, await c.attach(fd, 'gpu'));
    }
  }
  const query = encodeEventQuery({ limit: 1000 });
  for (const c of flooders) {
    void (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 8 }, () => c.request(Op.X_EVENTS, -1, query)));
        cycles++;
      }
    })().catch(() => {});
  }
  return () => flooders.forEach((c) => c.destroy()); // 16,384 fds closed at once
}

/** A client maps and closes 510 MiB buffers of scattered pages for the GPU (issue 21). */
async function huge(): Promise<() => void> {
  const c = await SmafClient.connect(socket, { timeoutMs: 600_000 });
  const loop = (async () => {
    while (!stop) {
      const fd = await c.create(510 * 1024 * 1024);
      await c.map(fd, await c.attach(fd, 'gpu'), 0);
      await c.closeFd(fd);
      cycles++;
    }
  })();
  return () => void loop.then(() => c.close());
}

const floods: Record<string, () => Promise<() => void>> = { dma, introspection, huge };
const flood = floods[kind];
if (!flood) throw new Error(`unknown flood ${kind} (dma, introspection, huge)`);
const end = await flood();
process.stdout.write('ready\n');
await stopped;
end();
process.stdout.write(`done ${cycles}\n`);
// the sockets' last bytes go out before the process ends
setTimeout(() => process.exit(0), 100);
