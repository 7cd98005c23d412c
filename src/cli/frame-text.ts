/** How `smaf create 1920x1080:NV12` prints a frame: its planes, then as V4L2 and DRM describe it. */
import type { FrameLayout } from '../common/pixel-format.ts';
import { formatSize } from '../common/units.ts';

function alignments(l: FrameLayout): string {
  const parts = [];
  if (l.align > 1) parts.push(`strides aligned to ${l.align}`);
  if (l.alignPlane !== l.align) parts.push(`planes at multiples of ${formatSize(l.alignPlane)}`);
  if (l.alignHeight > 1) parts.push(`height aligned to ${l.alignHeight} lines`);
  return parts.length ? `; ${parts.join(', ')}` : '';
}

export function formatFrameLayout(l: FrameLayout): string {
  const nameWidth = Math.max(...l.planes.map((p) => p.name.length));
  const rows = l.planes.map((p, i) => `  plane ${i} ${p.name.padEnd(nameWidth)}  offset ${String(p.offset).padStart(9)}  stride ${String(p.stride).padStart(6)}  rows ${String(p.rows).padStart(5)}  size ${String(p.size).padStart(9)} (${formatSize(p.size)})`);
  const v = l.v4l2;
  const v4l2 = v === null
    ? `  v4l2: no V4L2 pixel format for ${l.format}${l.modifier.name === 'LINEAR' ? '' : ` with ${l.modifier.name}`}`
    : v.planes.length === 1
      ? `  v4l2: ${v.name} '${v.fourcc}': width ${v.width}, height ${v.height}, bytesperline ${v.planes[0]!.bytesperline}, sizeimage ${v.planes[0]!.sizeimage}`
      : `  v4l2: ${v.name} '${v.fourcc}' (multiplanar, one dma-buf: plane i at offset i above): width ${v.width}, height ${v.height}, ${v.planes.map((p, i) => `plane_fmt[${i}] bytesperline ${p.bytesperline} sizeimage ${p.sizeimage}`).join(', ')}`;
  const d = l.drm;
  const drm = `  drm:  ${d.name} '${d.fourcc}', modifier DRM_FORMAT_MOD_${l.modifier.name} (${l.modifier.value}): pitches ${d.pitches.join(', ')}; offsets ${d.offsets.join(', ')}`;
  return [
    `frame ${l.width}x${l.height} ${l.format} (${l.description}), modifier ${l.modifier.name}${alignments(l)}: ${l.size} bytes (${formatSize(l.size)}) in one buffer`,
    ...rows,
    v4l2,
    drm,
  ].join('\n');
}
