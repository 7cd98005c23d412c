/**
 * Load helper: `load-client.ts SOCKET N` opens N connections; each creates a buffer, attaches a
 * device, maps it, writes through a CPU mapping, and imports its neighbour's buffer by token. Then
 * it prints "ready" and waits to be killed.
 */
import { SmafClient } from '../../src/client/client.ts';

const [socket, n] = process.argv.slice(2);
const DEVICES = ['gpu', 'isp', 'display', 'vdec'];
const clients: SmafClient[] = [];
for (let i = 0; i < Number(n); i += 32) clients.push(...(await Promise.all(Array.from({ length: Math.min(32, Number(n) - i) }, () => SmafClient.connect(socket!)))));
const tokens: Uint8Array[] = [];
await Promise.all(clients.map(async (c, i) => {
  const fd = await c.create(64 * 1024);
  await c.map(fd, await c.attach(fd, DEVICES[i % DEVICES.length]!), 0);
  const m = await c.mmap(fd, 0, 4096, 3);
  await c.write(fd, m, 0, new Uint8Array(256).fill(i & 0xff));
  tokens[i] = await c.exportToken(fd);
}));
await Promise.all(clients.map(async (c, i) => {
  const theirs = await c.importToken(tokens[(i + 1) % clients.length]!);
  await c.dup(theirs);
}));
process.stdout.write(`ready ${clients.length}\n`);
setInterval(() => {}, 1000);
