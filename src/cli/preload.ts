/**
 * The preload library of `smaf exec` (native/smaf-preload.c), built by the system's C compiler on
 * first use into a cache keyed by the hash of its sources, so that an edit rebuilds it and two
 * checkouts never share a stale one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmafError } from '../common/errors.ts';

export const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));
const SOURCES = ['smaf-preload.c', 'smaf-wire.h'];

/** Where built libraries go: $SMAF_CACHE_DIR, else $XDG_CACHE_HOME/smaf-ts, else ~/.cache/smaf-ts. */
function cacheDir(): string {
  return process.env.SMAF_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'smaf-ts');
}

/** The C compiler: $CC, else gcc. */
function compiler(): string {
  return process.env.CC ?? 'gcc';
}

/** The flags every C file of native/ is built with (the tests use them too). */
export const C_FLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE'];

const MISSING_CC = (cc: string): string =>
  `cannot build the preload library: no C compiler ("${cc}" was not found). Install one: "apt-get install build-essential" on Debian or Ubuntu ("dnf install gcc" on Fedora), or set CC`;

/** Run the C compiler; a missing compiler is ENOENT with the package to install, a failed build EIO. */
export function runCompiler(args: readonly string[]): void {
  const cc = compiler();
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new SmafError('ENOENT', MISSING_CC(cc));
    throw new SmafError('EIO', `cannot run ${cc}: ${r.error.message}`);
  }
  if (r.status !== 0) throw new SmafError('EIO', `${cc} ${args.join(' ')} failed:\n${r.stderr}`);
}

/** The path of the built library, building it if this version of the sources has not been built yet. */
export function ensurePreload(): string {
  const hash = createHash('sha256');
  for (const f of SOURCES) hash.update(f).update(readFileSync(join(NATIVE_DIR, f)));
  hash.update(compiler());
  const dir = cacheDir();
  const lib = join(dir, `libsmaf-preload-${hash.digest('hex').slice(0, 16)}.so`);
  if (existsSync(lib)) return lib;
  mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.${process.pid}.tmp`;
  try {
    runCompiler([...C_FLAGS, '-fPIC', '-shared', '-fvisibility=hidden', '-o', tmp, join(NATIVE_DIR, 'smaf-preload.c'), '-ldl', '-lpthread']);
    renameSync(tmp, lib); // atomic: a concurrent build of the same sources writes the same bytes
  } finally {
    rmSync(tmp, { force: true });
  }
  return lib;
}
