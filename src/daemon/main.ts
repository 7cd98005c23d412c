/** smafd: the SMAF daemon. `npm start` runs it on the embedded default platform. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { pino } from 'pino';
import { Errno, SmafError, toSmafError } from '../common/errors.ts';
import { packageVersion } from './version.ts';
import { formatSize, parseSize } from '../common/units.ts';
import { defaultPlatformSpec, parsePlatform } from '../platform/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { DEFAULT_LIMITS } from './context.ts';
import { defaultSocketPath, SmafDaemon } from './server.ts';
import { startDashboard, type Dashboard } from '../web/server.ts';
import { onClosedPipe } from '../common/stdio.ts';

const size = (v: string): number => parseSize(v);
const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${v}" is not a positive integer`);
  return n;
};

export async function runSmafd(argv: string[]): Promise<void> {
  const program = new Command('smafd')
    .description('SMAF daemon: serves the /dev/smaf uapi on a Unix socket, on an emulated SoC')
    .option('-s, --socket <path>', 'Unix socket path', defaultSocketPath())
    .option('-p, --platform <file>', 'platform description (YAML or JSON); default: the embedded media SoC')
    .option('-v, --verbose', 'log every decision (allocations, grants, denials, clients)')
    .option('--no-dashboard', 'do not serve the web dashboard')
    .addOption(new Option('--dashboard-port <port>', 'dashboard port (0: any free port)').default(7070).argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`"${v}" is not a port`);
      return n;
    }))
    .option('--dashboard-host <host>', 'dashboard address (keep it on localhost: the dashboard has no authentication)', '127.0.0.1')
    .addOption(new Option('--max-client-bytes <size>', 'bytes one client may hold').default(DEFAULT_LIMITS.maxClientBytes).argParser(size))
    .addOption(new Option('--max-client-buffers <n>', 'buffers one client may hold').default(DEFAULT_LIMITS.maxClientBuffers).argParser(int))
    .addOption(new Option('--max-fds <n>', 'open fds per client').default(DEFAULT_LIMITS.maxFds).argParser(int))
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  try {
    program.parse(argv);
  } catch (e) {
    // usage errors are EINVAL, as for smaf; --help and --version end with 0
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : Errno.EINVAL);
    throw e;
  }
  const opts = program.opts<{ dashboard: boolean; dashboardPort: number; dashboardHost: string; socket: string; platform?: string; verbose?: boolean; maxClientBytes: number; maxClientBuffers: number; maxFds: number }>();

  const log = pino({ name: 'smafd', level: opts.verbose ? 'debug' : 'warn' }, pino.destination(2));
  let platformText: string | undefined;
  if (opts.platform) {
    try {
      platformText = readFileSync(opts.platform, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SmafError(code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' ? 'EACCES' : 'EIO', `cannot read the platform file "${opts.platform}": ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  const spec = opts.platform && platformText !== undefined ? parsePlatform(platformText, opts.platform) : defaultPlatformSpec();
  if (opts.dashboard && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(opts.dashboardHost)) {
    process.stderr.write(`smafd: warning: the dashboard on ${opts.dashboardHost} is reachable from the network, and it has no authentication\n`);
  }
  const { smaf, platform } = createSmafSystem(spec);
  const daemon = new SmafDaemon({
    socketPath: opts.socket,
    smaf,
    log,
    limits: { ...DEFAULT_LIMITS, maxClientBytes: opts.maxClientBytes, maxClientBuffers: opts.maxClientBuffers, maxFds: opts.maxFds },
  });
  await daemon.start();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  let dashboard: Dashboard | null = null;
  if (opts.dashboard) {
    try {
      dashboard = await startDashboard({ context: daemon.context, host: opts.dashboardHost, port: opts.dashboardPort });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      if (program.getOptionValueSource('dashboardPort') === 'cli') {
        await daemon.stop();
        throw new SmafError('EBUSY', `dashboard port ${opts.dashboardPort} on ${opts.dashboardHost} is taken (--dashboard-port 0 picks a free one)`);
      }
      out(`smafd: the default dashboard port ${opts.dashboardPort} is taken; serving the dashboard on a free port`);
      dashboard = await startDashboard({ context: daemon.context, host: opts.dashboardHost, port: 0 });
    }
  }
  out(`smafd: platform "${platform.name}": ${platform.regions.map((r) => `${r.name} ${formatSize(r.size)} ${r.kind}`).join(', ')}`);
  out(`smafd: devices ${platform.devices.map((d) => d.name).join(', ')}; allocators ${smaf.registry.allocators.map((a) => a.name).join(', ')}${smaf.secureModule ? `; secure module ${smaf.secureModule.name}` : ''}`);
  out(`smafd: listening on ${daemon.socketPath} (mode 0660); try: SMAF_SOCKET=${daemon.socketPath} npx smaf info`);
  out(dashboard ? `smafd: dashboard at ${dashboard.url}` : 'smafd: dashboard off');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`smafd: ${signal}, shutting down`);
    void Promise.all([daemon.stop(), dashboard?.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

onClosedPipe(null); // a closed stdout never stops the daemon
runSmafd(process.argv).catch((e: unknown) => {
  const err = toSmafError(e);
  process.stderr.write(`smafd: ${err.message}\n`);
  process.exit(err.errno);
});
