// Child process for the RTT benchmark: `servers.ts smafd|echo SOCKET` prints "ready" when listening.
import { createServer } from 'node:net';
import { pino } from 'pino';
import { SmafDaemon } from '../src/daemon/server.ts';
import { createSmafSystem } from '../src/presets/default.ts';

const [kind, socket] = process.argv.slice(2);
if (kind === 'echo') {
  // the minimal Unix-socket echo server: the round-trip limit of Node on this machine
  createServer((s) => s.pipe(s)).listen(socket, () => process.stdout.write('ready\n'));
} else {
  const { smaf } = createSmafSystem();
  const d = new SmafDaemon({ socketPath: socket!, smaf, log: pino({ level: 'silent' }) });
  await d.start();
  process.stdout.write('ready\n');
}
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(0));
