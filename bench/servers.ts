// Child process for the daemon benchmarks: `servers.ts smafd|smafd-dashboard|echo SOCKET` prints
// "ready" (and, with the dashboard, its URL) when listening, and the worst stall of its event loop
// since the last ask on SIGUSR2 (stalls.ts).
import { createServer } from 'node:net';
import { pino } from 'pino';
import { SmafDaemon } from '../src/daemon/server.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { startDashboard } from '../src/web/server.ts';
import { StallMonitor } from './stalls.ts';

const [kind, socket, watch] = process.argv.slice(2);
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
// `--stalls`: the worst stall of the event loop since the last ask, on SIGUSR2 ("stalls <wall ms>
// <run ms>"); SMAF_BENCH_STALLS=MS: every stall longer than MS on stderr, as it happens
const reportMs = Number(process.env.SMAF_BENCH_STALLS ?? 0);
if (watch === '--stalls' || reportMs > 0) {
  const stalls = new StallMonitor(reportMs, (wall, run, wait) => process.stderr.write(`${kind} ${process.pid}: event loop stalled ${wall.toFixed(1)} ms (ran ${run.toFixed(1)}, waited for a CPU ${wait.toFixed(1)})\n`));
  process.on('SIGUSR2', () => {
    const w = stalls.take();
    process.stdout.write(`stalls ${w.wallMs.toFixed(2)} ${w.runMs.toFixed(2)}\n`);
  });
}
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(0));
