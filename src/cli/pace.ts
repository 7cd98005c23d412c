/** `--step` and `--hold` for `smaf run` and `smaf demo`: watch a pipeline step by step. */
import { createInterface } from 'node:readline';
import { SmafError } from '../common/errors.ts';

export interface PaceOptions {
  readonly step?: boolean;
  readonly hold?: boolean;
}

/** Before each step, prompt on stderr and wait for Enter on stdin (at the end of stdin: go on). */
export function stepPrompter(): { before: (index: number, action: string) => Promise<void>; close: () => void } {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  let ended = false;
  rl.on('line', (l) => {
    const w = waiting.shift();
    if (w) w();
    else lines.push(l);
  });
  rl.on('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w();
  });
  return {
    before: (index, action) => {
      process.stderr.write(`smaf: step ${index + 1} (${action}): press Enter to run it\n`);
      if (lines.shift() !== undefined || ended) return Promise.resolve();
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => rl.close(),
  };
}

/** How an in-process demo is paced: before each numbered step, and before it releases its buffers. */
export interface DemoPacer {
  beforeStep(step: number, title: string): Promise<void>;
  beforeRelease(): Promise<void>;
  close(): void;
}

/**
 * The next Ctrl-C (SIGINT), listening from now on: take it *before* telling the user to press
 * Ctrl-C, so that a SIGINT sent as soon as the message is read never meets Node's default action
 * (which ends the process before anything is released). A timer keeps the process alive while it
 * waits (an in-process demo holds no socket); `cancel` stops waiting.
 */
function nextInterrupt(): { readonly interrupted: Promise<void>; cancel(): void } {
  const alive = setInterval(() => {}, 1 << 30);
  let onSigint = (): void => {};
  const interrupted = new Promise<void>((resolve) => {
    onSigint = () => {
      clearInterval(alive);
      resolve();
    };
    process.once('SIGINT', onSigint);
  });
  return {
    interrupted,
    cancel: () => {
      clearInterval(alive);
      process.off('SIGINT', onSigint);
    },
  };
}

/** What holds buffers for the user: a connection to smafd that may end (smafd stopped or crashed). */
export interface Holder {
  readonly closed: Promise<SmafError>;
}

/**
 * Wait for Ctrl-C, after saying `message` on stderr. With `holders`: when smafd goes away first
 * (a connection closes), ECONNRESET saying so, and the buffers were released with it.
 */
export async function holdUntilInterrupt(message: string, holders: readonly Holder[] = [], what = 'the buffers'): Promise<void> {
  const wait = nextInterrupt();
  process.stderr.write(`${message}\n`);
  let lost: SmafError | null = null;
  const gone = holders.map((h) => h.closed.then((e) => {
    lost ??= e;
  }));
  await Promise.race([wait.interrupted, ...gone]);
  wait.cancel();
  if (lost !== null) {
    throw new SmafError('ECONNRESET', `smafd went away while this command held ${what} (${(lost as SmafError).message}); ${what} went with it`);
  }
}

/** `--step`: Enter before each step; `--hold`: the buffers stay until Ctrl-C before the release. */
export function demoPacer(o: PaceOptions): DemoPacer {
  const stepper = o.step ? stepPrompter() : null;
  return {
    beforeStep: (step, title) => stepper?.before(step - 1, title) ?? Promise.resolve(),
    beforeRelease: async () => {
      if (!o.hold) return;
      await holdUntilInterrupt('smaf: holding the buffers until Ctrl-C, then releasing them');
    },
    close: () => stepper?.close(),
  };
}
