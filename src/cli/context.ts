/** What every `smaf` command handler gets: the global options, output, and a connected client. */
import { SmafClient } from '../client/client.ts';
import { isSmafError, SmafError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { adminSocketFor } from '../uapi/socket-path.ts';

export interface Globals {
  readonly socket: string;
  readonly adminSocket?: string;
  readonly timeout: number;
  readonly json?: boolean;
}

export interface Cli {
  /** The global options (read when the command runs, after parsing). */
  readonly g: () => Globals;
  readonly out: (line: string) => void;
  /**
   * Run `fn` with a connected client. `operator`: commands that show the whole daemon (info,
   * events, doctor, explain) use the admin socket when this user can open it, else the client
   * socket, where smafd shows only what this connection holds.
   */
  withClient<T>(fn: (c: SmafClient) => Promise<T>, operator?: boolean): Promise<T>;
}

/**
 * Every line the tool prints: text that came from a client (names, commands), the daemon or a file
 * reaches the terminal only through `printable`, so no escape sequence or bidi control gets through
 * (JSON output stays valid JSON of the same value).
 */
export const out = (s: string): void => void process.stdout.write(`${printable(s)}\n`);

async function connect(g: Globals, operator: boolean): Promise<SmafClient> {
  if (operator) {
    try {
      return await SmafClient.connect(g.adminSocket ?? adminSocketFor(g.socket), { timeoutMs: g.timeout });
    } catch (e) {
      if (!isSmafError(e, 'ENOENT') && !isSmafError(e, 'EACCES') && !isSmafError(e, 'EPERM')) throw e;
    }
  }
  return SmafClient.connect(g.socket, { timeoutMs: g.timeout });
}

export function cliContext(g: () => Globals): Cli {
  return {
    g,
    out,
    async withClient(fn, operator = false) {
      const c = await connect(g(), operator);
      try {
        await c.hello();
        return await fn(c);
      } finally {
        await c.close();
      }
    },
  };
}

/** An export token as the user typed it (32 hex digits), as bytes. */
export function tokenBytes(token: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/i.test(token)) throw new SmafError('EINVAL', `"${token}" is not a token (32 hex digits, as printed by "smaf create --hold")`);
  return Uint8Array.from(Buffer.from(token, 'hex'));
}
