/**
 * Where smafd listens, and the checks both ends make before trusting a socket path.
 *
 * Default: `$XDG_RUNTIME_DIR/smaf.sock` (that directory is private to the user), else
 * `/tmp/smaf-<uid>/smaf.sock` in a directory the daemon creates with mode 0700 and refuses to use
 * when someone else owns it or can write to it. The operator's admin socket (mode 0600) sits beside
 * it: `smaf.sock` -> `smaf-admin.sock`. A client talks only to a socket owned by its own user or
 * by root: anything else may be someone impersonating smafd (socket squatting).
 */
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { SmafError } from '../common/errors.ts';

function uid(): number {
  return process.getuid?.() ?? 0;
}

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR && existsSync(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'smaf.sock');
  return join(tmpdir(), `smaf-${uid()}`, 'smaf.sock');
}

/** The operator's socket beside a client socket: `x/smaf.sock` -> `x/smaf-admin.sock`. */
export function adminSocketFor(path: string): string {
  const name = basename(path);
  return join(dirname(path), name.endsWith('.sock') ? `${name.slice(0, -5)}-admin.sock` : `${name}-admin`);
}

/** The native socket beside a client socket (C programs, with files): `x/smaf.sock` -> `x/smaf-native.sock`. */
export function nativeSocketFor(path: string): string {
  const name = basename(path);
  return join(dirname(path), name.endsWith('.sock') ? `${name.slice(0, -5)}-native.sock` : `${name}-native`);
}

/**
 * The daemon's side: make sure the directory of the default socket is ours alone. Creates it
 * (mode 0700) when missing; refuses (EPERM) a directory that is a symlink, is owned by another user
 * or is writable by others, naming what is wrong.
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(dir);
  const fix = `remove it (or use --socket PATH) and start smafd again`;
  if (st.isSymbolicLink() || !st.isDirectory()) throw new SmafError('EPERM', `${dir} is not a plain directory; not using it for smafd's socket: ${fix}`);
  if (st.uid !== uid()) throw new SmafError('EPERM', `${dir} belongs to uid ${st.uid}, not to you (uid ${uid()}): someone may be impersonating smafd; ${fix}`);
  if ((st.mode & 0o077) !== 0) throw new SmafError('EPERM', `${dir} has mode 0${(st.mode & 0o777).toString(8)}: others can reach it; make it 0700 or ${fix}`);
}

/**
 * The client's side: talk only to a socket owned by this user or by root. ENOENT when there is
 * no socket (smafd is not running), EPERM for a socket somebody else put there.
 */
export function checkSocketOwner(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // connecting will say ENOENT with the usual hint
  }
  if (!st.isSocket()) throw new SmafError('ENOTSOCK', `${path} is not a socket: not talking to it`);
  if (st.uid !== uid() && st.uid !== 0) {
    throw new SmafError('EPERM', `${path} belongs to uid ${st.uid}, neither you (uid ${uid()}) nor root: refusing to talk to it (someone may be impersonating smafd)`);
  }
}
