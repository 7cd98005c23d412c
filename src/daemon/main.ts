/** smafd: the SMAF daemon. `npm start` runs it on the embedded default platform. */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { SmafError, toSmafError } from '../common/errors.ts';
import { formatSize, parseSize } from '../common/units.ts';
import { defaultPlatformSpec } from '../platform/index.ts';
import { parseCmaOption, type CmaRequest } from '../platform/devicetree/index.ts';
import { loadPlatformFile } from '../platform-file/load.ts';
import { createSmafSystem } from '../presets/default.ts';
import { DEFAULT_LIMITS } from './context.ts';
import { defaultSocketPath, SmafDaemon } from './server.ts';
import { startDashboard, type Dashboard } from '../web/server.ts';

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
    .option('-p, --platform <file>', 'platform: YAML/JSON, a device tree (.dtb, .dts) or a device-tree overlay (.yaml with device_tree:); default: the embedded media SoC')
    .addOption(new Option('--cma <size[@limit]>', 'default CMA pool of a device-tree platform (as the kernel\'s cma=): 64MiB below 4GiB unless given').argParser(parseCmaOption))
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
    .showHelpAfterError();
  program.parse(argv);
  const opts = program.opts<{ dashboard: boolean; dashboardPort: number; dashboardHost: string; socket: string; platform?: string; cma?: CmaRequest; verbose?: boolean; maxClientBytes: number; maxClientBuffers: number; maxFds: number }>();

  const log = pino({ name: 'smafd', level: opts.verbose ? 'debug' : 'warn' }, pino.destination(2));
  if (opts.cma && !opts.platform) throw new SmafError('EINVAL', '--cma applies to a device-tree platform: give --platform board.dtb (or .dts, or an overlay)');
  const loaded = opts.platform ? loadPlatformFile(opts.platform, opts.cma ? { cma: opts.cma } : {}) : null;
  const spec = loaded?.spec ?? defaultPlatformSpec();
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
      out(`smafd: port ${opts.dashboardPort} is taken; serving the dashboard on a free port`);
      dashboard = await startDashboard({ context: daemon.context, host: opts.dashboardHost, port: 0 });
    }
  }
  const reserved = platform.regionsOfKind('reserved');
  out(`smafd: platform "${platform.name}": ${platform.regions.filter((r) => r.kind !== 'reserved').map((r) => `${r.name} ${formatSize(r.size)} ${r.kind}`).join(', ')}${reserved.length ? `; ${reserved.length} reserved range${reserved.length === 1 ? '' : 's'} (${formatSize(reserved.reduce((n, r) => n + r.size, 0))}, never handed out)` : ''}`);
  out(`smafd: devices ${platform.devices.map((d) => d.name).join(', ') || 'none (a device tree marks DMA masters with iommus or memory-region; name others in an overlay)'}; allocators ${smaf.registry.allocators.map((a) => a.name).join(', ')}${smaf.secureModule ? `; secure module ${smaf.secureModule.name}` : ''}`);
  for (const note of loaded?.dt?.report.notes ?? []) out(`smafd: note: ${note}`);
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

runSmafd(process.argv).catch((e: unknown) => {
  const err = toSmafError(e);
  process.stderr.write(`smafd: ${err.message}\n`);
  process.exit(err.errno);
});
