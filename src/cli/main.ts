/** `smaf`: the command-line tool of SMAF-TS. Exit codes follow errno (0 on success). */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Errno, SmafError, toSmafError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { defaultSocketPath } from '../uapi/socket-path.ts';
import { ExitStatus, jsonError, packageVersion, PrintedError } from './cli-support.ts';
import { addCommands } from './commands.ts';
import { cliContext, out, type Globals } from './context.ts';
import { addOperatorCommands } from './operator-commands.ts';
import { registerPlatformCommands } from './platform-command.ts';
import { REPLAY_COMMANDS } from './replay-command.ts';

export function buildProgram(): Command {
  const program = new Command('smaf')
    .description('SMAF-TS command line: talk to smafd (the /dev/smaf daemon)')
    .addOption(new Option('-s, --socket <path>', 'smafd socket').default(process.env.SMAF_SOCKET ?? defaultSocketPath()))
    .addOption(new Option('--admin-socket <path>', "smafd's admin socket, for info, events, doctor and explain of every client's buffers (default: beside --socket)").env('SMAF_ADMIN_SOCKET'))
    .addOption(new Option('--timeout <ms>', 'how long to wait for smafd to answer').default(10_000).env('SMAF_TIMEOUT').argParser((v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive number of milliseconds`);
      return n;
    }))
    .option('--json', 'machine-readable output (errors too: {"error": {code, errno, message}} on stdout)')
    .version(packageVersion(), '-V, --version')
    .exitOverride();
  const cli = cliContext(() => program.opts<Globals>());
  addCommands(program, cli);
  addCommands(program, cli, REPLAY_COMMANDS); // replay and what-if: no daemon
  registerPlatformCommands(program, () => cli.g().json === true);
  addOperatorCommands(program, cli.g, (fn) => cli.withClient(fn, true)); // events and traces: the operator's view when it can
  pointToHelp(program);
  return program;
}

/** A usage error prints its one line and where help is (as git does), not the whole help. */
function pointToHelp(cmd: Command, path = 'smaf'): void {
  cmd.showHelpAfterError(`See '${path} --help'.`);
  for (const sub of cmd.commands) pointToHelp(sub, `${path} ${sub.name()}`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof ExitStatus) return e.status;
    if (e instanceof PrintedError) return e.error.errno;
    const json = argv.includes('--json');
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0;
      if (json) out(jsonError(new SmafError('EINVAL', e.message.replace(/^error: /, ''))));
      return Errno.EINVAL;
    }
    const err = toSmafError(e);
    if (json) out(jsonError(err));
    else process.stderr.write(`smaf: ${err.code}: ${printable(err.message)}\n`);
    return err.errno;
  }
}

