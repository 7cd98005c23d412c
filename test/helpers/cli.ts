/** Run the `smaf` and `smafd` commands as a user would, in their own processes. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './daemon.ts';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBin(bin: 'smaf' | 'smafd', args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, `bin/${bin}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    p.stdout.on('data', (x) => (stdout += x));
    p.stderr.on('data', (x) => (stderr += x));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `smaf ARGS | READER` in bash with pipefail: the status is smaf's when it fails. */
export function runPiped(args: readonly string[], reader: string): Promise<CommandResult> {
  const quoted = [join(ROOT, 'bin/smaf.js'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', `'${process.execPath}' ${quoted} | ${reader}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (x) => (stdout += x));
    p.stderr.on('data', (x) => (stderr += x));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
