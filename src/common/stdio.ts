/**
 * Unix manners for the command-line tools: when the reader of stdout goes away (`smaf info | head
 * -1`), a command ends quietly, as a process killed by SIGPIPE does, instead of dying with an
 * unhandled EPIPE and a stack trace. A daemon keeps serving and stops writing.
 */

/** The exit status a shell reports for a process killed by SIGPIPE (128 + 13). */
export const SIGPIPE_STATUS = 141;

/** Install once per process, before the first write. `exit` null: ignore the closed pipe. */
export function onClosedPipe(exit: ((code: number) => void) | null = (code) => process.exit(code)): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (exit) exit(SIGPIPE_STATUS);
    });
  }
}
