/** smafd: the SMAF daemon. `npm start` runs it on the embedded default platform. */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { SmafError, toSmafError } from '../common/errors.ts';
import { Errno } from '../common/errors.ts';
import { packageVersion } from './version.ts';
import { formatSize, parseSize } from '../common/units.ts';
import { defaultPlatformSpec } from '../platform/index.ts';
import { parseCmaOption, type CmaRequest } from '../platform/devicetree/index.ts';
import { loadPlatformFile } from '../platform-file/load.ts';
import { createSmafSystem } from '../presets/default.ts';
import { DEFAULT_LIMITS } from './context.ts';
import { adminSocketFor, defaultSocketPath, SmafDaemon } from './server.ts';
import { ensurePrivateDir } from '../uapi/socket-path.ts';
import { dirname } from 'node:path';
import { startDashboard, type Dashboard } from '../web/server.ts';
import { onClosedPipe } from '../common/stdio.ts';

const size = (v: string): number => {
  try {
    return parseSize(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive integer`);
  return n;
};

/** fds kept for smafd's own use (sockets, dashboard, files) below the process limit. */
const FD_RESERVE = 64;

/** The soft limit on open files (`ulimit -n`), or null when it cannot be read. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export async function runSmafd(argv: string[]): Promise<void> {
  // a reader of our output that went away (`smafd | head`) is no reason to stop serving
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const program = new Command('smafd')
    .description('SMAF daemon: serves the /dev/smaf uapi on a Unix socket, on an emulated SoC')
    .option('-s, --socket <path>', 'Unix socket path', defaultSocketPath())
    .option('--admin-socket <path>', "the operator's socket (mode 0600; sees every client's buffers); default: beside --socket, smaf-admin.sock")
    .option('--no-admin-socket', 'serve no admin socket')
    .option('-p, --platform <file>', 'platform: YAML/JSON, a device tree (.dtb, .dts) or a device-tree overlay (.yaml with device_tree:); default: the embedded media SoC')
    .addOption(new Option('--cma <size[@limit]>', 'default CMA pool of a device-tree platform (as the kernel\'s cma=): 64MiB below 4GiB unless given').argParser(parseCmaOption))
    .option('-v, --verbose', 'log every decision (allocations, grants, denials, clients)')
    .option('--no-dashboard', 'do not serve the web dashboard')
    .addOption(new Option('--dashboard-port <port>', 'dashboard port (0: any free port)').default(7070).argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${v}" is not a port`);
      return n;
    }))
    .option('--dashboard-host <host>', 'dashboard address (anything but loopback makes it reachable from the network, token-protected but unencrypted)', '127.0.0.1')
    .addOption(new Option('--max-client-bytes <size>', 'bytes one client may hold').default(DEFAULT_LIMITS.maxClientBytes, formatSize(DEFAULT_LIMITS.maxClientBytes)).argParser(size))
    .addOption(new Option('--max-client-buffers <n>', 'buffers one client may hold').default(DEFAULT_LIMITS.maxClientBuffers).argParser(int))
    .addOption(new Option('--max-fds <n>', 'open fds per client').default(DEFAULT_LIMITS.maxFds).argParser(int))
    .addOption(new Option('--max-client-secure-maps <n>', 'secure buffers one client may have mapped at once (the SDP region table is shared)').default(DEFAULT_LIMITS.maxClientSecureMaps).argParser(int))
    .addOption(new Option('--max-clients <n>', 'clients connected at once').default(DEFAULT_LIMITS.maxClients).argParser(int))
    .addOption(new Option('--max-buffers <n>', 'live buffers in the whole daemon').default(DEFAULT_LIMITS.maxBuffers).argParser(int))
    .addOption(new Option('--max-total-fds <n>', 'open fds in the whole daemon').default(DEFAULT_LIMITS.maxTotalFds).argParser(int))
    .addOption(new Option('--max-client-backlog <size>', 'answer bytes queued for one client before smafd stops reading it').default(DEFAULT_LIMITS.maxClientBacklog, formatSize(DEFAULT_LIMITS.maxClientBacklog)).argParser(size))
    .addOption(new Option('--max-total-backlog <size>', 'answer bytes queued for all clients together; past it the client with most unread is disconnected').default(DEFAULT_LIMITS.maxTotalBacklog, formatSize(DEFAULT_LIMITS.maxTotalBacklog)).argParser(size))
    .addOption(new Option('--max-pending-bytes <size>', 'bytes of half-sent requests held, all clients together').default(DEFAULT_LIMITS.maxPendingBytes, formatSize(DEFAULT_LIMITS.maxPendingBytes)).argParser(size))
    .addOption(new Option('--read-timeout <ms>', 'milliseconds a request may stay half-sent before its connection is closed').default(DEFAULT_LIMITS.readTimeoutMs).argParser(int))
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  try {
    program.parse(argv);
  } catch (e) {
    // usage errors (a bad option or value: commander printed which) exit EINVAL, like every smaf tool
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : Errno.EINVAL);
    throw e;
  }
  const opts = program.opts<{
    dashboard: boolean; dashboardPort: number; dashboardHost: string; socket: string; adminSocket: string | boolean; platform?: string; cma?: CmaRequest; verbose?: boolean;
    maxClientBytes: number; maxClientBuffers: number; maxFds: number; maxClientSecureMaps: number; maxClients: number; maxBuffers: number; maxTotalFds: number;
    maxClientBacklog: number; maxTotalBacklog: number; maxPendingBytes: number; readTimeout: number;
  }>();

  const log = pino({ name: 'smafd', level: opts.verbose ? 'debug' : 'warn' }, pino.destination(2));
  if (opts.cma && !opts.platform) throw new SmafError('EINVAL', '--cma applies to a device-tree platform: give --platform board.dtb (or .dts, or an overlay)');
  if (opts.platform && !existsSync(opts.platform)) throw new SmafError('ENOENT', `cannot read the platform file "${opts.platform}": no such file`);
  const loaded = opts.platform ? loadPlatformFile(opts.platform, opts.cma ? { cma: opts.cma } : {}) : null;
  const spec = loaded?.spec ?? defaultPlatformSpec();
  const { smaf, platform } = createSmafSystem(spec);
  // every client costs an fd: never accept more clients than the process may open fds
  const fdLimit = openFileLimit();
  if (fdLimit !== null && opts.maxClients > fdLimit - FD_RESERVE) {
    const clamped = Math.max(1, fdLimit - FD_RESERVE);
    process.stdout.write(`smafd: --max-clients ${opts.maxClients} is more than this process's fd limit allows (ulimit -n ${fdLimit}); serving at most ${clamped} clients\n`);
    opts.maxClients = clamped;
  }
  // the default socket lives in a directory of our own (mode 0700), never one somebody else made
  if (opts.socket === defaultSocketPath() && !process.env.XDG_RUNTIME_DIR) ensurePrivateDir(dirname(opts.socket));
  const adminSocketPath = opts.adminSocket === false ? null : typeof opts.adminSocket === 'string' ? opts.adminSocket : adminSocketFor(opts.socket);
  const daemon = new SmafDaemon({
    socketPath: opts.socket,
    adminSocketPath,
    smaf,
    log,
    limits: {
      ...DEFAULT_LIMITS, maxClientBytes: opts.maxClientBytes, maxClientBuffers: opts.maxClientBuffers, maxFds: opts.maxFds, maxClientSecureMaps: opts.maxClientSecureMaps, maxClients: opts.maxClients,
      maxBuffers: opts.maxBuffers, maxTotalFds: opts.maxTotalFds, maxClientBacklog: opts.maxClientBacklog, maxTotalBacklog: opts.maxTotalBacklog, maxPendingBytes: opts.maxPendingBytes, readTimeoutMs: opts.readTimeout,
    },
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`smafd: ${signal}, shutting down`);
    void Promise.all([daemon.stop(), dashboard?.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const reserved = platform.regionsOfKind('reserved');
  out(`smafd: platform "${platform.name}": ${platform.regions.filter((r) => r.kind !== 'reserved').map((r) => `${r.name} ${formatSize(r.size)} ${r.kind}`).join(', ')}${reserved.length ? `; ${reserved.length} reserved range${reserved.length === 1 ? '' : 's'} (${formatSize(reserved.reduce((n, r) => n + r.size, 0))}, never handed out)` : ''}`);
  out(`smafd: devices ${platform.devices.map((d) => d.name).join(', ') || 'none (a device tree marks DMA masters with iommus or memory-region; name others in an overlay)'}; allocators ${smaf.registry.allocators.map((a) => a.name).join(', ')}${smaf.secureModule ? `; secure module ${smaf.secureModule.name}` : ''}`);
  for (const note of loaded?.dt?.report.notes ?? []) out(`smafd: note: ${note}`);
  out(`smafd: listening on ${daemon.socketPath} (mode 0660); try: SMAF_SOCKET=${daemon.socketPath} npx smaf info`);
  if (daemon.adminSocketPath) out(`smafd: operator's admin socket ${daemon.adminSocketPath} (mode 0600: every client's buffers)`);
  if (dashboard && !['127.0.0.1', 'localhost', '::1'].includes(opts.dashboardHost)) {
    out(`smafd: WARNING: the dashboard listens on ${opts.dashboardHost}: anyone on that network who learns its token sees every client's buffers, over plain HTTP`);
  }
  out(dashboard ? `smafd: dashboard at ${dashboard.url} (the token in this URL is its password)` : 'smafd: dashboard off');
}

onClosedPipe(null); // a closed stdout never stops the daemon
runSmafd(process.argv).catch((e: unknown) => {
  const err = toSmafError(e);
  process.stderr.write(`smafd: ${err.message}\n`);
  process.exit(err.errno);
});
