// Child process for the daemon benchmarks: `servers.ts smafd|smafd-dashboard|echo SOCKET` prints
// "ready" (and, with the dashboard, its URL) when listening.
import { createServer } from 'node:net';
import { pino } from 'pino';
import { SmafDaemon } from '../src/daemon/server.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { startDashboard } from '../src/web/server.ts';

const [kind, socket] = process.argv.slice(2);
if (kind === 'echo') {
  // the minimal Unix-socket echo server: the round-trip limit of Node on this machine
  createServer((s) => s.pipe(s)).listen(socket, () => process.stdout.write('ready\n'));
} else {
  const { smaf } = createSmafSystem();
  const d = new SmafDaemon({ socketPath: socket!, smaf, log: pino({ level: 'silent' }) });
  await d.start();
  if (kind === 'smafd-dashboard') {
    const dash = await startDashboard({ context: d.context, port: 0 });
    process.stdout.write(`ready ${dash.url}\n`);
  } else process.stdout.write('ready\n');
}
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(0));
