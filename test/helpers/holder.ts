/**
 * A separate client process for end-to-end tests.
 *   holder.ts SOCKET create N SIZE   -> creates, maps (gpu, display) and fills N buffers, prints "ready TOKEN..." and waits
 *   holder.ts SOCKET import TOKEN LEN -> imports, reads LEN bytes at 0, prints "read HEX", exits
 */
import { SmafClient } from '../../src/client/client.ts';

const [socket, cmd, a, b] = process.argv.slice(2);
const c = await SmafClient.connect(socket!);
if (cmd === 'create') {
  const tokens: string[] = [];
  for (let i = 0; i < Number(a); i++) {
    const fd = await c.create(Number(b));
    await c.map(fd, await c.attach(fd, i % 2 ? 'display' : 'gpu'), 0);
    const m = await c.mmap(fd, 0, Number(b), 3);
    await c.write(fd, m, 0, new Uint8Array(4096).fill(0x42));
    await c.dup(fd);
    tokens.push(Buffer.from(await c.exportToken(fd)).toString('hex'));
  }
  process.stdout.write(`ready ${tokens.join(' ')}\n`);
  setInterval(() => {}, 1000);
} else if (cmd === 'import') {
  const fd = await c.importToken(Uint8Array.from(Buffer.from(a!, 'hex')));
  const m = await c.mmap(fd, 0, 4096, 1);
  const bytes = await c.read(fd, m, 0, Number(b));
  process.stdout.write(`read ${Buffer.from(bytes).toString('hex')}\n`);
  await c.close();
}
