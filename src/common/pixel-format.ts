/**
 * Frame sizes from pixel formats, as media engineers think of buffers: `1920x1080:NV12` with a
 * stride alignment gives each plane's offset, stride and size, and the size of one buffer holding
 * all planes (planes one after the other, each starting at an aligned offset). As V4L2 and DRM lay
 * them out: NV12/NV16 (8-bit Y plane, interleaved CbCr plane, 4:2:0 / 4:2:2), P010 (16-bit
 * samples, 10 bits used, 4:2:0), YUYV (packed 4:2:2), RGBA8888 (packed, 4 bytes per pixel).
 */
import { SmafError } from './errors.ts';
import { alignUp } from './units.ts';

interface PlaneDef {
  readonly name: string;
  /** Bytes per pixel of the full-width row (an interleaved CbCr row of a 4:2:x format counts 2 bytes per 2 pixels). */
  readonly bytesPerPixel: number;
  /** Rows of this plane per row of the image (4:2:0 chroma: one half). */
  readonly rowRatio: number;
}

interface FormatDef {
  readonly planes: readonly PlaneDef[];
  /** Width and height must be multiples of these (chroma subsampling). */
  readonly widthMultiple: number;
  readonly heightMultiple: number;
  readonly description: string;
}

const PIXEL_FORMATS: Readonly<Record<string, FormatDef>> = {
  NV12: { planes: [{ name: 'Y', bytesPerPixel: 1, rowRatio: 1 }, { name: 'CbCr', bytesPerPixel: 1, rowRatio: 0.5 }], widthMultiple: 2, heightMultiple: 2, description: 'YUV 4:2:0, 8-bit, Y plane + interleaved CbCr plane' },
  NV16: { planes: [{ name: 'Y', bytesPerPixel: 1, rowRatio: 1 }, { name: 'CbCr', bytesPerPixel: 1, rowRatio: 1 }], widthMultiple: 2, heightMultiple: 1, description: 'YUV 4:2:2, 8-bit, Y plane + interleaved CbCr plane' },
  P010: { planes: [{ name: 'Y', bytesPerPixel: 2, rowRatio: 1 }, { name: 'CbCr', bytesPerPixel: 2, rowRatio: 0.5 }], widthMultiple: 2, heightMultiple: 2, description: 'YUV 4:2:0, 10-bit in 16-bit samples, Y plane + interleaved CbCr plane' },
  YUYV: { planes: [{ name: 'YUYV', bytesPerPixel: 2, rowRatio: 1 }], widthMultiple: 2, heightMultiple: 1, description: 'YUV 4:2:2, 8-bit, packed' },
  RGBA8888: { planes: [{ name: 'RGBA', bytesPerPixel: 4, rowRatio: 1 }], widthMultiple: 1, heightMultiple: 1, description: 'RGB with alpha, 8 bits each, packed' },
};

export interface PlaneLayout {
  readonly name: string;
  readonly offset: number;
  readonly stride: number;
  readonly rows: number;
  readonly size: number;
}

export interface FrameLayout {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  readonly align: number;
  readonly planes: readonly PlaneLayout[];
  /** Bytes of one buffer holding every plane. */
  readonly size: number;
}

const FRAME = /^(\d+)x(\d+):([A-Za-z0-9]+)$/;

export function isFrameSpec(s: string): boolean {
  return FRAME.test(s.trim());
}

/** Layout of `WIDTHxHEIGHT:FORMAT` with strides (and plane offsets) aligned to `align` bytes. */
export function frameLayout(spec: string, align = 1): FrameLayout {
  const m = FRAME.exec(spec.trim());
  if (!m) throw new SmafError('EINVAL', `"${spec}" is not a frame (WIDTHxHEIGHT:FORMAT, e.g. 1920x1080:NV12)`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  const format = m[3]!.toUpperCase();
  const def = PIXEL_FORMATS[format];
  if (!def) throw new SmafError('EINVAL', `unknown pixel format "${m[3]}" (known: ${Object.keys(PIXEL_FORMATS).join(', ')})`);
  if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0 || align > 4096) throw new SmafError('EINVAL', `alignment ${align} is not a power of two from 1 to 4096`);
  if (width < 1 || height < 1 || width > 65536 || height > 65536) throw new SmafError('EINVAL', `frame ${width}x${height}: width and height must be 1..65536`);
  if (width % def.widthMultiple || height % def.heightMultiple) {
    throw new SmafError('EINVAL', `${format} subsamples chroma: width must be a multiple of ${def.widthMultiple} and height of ${def.heightMultiple} (got ${width}x${height})`);
  }
  let offset = 0;
  const planes = def.planes.map((p): PlaneLayout => {
    const stride = alignUp(width * p.bytesPerPixel, align);
    const rows = height * p.rowRatio;
    const plane = { name: p.name, offset: alignUp(offset, align), stride, rows, size: stride * rows };
    offset = plane.offset + plane.size;
    return plane;
  });
  return { format, width, height, align, planes, size: offset };
}
