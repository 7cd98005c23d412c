/**
 * Platform files from disk (Node side): a YAML/JSON platform, a device-tree blob (.dtb), a
 * device-tree source (.dts, compiled with `dtc`), or a YAML overlay (recognised by its
 * `device_tree:` key) naming a .dtb/.dts relative to itself (or, when it is not there, to
 * $SMAF_DTB_DIR, default ~/dtbs: where the user put a distribution kernel's .dtb files). Bytes in, PlatformSpec out: the
 * device-tree rules live in src/platform/devicetree/, this file only reads files and runs dtc.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SmafError } from '../common/errors.ts';
import { validatePlatform, type PlatformSpec } from '../platform/index.ts';
import { checkOverlay, DtError, FDT_MAGIC, isOverlay, parseFdt, platformFromDeviceTree, type CmaRequest, type DtOverlay, type DtPlatform } from '../platform/devicetree/index.ts';

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
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SmafError('ENOENT', `${what} ${path} does not exist`);
    if (code === 'EISDIR') throw new SmafError('EINVAL', `${what} ${path} is a directory`);
    throw new SmafError('EIO', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Compile a .dts with dtc (device-tree-compiler). A missing dtc is ENOENT with the package to install. */
export function compileDts(path: string, dtc = process.env.SMAF_DTC ?? 'dtc'): Uint8Array {
  readBytes(path, 'device-tree source');
  const r = spawnSync(dtc, ['-q', '-I', 'dts', '-O', 'dtb', '-o', '-', path], { maxBuffer: 64 * 1024 * 1024 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SmafError('ENOENT', `cannot compile ${path}: the device-tree compiler "${dtc}" is not installed (Debian/Ubuntu: apt-get install device-tree-compiler), or give a compiled .dtb`);
    }
    throw new SmafError('EIO', `cannot run ${dtc}: ${r.error.message}`);
  }
  if (r.status !== 0) throw new SmafError('EINVAL', `dtc could not compile ${path}:\n${r.stderr.toString().trim()}`);
  return new Uint8Array(r.stdout);
}
