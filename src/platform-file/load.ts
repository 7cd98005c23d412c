/**
 * Platform files from disk (Node side): a YAML/JSON platform, a device-tree blob (.dtb), a
 * device-tree source (.dts, compiled with `dtc`), or a YAML overlay (recognised by its
 * `device_tree:` key) naming a .dtb/.dts relative to itself (or, when it is not there, to
 * $SMAF_DTB_DIR, default ~/dtbs: where the user put a distribution kernel's .dtb files). Bytes in, PlatformSpec out: the
 * device-tree rules live in src/platform/devicetree/, this file only reads files and runs dtc.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SmafError } from '../common/errors.ts';
import { validatePlatform, type PlatformSpec } from '../platform/index.ts';
import { checkOverlay, DtError, FDT_LIMITS, FDT_MAGIC, isOverlay, parseFdt, platformFromDeviceTree, type CmaRequest, type DtOverlay, type DtPlatform } from '../platform/devicetree/index.ts';

/**
 * The largest platform file read (YAML, JSON, .dtb, .dts, overlay), checked before reading: a real
 * board's blob is a few hundred KiB. Larger files, and anything but a regular file (a FIFO, /dev/zero),
 * are refused before their bytes are read.
 */
const MAX_PLATFORM_FILE = FDT_LIMITS.maxBlobSize;
/** How long dtc may take to compile a .dts. */
const DTC_TIMEOUT_MS = 30_000;

export interface LoadedPlatform {
  readonly spec: PlatformSpec;
  /** What the file was. */
  readonly format: 'platform' | 'dtb' | 'dts' | 'overlay';
  /** For device-tree platforms: the YAML-shaped document and the report of what was understood. */
  readonly dt?: DtPlatform;
  /** The .dtb/.dts the platform was read from (for an overlay: the one it names). */
  readonly treeFile?: string;
}

export interface LoadOptions {
  /** `--cma SIZE[@LIMIT]`: the default CMA pool of a device-tree platform. */
  readonly cma?: CmaRequest;
  /** The dtc program (default: $SMAF_DTC or "dtc" on the PATH). */
  readonly dtc?: string;
}

/** Load any platform file. Errors are SmafError: ENOENT for missing files or dtc, EINVAL for bad content. */
export function loadPlatformFile(path: string, options: LoadOptions = {}): LoadedPlatform {
  const bytes = readBytes(path);
  if (isBlob(bytes) || path.endsWith('.dtb')) return fromTree(bytes, path, 'dtb', undefined, undefined, options);
  if (path.endsWith('.dts')) return fromTree(compileDts(path, options.dtc), path, 'dts', undefined, undefined, options);
  const text = new TextDecoder().decode(bytes);
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new SmafError('EINVAL', `${path} does not parse: ${(e as Error).message}`);
  }
  if (!isOverlay(doc)) {
    if (options.cma) throw new SmafError('EINVAL', `--cma applies to device-tree platforms (.dtb, .dts or an overlay); ${path} is a YAML platform: set the cma region there`);
    return { spec: validatePlatform(doc, path), format: 'platform' };
  }
  const checked = checkOverlay(doc);
  if (!checked.ok) {
    throw new SmafError('EINVAL', `${path} is not a valid device-tree overlay:\n${checked.issues.map((i) => `  ${path}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  const overlay = checked.overlay;
  const treePath = locateTree(path, overlay.device_tree);
  const tree = treePath.endsWith('.dts') ? compileDts(treePath, options.dtc) : readBytes(treePath, `${path}: device_tree`);
  return fromTree(tree, treePath, 'overlay', overlay, path, options);
}

function fromTree(bytes: Uint8Array, source: string, format: LoadedPlatform['format'], overlay: DtOverlay | undefined, overlaySource: string | undefined, options: LoadOptions): LoadedPlatform {
  try {
    const fdt = parseFdt(bytes);
    const dt = platformFromDeviceTree(fdt, {
      source: basename(source),
      ...(overlay ? { overlay } : {}),
      ...(overlaySource ? { overlaySource } : {}),
      ...(options.cma ? { cma: options.cma } : {}),
    });
    return { spec: dt.spec, format, dt, treeFile: source };
  } catch (e) {
    if (e instanceof DtError) throw new SmafError('EINVAL', e.message, { cause: e });
    if (e instanceof RangeError || e instanceof TypeError) throw new SmafError('EINVAL', `${source}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Where device trees are looked for: $SMAF_DTB_DIR, else ~/dtbs (the README puts Debian's there). */
export function dtbDir(): string {
  return process.env.SMAF_DTB_DIR || join(homedir(), 'dtbs');
}

/** The overlay's device_tree: relative to the overlay, else (not found there) to dtbDir(). */
function locateTree(overlayPath: string, tree: string): string {
  const near = resolve(dirname(overlayPath), tree);
  const dir = dtbDir();
  if (existsSync(near) || isAbsolute(tree)) return near;
  const far = resolve(dir, tree);
  return existsSync(far) ? far : near;
}

function isBlob(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) === FDT_MAGIC;
}

function readBytes(path: string, what = 'platform file'): Uint8Array {
  let fd: number;
  try {
    // non-blocking: opening a FIFO must not wait for a writer before we can see it is one
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(e, path, what);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new SmafError('EINVAL', `${what} ${path} is a directory`);
    if (!st.isFile()) throw new SmafError('EINVAL', `${what} ${path} is not a regular file (a device, FIFO or socket): give a file`);
    if (st.size > MAX_PLATFORM_FILE) throw tooLarge(path, what, st.size);
    // a file that grows while we read is cut off at the limit, never read to its end
    const buf = Buffer.alloc(Math.min(st.size, MAX_PLATFORM_FILE) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      n += r;
      if (r === 0 || n === buf.length) break;
    }
    if (n > MAX_PLATFORM_FILE) throw tooLarge(path, what, n);
    return new Uint8Array(buf.buffer, buf.byteOffset, n);
  } catch (e) {
    if (e instanceof SmafError) throw e;
    throw fileError(e, path, what);
  } finally {
    closeSync(fd);
  }
}

function fileError(e: unknown, path: string, what: string): SmafError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SmafError('ENOENT', `${what} ${path} does not exist`);
  if (code === 'EISDIR') return new SmafError('EINVAL', `${what} ${path} is a directory`);
  return new SmafError('EIO', `cannot read ${what} ${path}: ${(e as Error).message}`);
}

function tooLarge(path: string, what: string, size: number): SmafError {
  return new SmafError('EINVAL', `${what} ${path} is ${size} bytes or more, over the ${MAX_PLATFORM_FILE}-byte limit for platform files (real boards' blobs are a few hundred KiB)`);
}

/**
 * What a .dts may not do: dtc runs with smafd's rights, and `/include/` or `/incbin/` would copy
 * any file smafd can read into the tree (a 0600 secret as the platform's model, shown to every
 * client). All of them are refused, wherever they appear (comments included: dtc's lexer is the
 * judge of what a comment is, not us), and `#include` with them (dtc does not run the C
 * preprocessor; the kernel's build does). A tree that needs its .dtsi files is compiled by its
 * owner (`dtc -I dts -O dtb -o board.dtb board.dts`, or the kernel's `make dtbs`) and given as a .dtb.
 */
const FILE_DIRECTIVES = ['/include/', '/incbin/', '#include'] as const;

function refuseFileDirectives(source: Uint8Array, path: string): void {
  const text = Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString('latin1');
  for (const directive of FILE_DIRECTIVES) {
    const at = text.indexOf(directive);
    if (at < 0) continue;
    const line = text.slice(0, at).split('\n').length;
    throw new SmafError('EINVAL', `${path}:${line}: ${directive} is refused: smafd compiles a .dts with its own rights, so a .dts may not read other files (every ${FILE_DIRECTIVES.join(', ')} is refused, even in a comment). Compile it yourself (dtc -I dts -O dtb -o board.dtb ${basename(path)}) and give the .dtb`);
  }
}

/**
 * Compile a .dts with dtc (device-tree-compiler): the bytes read and checked here are what dtc
 * compiles (on its stdin, from an empty private directory, so what it reads cannot change after
 * the check), `/include/` and `/incbin/` are refused, and dtc's list of the files it read must name
 * only its input. A missing dtc is ENOENT with the package to install.
 */
export function compileDts(path: string, dtc = process.env.SMAF_DTC ?? 'dtc'): Uint8Array {
  const source = readBytes(path, 'device-tree source');
  refuseFileDirectives(source, path);
  const dir = mkdtempSync(join(tmpdir(), 'smaf-dtc-'));
  try {
    const deps = join(dir, 'deps');
    const r = spawnSync(dtc, ['-q', '-I', 'dts', '-O', 'dtb', '-d', deps, '-o', '-', '-'], {
      input: source, cwd: dir, maxBuffer: FDT_LIMITS.maxBlobSize + 1, timeout: DTC_TIMEOUT_MS, killSignal: 'SIGKILL',
    });
    if (r.error) throw dtcError(r.error as NodeJS.ErrnoException, path, dtc);
    if (r.status !== 0) throw new SmafError('EINVAL', `dtc could not compile ${path}:\n${r.stderr.toString().replaceAll('<stdin>', path).trim()}`);
    const read = existsSync(deps) ? readFileSync(deps, 'utf8') : '';
    if (read !== '-: <stdin>\n') throw new SmafError('EINVAL', `dtc read other files than ${path} (${read.trim() || 'no dependency list'}): refused`);
    return new Uint8Array(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dtcError(e: NodeJS.ErrnoException, path: string, dtc: string): SmafError {
  if (e.code === 'ENOENT') {
    return new SmafError('ENOENT', `cannot compile ${path}: the device-tree compiler "${dtc}" is not installed (Debian/Ubuntu: apt-get install device-tree-compiler), or give a compiled .dtb`);
  }
  if (e.code === 'ENOBUFS') return new SmafError('EINVAL', `dtc made a blob of ${path} over the ${FDT_LIMITS.maxBlobSize}-byte limit`);
  if (e.code === 'ETIMEDOUT') return new SmafError('ETIMEDOUT', `dtc did not compile ${path} within ${DTC_TIMEOUT_MS / 1000} s`);
  return new SmafError('EIO', `cannot run ${dtc}: ${e.message}`);
}
