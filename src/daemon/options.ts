/**
 * smafd's command line: one table of options. A bad option or value is commander's usage error
 * (it names the option and what it expects), which the entry point turns into exit 22 (EINVAL).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatSize, parseSize } from '../common/units.ts';
import { parseCmaOption, type CmaRequest } from '../platform/devicetree/index.ts';
import { packageVersion } from '../uapi/version.ts';
import { DEFAULT_LIMITS, LIMIT_OPTIONS, type LimitSettings } from './context.ts';
import { DEFAULT_RECORDED_OPS } from './recorder.ts';
import { defaultSocketPath } from '../uapi/socket-path.ts';

/**
 * A commander argument parser from a function that throws on bad input: its message becomes
 * commander's usage error, which names the option (exit 22).
 */
export function parser<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}
const size = parser(parseSize);
const positive = parser((v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${v}" is not a positive integer`);
  return n;
});
const count = parser((v) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new Error(`"${v}" is not a whole number`);
  return n;
});
const port = parser((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`"${v}" is not a port (0 to 65535)`);
  return n;
});

/** The limits smafd takes on its command line: [limit, help, value syntax]; the flag is LIMIT_OPTIONS'. */
const LIMIT_FLAGS: readonly (readonly [keyof LimitSettings, string, '<size>' | '<n>' | '<ms>'])[] = [
  ['maxClientBytes', 'bytes one client may hold', '<size>'],
  ['maxClientBuffers', 'buffers one client may hold', '<n>'],
  ['maxFds', 'open fds per client', '<n>'],
  ['maxClientSecureMaps', 'secure buffers one client may have mapped at once (the SDP region table is shared)', '<n>'],
  ['sdpReserve', 'regions of the SDP table kept for clients that have no secure buffer mapped (at most a quarter of the table)', '<n>'],
  ['maxClients', 'clients connected at once', '<n>'],
  ['maxBuffers', 'live buffers in the whole daemon', '<n>'],
  ['maxTotalFds', 'open fds in the whole daemon', '<n>'],
  ['maxClientBacklog', 'answer bytes queued for one client before smafd stops reading it', '<size>'],
  ['maxTotalBacklog', 'answer bytes queued for all clients together; past it the client with most unread is disconnected', '<size>'],
  ['maxPendingBytes', 'bytes of half-sent requests held, all clients together', '<size>'],
  ['readTimeoutMs', 'milliseconds a request may stay half-sent before its connection is closed', '<ms>'],
];

export interface SmafdOptions {
  readonly socket: string;
  readonly adminSocket: string | boolean;
  readonly platform?: string;
  readonly cma?: CmaRequest;
  readonly verbose?: boolean;
  readonly dashboard: boolean;
  readonly dashboardPort: number;
  readonly dashboardHost: string;
  /** The native socket for C programs: a path, or true for the default beside --socket. */
  readonly nativeSocket: string | boolean;
  /** false: run without smafd's addon (C programs copy their bytes over the socket). */
  readonly zeroCopy: boolean;
  readonly limits: LimitSettings;
  readonly maxRecordedOps: number;
}

/** The smafd program: parse with `program.parse(argv)`, then read `smafdOptions(program)`. */
export function smafdProgram(): Command {
  const program = new Command('smafd')
    .description('SMAF daemon: serves the /dev/smaf uapi on a Unix socket, on an emulated SoC')
    .option('-s, --socket <path>', 'Unix socket path', defaultSocketPath())
    .option('--admin-socket <path>', "the operator's socket (mode 0600; sees every client's buffers); default: beside --socket, smaf-admin.sock")
    .option('--no-admin-socket', 'serve no admin socket')
    .option('--native-socket <path>', 'the socket C programs under `smaf exec` use (files travel with messages); default: beside --socket, smaf-native.sock')
    .option('--no-zero-copy', "run without smafd's addon: no native socket, and C programs copy their dma-bufs' bytes over the socket")
    .option('-p, --platform <file>', 'platform: YAML/JSON, a device tree (.dtb, .dts) or a device-tree overlay (.yaml with device_tree:); default: the embedded media SoC')
    .addOption(new Option('--cma <size[@limit]>', 'default CMA pool of a device-tree platform (as the kernel\'s cma=): 64MiB below 4GiB unless given').argParser(parser(parseCmaOption)))
    .option('-v, --verbose', 'log every decision (allocations, grants, denials, clients)')
    .option('--no-dashboard', 'do not serve the web dashboard')
    .addOption(new Option('--dashboard-port <port>', 'dashboard port (0: any free port)').default(7070).argParser(port))
    .addOption(new Option('--max-recorded-ops <n>', 'operations the recording for replay keeps from the start (smaf trace export, smaf replay); 0: no recording').default(DEFAULT_RECORDED_OPS).argParser(count))
    .option('--dashboard-host <host>', 'dashboard address (anything but loopback makes it reachable from the network, token-protected but unencrypted)', '127.0.0.1');
  for (const [key, help, syntax] of LIMIT_FLAGS) {
    const value = DEFAULT_LIMITS[key];
    const option = new Option(`--${LIMIT_OPTIONS[key]} ${syntax}`, help);
    program.addOption(syntax === '<size>' ? option.default(value, formatSize(value)).argParser(size) : option.default(value).argParser(positive));
  }
  return program.version(packageVersion(), '-V, --version').showHelpAfterError("See 'smafd --help'.").exitOverride();
}

/** The parsed options of `smafdProgram()`, limits gathered into one object. */
export function smafdOptions(program: Command): SmafdOptions {
  const o = program.opts<Omit<SmafdOptions, 'limits'>>();
  const given = LIMIT_FLAGS.map(([key]) => [key, program.getOptionValue(program.options.find((opt) => opt.long === `--${LIMIT_OPTIONS[key]}`)!.attributeName()) as number]);
  return { ...o, limits: { ...DEFAULT_LIMITS, ...Object.fromEntries(given) } };
}
