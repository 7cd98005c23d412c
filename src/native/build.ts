/**
 * The C parts of SMAF-TS, built on this host by its C compiler on first use into a cache keyed by
 * the hash of their sources (an edit rebuilds them; two checkouts never share a stale build):
 * - the preload library of `smaf exec` (native/preload/), which C programs load;
 * - smafd's addon (native/addon/), an N-API module against Node's own C headers, for what Node
 *   cannot do: fd passing, shared memory, inotify (docs/architecture.md, "Zero-copy").
 * Concurrent builds of the same sources are safe: each compiles to its own file and renames it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmafError } from '../common/errors.ts';

export const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));

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

const MISSING_CC = (cc: string, what: string): string =>
  `cannot build ${what}: no C compiler ("${cc}" was not found). Install one: "apt-get install build-essential" on Debian or Ubuntu ("dnf install gcc" on Fedora), or set CC`;

/** Run the C compiler; a missing compiler is ENOENT with the package to install, a failed build EIO. */
export function runCompiler(args: readonly string[], what = 'a C program'): void {
  const cc = compiler();
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new SmafError('ENOENT', MISSING_CC(cc, what));
    throw new SmafError('EIO', `cannot run ${cc}: ${r.error.message}`);
  }
  if (r.status !== 0) throw new SmafError('EIO', `${cc} ${args.join(' ')} failed:\n${r.stderr}`);
}

/** The .c and .h files of a folder of native/, sorted. */
function sources(folder: string): { c: string[]; all: string[] } {
  const dir = join(NATIVE_DIR, folder);
  const names = readdirSync(dir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).sort();
  return { c: names.filter((f) => f.endsWith('.c')).map((f) => join(dir, f)), all: names.map((f) => join(dir, f)) };
}

interface Build {
  readonly what: string;
  readonly name: string;
  readonly ext: string;
  readonly files: readonly string[];
  readonly extraKey?: string;
  readonly args: (out: string) => string[];
  /** Told before a build starts (it takes a few seconds), never when the cache has it. */
  readonly onBuild?: (what: string) => void;
}

/** The cached output of a build, building it if this version of its inputs has not been built yet. */
function cached(b: Build): string {
  const hash = createHash('sha256');
  for (const f of b.files) hash.update(f.slice(NATIVE_DIR.length)).update(readFileSync(f));
  hash.update(compiler()).update(b.extraKey ?? '');
  const dir = cacheDir();
  const out = join(dir, `${b.name}-${hash.digest('hex').slice(0, 16)}${b.ext}`);
  if (existsSync(out)) return out;
  b.onBuild?.(b.what);
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    runCompiler(b.args(tmp), b.what);
    renameSync(tmp, out); // atomic: a concurrent build of the same sources writes the same bytes
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

const WIRE_HEADER = join(NATIVE_DIR, 'smaf-wire.h');

/** The preload library of `smaf exec`, built if needed. */
export function ensurePreload(onBuild?: (what: string) => void): string {
  const src = sources('preload');
  return cached({
    what: 'the preload library of smaf exec',
    name: 'libsmaf-preload',
    ext: '.so',
    files: [...src.all, WIRE_HEADER],
    onBuild,
    args: (out) => [...C_FLAGS, '-fPIC', '-shared', '-fvisibility=hidden', `-I${NATIVE_DIR}`, '-o', out, ...src.c, '-ldl', '-lpthread'],
  });
}

/** Node's C headers (node_api.h, uv.h): they ship with Node, beside its binary. */
function nodeHeaders(): string | null {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), process.env.SMAF_NODE_INCLUDE ?? ''];
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h'))) ?? null;
}

/** smafd's addon, built if needed. ENOENT when there is no compiler or no Node headers. */
export function ensureAddon(onBuild?: (what: string) => void): string {
  const include = nodeHeaders();
  if (!include) throw new SmafError('ENOENT', `cannot build smafd's addon: Node's C headers (include/node/node_api.h, uv.h) are not beside ${process.execPath}`);
  const src = sources('addon');
  return cached({
    what: "smafd's addon",
    name: 'smaf-addon',
    ext: '.node',
    files: src.all,
    extraKey: `${process.versions.node} ${process.versions.modules} ${include}`,
    onBuild,
    args: (out) => [...C_FLAGS, '-fPIC', '-shared', '-fvisibility=hidden', `-I${include}`, '-DNODE_GYP_MODULE_NAME=smaf_addon', '-o', out, ...src.c],
  });
}
