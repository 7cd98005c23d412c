/**
 * Frames as drivers lay them out: `1920x1080:NV12` with a stride alignment, a plane offset
 * alignment, a height alignment (codecs decode in 16- or 32-line macroblock rows) and a DRM format
 * modifier (LINEAR, or a vendor's tiled layout with its own size rules) gives each plane's offset,
 * stride, rows and size, the size of one buffer holding every plane, and how V4L2 and DRM describe
 * that buffer (a V4L2 pixel format with bytesperline and sizeimage; a DRM fourcc, modifier, pitches
 * and offsets).
 *
 * Planes follow the kernel's rules (drm_format_info: bytes per pixel per plane, horizontal and
 * vertical chroma subsampling). A semi-planar chroma plane (NV12's UV) has the luma stride; a planar
 * one (I420's U and V) half of it, as V4L2's single-buffer formats define them. Tiled modifiers
 * round each plane up to whole tiles: DRM_FORMAT_MOD_ALLWINNER_TILED (the Cedrus decoder's
 * NV12_32L32: 32x32-byte tiles, so strides of 32 bytes, luma rows a multiple of 32 and chroma rows
 * of 32, i.e. the image height rounded to 64 for chroma) and DRM_FORMAT_MOD_SAMSUNG_64_32_TILE
 * (NV12MT: each plane's width padded to 128 pixels and its height to 32 lines).
 */
import { SmafError } from './errors.ts';
import { alignUp } from './units.ts';

interface FormatDef {
  /** Bytes per pixel of each plane, counted on that plane's own (subsampled) pixels. */
  readonly cpp: readonly number[];
  readonly planes: readonly string[];
  /** Chroma subsampling: planes after the first have width/hsub and height/vsub pixels. */
  readonly hsub: number;
  readonly vsub: number;
  readonly drm: string;
  /** The V4L2 single-buffer pixel format, or null when V4L2 has none. */
  readonly v4l2: string | null;
  readonly description: string;
}

const PIXEL_FORMATS: Readonly<Record<string, FormatDef>> = {
  NV12: { cpp: [1, 2], planes: ['Y', 'UV'], hsub: 2, vsub: 2, drm: 'NV12', v4l2: 'NV12', description: 'Y/UV 4:2:0, 8-bit, Y plane + interleaved UV plane' },
  NV21: { cpp: [1, 2], planes: ['Y', 'VU'], hsub: 2, vsub: 2, drm: 'NV21', v4l2: 'NV21', description: 'Y/VU 4:2:0, 8-bit, Y plane + interleaved VU plane' },
  NV16: { cpp: [1, 2], planes: ['Y', 'UV'], hsub: 2, vsub: 1, drm: 'NV16', v4l2: 'NV16', description: 'Y/UV 4:2:2, 8-bit, Y plane + interleaved UV plane' },
  NV61: { cpp: [1, 2], planes: ['Y', 'VU'], hsub: 2, vsub: 1, drm: 'NV61', v4l2: 'NV61', description: 'Y/VU 4:2:2, 8-bit, Y plane + interleaved VU plane' },
  I420: { cpp: [1, 1, 1], planes: ['Y', 'U', 'V'], hsub: 2, vsub: 2, drm: 'YU12', v4l2: 'YU12', description: 'planar YUV 4:2:0, 8-bit, Y, U and V planes (YUV420, YU12)' },
  YV12: { cpp: [1, 1, 1], planes: ['Y', 'V', 'U'], hsub: 2, vsub: 2, drm: 'YV12', v4l2: 'YV12', description: 'planar YVU 4:2:0, 8-bit, Y, V and U planes (YVU420)' },
  P010: { cpp: [2, 4], planes: ['Y', 'UV'], hsub: 2, vsub: 2, drm: 'P010', v4l2: 'P010', description: 'Y/UV 4:2:0, 10 bits in 16-bit samples, Y plane + interleaved UV plane' },
  P016: { cpp: [2, 4], planes: ['Y', 'UV'], hsub: 2, vsub: 2, drm: 'P016', v4l2: null, description: 'Y/UV 4:2:0, 16-bit samples, Y plane + interleaved UV plane' },
  YUYV: { cpp: [2], planes: ['YUYV'], hsub: 2, vsub: 1, drm: 'YUYV', v4l2: 'YUYV', description: 'YUV 4:2:2, 8-bit, packed' },
  RGBA8888: { cpp: [4], planes: ['RGBA'], hsub: 1, vsub: 1, drm: 'AB24', v4l2: 'AB24', description: 'R, G, B, A bytes, packed (DRM ABGR8888, V4L2 RGBA32)' },
};
/** Other names of the formats. */
const FORMAT_ALIASES: Readonly<Record<string, string>> = { YU12: 'I420', YUV420: 'I420', YVU420: 'YV12' };

/** Symbolic names of the V4L2 and DRM fourccs printed in a layout. */
const V4L2_NAMES: Readonly<Record<string, string>> = { YU12: 'YUV420', YV12: 'YVU420', AB24: 'RGBA32', ST12: 'NV12_32L32', TM12: 'NV12MT' };
const DRM_NAMES: Readonly<Record<string, string>> = { YU12: 'YUV420', YV12: 'YVU420', AB24: 'ABGR8888' };

interface ModifierDef {
  readonly name: string;
  /** A short name, for frame labels (and accepted by --modifier). */
  readonly short: string;
  readonly value: bigint;
  /** Formats it applies to (null: all). */
  readonly formats: readonly string[] | null;
  /** Every plane: its stride a multiple of this many bytes, its rows a multiple of this many lines. */
  readonly tileBytes: number;
  readonly tileRows: number;
  /** The V4L2 pixel format of this layout (tiled formats have their own), and whether it has one memory plane per plane. */
  readonly v4l2?: { readonly fourcc: string; readonly multiplanar: boolean };
  readonly description: string;
}

/** fourcc_mod_code(vendor, value) of drm_fourcc.h. */
const mod = (vendor: number, v: number): bigint => (BigInt(vendor) << 56n) | BigInt(v);

const MODIFIERS: readonly ModifierDef[] = [
  { name: 'LINEAR', short: 'linear', value: 0n, formats: null, tileBytes: 1, tileRows: 1, description: 'rows one after the other' },
  {
    name: 'ALLWINNER_TILED', short: 'allwinner', value: mod(0x09, 1), formats: ['NV12'], tileBytes: 32, tileRows: 32, v4l2: { fourcc: 'ST12', multiplanar: false },
    description: 'Allwinner VPU (Cedrus): 32x32-byte tiles in row-major order; chroma tiles cover 32x64 pixels',
  },
  {
    name: 'SAMSUNG_64_32_TILE', short: 'samsung', value: mod(0x04, 1), formats: ['NV12'], tileBytes: 128, tileRows: 32, v4l2: { fourcc: 'TM12', multiplanar: true },
    description: 'Samsung MFC (NV12MT): 64x32 macroblocks in Z order; each plane padded to 128 pixels wide and 32 lines high',
  },
];

export interface FrameOptions {
  /** Stride alignment in bytes (a power of two, 1..4096). */
  readonly align?: number;
  /** Plane offset alignment in bytes (a power of two up to 1 MiB); default: the stride alignment. */
  readonly alignPlane?: number;
  /** The rows of the image are rounded up to this (a power of two, 1..256). */
  readonly alignHeight?: number;
  /** A DRM format modifier: a name (LINEAR, ALLWINNER_TILED, SAMSUNG_64_32_TILE) or its value (0x0900000000000001). */
  readonly modifier?: string;
}

export interface PlaneLayout {
  readonly name: string;
  readonly offset: number;
  readonly stride: number;
  readonly rows: number;
  readonly size: number;
}

export interface FrameLayout {
  readonly format: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  readonly align: number;
  readonly alignPlane: number;
  readonly alignHeight: number;
  /** The DRM format modifier: its name and its 64-bit value in hex. */
  readonly modifier: { readonly name: string; readonly value: string };
  readonly planes: readonly PlaneLayout[];
  /** Bytes of one buffer holding every plane. */
  readonly size: number;
  /** How V4L2 describes the buffer (null when V4L2 has no such format). */
  readonly v4l2: V4l2Description | null;
  /** How DRM describes it (struct drm_mode_fb_cmd2). */
  readonly drm: { readonly fourcc: string; readonly name: string; readonly pitches: readonly number[]; readonly offsets: readonly number[] };
}

export interface V4l2Description {
  readonly fourcc: string;
  readonly name: string;
  readonly width: number;
  /** The coded height (with --align-height, the rounded one, as decoders report it). */
  readonly height: number;
  /** Single-planar: one bytesperline and sizeimage; multiplanar: one per plane. */
  readonly planes: readonly { readonly bytesperline: number; readonly sizeimage: number }[];
}

const FRAME = /^(\d+)x(\d+):([A-Za-z0-9]+)$/;

export function isFrameSpec(s: string): boolean {
  return FRAME.test(s.trim());
}

/** Every pixel format `frameLayout` knows, and every modifier name. */
export const PIXEL_FORMAT_NAMES: readonly string[] = Object.keys(PIXEL_FORMATS);
export const MODIFIER_NAMES: readonly string[] = MODIFIERS.map((m) => m.name);

function powerOfTwo(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 1 || (v & (v - 1)) !== 0 || v > max) throw new SmafError('EINVAL', `${what} ${v} is not a power of two from 1 to ${max}`);
  return v;
}

/** A modifier by name (with or without DRM_FORMAT_MOD_, any case) or by value. */
function findModifier(spec: string | undefined): ModifierDef {
  if (spec === undefined) return MODIFIERS[0]!;
  const s = spec.trim().toUpperCase().replace(/^DRM_FORMAT_MOD_/, '');
  const byValue = /^(0X[0-9A-F]{1,16}|\d+)$/.test(s) ? MODIFIERS.find((m) => m.value === BigInt(s.toLowerCase())) : undefined;
  const found = byValue ?? MODIFIERS.find((m) => m.name === s || m.short.toUpperCase() === s);
  if (!found) throw new SmafError('EINVAL', `unknown format modifier "${spec}" (known: ${MODIFIERS.map((m) => `${m.name} (0x${m.value.toString(16)})`).join(', ')})`);
  return found;
}

function formatOf(name: string): [string, FormatDef] {
  const upper = name.toUpperCase();
  const canonical = FORMAT_ALIASES[upper] ?? upper;
  const def = PIXEL_FORMATS[canonical];
  if (!def) throw new SmafError('EINVAL', `unknown pixel format "${name}" (known: ${PIXEL_FORMAT_NAMES.join(', ')})`);
  return [canonical, def];
}

function checkSize(format: string, def: FormatDef, m: ModifierDef, width: number, height: number): void {
  if (width < 1 || height < 1 || width > 65536 || height > 65536) throw new SmafError('EINVAL', `frame ${width}x${height}: width and height must be 1..65536`);
  if (width % def.hsub || height % def.vsub) {
    throw new SmafError('EINVAL', `${format} subsamples chroma: width must be a multiple of ${def.hsub} and height of ${def.vsub} (got ${width}x${height})`);
  }
  if (m.formats && !m.formats.includes(format)) throw new SmafError('EINVAL', `modifier ${m.name} applies to ${m.formats.join(', ')}, not ${format}`);
}

/** Layout of `WIDTHxHEIGHT:FORMAT` with the alignments and modifier of `o`. */
export function frameLayout(spec: string, o: FrameOptions = {}): FrameLayout {
  const match = FRAME.exec(spec.trim());
  if (!match) throw new SmafError('EINVAL', `"${spec}" is not a frame (WIDTHxHEIGHT:FORMAT, e.g. 1920x1080:NV12)`);
  const width = Number(match[1]);
  const height = Number(match[2]);
  const [format, def] = formatOf(match[3]!);
  const align = powerOfTwo(o.align ?? 1, 4096, 'alignment');
  const alignPlane = powerOfTwo(o.alignPlane ?? align, 1 << 20, 'plane alignment');
  const alignHeight = powerOfTwo(o.alignHeight ?? 1, 256, 'height alignment');
  const m = findModifier(o.modifier);
  checkSize(format, def, m, width, height);
  const lumaStride = alignUp(alignUp(width * def.cpp[0]!, align), m.tileBytes);
  const lumaRows = alignUp(alignUp(height, alignHeight), m.tileRows);
  let offset = 0;
  const planes = def.planes.map((name, i): PlaneLayout => {
    // a chroma plane's row holds width/hsub samples of cpp bytes: the luma stride scaled by that
    const stride = i === 0 ? lumaStride : alignUp((lumaStride * def.cpp[i]!) / (def.cpp[0]! * def.hsub), m.tileBytes);
    const rows = i === 0 ? lumaRows : alignUp(lumaRows / def.vsub, m.tileRows);
    const plane = { name, offset: alignUp(offset, alignPlane), stride, rows, size: stride * rows };
    offset = plane.offset + plane.size;
    return plane;
  });
  const size = offset;
  const v4l2 = v4l2Description(def, m, width, lumaRows, planes, size);
  const drm = { fourcc: def.drm, name: `DRM_FORMAT_${DRM_NAMES[def.drm] ?? def.drm}`, pitches: planes.map((p) => p.stride), offsets: planes.map((p) => p.offset) };
  return {
    format, description: def.description, width, height, align, alignPlane, alignHeight,
    modifier: { name: m.name, value: `0x${m.value.toString(16).padStart(m.value === 0n ? 1 : 16, '0')}` }, planes, size, v4l2, drm,
  };
}

function v4l2Description(def: FormatDef, m: ModifierDef, width: number, rows: number, planes: readonly PlaneLayout[], size: number): V4l2Description | null {
  const fourcc = m.v4l2?.fourcc ?? (m.value === 0n ? def.v4l2 : null);
  if (fourcc === null) return null;
  const name = `V4L2_PIX_FMT_${V4L2_NAMES[fourcc] ?? fourcc}`;
  if (m.v4l2?.multiplanar) return { fourcc, name, width, height: rows, planes: planes.map((p) => ({ bytesperline: p.stride, sizeimage: p.size })) };
  return { fourcc, name, width, height: rows, planes: [{ bytesperline: planes[0]!.stride, sizeimage: size }] };
}

/** Bytes of a dma-buf name (DMA_BUF_NAME_LEN, its NUL included). */
const NAME_LEN = 32;
const LABEL = /^(\d+x\d+:[A-Za-z0-9]+)(?::([a-z0-9]+))?((?:,[sph]\d+)*)$/;

/**
 * A frame's layout as a dma-buf name (DMA_BUF_SET_NAME, at most 31 bytes), from which
 * `parseFrameLabel` rebuilds it: `1920x1080:NV12`, then `:allwinner` for a modifier and `,s64`
 * `,p4096` `,h16` for the alignments. null when it does not fit.
 */
export function frameLabel(l: FrameLayout): string | null {
  const m = MODIFIERS.find((x) => x.name === l.modifier.name)!;
  const label = `${l.width}x${l.height}:${l.format}${m.value === 0n ? '' : `:${m.short}`}${l.align > 1 ? `,s${l.align}` : ''}${l.alignPlane !== l.align ? `,p${l.alignPlane}` : ''}${l.alignHeight > 1 ? `,h${l.alignHeight}` : ''}`;
  return label.length < NAME_LEN ? label : null;
}

/** The layout a frame label names (the dashboard draws a frame's planes from its buffer's name), or null. */
export function parseFrameLabel(label: string | null): FrameLayout | null {
  const m = label === null ? null : LABEL.exec(label);
  if (!m) return null;
  const opts = Object.fromEntries([...m[3]!.matchAll(/,([sph])(\d+)/g)].map(([, k, v]) => [k, Number(v)]));
  try {
    return frameLayout(m[1]!, {
      ...(opts.s !== undefined ? { align: opts.s } : {}),
      ...(opts.p !== undefined ? { alignPlane: opts.p } : {}),
      ...(opts.h !== undefined ? { alignHeight: opts.h } : {}),
      ...(m[2] !== undefined ? { modifier: m[2] } : {}),
    });
  } catch {
    return null;
  }
}
