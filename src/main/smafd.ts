/**
 * smafd's composition root: which platform (a file or the embedded default), which plugins (the
 * default preset), the daemon on its sockets and the dashboard beside it. `npm start` runs it.
 * The daemon library (src/daemon/) knows nothing of the dashboard; this file puts them together.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CommanderError } from 'commander';
import { pino } from 'pino';
import { Errno, SmafError, toSmafError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { onClosedPipe } from '../common/stdio.ts';
import { formatSize } from '../common/units.ts';
import { smafdOptions, smafdProgram, type SmafdOptions } from '../daemon/options.ts';
import { adminSocketFor, defaultSocketPath, nativeSocketFor, SmafDaemon } from '../daemon/server.ts';
import { loadAddon, type AddonLoad } from '../native/addon.ts';
import { loadPlatformFile, type LoadedPlatform } from '../platform-file/load.ts';
import { defaultPlatformSpec, type Platform } from '../platform/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { ensurePrivateDir } from '../uapi/socket-path.ts';
import { startDashboard, type Dashboard } from '../web/server.ts';
import type { Smaf } from '../core/index.ts';

/** fds kept for smafd's own use (sockets, dashboard, files) below the process limit. */
const FD_RESERVE = 64;
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

/** smafd's own lines: names and notes from a platform file are shown through `printable`. */
const out = (s: string): void => void process.stdout.write(`${printable(s)}\n`);

/** The soft limit on open files (`ulimit -n`), or null when it cannot be read. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Every client costs an fd: never accept more clients than the process may open fds. */
function clampClients(opts: SmafdOptions): SmafdOptions {
  const fdLimit = openFileLimit();
  if (fdLimit === null || opts.limits.maxClients <= fdLimit - FD_RESERVE) return opts;
  const clamped = Math.max(1, fdLimit - FD_RESERVE);
  out(`smafd: --max-clients ${opts.limits.maxClients} is more than this process's fd limit allows (ulimit -n ${fdLimit}); serving at most ${clamped} clients`);
  return { ...opts, limits: { ...opts.limits, maxClients: clamped } };
}

function loadPlatform(opts: SmafdOptions): LoadedPlatform | null {
  if (opts.cma && !opts.platform) throw new SmafError('EINVAL', '--cma applies to a device-tree platform: give --platform board.dtb (or .dts, or an overlay)');
  if (!opts.platform) return null;
  if (!existsSync(opts.platform)) throw new SmafError('ENOENT', `cannot read the platform file "${opts.platform}": no such file`);
  return loadPlatformFile(opts.platform, opts.cma ? { cma: opts.cma } : {});
}

/**
 * smafd's addon (built on first use by the host's C compiler): without it smafd serves everything
 * but zero-copy for C programs, and says why. With it, smafd's memory is not dumpable: no other
 * process of the same user can read the emulated memory through /proc/PID/mem or /proc/PID/fd.
 */
function addonFor(opts: SmafdOptions): AddonLoad {
  if (!opts.zeroCopy) return { addon: null, reason: 'smafd runs with --no-zero-copy' };
  const load = loadAddon((what) => out(`smafd: building ${what} with the host's C compiler (once; cached)`));
  if (load.addon) {
    load.addon.setDumpable(false);
    load.addon.raiseFdLimit();
  }
  return load;
}

async function startDaemon(opts: SmafdOptions, smaf: Smaf, load: AddonLoad): Promise<SmafDaemon> {
  // the default socket lives in a directory of our own (mode 0700), never one somebody else made
  if (opts.socket === defaultSocketPath() && !process.env.XDG_RUNTIME_DIR) ensurePrivateDir(dirname(opts.socket));
  const adminSocketPath = opts.adminSocket === false ? null : typeof opts.adminSocket === 'string' ? opts.adminSocket : adminSocketFor(opts.socket);
  const nativeSocketPath = typeof opts.nativeSocket === 'string' ? opts.nativeSocket : nativeSocketFor(opts.socket);
  const log = pino({ name: 'smafd', level: opts.verbose ? 'debug' : 'warn' }, pino.destination(2));
  const daemon = new SmafDaemon({ socketPath: opts.socket, adminSocketPath, smaf, log, limits: opts.limits, recordedOps: opts.maxRecordedOps, addon: load.addon, nativeSocketPath });
  if (!load.addon) daemon.context.nativeReason = load.reason;
  await daemon.start();
  return daemon;
}

/** The dashboard on the port asked for; a taken default port falls back to a free one, an explicit one is EBUSY. */
async function serveDashboard(opts: SmafdOptions, daemon: SmafDaemon, portGiven: boolean): Promise<Dashboard | null> {
  if (!opts.dashboard) return null;
  try {
    return await startDashboard({ context: daemon.context, host: opts.dashboardHost, port: opts.dashboardPort });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (portGiven) {
      await daemon.stop();
      throw new SmafError('EBUSY', `dashboard port ${opts.dashboardPort} on ${opts.dashboardHost} is taken (--dashboard-port 0 picks a free one)`);
    }
    out(`smafd: the default dashboard port ${opts.dashboardPort} is taken; serving the dashboard on a free port`);
    return startDashboard({ context: daemon.context, host: opts.dashboardHost, port: 0 });
  }
}

function printBanner(platform: Platform, smaf: Smaf, loaded: LoadedPlatform | null): void {
  const reserved = platform.regionsOfKind('reserved');
  const regions = platform.regions.filter((r) => r.kind !== 'reserved').map((r) => `${r.name} ${formatSize(r.size)} ${r.kind}`).join(', ');
  const held = reserved.length ? `; ${reserved.length} reserved range${reserved.length === 1 ? '' : 's'} (${formatSize(reserved.reduce((n, r) => n + r.size, 0))}, never handed out)` : '';
  out(`smafd: platform "${platform.name}": ${regions}${held}`);
  const devices = platform.devices.map((d) => d.name).join(', ') || 'none (a device tree marks DMA masters with iommus or memory-region; name others in an overlay)';
  out(`smafd: devices ${devices}; allocators ${smaf.registry.allocators.map((a) => a.name).join(', ')}${smaf.secureModule ? `; secure module ${smaf.secureModule.name}` : ''}`);
  for (const note of loaded?.dt?.report.notes ?? []) out(`smafd: note: ${note}`);
}

function printListening(opts: SmafdOptions, daemon: SmafDaemon, dashboard: Dashboard | null): void {
  out(`smafd: listening on ${daemon.socketPath} (mode 0660); try: SMAF_SOCKET=${daemon.socketPath} npx smaf info`);
  if (daemon.adminSocketPath) out(`smafd: operator's admin socket ${daemon.adminSocketPath} (mode 0600: every client's buffers)`);
  const native = daemon.context.nativeStatus();
  out(native.socket ? `smafd: C programs (smaf exec): ${native.socket}, zero-copy` : `smafd: C programs (smaf exec) copy their dma-bufs' bytes over the socket: ${native.reason}`);
  if (dashboard && !LOOPBACK.includes(opts.dashboardHost)) {
    out(`smafd: WARNING: the dashboard listens on ${opts.dashboardHost}: anyone on that network who learns its token sees every client's buffers, over plain HTTP`);
  }
  out(dashboard ? `smafd: dashboard at ${dashboard.url} (the token in this URL is its password)` : 'smafd: dashboard off');
}

function stopOnSignals(daemon: SmafDaemon, dashboard: Dashboard | null): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    out(`smafd: ${signal}, shutting down`);
    void Promise.all([daemon.stop(), dashboard?.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export async function runSmafd(argv: readonly string[]): Promise<void> {
  const program = smafdProgram();
  try {
    program.parse(argv);
  } catch (e) {
    // usage errors (a bad option or value: commander printed which) exit EINVAL, like every smaf tool
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : Errno.EINVAL);
    throw e;
  }
  const opts = clampClients(smafdOptions(program));
  const loaded = loadPlatform(opts);
  const { smaf, platform } = createSmafSystem(loaded?.spec ?? defaultPlatformSpec());
  const daemon = await startDaemon(opts, smaf, addonFor(opts));
  const dashboard = await serveDashboard(opts, daemon, program.getOptionValueSource('dashboardPort') === 'cli');
  stopOnSignals(daemon, dashboard);
  printBanner(platform, smaf, loaded);
  printListening(opts, daemon, dashboard);
}

onClosedPipe(null); // a closed stdout never stops the daemon
runSmafd(process.argv).catch((e: unknown) => {
  const err = toSmafError(e);
  process.stderr.write(`smafd: ${printable(err.message)}\n`);
  process.exit(err.errno);
});
